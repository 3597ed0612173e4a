/**
 * MailIndex on one DynamoDB table (single-table layout in dynamo-keys.ts; meta storage in
 * dynamo-meta.ts). Semantics match the SQLite adapter (one contract suite proves both).
 *
 * How the port's invariants are kept:
 *  - (3) appendMessage is one TransactWriteItems: an Update of the MBOX item conditioned on
 *    the `uidNext` and `highestModseq` read just before (SET both + 1, ADD messageCount 1),
 *    the Puts of the MSG and MMETA items (attribute_not_exists), the Put of the delivery-key
 *    item (attribute_not_exists) when a key is given, and the Update of the blob's refcount.
 *    A message with UID n therefore commits together with uidNext moving past n, and UID n+1
 *    can only commit after it. When another writer won the race the transaction is
 *    cancelled; the cancellation reasons carry the items whose conditions failed
 *    (ReturnValuesOnConditionCheckFailure ALL_OLD), else we re-read, and retry with
 *    jittered backoff.
 *    copyMessages allocates each block of UIDs in the same way (one conditional Update
 *    together with the Puts of the block's messages), so copies obey the same order.
 *    listMessages reads `uidNext` (strongly consistent) before querying and lists only
 *    UIDs below it: every such message committed before the read, so a Query that pages
 *    through the sort key can never show UID n+1 while missing a committed UID n.
 *  - (2) the delivery-key item (`DLV#<mailboxId>#<key>`) is written in the same transaction
 *    and read (with the MBOX item, one BatchGetItem) before it; a key that exists, or whose
 *    Put cancelled the transaction, is a duplicate: we return the stored
 *    uid/uidValidity/modseq with duplicate: true. Keys are kept after expunge (a redelivered
 *    job never brings a message back) for DELIVERY_KEY_TTL_SECONDS, and dropped with the mailbox.
 *  - UIDVALIDITY comes from a per-user counter item outside the user's partition:
 *    max(last + 1, now in epoch seconds), written in the mailbox's creation transaction with
 *    a condition on the value read, so it is strictly increasing per user (RFC 3501 §2.3.1.1).
 *  - (5) `BLOB#<key>` items count references. Dropping the last reference (ADD -n reaching
 *    0) is followed by a conditional Delete (refs <= 0): only the caller whose Delete
 *    succeeds reports the key in orphanedBlobs, and a concurrent new reference (copy) makes
 *    the Delete fail, so a referenced blob is never reported. Copies add their reference
 *    with the condition refs >= 1, so a copy cannot resurrect a blob already orphaned.
 *    Decrements happen after the message items are deleted: a crash in between leaks a
 *    blob (never deletes a referenced one).
 *    A hold (`BLOB#<key>` / `HOLD#<holder>`) is one reference too. holdBlob is one
 *    TransactWriteItems: Put of the hold item (attribute_not_exists) + ADD refs 1, so a
 *    second hold by the same holder cancels as a whole and counts nothing. releaseBlob reads
 *    the count, then in one transaction deletes the hold item (attribute_exists) together
 *    with either ADD refs -1 (condition refs >= 2) or, when the hold is the last reference,
 *    the Delete of the REF item (condition refs <= 1): so it reports `orphaned` exactly when
 *    it removed the last reference, and a second release (hold gone) changes nothing. A
 *    concurrent change of the count cancels the transaction and we retry on a fresh read.
 *
 * All reads use strongly consistent reads (an IMAP client must see its own APPEND/STORE).
 * Every Query is paginated; BatchGet/BatchWrite retry unprocessed items.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type DynamoDBClient,
  type TransactWriteItem,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import {
  IndexError,
  type AppendResult,
  type Domain,
  type FlagChange,
  type FlagUpdateMode,
  type ListOptions,
  type MailIndex,
  type Mailbox,
  type MailboxState,
  type MessageRecord,
  type NewMessage,
  type SpecialUse,
  type User,
} from '../../ports/mail-index.ts';
import { applyFlags, normalizeFlags, sameFlagSet } from '../../mailbox/flags.ts';
import type { MessageMeta } from '../../mime/types.ts';
import { DELIVERY_KEY_TTL_SECONDS, MAX_KEY_PART_BYTES, UID_DIGITS, keys } from './dynamo-keys.ts';
import { decodeMeta, encodeMeta, metaChunkCount, type EncodedMeta } from './dynamo-meta.ts';
import {
  BOOL,
  N,
  S,
  STR_LIST,
  approxItemBytes,
  backoffMs,
  batchGetAll,
  batchWriteAll,
  bool,
  isConditionalCheckFailed,
  num,
  optStr,
  queryAll,
  sleep,
  str,
  strList,
  transactWrite,
  type Item,
  type Key,
} from './dynamo-ops.ts';

/** RFC 3501 §2.3.1.1: UIDs are 32-bit unsigned, non-zero. */
const MAX_UID = 0xffffffff;
/** TransactWriteItems takes at most 100 items and 4 MB; we stay below both. */
const TX_MAX_ITEMS = 100;
const TX_MAX_BYTES = 3_500_000;
/** Optimistic retries of one operation before giving up with CONFLICT. */
const MAX_ATTEMPTS = 120;
/** Messages per expunge transaction: 1 MBOX update + 2 deletes each ≤ 100 items. */
const EXPUNGE_BLOCK = 49;
/** Delivery keys longer than this are replaced by their SHA-256 (sort keys are at most 1024 bytes). */
const DELIVERY_KEY_MAX_BYTES = 512;
const MAILBOX_ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface DynamoMailIndexOptions {
  client: DynamoDBClient;
  table: string;
  /** Destroy the client on close() (when the index created it). */
  ownsClient?: boolean;
}

function domainFromItem(i: Item): Domain {
  return { name: str(i, 'name'), createdAt: num(i, 'createdAt'), postmaster: optStr(i, 'postmaster') };
}

function domainPart(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

function checkString(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw new IndexError('INVALID', `${what} must be a non-empty string`);
}

function checkKeyPart(value: string, what: string): void {
  if (Buffer.byteLength(value) > MAX_KEY_PART_BYTES) throw new IndexError('INVALID', `${what} is too long`);
}

function checkFlags(flags: unknown): asserts flags is string[] {
  if (!Array.isArray(flags) || flags.some((f) => typeof f !== 'string' || f.length === 0)) {
    throw new IndexError('INVALID', 'flags must be an array of non-empty strings');
  }
}

function validUids(uids: readonly number[]): number[] {
  return [...new Set(uids.filter((u) => Number.isInteger(u) && u > 0 && u <= MAX_UID))].sort((a, b) => a - b);
}

function deliveryKeyPart(key: string): string {
  return Buffer.byteLength(key) <= DELIVERY_KEY_MAX_BYTES ? key : `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/** Holders longer than this are replaced by their SHA-256 (sort keys are at most 1024 bytes). */
function holderPart(holder: string): string {
  return Buffer.byteLength(holder) <= DELIVERY_KEY_MAX_BYTES ? holder : `sha256:${createHash('sha256').update(holder).digest('hex')}`;
}

function chunk<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

function toMailbox(item: Item): Mailbox {
  return {
    id: str(item, 'id'),
    user: str(item, 'user'),
    name: str(item, 'name'),
    uidValidity: num(item, 'uidValidity'),
    uidNext: num(item, 'uidNext'),
    highestModseq: num(item, 'highestModseq'),
    messageCount: num(item, 'messageCount'),
    specialUse: optStr(item, 'specialUse') as SpecialUse | null,
    createdAt: num(item, 'createdAt'),
  };
}

function toUser(item: Item): User {
  return { address: str(item, 'address'), passwordHash: str(item, 'passwordHash'), createdAt: num(item, 'createdAt') };
}


function projection(fields: string[]): { ProjectionExpression: string; ExpressionAttributeNames: Record<string, string> } {
  const names: Record<string, string> = {};
  fields.forEach((f, i) => (names[`#p${i}`] = f));
  return { ProjectionExpression: Object.keys(names).join(', '), ExpressionAttributeNames: names };
}

interface MailboxSnapshot {
  item: Item;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
}

function snapshotOf(item: Item): MailboxSnapshot {
  return { item, uidValidity: num(item, 'uidValidity'), uidNext: num(item, 'uidNext'), highestModseq: num(item, 'highestModseq') };
}

export class DynamoMailIndex implements MailIndex {
  readonly table: string;
  private readonly db: DynamoDBClient;
  private readonly ownsClient: boolean;

  constructor(options: DynamoMailIndexOptions) {
    this.db = options.client;
    this.table = options.table;
    this.ownsClient = options.ownsClient ?? false;
  }

  // --- domains ---

  async addDomain(name: string, options: { postmaster?: string | null } = {}): Promise<Domain> {
    checkString(name, 'domain name');
    checkKeyPart(name, 'domain name');
    const postmaster = options.postmaster ?? null;
    if (postmaster !== null) checkString(postmaster, 'postmaster address');
    const createdAt = Date.now();
    try {
      await this.db.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { pk: S(keys.domainsPk), sk: S(keys.domainSk(name)), name: S(name), createdAt: N(createdAt), ...(postmaster !== null ? { postmaster: S(postmaster) } : {}) },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (isConditionalCheckFailed(err)) throw new IndexError('EXISTS', `domain exists: ${name}`);
      throw err;
    }
    return { name, createdAt, postmaster };
  }

  async setDomainPostmaster(name: string, postmaster: string | null): Promise<Domain> {
    if (postmaster !== null) checkString(postmaster, 'postmaster address');
    if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) > MAX_KEY_PART_BYTES) throw new IndexError('NOT_FOUND', `no such domain: ${name}`);
    try {
      const r = await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: S(keys.domainsPk), sk: S(keys.domainSk(name)) },
          ConditionExpression: 'attribute_exists(pk)',
          ...(postmaster !== null ? { UpdateExpression: 'SET postmaster = :p', ExpressionAttributeValues: { ':p': S(postmaster) } } : { UpdateExpression: 'REMOVE postmaster' }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return domainFromItem(r.Attributes as Item);
    } catch (err) {
      if (isConditionalCheckFailed(err)) throw new IndexError('NOT_FOUND', `no such domain: ${name}`);
      throw err;
    }
  }

  /** NOT_FOUND when absent; CONFLICT while users of the domain remain. */
  async removeDomain(name: string): Promise<void> {
    if (!(await this.getDomain(name))) throw new IndexError('NOT_FOUND', `no such domain: ${name}`);
    const users = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
        ExpressionAttributeValues: { ':pk': S(keys.usersPk), ':p': S(keys.userDirPrefix(name)) },
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    if ((users.Items?.length ?? 0) > 0) throw new IndexError('CONFLICT', `domain ${name} still has users`);
    try {
      await this.db.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: { pk: S(keys.domainsPk), sk: S(keys.domainSk(name)) },
          ConditionExpression: 'attribute_exists(pk)',
        }),
      );
    } catch (err) {
      if (isConditionalCheckFailed(err)) throw new IndexError('NOT_FOUND', `no such domain: ${name}`);
      throw err;
    }
  }

  async listDomains(): Promise<Domain[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': S(keys.domainsPk) },
      ConsistentRead: true,
    });
    return items.map(domainFromItem).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async getDomain(name: string): Promise<Domain | null> {
    if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) > MAX_KEY_PART_BYTES) return null;
    const item = await this.getItem(keys.domainsPk, keys.domainSk(name));
    return item ? domainFromItem(item) : null;
  }

  // --- users ---

  async addUser(user: { address: string; passwordHash: string }): Promise<User> {
    checkString(user.address, 'address');
    checkKeyPart(user.address, 'address');
    if (!user.address.includes('@')) throw new IndexError('INVALID', `not an address: ${user.address}`);
    if (typeof user.passwordHash !== 'string') throw new IndexError('INVALID', 'passwordHash must be a string');
    const createdAt = Date.now();
    const out = await transactWrite(this.db, [
      {
        Put: {
          TableName: this.table,
          Item: { pk: S(keys.userPk(user.address)), sk: S(keys.profileSk), address: S(user.address), passwordHash: S(user.passwordHash), createdAt: N(createdAt) },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: this.table,
          Item: { pk: S(keys.usersPk), sk: S(keys.userDirSk(domainPart(user.address), user.address)), address: S(user.address) },
        },
      },
    ]);
    if (!out.ok) {
      if (await this.getUser(user.address)) throw new IndexError('EXISTS', `user exists: ${user.address}`);
      throw new IndexError('CONFLICT', `user ${user.address} is being changed concurrently`);
    }
    return { address: user.address, passwordHash: user.passwordHash, createdAt };
  }

  async getUser(address: string): Promise<User | null> {
    if (typeof address !== 'string' || address === '' || Buffer.byteLength(address) > MAX_KEY_PART_BYTES) return null;
    const item = await this.getItem(keys.userPk(address), keys.profileSk);
    return item ? toUser(item) : null;
  }

  async listUsers(domain?: string): Promise<User[]> {
    const dir = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': S(keys.usersPk), ':p': S(keys.userDirPrefix(domain)) },
      ConsistentRead: true,
    });
    const profiles = await batchGetAll(
      this.db,
      this.table,
      dir.map((d) => ({ pk: S(keys.userPk(str(d, 'address'))), sk: S(keys.profileSk) })),
    );
    return profiles.map(toUser).sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }

  async setPasswordHash(address: string, passwordHash: string): Promise<void> {
    if (typeof passwordHash !== 'string') throw new IndexError('INVALID', 'passwordHash must be a string');
    if (!(await this.getUser(address))) throw new IndexError('NOT_FOUND', `no such user: ${address}`);
    try {
      await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: S(keys.userPk(address)), sk: S(keys.profileSk) },
          UpdateExpression: 'SET passwordHash = :h',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':h': S(passwordHash) },
        }),
      );
    } catch (err) {
      if (isConditionalCheckFailed(err)) throw new IndexError('NOT_FOUND', `no such user: ${address}`);
      throw err;
    }
  }

  /**
   * Deletes the user's mailbox items first (no append can commit after that: its condition
   * reads the MBOX item), then everything else in the partition, then the profile: a
   * removal that fails half-way can be repeated. The UIDVALIDITY counter is kept on purpose.
   */
  async removeUser(address: string): Promise<{ orphanedBlobs: string[] }> {
    if (!(await this.getUser(address))) throw new IndexError('NOT_FOUND', `no such user: ${address}`);
    const pk = keys.userPk(address);
    const mailboxItems = (
      await Promise.all(
        [keys.mailboxPrefix, keys.namePrefix].map((p) =>
          queryAll(this.db, {
            TableName: this.table,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
            ExpressionAttributeValues: { ':pk': S(pk), ':p': S(p) },
            ProjectionExpression: 'pk, sk',
            ConsistentRead: true,
          }),
        ),
      )
    ).flat();
    await batchWriteAll(this.db, this.table, mailboxItems.map((i) => ({ DeleteRequest: { Key: { pk: i.pk, sk: i.sk } } })));
    const rest = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': S(pk) },
      ProjectionExpression: 'pk, sk, blobKey',
      ConsistentRead: true,
    });
    const blobKeys: string[] = [];
    const deletes: WriteRequest[] = [];
    for (const i of rest) {
      const sk = str(i, 'sk');
      if (sk === keys.profileSk) continue;
      if (sk.startsWith(keys.messagesPrefix) && i.blobKey?.S) blobKeys.push(i.blobKey.S);
      deletes.push({ DeleteRequest: { Key: { pk: i.pk, sk: i.sk } } });
    }
    await batchWriteAll(this.db, this.table, deletes);
    const orphanedBlobs = await this.unref(blobKeys);
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      const out = await transactWrite(this.db, [
        { Delete: { TableName: this.table, Key: { pk: S(pk), sk: S(keys.profileSk) } } },
        { Delete: { TableName: this.table, Key: { pk: S(keys.usersPk), sk: S(keys.userDirSk(domainPart(address), address)) } } },
      ]);
      if (out.ok) break;
      if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', `user ${address} could not be removed: too much contention`);
    }
    return { orphanedBlobs };
  }

  // --- mailboxes ---

  async createMailbox(user: string, name: string, options: { specialUse?: SpecialUse | null; subscribed?: boolean } = {}): Promise<Mailbox> {
    checkString(name, 'mailbox name');
    checkKeyPart(name, 'mailbox name');
    const pk = keys.userPk(user);
    const id = randomUUID();
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      const [profile, counter, existing] = await Promise.all([
        this.getItem(pk, keys.profileSk),
        this.getItem(keys.uidValidityPk(user), keys.uidValiditySk),
        this.getItem(pk, keys.nameSk(name)),
      ]);
      if (!profile) throw new IndexError('NOT_FOUND', `no such user: ${user}`);
      if (existing) throw new IndexError('EXISTS', `mailbox exists: ${name}`);
      if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', `mailbox ${name} could not be created: too much contention`);
      const now = Date.now();
      const last = counter ? num(counter, 'last') : 0;
      const uidValidity = Math.max(last + 1, Math.floor(now / 1000));
      const mailbox: Mailbox = {
        id,
        user,
        name,
        uidValidity,
        uidNext: 1,
        highestModseq: 1,
        messageCount: 0,
        specialUse: options.specialUse ?? null,
        createdAt: now,
      };
      const out = await transactWrite(this.db, [
        { ConditionCheck: { TableName: this.table, Key: { pk: S(pk), sk: S(keys.profileSk) }, ConditionExpression: 'attribute_exists(pk)' } },
        {
          Put: {
            TableName: this.table,
            Item: { pk: S(pk), sk: S(keys.nameSk(name)), mailboxId: S(id), name: S(name) },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Put: {
            TableName: this.table,
            Item: {
              pk: S(pk),
              sk: S(keys.mailboxSk(id)),
              id: S(id),
              user: S(user),
              name: S(name),
              uidValidity: N(uidValidity),
              uidNext: N(1),
              highestModseq: N(1),
              messageCount: N(0),
              specialUse: mailbox.specialUse ? S(mailbox.specialUse) : { NULL: true },
              createdAt: N(now),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        ...(options.subscribed ? [{ Put: { TableName: this.table, Item: { pk: S(pk), sk: S(keys.subscriptionSk(name)), name: S(name) } } }] : []),
        {
          Put: {
            TableName: this.table,
            Item: { pk: S(keys.uidValidityPk(user)), sk: S(keys.uidValiditySk), last: N(uidValidity) },
            ConditionExpression: counter ? '#last = :last' : 'attribute_not_exists(pk)',
            ...(counter ? { ExpressionAttributeNames: { '#last': 'last' }, ExpressionAttributeValues: { ':last': N(last) } } : {}),
          },
        },
      ]);
      if (out.ok) return mailbox;
    }
  }

  async getMailbox(user: string, name: string): Promise<Mailbox | null> {
    if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) > MAX_KEY_PART_BYTES) return null;
    const ref = await this.getItem(keys.userPk(user), keys.nameSk(name));
    if (!ref) return null;
    const item = await this.getItem(keys.userPk(user), keys.mailboxSk(str(ref, 'mailboxId')));
    return item ? toMailbox(item) : null;
  }

  async listMailboxes(user: string): Promise<Mailbox[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': S(keys.userPk(user)), ':p': S(keys.mailboxPrefix) },
      ConsistentRead: true,
    });
    return items.map(toMailbox).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** One transaction: delete the old NAME item, put the new one, rename the MBOX item. */
  async renameMailbox(user: string, oldName: string, newName: string): Promise<Mailbox> {
    checkString(newName, 'mailbox name');
    checkKeyPart(newName, 'mailbox name');
    const pk = keys.userPk(user);
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      const current = await this.getMailbox(user, oldName);
      if (!current) throw new IndexError('NOT_FOUND', `no such mailbox: ${oldName}`);
      if (oldName === newName || (await this.getItem(pk, keys.nameSk(newName)))) throw new IndexError('EXISTS', `mailbox exists: ${newName}`);
      if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', `mailbox ${oldName} could not be renamed: too much contention`);
      const out = await transactWrite(this.db, [
        {
          Delete: {
            TableName: this.table,
            Key: { pk: S(pk), sk: S(keys.nameSk(oldName)) },
            ConditionExpression: 'mailboxId = :id',
            ExpressionAttributeValues: { ':id': S(current.id) },
          },
        },
        {
          Put: {
            TableName: this.table,
            Item: { pk: S(pk), sk: S(keys.nameSk(newName)), mailboxId: S(current.id), name: S(newName) },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Update: {
            TableName: this.table,
            Key: { pk: S(pk), sk: S(keys.mailboxSk(current.id)) },
            UpdateExpression: 'SET #n = :new',
            ConditionExpression: '#n = :old',
            ExpressionAttributeNames: { '#n': 'name' },
            ExpressionAttributeValues: { ':new': S(newName), ':old': S(oldName) },
          },
        },
      ]);
      if (out.ok) {
        const renamed = await this.getItem(pk, keys.mailboxSk(current.id));
        return renamed ? toMailbox(renamed) : { ...current, name: newName };
      }
    }
  }

  async deleteMailbox(user: string, name: string): Promise<{ orphanedBlobs: string[] }> {
    const pk = keys.userPk(user);
    // A legacy subscription flag on the MBOX item must reach the list before the item goes.
    await this.migrateSubscriptions(user);
    let mailboxId: string | null = null;
    for (let attempt = 0; mailboxId === null; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      const current = await this.getMailbox(user, name);
      if (!current) throw new IndexError('NOT_FOUND', `no such mailbox: ${name}`);
      if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', `mailbox ${name} could not be deleted: too much contention`);
      const out = await transactWrite(this.db, [
        {
          Delete: {
            TableName: this.table,
            Key: { pk: S(pk), sk: S(keys.nameSk(name)) },
            ConditionExpression: 'mailboxId = :id',
            ExpressionAttributeValues: { ':id': S(current.id) },
          },
        },
        { Delete: { TableName: this.table, Key: { pk: S(pk), sk: S(keys.mailboxSk(current.id)) }, ConditionExpression: 'attribute_exists(pk)' } },
      ]);
      if (out.ok) mailboxId = current.id;
    }
    // The MBOX item is gone, so no append can commit any more; collect what is left.
    return this.dropMailboxContents(user, mailboxId);
  }

  async setSubscribed(user: string, name: string, subscribed: boolean): Promise<void> {
    checkString(name, 'mailbox name');
    checkKeyPart(name, 'mailbox name');
    const pk = keys.userPk(user);
    if (!(await this.getItem(pk, keys.profileSk))) throw new IndexError('NOT_FOUND', `no such user: ${user}`);
    await this.migrateSubscriptions(user);
    const key = { pk: S(pk), sk: S(keys.subscriptionSk(name)) };
    if (subscribed) await this.db.send(new PutItemCommand({ TableName: this.table, Item: { ...key, name: S(name) } }));
    else await this.db.send(new DeleteItemCommand({ TableName: this.table, Key: key }));
  }

  async listSubscriptions(user: string): Promise<string[]> {
    await this.migrateSubscriptions(user);
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': S(keys.userPk(user)), ':p': S(keys.subscriptionPrefix) },
      ProjectionExpression: '#n',
      ExpressionAttributeNames: { '#n': 'name' },
      ConsistentRead: true,
    });
    return items.map((i) => str(i, 'name')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async mailboxState(user: string, mailboxId: string): Promise<MailboxState | null> {
    const mb = await this.readMailbox(user, mailboxId);
    return mb
      ? { uidValidity: mb.uidValidity, uidNext: mb.uidNext, highestModseq: mb.highestModseq, messageCount: num(mb.item, 'messageCount') }
      : null;
  }

  // --- messages ---

  async appendMessage(user: string, mailboxId: string, message: NewMessage): Promise<AppendResult> {
    checkString(message.blobKey, 'blobKey');
    if (!Number.isSafeInteger(message.size) || message.size < 0) throw new IndexError('INVALID', 'size must be a non-negative integer');
    if (!Number.isFinite(message.internalDate)) throw new IndexError('INVALID', 'internalDate must be a number');
    checkFlags(message.flags);
    if (message.deliveryKey !== undefined) checkString(message.deliveryKey, 'deliveryKey');
    const flags = normalizeFlags(message.flags);
    const meta = encodeMeta(message.meta ?? null);
    const pk = keys.userPk(user);
    const dkSk = message.deliveryKey !== undefined && MAILBOX_ID.test(mailboxId) ? keys.deliverySk(mailboxId, deliveryKeyPart(message.deliveryKey)) : null;

    const duplicateOf = (dk: Item): AppendResult => ({ uid: num(dk, 'uid'), uidValidity: num(dk, 'uidValidity'), modseq: num(dk, 'modseq'), duplicate: true });
    // The mailbox as the cancellation of the previous attempt reported it, if it did.
    let known: MailboxSnapshot | null = null;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      let mb = known;
      known = null;
      if (!mb) {
        // Both items in one consistent read: the pre-check for a redelivery, and after a
        // cancelled transaction the way to tell a duplicate (key now exists) from a lost race.
        const state = await this.readMailboxAnd(user, mailboxId, dkSk);
        if (!state.mailbox) throw new IndexError('NOT_FOUND', `no such mailbox: ${mailboxId}`);
        if (state.other) return duplicateOf(state.other);
        mb = state.mailbox;
      }
      const uid = mb.uidNext;
      if (uid > MAX_UID) throw new IndexError('CONFLICT', 'UID space of the mailbox is exhausted; recreate it');
      if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', 'mailbox too busy: could not allocate a UID');
      const modseq = mb.highestModseq + 1;
      const tx: TransactWriteItem[] = [
        this.allocateUids(pk, mailboxId, mb, 1),
        ...this.messagePuts(pk, mailboxId, uid, modseq, { flags, internalDate: Math.trunc(message.internalDate), size: message.size, blobKey: message.blobKey }, meta),
        {
          Update: {
            TableName: this.table,
            Key: { pk: S(keys.blobPk(message.blobKey)), sk: S(keys.blobSk) },
            UpdateExpression: 'ADD refs :one',
            ExpressionAttributeValues: { ':one': N(1) },
          },
        },
      ];
      if (dkSk) {
        tx.push({
          Put: {
            TableName: this.table,
            Item: {
              pk: S(pk),
              sk: S(dkSk),
              mailboxId: S(mailboxId),
              uid: N(uid),
              uidValidity: N(mb.uidValidity),
              modseq: N(modseq),
              ttl: N(Math.floor(Date.now() / 1000) + DELIVERY_KEY_TTL_SECONDS),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        });
      }
      const out = await transactWrite(this.db, tx);
      if (out.ok) return { uid, uidValidity: mb.uidValidity, modseq, duplicate: false };
      // Where the service reports the failed conditions with the items (ReturnValuesOnConditionCheckFailure),
      // decide without another read: the key exists → duplicate; only the mailbox moved → retry on its new state.
      const dkReason = dkSk ? out.reasons[tx.length - 1] : undefined;
      if (dkReason?.Code === 'ConditionalCheckFailed' && dkReason.Item) return duplicateOf(dkReason.Item);
      const mbReason = out.reasons[0];
      if (mbReason?.Code === 'ConditionalCheckFailed' && mbReason.Item && (!dkSk || dkReason?.Code === 'None')) known = snapshotOf(mbReason.Item);
    }
  }

  async listMessages(user: string, mailboxId: string, options: ListOptions = {}): Promise<MessageRecord[]> {
    // Read uidNext first (see the header: the prefix below it is complete).
    const mb = await this.readMailbox(user, mailboxId);
    if (!mb) return [];
    const from = Math.max(1, Math.floor(options.uidFrom ?? 1));
    const to = Math.min(mb.uidNext - 1, Math.floor(options.uidTo ?? MAX_UID), MAX_UID);
    if (!(from <= to)) return [];
    const pk = S(keys.userPk(user));
    const range = (a: string, b: string) =>
      queryAll(this.db, {
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :a AND :b',
        ExpressionAttributeValues: { ':pk': pk, ':a': S(a), ':b': S(b) },
        ConsistentRead: true,
      });
    const [items, metaItems] = await Promise.all([
      range(keys.messageSk(mailboxId, from), keys.messageSk(mailboxId, to)),
      options.withMeta === true ? range(keys.metaSk(mailboxId, from), keys.metaRangeEnd(mailboxId, to)) : Promise.resolve(null),
    ]);
    return this.toRecords(user, mailboxId, items, metaItems);
  }

  async getMessages(user: string, mailboxId: string, uids: number[]): Promise<MessageRecord[]> {
    const list = validUids(uids);
    if (list.length === 0 || !MAILBOX_ID.test(mailboxId)) return [];
    const pk = keys.userPk(user);
    const [items, metaItems] = await Promise.all([this.readMessages(pk, mailboxId, list), this.readMetaItems(pk, mailboxId, list)]);
    return this.toRecords(user, mailboxId, items, metaItems);
  }

  async updateFlags(user: string, mailboxId: string, uids: number[], mode: FlagUpdateMode, flags: string[]): Promise<FlagChange[]> {
    if (mode !== 'add' && mode !== 'remove' && mode !== 'set') throw new IndexError('INVALID', `bad flag update mode: ${String(mode)}`);
    checkFlags(flags);
    const given = normalizeFlags(flags);
    const pk = keys.userPk(user);
    if (!(await this.readMailbox(user, mailboxId))) throw new IndexError('NOT_FOUND', `no such mailbox: ${mailboxId}`);
    const changes: FlagChange[] = [];
    // Blocks of ≤ 99 messages: one MBOX update (the new modseq) + one update per message.
    for (const block of chunk(validUids(uids), TX_MAX_ITEMS - 1)) {
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) await sleep(backoffMs(attempt));
        const mb = await this.readMailbox(user, mailboxId);
        if (!mb) return changes; // deleted meanwhile
        if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', 'mailbox too busy: could not update flags');
        const items = await this.readMessages(pk, mailboxId, block, ['uid', 'flags', 'modseq']);
        const modseq = mb.highestModseq + 1;
        const pending: Array<{ uid: number; flags: string[]; oldModseq: number }> = [];
        for (const it of items) {
          const current = strList(it, 'flags');
          const next = applyFlags(current, mode, given);
          if (!sameFlagSet(current, next)) pending.push({ uid: num(it, 'uid'), flags: next, oldModseq: num(it, 'modseq') });
        }
        if (pending.length === 0) break;
        // Each message update is conditioned on the modseq read: a concurrent STORE or
        // EXPUNGE of the same message cancels the transaction and we recompute.
        const out = await transactWrite(this.db, [
          this.bumpModseq(pk, mailboxId, mb, 0),
          ...pending.map(
            (p): TransactWriteItem => ({
              Update: {
                TableName: this.table,
                Key: { pk: S(pk), sk: S(keys.messageSk(mailboxId, p.uid)) },
                UpdateExpression: 'SET flags = :f, modseq = :m',
                ConditionExpression: 'modseq = :old',
                ExpressionAttributeValues: { ':f': STR_LIST(p.flags), ':m': N(modseq), ':old': N(p.oldModseq) },
              },
            }),
          ),
        ]);
        if (out.ok) {
          for (const p of pending) changes.push({ uid: p.uid, flags: p.flags, modseq });
          break;
        }
      }
    }
    return changes;
  }

  async expunge(user: string, mailboxId: string, uids: number[]): Promise<{ expunged: number[]; orphanedBlobs: string[] }> {
    const pk = keys.userPk(user);
    if (!(await this.readMailbox(user, mailboxId))) throw new IndexError('NOT_FOUND', `no such mailbox: ${mailboxId}`);
    const expunged: number[] = [];
    const blobKeys: string[] = [];
    let remaining = validUids(uids);
    for (let attempt = 0; remaining.length > 0; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      const mb = await this.readMailbox(user, mailboxId);
      if (!mb) break; // deleted meanwhile: deleteMailbox accounts for the rest
      if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', 'mailbox too busy: could not expunge');
      const block = remaining.slice(0, EXPUNGE_BLOCK);
      const items = await this.readMessages(pk, mailboxId, block, ['uid', 'blobKey', 'metaChunks']);
      if (items.length > 0) {
        // One transaction: the MBOX update (new modseq, count) and, per message, the
        // conditional delete of the MSG item (a concurrent expunge cancels us) and of its MMETA item.
        const tx: TransactWriteItem[] = [this.bumpModseq(pk, mailboxId, mb, -items.length)];
        for (const it of items) {
          const uid = num(it, 'uid');
          tx.push({ Delete: { TableName: this.table, Key: { pk: S(pk), sk: S(keys.messageSk(mailboxId, uid)) }, ConditionExpression: 'attribute_exists(pk)' } });
          tx.push({ Delete: { TableName: this.table, Key: { pk: S(pk), sk: S(keys.metaSk(mailboxId, uid)) } } });
        }
        const out = await transactWrite(this.db, tx);
        if (!out.ok) continue;
        for (const it of items) {
          expunged.push(num(it, 'uid'));
          blobKeys.push(str(it, 'blobKey'));
        }
        // Chunks of split metas: unreachable now; a crash here leaves them to deleteMailbox/removeUser.
        const chunkKeys = items.flatMap((it) =>
          Array.from({ length: metaChunkCount(it) - 1 }, (_, c) => ({ DeleteRequest: { Key: { pk: S(pk), sk: S(keys.metaChunkSk(mailboxId, num(it, 'uid'), c + 1)) } } })),
        );
        if (chunkKeys.length > 0) await batchWriteAll(this.db, this.table, chunkKeys);
      }
      remaining = remaining.slice(block.length);
      attempt = -1; // the next block starts afresh
    }
    return { expunged: expunged.sort((a, b) => a - b), orphanedBlobs: await this.unref(blobKeys) };
  }

  /**
   * Copies in blocks: each block is one transaction that allocates its UIDs in the target
   * (the conditional MBOX update), puts the copies and adds the blob references. When a later
   * block fails for good, the blocks already copied are expunged again (RFC 3501 §6.4.7: a
   * failed COPY must leave the destination as it was) and the error is rethrown.
   */
  async copyMessages(
    user: string,
    fromMailboxId: string,
    uids: number[],
    toMailboxId: string,
  ): Promise<{ uidValidity: number; mapping: Array<{ from: number; to: number }> }> {
    const pk = keys.userPk(user);
    const [source, target] = await Promise.all([this.readMailbox(user, fromMailboxId), this.readMailbox(user, toMailboxId)]);
    if (!source) throw new IndexError('NOT_FOUND', `no such mailbox: ${fromMailboxId}`);
    if (!target) throw new IndexError('NOT_FOUND', `no such mailbox: ${toMailboxId}`);
    const mapping: Array<{ from: number; to: number }> = [];
    let remaining = validUids(uids);
    try {
      while (remaining.length > 0) {
        const done = await this.copyBlock(user, pk, fromMailboxId, remaining.slice(0, 40), toMailboxId);
        mapping.push(...done.mapping);
        remaining = remaining.slice(done.consumed);
      }
    } catch (err) {
      // Best effort; the sources still hold their references, so nothing is orphaned here.
      if (mapping.length > 0) await this.expunge(user, toMailboxId, mapping.map((m) => m.to)).catch(() => undefined);
      throw err;
    }
    return { uidValidity: target.uidValidity, mapping };
  }

  // --- blob holds ---

  async holdBlob(blobKey: string, holder: string): Promise<void> {
    checkString(blobKey, 'blobKey');
    checkString(holder, 'holder');
    checkKeyPart(blobKey, 'blobKey');
    const pk = S(keys.blobPk(blobKey));
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', `blob too busy: could not hold ${blobKey}`);
      const out = await transactWrite(this.db, [
        {
          Put: {
            TableName: this.table,
            Item: { pk, sk: S(keys.blobHoldSk(holderPart(holder))), holder: S(holder), createdAt: N(Date.now()) },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Update: {
            TableName: this.table,
            Key: { pk, sk: S(keys.blobSk) },
            UpdateExpression: 'ADD refs :one',
            ExpressionAttributeValues: { ':one': N(1) },
          },
        },
      ]);
      if (out.ok) return;
      // The hold item exists: this holder already holds the blob (idempotent, counted once).
      if (out.reasons[0]?.Code === 'ConditionalCheckFailed') return;
      // Otherwise a concurrent transaction on the REF item: try again.
    }
  }

  async releaseBlob(blobKey: string, holder: string): Promise<{ orphaned: boolean }> {
    checkString(blobKey, 'blobKey');
    checkString(holder, 'holder');
    if (Buffer.byteLength(blobKey) > MAX_KEY_PART_BYTES) return { orphaned: false };
    const pk = S(keys.blobPk(blobKey));
    const holdKey = { pk, sk: S(keys.blobHoldSk(holderPart(holder))) };
    const refKey = { pk, sk: S(keys.blobSk) };
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', `blob too busy: could not release ${blobKey}`);
      const items = await batchGetAll(this.db, this.table, [holdKey, refKey]);
      const hold = items.find((i) => i.sk?.S === holdKey.sk.S);
      if (!hold) return { orphaned: false };
      const ref = items.find((i) => i.sk?.S === keys.blobSk);
      const refs = ref ? Number(ref.refs?.N ?? '0') : 0;
      const last = refs <= 1;
      const out = await transactWrite(this.db, [
        { Delete: { TableName: this.table, Key: holdKey, ConditionExpression: 'attribute_exists(pk)' } },
        last
          ? {
              // The hold is the last reference: the count goes with it (absent counts as 0).
              Delete: {
                TableName: this.table,
                Key: refKey,
                ConditionExpression: 'attribute_not_exists(pk) OR refs <= :one',
                ExpressionAttributeValues: { ':one': N(1) },
              },
            }
          : {
              Update: {
                TableName: this.table,
                Key: refKey,
                UpdateExpression: 'ADD refs :minus',
                ConditionExpression: 'refs >= :two',
                ExpressionAttributeValues: { ':minus': N(-1), ':two': N(2) },
              },
            },
      ]);
      if (out.ok) return { orphaned: last };
      // The hold went away meanwhile (a concurrent release by the same holder): nothing to do.
      if (out.reasons[0]?.Code === 'ConditionalCheckFailed') return { orphaned: false };
      // The count changed between the read and the transaction: read again.
    }
  }

  // --- leases ---

  async acquireLease(name: string, owner: string, ttlSeconds: number): Promise<boolean> {
    checkString(name, 'lease name');
    checkString(owner, 'lease owner');
    checkKeyPart(name, 'lease name');
    if (!(ttlSeconds > 0)) throw new IndexError('INVALID', 'ttlSeconds must be positive');
    const now = Date.now();
    const expiresAt = now + Math.ceil(ttlSeconds * 1000);
    try {
      await this.db.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            pk: S(keys.leasePk(name)),
            sk: S(keys.leaseSk),
            owner: S(owner),
            expiresAt: N(expiresAt),
            ttl: N(Math.ceil(expiresAt / 1000) + 3600),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR #o = :owner OR expiresAt <= :now',
          ExpressionAttributeNames: { '#o': 'owner' },
          ExpressionAttributeValues: { ':owner': S(owner), ':now': N(now) },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionalCheckFailed(err)) return false;
      throw err;
    }
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) > MAX_KEY_PART_BYTES) return;
    try {
      await this.db.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: { pk: S(keys.leasePk(name)), sk: S(keys.leaseSk) },
          ConditionExpression: '#o = :owner',
          ExpressionAttributeNames: { '#o': 'owner' },
          ExpressionAttributeValues: { ':owner': S(owner) },
        }),
      );
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
    }
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.db.destroy();
  }

  // --- internals ---

  /**
   * Subscriptions were once a `subscribed` flag on the MBOX item. Once per user (until the
   * SUBLIST marker exists), each flagged mailbox is converted in one transaction: Put of its
   * SUB# item + REMOVE of the flag, conditioned on the flag and the name read. A conversion
   * therefore happens at most once, so a name unsubscribed meanwhile is never brought back.
   */
  private async migrateSubscriptions(user: string): Promise<void> {
    const pk = keys.userPk(user);
    if (await this.getItem(pk, keys.subscriptionsMigratedSk)) return;
    const mailboxes = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': S(pk), ':p': S(keys.mailboxPrefix) },
      ProjectionExpression: 'sk, #n, subscribed',
      ExpressionAttributeNames: { '#n': 'name' },
      ConsistentRead: true,
    });
    // No mailbox: nothing to convert, and no marker in the partition of a user who may not exist.
    if (mailboxes.length === 0) return;
    for (const first of mailboxes) {
      let item: Item | null = first;
      for (let attempt = 0; item && bool(item, 'subscribed'); attempt++) {
        if (attempt > 0) await sleep(backoffMs(attempt));
        if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', `subscriptions of ${user} could not be converted: too much contention`);
        const name = str(item, 'name');
        const out = await transactWrite(this.db, [
          { Put: { TableName: this.table, Item: { pk: S(pk), sk: S(keys.subscriptionSk(name)), name: S(name) } } },
          {
            Update: {
              TableName: this.table,
              Key: { pk: S(pk), sk: item.sk },
              UpdateExpression: 'REMOVE subscribed',
              ConditionExpression: 'subscribed = :t AND #n = :name',
              ExpressionAttributeNames: { '#n': 'name' },
              ExpressionAttributeValues: { ':t': BOOL(true), ':name': S(name) },
            },
          },
        ]);
        // Cancelled: converted by another caller, renamed or deleted meanwhile, or a conflict; look again.
        item = out.ok ? null : await this.getItem(pk, str(item, 'sk'));
      }
    }
    await this.db.send(new PutItemCommand({ TableName: this.table, Item: { pk: S(pk), sk: S(keys.subscriptionsMigratedSk) } }));
  }

  private async getItem(pk: string, sk: string): Promise<Item | null> {
    const res = await this.db.send(new GetItemCommand({ TableName: this.table, Key: { pk: S(pk), sk: S(sk) }, ConsistentRead: true }));
    return res.Item ?? null;
  }

  /** The MBOX item if it exists in the user's partition (which is also the ownership check, invariant 4). */
  private async readMailbox(user: string, mailboxId: string): Promise<MailboxSnapshot | null> {
    if (typeof mailboxId !== 'string' || !MAILBOX_ID.test(mailboxId) || typeof user !== 'string' || user === '') return null;
    const item = await this.getItem(keys.userPk(user), keys.mailboxSk(mailboxId));
    return item ? snapshotOf(item) : null;
  }

  /** The MBOX item and one more item of the user's partition, in one consistent BatchGetItem. */
  private async readMailboxAnd(user: string, mailboxId: string, otherSk: string | null): Promise<{ mailbox: MailboxSnapshot | null; other: Item | null }> {
    if (typeof mailboxId !== 'string' || !MAILBOX_ID.test(mailboxId) || typeof user !== 'string' || user === '') return { mailbox: null, other: null };
    if (!otherSk) return { mailbox: await this.readMailbox(user, mailboxId), other: null };
    const pk = keys.userPk(user);
    const mbSk = keys.mailboxSk(mailboxId);
    const items = await batchGetAll(this.db, this.table, [
      { pk: S(pk), sk: S(mbSk) },
      { pk: S(pk), sk: S(otherSk) },
    ]);
    const mbItem = items.find((i) => i.sk?.S === mbSk);
    return { mailbox: mbItem ? snapshotOf(mbItem) : null, other: items.find((i) => i.sk?.S === otherSk) ?? null };
  }

  /** Conditional MBOX update taking `count` UIDs and one modseq (invariant 3). */
  private allocateUids(pk: string, mailboxId: string, mb: MailboxSnapshot, count: number): TransactWriteItem {
    return {
      Update: {
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        TableName: this.table,
        Key: { pk: S(pk), sk: S(keys.mailboxSk(mailboxId)) },
        UpdateExpression: 'SET uidNext = :u1, highestModseq = :m1 ADD messageCount :n',
        ConditionExpression: 'uidNext = :u0 AND highestModseq = :m0',
        ExpressionAttributeValues: {
          ':u0': N(mb.uidNext),
          ':u1': N(mb.uidNext + count),
          ':m0': N(mb.highestModseq),
          ':m1': N(mb.highestModseq + 1),
          ':n': N(count),
        },
      },
    };
  }

  /** Conditional MBOX update taking one modseq (flag changes, expunge) and adjusting messageCount. */
  private bumpModseq(pk: string, mailboxId: string, mb: MailboxSnapshot, countDelta: number): TransactWriteItem {
    return {
      Update: {
        TableName: this.table,
        Key: { pk: S(pk), sk: S(keys.mailboxSk(mailboxId)) },
        UpdateExpression: 'SET highestModseq = :m1 ADD messageCount :n',
        ConditionExpression: 'highestModseq = :m0',
        ExpressionAttributeValues: { ':m0': N(mb.highestModseq), ':m1': N(mb.highestModseq + 1), ':n': N(countDelta) },
      },
    };
  }

  /** Puts of a message: its MSG item, its MMETA item and any meta chunks (all conditional on absence). */
  private messagePuts(
    pk: string,
    mailboxId: string,
    uid: number,
    modseq: number,
    m: { flags: string[]; internalDate: number; size: number; blobKey: string },
    meta: EncodedMeta,
  ): TransactWriteItem[] {
    const put = (Item: Item): TransactWriteItem => ({ Put: { TableName: this.table, Item, ConditionExpression: 'attribute_not_exists(pk)' } });
    return [
      put({
        pk: S(pk),
        sk: S(keys.messageSk(mailboxId, uid)),
        uid: N(uid),
        modseq: N(modseq),
        flags: STR_LIST(m.flags),
        internalDate: N(m.internalDate),
        size: N(m.size),
        blobKey: S(m.blobKey),
        // Split metas are rare; the count here lets expunge delete the chunks without reading the meta.
        ...(meta.extraChunks.length > 0 ? { metaChunks: N(meta.extraChunks.length + 1) } : {}),
      }),
      put({ pk: S(pk), sk: S(keys.metaSk(mailboxId, uid)), ...meta.attributes }),
      ...meta.extraChunks.map((data, i) => put({ pk: S(pk), sk: S(keys.metaChunkSk(mailboxId, uid, i + 1)), data: { B: data } })),
    ];
  }

  /**
   * Message records from MSG items, with meta when `metaItems` is given: MMETA items and
   * any chunk items (as a range Query returns them); missing chunks are fetched.
   */
  private async toRecords(user: string, mailboxId: string, items: Item[], metaItems: Item[] | null): Promise<MessageRecord[]> {
    items.sort((a, b) => num(a, 'uid') - num(b, 'uid'));
    const bySk = new Map<string, Item>();
    if (metaItems) {
      for (const m of metaItems) bySk.set(str(m, 'sk'), m);
      const missing: Key[] = [];
      for (const m of metaItems) {
        const sk = str(m, 'sk');
        if (sk.length !== keys.metaSk(mailboxId, 1).length) continue; // a chunk item
        const uid = Number(sk.slice(-UID_DIGITS));
        for (let c = 1; c < metaChunkCount(m); c++) {
          const chunkSk = keys.metaChunkSk(mailboxId, uid, c);
          if (!bySk.has(chunkSk)) missing.push({ pk: S(keys.userPk(user)), sk: S(chunkSk) });
        }
      }
      if (missing.length > 0) for (const c of await batchGetAll(this.db, this.table, missing)) bySk.set(str(c, 'sk'), c);
    }
    return items.map((it) => {
      const uid = num(it, 'uid');
      const rec: MessageRecord = {
        uid,
        modseq: num(it, 'modseq'),
        flags: strList(it, 'flags'),
        internalDate: num(it, 'internalDate'),
        size: num(it, 'size'),
        blobKey: str(it, 'blobKey'),
      };
      if (metaItems) {
        const m = bySk.get(keys.metaSk(mailboxId, uid));
        const extra = m ? Array.from({ length: metaChunkCount(m) - 1 }, (_, c) => bySk.get(keys.metaChunkSk(mailboxId, uid, c + 1))?.data?.B ?? new Uint8Array()) : [];
        rec.meta = decodeMeta(m, extra) as MessageMeta;
      }
      return rec;
    });
  }

  /**
   * Copies up to `uids.length` messages (fewer when the transaction would grow too big);
   * returns the mapping and how many of `uids` were consumed.
   */
  private async copyBlock(user: string, pk: string, fromId: string, uids: number[], toId: string): Promise<{ mapping: Array<{ from: number; to: number }>; consumed: number }> {
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      const target = await this.readMailbox(user, toId);
      if (!target) throw new IndexError('NOT_FOUND', `no such mailbox: ${toId}`);
      if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', 'mailbox too busy: could not copy');
      const [sourceItems, metaItems] = await Promise.all([this.readMessages(pk, fromId, uids), this.readMetaItems(pk, fromId, uids)]);
      const records = await this.toRecords(user, fromId, sourceItems, metaItems);
      if (records.length === 0) return { mapping: [], consumed: uids.length };
      if (target.uidNext + records.length - 1 > MAX_UID) throw new IndexError('CONFLICT', 'UID space of the target mailbox is exhausted');
      // RFC 7162 §3.1: the copies get one new mod-sequence, as one APPEND would.
      const modseq = target.highestModseq + 1;
      const tx: TransactWriteItem[] = [];
      const blobs = new Map<string, number>();
      const mapping: Array<{ from: number; to: number }> = [];
      let bytes = 0;
      for (const rec of records) {
        const uid = target.uidNext + mapping.length;
        const puts = this.messagePuts(pk, toId, uid, modseq, rec, encodeMeta(rec.meta ?? null));
        const size = puts.reduce((a, p) => a + approxItemBytes(p.Put?.Item ?? {}) + 100, 0);
        const items = 1 + tx.length + puts.length + blobs.size + (blobs.has(rec.blobKey) ? 0 : 1);
        if (mapping.length > 0 && (items > TX_MAX_ITEMS || bytes + size > TX_MAX_BYTES)) break;
        tx.push(...puts);
        blobs.set(rec.blobKey, (blobs.get(rec.blobKey) ?? 0) + 1);
        mapping.push({ from: rec.uid, to: uid });
        bytes += size;
      }
      for (const [blobKey, n] of blobs) {
        tx.push({
          Update: {
            TableName: this.table,
            Key: { pk: S(keys.blobPk(blobKey)), sk: S(keys.blobSk) },
            UpdateExpression: 'ADD refs :n',
            // The source message holds a reference; refs < 1 means the blob is being orphaned.
            ConditionExpression: 'refs >= :one',
            ExpressionAttributeValues: { ':n': N(n), ':one': N(1) },
          },
        });
      }
      const out = await transactWrite(this.db, [this.allocateUids(pk, toId, target, mapping.length), ...tx]);
      if (out.ok) {
        const last = mapping[mapping.length - 1].from;
        const consumed = mapping.length === records.length ? uids.length : uids.findIndex((u) => u > last);
        return { mapping, consumed };
      }
    }
  }

  /** Message items of the given UIDs (consistent BatchGet), in UID order. */
  private async readMessages(pk: string, mailboxId: string, uids: number[], fields?: string[]): Promise<Item[]> {
    const p = fields ? projection(fields) : null;
    const items = await batchGetAll(
      this.db,
      this.table,
      uids.map((u) => ({ pk: S(pk), sk: S(keys.messageSk(mailboxId, u)) })),
      p ? { projection: p.ProjectionExpression, names: p.ExpressionAttributeNames } : {},
    );
    return items.sort((a, b) => num(a, 'uid') - num(b, 'uid'));
  }

  /** MMETA items of the given UIDs (consistent BatchGet; chunks are not included). */
  private async readMetaItems(pk: string, mailboxId: string, uids: number[], fields?: string[]): Promise<Item[]> {
    const p = fields ? projection(fields) : null;
    return batchGetAll(
      this.db,
      this.table,
      uids.map((u) => ({ pk: S(pk), sk: S(keys.metaSk(mailboxId, u)) })),
      p ? { projection: p.ProjectionExpression, names: p.ExpressionAttributeNames } : {},
    );
  }

  private async dropMailboxContents(user: string, mailboxId: string): Promise<{ orphanedBlobs: string[] }> {
    const pk = keys.userPk(user);
    const prefixes = [keys.messagePrefix(mailboxId), keys.metaPrefix(mailboxId), keys.deliveryPrefix(mailboxId)];
    const found = await Promise.all(
      prefixes.map((p) =>
        queryAll(this.db, {
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
          ExpressionAttributeValues: { ':pk': S(pk), ':p': S(p) },
          ProjectionExpression: 'pk, sk, blobKey',
          ConsistentRead: true,
        }),
      ),
    );
    const blobKeys = found[0].map((i) => i.blobKey?.S).filter((k): k is string => typeof k === 'string');
    await batchWriteAll(
      this.db,
      this.table,
      found.flat().map((i) => ({ DeleteRequest: { Key: { pk: i.pk, sk: i.sk } } })),
    );
    return { orphanedBlobs: await this.unref(blobKeys) };
  }

  /** Drops one reference per entry; returns the keys whose last reference this call dropped. */
  private async unref(blobKeys: readonly string[]): Promise<string[]> {
    const counts = new Map<string, number>();
    for (const k of blobKeys) counts.set(k, (counts.get(k) ?? 0) + 1);
    const orphaned: string[] = [];
    await Promise.all(
      [...counts].map(async ([blobKey, n]) => {
        const key = { pk: S(keys.blobPk(blobKey)), sk: S(keys.blobSk) };
        const res = await this.db.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: key,
            UpdateExpression: 'ADD refs :n',
            ExpressionAttributeValues: { ':n': N(-n) },
            ReturnValues: 'UPDATED_NEW',
          }),
        );
        const left = Number(res.Attributes?.refs?.N ?? '0');
        if (left > 0) return;
        try {
          await this.db.send(
            new DeleteItemCommand({
              TableName: this.table,
              Key: key,
              ConditionExpression: 'refs <= :zero',
              ExpressionAttributeValues: { ':zero': N(0) },
            }),
          );
          orphaned.push(blobKey);
        } catch (err) {
          // A concurrent copy took a new reference: the blob lives on.
          if (!isConditionalCheckFailed(err)) throw err;
        }
      }),
    );
    return orphaned.sort();
  }

}
