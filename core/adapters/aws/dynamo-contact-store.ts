/**
 * ContactStore in the mail-index table (MAIL_INDEX_TABLE), in the user's partition `U#<address>`
 * beside the mailboxes, so removing a user (which deletes the partition) removes the contacts
 * too. See core/ports/contacts.ts for what is promised. Items:
 *
 * | sk                                  | attributes                                                   |
 * | ----------------------------------- | ------------------------------------------------------------ |
 * | `ABOOK#<bookId>`                    | id, displayName, description, modseq (the sync token), createdAt |
 * | `CARD#<bookId>#<name>`              | name, uid, etag, modseq, size, data (B: the first chunk),    |
 * |                                     | chunks (N), clientVersion (S, when recorded);                |
 * |                                     | or a tombstone: name, modseq, deleted = true                 |
 * | `CARDX#<bookId>#<name>#<n:3>`       | data (B): chunk n ≥ 1 of a card larger than CHUNK_BYTES      |
 * | `ABLOG#<bookId>#<modseq:16>`        | name: the change log, one item per name (live or deleted)    |
 * | `ABUID#<bookId>#<uid>`              | name: which card holds a vCard UID (RFC 6352 §6.3.2.1)        |
 *
 * A put or delete is one TransactWriteItems: the ABOOK item's modseq goes from the value read
 * to that + 1 (condition), the CARD item is written under a condition on the state read (its
 * modseq, or absence), so the If-Match / If-None-Match decision made on that read holds; the
 * log item of the card's previous modseq is deleted and one at the new modseq put, so the log
 * holds one item per name and changesSince is a Query of `ABLOG#<book>#` above `since`. A
 * deletion leaves a tombstone CARD item (which remembers the log item to replace when the name
 * is put again). A cancelled transaction is read again and retried.
 *
 * Items are at most 400 KB, so a card is split into CHUNK_BYTES pieces (a 1 MiB card is three
 * items, all in the same transaction).
 */
import type { AttributeValue, DynamoDBClient, TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { MODSEQ_DIGITS } from './dynamo-keys.ts';
import { N, S, backoffMs, batchGetAll, batchWriteAll, num, optStr, queryAll, sleep, str, transactWrite, type Item } from './dynamo-ops.ts';
import {
  ADDRESS_BOOK_ID,
  ContactError,
  checkPut,
  type ContactData,
  contactEtag,
  type AddressBook,
  type ContactChanges,
  type ContactInfo,
  type ContactStore,
  type PutContactOptions,
  type StoredContact,
} from '#core/ports/contacts.ts';

export const CHUNK_BYTES = 350_000;
const MAX_ATTEMPTS = 60;

const pad = (n: number) => String(n).padStart(MODSEQ_DIGITS, '0');
const k = {
  pk: (user: string) => `U#${user}`,
  book: (id: string) => `ABOOK#${id}`,
  bookPrefix: 'ABOOK#',
  card: (book: string, name: string) => `CARD#${book}#${name}`,
  cardPrefix: (book: string) => `CARD#${book}#`,
  chunk: (book: string, name: string, n: number) => `CARDX#${book}#${name}#${String(n).padStart(3, '0')}`,
  chunkPrefix: (book: string) => `CARDX#${book}#`,
  log: (book: string, modseq: number) => `ABLOG#${book}#${pad(modseq)}`,
  logPrefix: (book: string) => `ABLOG#${book}#`,
  uid: (book: string, uid: string) => `ABUID#${book}#${uid}`,
  uidPrefix: (book: string) => `ABUID#${book}#`,
};

function toBook(item: Item): AddressBook {
  return {
    id: str(item, 'id'),
    displayName: str(item, 'displayName'),
    description: optStr(item, 'description'),
    syncToken: num(item, 'modseq'),
    createdAt: num(item, 'createdAt'),
  };
}
function toInfo(item: Item): ContactInfo {
  const info: ContactInfo = { name: str(item, 'name'), uid: str(item, 'uid'), etag: str(item, 'etag'), modseq: num(item, 'modseq'), size: num(item, 'size') };
  const v = item.clientVersion?.S;
  if (v === '3.0' || v === '4.0') info.clientVersion = v;
  return info;
}
const isLive = (item: Item | undefined): item is Item => item !== undefined && item.deleted?.BOOL !== true;

export interface DynamoContactStoreOptions {
  client: DynamoDBClient;
  table: string;
}

export class DynamoContactStore implements ContactStore {
  private readonly db: DynamoDBClient;
  private readonly table: string;

  constructor(options: DynamoContactStoreOptions) {
    this.db = options.client;
    this.table = options.table;
  }

  private async items(user: string, sks: string[]): Promise<Map<string, Item>> {
    const got = await batchGetAll(
      this.db,
      this.table,
      sks.map((sk) => ({ pk: S(k.pk(user)), sk: S(sk) })),
    );
    return new Map(got.map((i) => [i.sk!.S!, i]));
  }

  private query(user: string, prefix: string, extra: { projection?: string; after?: string } = {}): Promise<Item[]> {
    const values: Record<string, AttributeValue> = { ':pk': S(k.pk(user)) };
    let cond = 'pk = :pk AND begins_with(sk, :p)';
    if (extra.after) {
      cond = 'pk = :pk AND sk BETWEEN :a AND :z';
      values[':a'] = S(extra.after);
      values[':z'] = S(`${prefix}~`);
    } else values[':p'] = S(prefix);
    return queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: cond,
      ExpressionAttributeValues: values,
      ConsistentRead: true,
      ...(extra.projection ? { ProjectionExpression: extra.projection } : {}),
      ...(extra.projection?.includes('#n') ? { ExpressionAttributeNames: { '#n': 'name', '#s': 'size' } } : {}),
    });
  }

  async listAddressBooks(user: string): Promise<AddressBook[]> {
    return (await this.query(user, k.bookPrefix)).map(toBook).sort((a, b) => a.id.localeCompare(b.id));
  }

  async getAddressBook(user: string, id: string): Promise<AddressBook | null> {
    if (!ADDRESS_BOOK_ID.test(id)) return null;
    const item = (await this.items(user, [k.book(id)])).get(k.book(id));
    return item ? toBook(item) : null;
  }

  async createAddressBook(user: string, book: { id: string; displayName: string; description?: string | null }): Promise<AddressBook> {
    if (!ADDRESS_BOOK_ID.test(book.id)) throw new ContactError('INVALID', 'invalid address book id');
    const createdAt = Date.now();
    const item: Item = { pk: S(k.pk(user)), sk: S(k.book(book.id)), id: S(book.id), displayName: S(book.displayName), modseq: N(0), createdAt: N(createdAt) };
    if (book.description) item.description = S(book.description);
    const r = await transactWrite(this.db, [{ Put: { TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } }]);
    if (!r.ok) throw new ContactError('EXISTS', 'address book exists');
    return { id: book.id, displayName: book.displayName, description: book.description ?? null, syncToken: 0, createdAt };
  }

  async updateAddressBook(user: string, id: string, props: { displayName: string; description: string | null }): Promise<AddressBook> {
    if (!ADDRESS_BOOK_ID.test(id)) throw new ContactError('NOT_FOUND', 'no such address book');
    const r = await transactWrite(this.db, [
      {
        Update: {
          TableName: this.table,
          Key: { pk: S(k.pk(user)), sk: S(k.book(id)) },
          UpdateExpression: props.description ? 'SET displayName = :d, description = :e' : 'SET displayName = :d REMOVE description',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: props.description ? { ':d': S(props.displayName), ':e': S(props.description) } : { ':d': S(props.displayName) },
        },
      },
    ]);
    if (!r.ok) {
      const missing = r.reasons.some((x) => x.Code === 'ConditionalCheckFailed');
      throw new ContactError(missing ? 'NOT_FOUND' : 'CONFLICT', missing ? 'no such address book' : 'busy; try again');
    }
    const book = await this.getAddressBook(user, id);
    if (!book) throw new ContactError('NOT_FOUND', 'no such address book');
    return book;
  }

  async deleteAddressBook(user: string, id: string): Promise<void> {
    if (!(await this.getAddressBook(user, id))) throw new ContactError('NOT_FOUND', 'no such address book');
    await this.dropBook(user, id);
  }

  private async dropBook(user: string, id: string): Promise<void> {
    // The book item first: from then on the book is gone for every reader; the rest follows.
    await batchWriteAll(this.db, this.table, [{ DeleteRequest: { Key: { pk: S(k.pk(user)), sk: S(k.book(id)) } } }]);
    const rest = (
      await Promise.all([k.cardPrefix(id), k.chunkPrefix(id), k.logPrefix(id), k.uidPrefix(id)].map((p) => this.query(user, p, { projection: 'pk, sk' })))
    ).flat();
    await batchWriteAll(
      this.db,
      this.table,
      rest.map((i) => ({ DeleteRequest: { Key: { pk: i.pk!, sk: i.sk! } } })),
    );
  }

  async listContacts(user: string, bookId: string): Promise<ContactInfo[]> {
    if (!(await this.getAddressBook(user, bookId))) throw new ContactError('NOT_FOUND', 'no such address book');
    const rows = await this.query(user, k.cardPrefix(bookId), { projection: '#n, uid, etag, modseq, #s, deleted, clientVersion' });
    return rows
      .filter(isLive)
      .map(toInfo)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async getContacts(user: string, bookId: string, names: string[]): Promise<StoredContact[]> {
    if (!ADDRESS_BOOK_ID.test(bookId)) return [];
    const wanted = [...new Set(names)].filter((n) => typeof n === 'string' && n !== '' && Buffer.byteLength(n) <= 800);
    if (wanted.length === 0) return [];
    const cards = [
      ...(
        await this.items(
          user,
          wanted.map((n) => k.card(bookId, n)),
        )
      ).values(),
    ].filter(isLive);
    const chunkKeys: string[] = [];
    for (const c of cards) for (let i = 1; i < num(c, 'chunks'); i++) chunkKeys.push(k.chunk(bookId, str(c, 'name'), i));
    const chunks = chunkKeys.length > 0 ? await this.items(user, chunkKeys) : new Map<string, Item>();
    const out: StoredContact[] = [];
    for (const c of cards) {
      const name = str(c, 'name');
      const parts = [Buffer.from(c.data!.B!)];
      let whole = true;
      for (let i = 1; i < num(c, 'chunks'); i++) {
        const part = chunks.get(k.chunk(bookId, name, i));
        if (!part?.data?.B || part.etag?.S !== c.etag?.S) whole = false;
        else parts.push(Buffer.from(part.data.B));
      }
      // A chunk of another version (a concurrent put between the two reads): read it again.
      if (!whole) {
        const again = await this.getContact(user, bookId, name);
        if (again) out.push(again);
        continue;
      }
      out.push({ ...toInfo(c), data: Buffer.concat(parts) });
    }
    return out;
  }

  async getContact(user: string, bookId: string, name: string): Promise<StoredContact | null> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const [c] = await this.getContactsOnce(user, bookId, name);
      if (c !== undefined) return c;
      await sleep(backoffMs(attempt));
    }
    throw new ContactError('CONFLICT', 'the contact kept changing while it was read');
  }

  /** [] when the card is being rewritten (chunks of two versions), [null] when absent. */
  private async getContactsOnce(user: string, bookId: string, name: string): Promise<Array<StoredContact | null>> {
    if (!ADDRESS_BOOK_ID.test(bookId) || typeof name !== 'string' || name === '' || Buffer.byteLength(name) > 800) return [null];
    const c = (await this.items(user, [k.card(bookId, name)])).get(k.card(bookId, name));
    if (!isLive(c)) return [null];
    const n = num(c, 'chunks');
    const parts = [Buffer.from(c.data!.B!)];
    if (n > 1) {
      const got = await this.items(
        user,
        Array.from({ length: n - 1 }, (_, i) => k.chunk(bookId, name, i + 1)),
      );
      for (let i = 1; i < n; i++) {
        const part = got.get(k.chunk(bookId, name, i));
        if (!part?.data?.B || part.etag?.S !== c.etag?.S) return [];
        parts.push(Buffer.from(part.data.B));
      }
    }
    return [{ ...toInfo(c), data: Buffer.concat(parts) }];
  }

  async putContact(
    user: string,
    bookId: string,
    name: string,
    card: ContactData,
    options: PutContactOptions = {},
  ): Promise<{ contact: ContactInfo; created: boolean }> {
    checkPut(bookId, name, card);
    const etag = contactEtag(card.data);
    const pk = S(k.pk(user));
    const chunks: Buffer[] = [];
    for (let i = 0; i < card.data.length || i === 0; i += CHUNK_BYTES) chunks.push(card.data.subarray(i, i + CHUNK_BYTES));
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      const got = await this.items(user, [k.book(bookId), k.card(bookId, name), k.uid(bookId, card.uid)]);
      const book = got.get(k.book(bookId));
      if (!book) throw new ContactError('NOT_FOUND', 'no such address book');
      const old = got.get(k.card(bookId, name));
      const live = isLive(old);
      if (options.ifNoneMatch && live) throw new ContactError('PRECONDITION_FAILED', 'a contact with this name exists');
      if (options.ifMatch !== undefined && (!live || old.etag?.S !== options.ifMatch))
        throw new ContactError('PRECONDITION_FAILED', 'the contact has changed (ETag differs)');
      const holder = got.get(k.uid(bookId, card.uid));
      if (holder && holder.name?.S !== name) throw new ContactError('UID_CONFLICT', `another contact (${holder.name?.S ?? ''}) has this UID`);

      const bookModseq = num(book, 'modseq');
      const modseq = bookModseq + 1;
      const clientVersion = card.clientVersion ?? (live ? old.clientVersion?.S : undefined);
      const item: Item = {
        pk,
        sk: S(k.card(bookId, name)),
        name: S(name),
        uid: S(card.uid),
        etag: S(etag),
        modseq: N(modseq),
        size: N(card.data.length),
        data: { B: chunks[0] },
        chunks: N(chunks.length),
      };
      if (clientVersion !== undefined) item.clientVersion = S(clientVersion);
      const tx: TransactWriteItem[] = [
        {
          Update: {
            TableName: this.table,
            Key: { pk, sk: S(k.book(bookId)) },
            UpdateExpression: 'SET modseq = :n',
            ConditionExpression: 'modseq = :o',
            ExpressionAttributeValues: { ':n': N(modseq), ':o': N(bookModseq) },
          },
        },
        {
          Put: {
            TableName: this.table,
            Item: item,
            ...(old
              ? { ConditionExpression: 'modseq = :m', ExpressionAttributeValues: { ':m': N(num(old, 'modseq')) } }
              : { ConditionExpression: 'attribute_not_exists(pk)' }),
          },
        },
        { Put: { TableName: this.table, Item: { pk, sk: S(k.log(bookId, modseq)), name: S(name) } } },
      ];
      for (let i = 1; i < chunks.length; i++)
        tx.push({ Put: { TableName: this.table, Item: { pk, sk: S(k.chunk(bookId, name, i)), data: { B: chunks[i] }, etag: S(etag) } } });
      const oldChunks = live ? num(old, 'chunks') : 0;
      for (let i = chunks.length; i < oldChunks; i++) tx.push({ Delete: { TableName: this.table, Key: { pk, sk: S(k.chunk(bookId, name, i)) } } });
      if (old) tx.push({ Delete: { TableName: this.table, Key: { pk, sk: S(k.log(bookId, num(old, 'modseq'))) } } });
      if (!holder) {
        tx.push({
          Put: { TableName: this.table, Item: { pk, sk: S(k.uid(bookId, card.uid)), name: S(name) }, ConditionExpression: 'attribute_not_exists(pk)' },
        });
      }
      const oldUid = live ? old.uid?.S : undefined;
      if (oldUid !== undefined && oldUid !== card.uid) tx.push({ Delete: { TableName: this.table, Key: { pk, sk: S(k.uid(bookId, oldUid)) } } });
      const r = await transactWrite(this.db, tx);
      if (r.ok) return { contact: toInfo(item), created: !live };
    }
    throw new ContactError('CONFLICT', 'the address book kept changing; try again');
  }

  async deleteContact(user: string, bookId: string, name: string, options: { ifMatch?: string } = {}): Promise<{ modseq: number }> {
    if (!ADDRESS_BOOK_ID.test(bookId)) throw new ContactError('NOT_FOUND', 'no such address book');
    if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) > 800) throw new ContactError('NOT_FOUND', 'no such contact');
    const pk = S(k.pk(user));
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      const got = await this.items(user, [k.book(bookId), k.card(bookId, name)]);
      const book = got.get(k.book(bookId));
      if (!book) throw new ContactError('NOT_FOUND', 'no such address book');
      const old = got.get(k.card(bookId, name));
      if (!isLive(old)) throw new ContactError('NOT_FOUND', 'no such contact');
      if (options.ifMatch !== undefined && old.etag?.S !== options.ifMatch)
        throw new ContactError('PRECONDITION_FAILED', 'the contact has changed (ETag differs)');
      const bookModseq = num(book, 'modseq');
      const modseq = bookModseq + 1;
      const oldModseq = num(old, 'modseq');
      const tx: TransactWriteItem[] = [
        {
          Update: {
            TableName: this.table,
            Key: { pk, sk: S(k.book(bookId)) },
            UpdateExpression: 'SET modseq = :n',
            ConditionExpression: 'modseq = :o',
            ExpressionAttributeValues: { ':n': N(modseq), ':o': N(bookModseq) },
          },
        },
        {
          Put: {
            TableName: this.table,
            Item: { pk, sk: S(k.card(bookId, name)), name: S(name), modseq: N(modseq), deleted: { BOOL: true } },
            ConditionExpression: 'modseq = :m',
            ExpressionAttributeValues: { ':m': N(oldModseq) },
          },
        },
        { Delete: { TableName: this.table, Key: { pk, sk: S(k.log(bookId, oldModseq)) } } },
        { Put: { TableName: this.table, Item: { pk, sk: S(k.log(bookId, modseq)), name: S(name) } } },
        { Delete: { TableName: this.table, Key: { pk, sk: S(k.uid(bookId, str(old, 'uid'))) } } },
      ];
      for (let i = 1; i < num(old, 'chunks'); i++) tx.push({ Delete: { TableName: this.table, Key: { pk, sk: S(k.chunk(bookId, name, i)) } } });
      const r = await transactWrite(this.db, tx);
      if (r.ok) return { modseq };
    }
    throw new ContactError('CONFLICT', 'the address book kept changing; try again');
  }

  async changesSince(user: string, bookId: string, since: number): Promise<ContactChanges | null> {
    // The book first: every change at or below its modseq has committed (each commits together
    // with the book's modseq), so the log read after it holds them all.
    const book = await this.getAddressBook(user, bookId);
    if (!book) return null;
    const log = await this.query(user, k.logPrefix(bookId), { after: k.log(bookId, Math.max(0, since) + 1) });
    const names = [...new Set(log.filter((i) => Number(i.sk!.S!.slice(-MODSEQ_DIGITS)) <= book.syncToken).map((i) => str(i, 'name')))];
    const changed: ContactInfo[] = [];
    const removed: string[] = [];
    for (let i = 0; i < names.length; i += 100) {
      const cards = await this.items(
        user,
        names.slice(i, i + 100).map((n) => k.card(bookId, n)),
      );
      for (const n of names.slice(i, i + 100)) {
        const c = cards.get(k.card(bookId, n));
        if (!c || num(c, 'modseq') > book.syncToken) continue; // changed again after the token: the next sync reports it
        if (isLive(c)) changed.push(toInfo(c));
        else removed.push(n);
      }
    }
    return { syncToken: book.syncToken, changed, removed };
  }

  async removeAllContacts(user: string): Promise<void> {
    for (const b of await this.listAddressBooks(user)) await this.dropBook(user, b.id);
  }

  async close(): Promise<void> {}
}
