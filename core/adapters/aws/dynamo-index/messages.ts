/**
 * Messages of the DynamoDB MailIndex: append, list and read, flag changes, expunge and copy.
 * Each write is a transaction with a conditional update of the MBOX item (invariant 3; see
 * ../dynamo-mail-index.ts), MSG and MMETA items per message, and the blob references.
 */
import { createHash } from 'node:crypto';
import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { IndexError } from '#core/ports/mail-index.ts';
import type {
  AppendResult,
  EnvelopeRecord,
  FlagChange,
  FlagUpdateMode,
  FlagUpdateOptions,
  ListOptions,
  MessageRecord,
  MetaOption,
  NewMessage,
} from '#core/ports/mail-index.ts';
import { applyFlags, normalizeFlags, sameFlagSet } from '#core/mailbox/flags.ts';
import type { MessageMeta } from '#core/mime/types.ts';
import { checkFlagUpdate, checkNewMessage } from '#core/adapters/index-input.ts';
import { imapEnvelopeText } from '#core/mime/imap-envelope.ts';
import { DELIVERY_KEY_TTL_SECONDS, UID_DIGITS, keys } from '../dynamo-keys.ts';
import { decodeMeta, encodeMeta, metaChunkCount, type EncodedMeta, type MetaParts } from '../dynamo-meta.ts';
import {
  BOOL,
  N,
  S,
  STR_LIST,
  approxItemBytes,
  backoffMs,
  batchGetAll,
  batchWriteAll,
  num,
  queryAll,
  sleep,
  str,
  strList,
  transactWrite,
  type Item,
  type Key,
} from '../dynamo-ops.ts';
import { holderPart, unref } from './blob-refs.ts';
import { changeItemPut, checkpointPuts, maybeTrimChangeLog } from './changes.ts';
import { saveDateOfItem, savedAtAttribute } from './save-dates.ts';
import { usageUpdate } from './usage.ts';
import { threadLookup, threadOfNewMessage } from './threads.ts';
import { getMailbox } from './mailboxes.ts';
import {
  DELIVERY_KEY_MAX_BYTES,
  EXPUNGE_BLOCK,
  MAILBOX_ID,
  MAX_ATTEMPTS,
  MAX_UID,
  TX_MAX_BYTES,
  TX_MAX_ITEMS,
  forgetMailboxId,
  readMailbox,
  readMailboxAnd,
  rememberMailbox,
  rememberedMailboxId,
  snapshotOf,
  takeRecentMailbox,
  type DynamoIndexContext,
  type MailboxSnapshot,
} from './context.ts';

function validUids(uids: readonly number[]): number[] {
  return [...new Set(uids.filter((u) => Number.isInteger(u) && u > 0 && u <= MAX_UID))].sort((a, b) => a - b);
}

function deliveryKeyPart(key: string): string {
  return Buffer.byteLength(key) <= DELIVERY_KEY_MAX_BYTES ? key : `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

function chunk<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** The meta parts a port option asks for, or null for none. */
function metaParts(option: MetaOption | undefined): MetaParts | null {
  return option === 'structure' ? 'structure' : option === true ? 'all' : null;
}

function projection(fields: string[]): { ProjectionExpression: string; ExpressionAttributeNames: Record<string, string> } {
  const names: Record<string, string> = {};
  fields.forEach((f, i) => (names[`#p${i}`] = f));
  return { ProjectionExpression: Object.keys(names).join(', '), ExpressionAttributeNames: names };
}

/**
 * A delivery's append by mailbox name. With the mailbox's id remembered (context.ts), its MBOX
 * item — whose name proves the id still right — is read in the same consistent BatchGetItem as
 * the thread map entries, and is the transaction's first guess of uidNext/highestModseq: one
 * read request per delivery instead of getMailbox's GetItem and the thread lookup.
 */
export async function appendMessageTo(
  ctx: DynamoIndexContext,
  user: string,
  mailboxName: string,
  message: NewMessage,
): Promise<(AppendResult & { mailboxId: string }) | null> {
  checkNewMessage(message);
  const knownId = rememberedMailboxId(ctx, user, mailboxName);
  if (knownId) {
    const pk = keys.userPk(user);
    const mbSk = keys.mailboxSk(knownId);
    const lookup = threadLookup(ctx, pk, message);
    const items = await batchGetAll(ctx.db, ctx.table, [{ pk: S(pk), sk: S(mbSk) }, ...(lookup?.keys ?? [])]);
    const mbItem = items.find((i) => i.sk?.S === mbSk);
    if (mbItem && mbItem.name?.S === mailboxName) {
      rememberMailbox(ctx, user, mailboxName, mbItem);
      const thread = lookup ? lookup.decide(items.filter((i) => i !== mbItem)) : null;
      const result = await appendMessage(ctx, user, knownId, message, { mailbox: snapshotOf(mbItem), thread });
      return { ...result, mailboxId: knownId };
    }
    forgetMailboxId(ctx, user, mailboxName);
  }
  const mailbox = await getMailbox(ctx, user, mailboxName);
  if (!mailbox) return null;
  return { ...(await appendMessage(ctx, user, mailbox.id, message)), mailboxId: mailbox.id };
}

export async function appendMessage(
  ctx: DynamoIndexContext,
  user: string,
  mailboxId: string,
  message: NewMessage,
  read?: { mailbox: MailboxSnapshot; thread: { threadId: string; puts: TransactWriteItem[] } | null },
): Promise<AppendResult> {
  checkNewMessage(message);
  const flags = normalizeFlags(message.flags);
  const meta = encodeMeta(message.meta ?? null);
  const pk = keys.userPk(user);
  const dkSk = message.deliveryKey !== undefined && MAILBOX_ID.test(mailboxId) ? keys.deliverySk(mailboxId, deliveryKeyPart(message.deliveryKey)) : null;

  const duplicateOf = (dk: Item): AppendResult => ({ uid: num(dk, 'uid'), uidValidity: num(dk, 'uidValidity'), modseq: num(dk, 'modseq'), duplicate: true });
  // The mailbox as the cancellation of the previous attempt reported it, if it did; at first
  // the MBOX item getMailbox has just read (context.ts), so a delivery reads it once. Without
  // the pre-read, a redelivery is told by the delivery-key condition in the transaction.
  let known: MailboxSnapshot | null = read?.mailbox ?? takeRecentMailbox(ctx, user, mailboxId);
  // How the blob gets its reference (invariant 5): a sole message keeps none (no REF item, `soleRef` on the MSG
  // item), a take-over deletes the job's hold instead (its count becomes the message's), else ADD refs 1.
  let reference = message.blobReference;
  // The thread is chosen once (one BatchGetItem); its map entries go into every attempt's transaction.
  const thread = read ? read.thread : await threadOfNewMessage(ctx, pk, message);
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await sleep(backoffMs(attempt));
    let mb = known;
    known = null;
    if (!mb) {
      // Both items in one consistent read: the pre-check for a redelivery, and after a
      // cancelled transaction the way to tell a duplicate (key now exists) from a lost race.
      const state = await readMailboxAnd(ctx, user, mailboxId, dkSk);
      if (!state.mailbox) throw new IndexError('NOT_FOUND', `no such mailbox: ${mailboxId}`);
      if (state.other) return duplicateOf(state.other);
      mb = state.mailbox;
    }
    const uid = mb.uidNext;
    if (uid > MAX_UID) throw new IndexError('CONFLICT', 'UID space of the mailbox is exhausted; recreate it');
    if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', 'mailbox too busy: could not allocate a UID');
    const modseq = mb.highestModseq + 1;
    const blobPk = S(keys.blobPk(message.blobKey));
    const tx: TransactWriteItem[] = [
      allocateUids(ctx, pk, mailboxId, mb, 1),
      ...messagePuts(
        ctx,
        pk,
        mailboxId,
        uid,
        modseq,
        {
          flags,
          internalDate: Math.trunc(message.internalDate),
          size: message.size,
          blobKey: message.blobKey,
          soleRef: reference === 'sole',
          threadId: thread?.threadId,
        },
        meta,
      ),
      ...(thread?.puts ?? []),
      ...checkpointPuts(ctx, pk, mailboxId, modseq, uid + 1),
      usageUpdate(ctx, pk, message.size, 1),
    ];
    const holdAt = typeof reference === 'object' ? tx.length : -1;
    if (typeof reference === 'object') {
      tx.push({
        Delete: {
          TableName: ctx.table,
          Key: { pk: blobPk, sk: S(keys.blobHoldSk(holderPart(reference.takeOver))) },
          ConditionExpression: 'attribute_exists(pk)',
        },
      });
    } else if (reference !== 'sole') {
      tx.push({
        Update: {
          TableName: ctx.table,
          Key: { pk: blobPk, sk: S(keys.blobSk) },
          UpdateExpression: 'ADD refs :one',
          ExpressionAttributeValues: { ':one': N(1) },
        },
      });
    }
    if (dkSk) {
      tx.push({
        Put: {
          TableName: ctx.table,
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
    const out = await transactWrite(ctx.db, tx);
    if (out.ok) return { uid, uidValidity: mb.uidValidity, modseq, duplicate: false, ...(thread ? { threadId: thread.threadId } : {}) };
    // Where the service reports the failed conditions with the items (ReturnValuesOnConditionCheckFailure),
    // decide without another read: the key exists → duplicate; only the mailbox moved → retry on its new state.
    const dkReason = dkSk ? out.reasons[tx.length - 1] : undefined;
    if (dkReason?.Code === 'ConditionalCheckFailed' && dkReason.Item) return duplicateOf(dkReason.Item);
    const mbReason = out.reasons[0];
    // No such hold (released, or the job predates holds): add a reference instead.
    if (holdAt >= 0 && out.reasons[holdAt]?.Code === 'ConditionalCheckFailed') reference = undefined;
    if (mbReason?.Code === 'ConditionalCheckFailed' && mbReason.Item && (!dkSk || dkReason?.Code === 'None')) known = snapshotOf(mbReason.Item);
  }
}

export async function listMessages(ctx: DynamoIndexContext, user: string, mailboxId: string, options: ListOptions = {}): Promise<MessageRecord[]> {
  // Read uidNext first (see the header: the prefix below it is complete).
  const mb = await readMailbox(ctx, user, mailboxId);
  if (!mb) return [];
  const from = Math.max(1, Math.floor(options.uidFrom ?? 1));
  const to = Math.min(mb.uidNext - 1, Math.floor(options.uidTo ?? MAX_UID), MAX_UID);
  if (!(from <= to)) return [];
  const pk = S(keys.userPk(user));
  const range = (a: string, b: string, consistent = true) =>
    queryAll(ctx.db, {
      TableName: ctx.table,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :a AND :b',
      ExpressionAttributeValues: { ':pk': pk, ':a': S(a), ':b': S(b) },
      ConsistentRead: consistent,
    });
  const parts = metaParts(options.withMeta);
  // MMETA and MHDR items never change once written (with their MSG item, in one transaction),
  // so an eventually consistent read (half the units) returns them or misses a very recent
  // one; toRecords reads the missed ones again, strongly consistent.
  const [items, metaItems, headerItems] = await Promise.all([
    range(keys.messageSk(mailboxId, from), keys.messageSk(mailboxId, to)),
    parts ? range(keys.metaSk(mailboxId, from), keys.metaRangeEnd(mailboxId, to), false) : Promise.resolve(null),
    parts === 'all' ? range(keys.headerSk(mailboxId, from), keys.headerSk(mailboxId, to)) : Promise.resolve(null),
  ]);
  return toRecords(ctx, user, mailboxId, items, parts ? { parts, metaItems: metaItems!, headerItems } : null);
}

/**
 * listEnvelopes from what the index stores: the MSG and MMETA items listMessages reads for
 * 'structure' (the same read units), the envelope taken from the structure.
 */
export async function listEnvelopes(
  ctx: DynamoIndexContext,
  user: string,
  mailboxId: string,
  options: { uidFrom?: number; uidTo?: number } = {},
): Promise<EnvelopeRecord[]> {
  const records = await listMessages(ctx, user, mailboxId, { uidFrom: options.uidFrom, uidTo: options.uidTo, withMeta: 'structure' });
  const out: EnvelopeRecord[] = [];
  for (const r of records) {
    if (!r.meta) continue;
    out.push({ uid: r.uid, size: r.size, internalDate: r.internalDate, envelope: imapEnvelopeText(r.meta.envelope) ?? r.meta.envelope });
  }
  return out;
}

export async function getMessages(
  ctx: DynamoIndexContext,
  user: string,
  mailboxId: string,
  uids: number[],
  options: { withMeta?: MetaOption } = {},
): Promise<MessageRecord[]> {
  const list = validUids(uids);
  if (list.length === 0 || !MAILBOX_ID.test(mailboxId)) return [];
  const pk = keys.userPk(user);
  const parts = metaParts(options.withMeta ?? true);
  const [items, metaItems, headerItems] = await Promise.all([
    readMessages(ctx, pk, mailboxId, list),
    parts ? readMetaItems(ctx, pk, mailboxId, list, false) : Promise.resolve(null),
    parts === 'all' ? readHeaderItems(ctx, pk, mailboxId, list) : Promise.resolve(null),
  ]);
  return toRecords(ctx, user, mailboxId, items, parts ? { parts, metaItems: metaItems!, headerItems } : null);
}

export async function updateFlags(
  ctx: DynamoIndexContext,
  user: string,
  mailboxId: string,
  uids: number[],
  mode: FlagUpdateMode,
  flags: string[],
  options: FlagUpdateOptions = {},
): Promise<FlagChange[]> {
  checkFlagUpdate(mode, flags);
  const given = normalizeFlags(flags);
  const pk = keys.userPk(user);
  if (!(await readMailbox(ctx, user, mailboxId))) throw new IndexError('NOT_FOUND', `no such mailbox: ${mailboxId}`);
  const changes: FlagChange[] = [];
  const modified: FlagChange[] = [];
  let last: MailboxSnapshot | null = null;
  // Blocks of ≤ 98 messages: one MBOX update (the new modseq), one change-log item + one update per message.
  for (const block of chunk(validUids(uids), TX_MAX_ITEMS - 2)) {
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      const mb = await readMailbox(ctx, user, mailboxId);
      if (!mb) return changes; // deleted meanwhile
      last = mb;
      if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', 'mailbox too busy: could not update flags');
      const items = await readMessages(ctx, pk, mailboxId, block, ['uid', 'flags', 'modseq']);
      const modseq = mb.highestModseq + 1;
      const pending: Array<{ uid: number; flags: string[]; oldModseq: number }> = [];
      const failed: FlagChange[] = [];
      for (const it of items) {
        const current = strList(it, 'flags');
        // UNCHANGEDSINCE (RFC 7162 §3.1.3) on the modseq read here; the `modseq = :old`
        // condition below makes test and write one atomic step.
        if (options.unchangedSince !== undefined && num(it, 'modseq') > options.unchangedSince) {
          failed.push({ uid: num(it, 'uid'), flags: current, modseq: num(it, 'modseq'), modified: true });
          continue;
        }
        const next = applyFlags(current, mode, given);
        if (!sameFlagSet(current, next)) pending.push({ uid: num(it, 'uid'), flags: next, oldModseq: num(it, 'modseq') });
      }
      if (pending.length === 0) {
        modified.push(...failed);
        break;
      }
      // Each message update is conditioned on the modseq read: a concurrent STORE or
      // EXPUNGE of the same message cancels the transaction and we recompute.
      const out = await transactWrite(ctx.db, [
        bumpModseq(ctx, pk, mailboxId, mb, 0),
        changeItemPut(
          ctx,
          pk,
          mailboxId,
          modseq,
          'F',
          pending.map((p) => p.uid),
          mb.uidNext,
        ),
        ...pending.map((p): TransactWriteItem => ({
          Update: {
            TableName: ctx.table,
            Key: { pk: S(pk), sk: S(keys.messageSk(mailboxId, p.uid)) },
            UpdateExpression: 'SET flags = :f, modseq = :m',
            ConditionExpression: 'modseq = :old',
            ExpressionAttributeValues: { ':f': STR_LIST(p.flags), ':m': N(modseq), ':old': N(p.oldModseq) },
          },
        })),
      ]);
      if (out.ok) {
        for (const p of pending) changes.push({ uid: p.uid, flags: p.flags, modseq });
        modified.push(...failed);
        break;
      }
    }
  }
  if (last && changes.length > 0) await maybeTrimChangeLog(ctx, user, mailboxId, last.item);
  return [...changes, ...modified];
}

export async function expunge(
  ctx: DynamoIndexContext,
  user: string,
  mailboxId: string,
  uids: number[],
): Promise<{ expunged: number[]; orphanedBlobs: string[] }> {
  const pk = keys.userPk(user);
  if (!(await readMailbox(ctx, user, mailboxId))) throw new IndexError('NOT_FOUND', `no such mailbox: ${mailboxId}`);
  const expunged: number[] = [];
  const blobKeys: string[] = [];
  /** Blobs whose only reference was a `soleRef` message just deleted: orphaned without a count to drop. */
  const soleBlobs: string[] = [];
  let remaining = validUids(uids);
  let last: MailboxSnapshot | null = null;
  for (let attempt = 0; remaining.length > 0; attempt++) {
    if (attempt > 0) await sleep(backoffMs(attempt));
    const mb = await readMailbox(ctx, user, mailboxId);
    if (!mb) break; // deleted meanwhile: deleteMailbox accounts for the rest
    last = mb;
    if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', 'mailbox too busy: could not expunge');
    const block = remaining.slice(0, EXPUNGE_BLOCK);
    const items = await readMessages(ctx, pk, mailboxId, block, ['uid', 'blobKey', 'metaChunks', 'soleRef', 'size', 'threadId']);
    if (items.length > 0) {
      // One transaction: the MBOX update (new modseq, count) and, per message, the
      // conditional delete of the MSG item (a concurrent expunge cancels us) and of its MMETA and MHDR items.
      const tx: TransactWriteItem[] = [
        bumpModseq(ctx, pk, mailboxId, mb, -items.length),
        changeItemPut(
          ctx,
          pk,
          mailboxId,
          mb.highestModseq + 1,
          'X',
          items.map((it) => num(it, 'uid')),
          mb.uidNext,
          new Map(items.map((it) => [num(it, 'uid'), str(it, 'blobKey')])),
          new Map(items.filter((it) => it.threadId?.S).map((it) => [num(it, 'uid'), str(it, 'threadId')])),
        ),
        usageUpdate(ctx, pk, -items.reduce((n, it) => n + num(it, 'size'), 0), -items.length),
      ];
      for (const it of items) {
        const uid = num(it, 'uid');
        // The soleRef read must still hold (a COPY that shared the blob meanwhile cancels us).
        tx.push({
          Delete: {
            TableName: ctx.table,
            Key: { pk: S(pk), sk: S(keys.messageSk(mailboxId, uid)) },
            ConditionExpression: it.soleRef ? 'attribute_exists(pk) AND soleRef = :t' : 'attribute_exists(pk) AND attribute_not_exists(soleRef)',
            ...(it.soleRef ? { ExpressionAttributeValues: { ':t': BOOL(true) } } : {}),
          },
        });
        tx.push({ Delete: { TableName: ctx.table, Key: { pk: S(pk), sk: S(keys.metaSk(mailboxId, uid)) } } });
        tx.push({ Delete: { TableName: ctx.table, Key: { pk: S(pk), sk: S(keys.headerSk(mailboxId, uid)) } } });
      }
      const out = await transactWrite(ctx.db, tx);
      if (!out.ok) continue;
      for (const it of items) {
        expunged.push(num(it, 'uid'));
        (it.soleRef ? soleBlobs : blobKeys).push(str(it, 'blobKey'));
      }
      // Chunks of split metas: unreachable now; a crash here leaves them to deleteMailbox/removeUser.
      const chunkKeys = items.flatMap((it) =>
        Array.from({ length: metaChunkCount(it) - 1 }, (_, c) => ({
          DeleteRequest: { Key: { pk: S(pk), sk: S(keys.metaChunkSk(mailboxId, num(it, 'uid'), c + 1)) } },
        })),
      );
      if (chunkKeys.length > 0) await batchWriteAll(ctx.db, ctx.table, chunkKeys);
    }
    remaining = remaining.slice(block.length);
    attempt = -1; // the next block starts afresh
  }
  if (last && expunged.length > 0) await maybeTrimChangeLog(ctx, user, mailboxId, last.item);
  const orphanedBlobs = [...soleBlobs, ...(await unref(ctx, blobKeys))].sort();
  return { expunged: expunged.sort((a, b) => a - b), orphanedBlobs };
}

/**
 * Copies in blocks: each block is one transaction that allocates its UIDs in the target
 * (the conditional MBOX update), puts the copies and adds the blob references. When a later
 * block fails for good, the blocks already copied are expunged again (RFC 3501 §6.4.7: a
 * failed COPY must leave the destination as it was) and the error is rethrown.
 */
export async function copyMessages(
  ctx: DynamoIndexContext,
  user: string,
  fromMailboxId: string,
  uids: number[],
  toMailboxId: string,
): Promise<{ uidValidity: number; mapping: Array<{ from: number; to: number }> }> {
  const pk = keys.userPk(user);
  const [source, target] = await Promise.all([readMailbox(ctx, user, fromMailboxId), readMailbox(ctx, user, toMailboxId)]);
  if (!source) throw new IndexError('NOT_FOUND', `no such mailbox: ${fromMailboxId}`);
  if (!target) throw new IndexError('NOT_FOUND', `no such mailbox: ${toMailboxId}`);
  const mapping: Array<{ from: number; to: number }> = [];
  let remaining = validUids(uids);
  try {
    while (remaining.length > 0) {
      const done = await copyBlock(ctx, user, pk, fromMailboxId, remaining.slice(0, 40), toMailboxId);
      mapping.push(...done.mapping);
      remaining = remaining.slice(done.consumed);
    }
  } catch (err) {
    // Best effort; the sources still hold their references, so nothing is orphaned here.
    if (mapping.length > 0)
      await expunge(
        ctx,
        user,
        toMailboxId,
        mapping.map((m) => m.to),
      ).catch(() => undefined);
    throw err;
  }
  return { uidValidity: target.uidValidity, mapping };
}

/** Conditional MBOX update taking `count` UIDs and one modseq (invariant 3). */
function allocateUids(ctx: DynamoIndexContext, pk: string, mailboxId: string, mb: MailboxSnapshot, count: number): TransactWriteItem {
  return {
    Update: {
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      TableName: ctx.table,
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
function bumpModseq(ctx: DynamoIndexContext, pk: string, mailboxId: string, mb: MailboxSnapshot, countDelta: number): TransactWriteItem {
  return {
    Update: {
      TableName: ctx.table,
      Key: { pk: S(pk), sk: S(keys.mailboxSk(mailboxId)) },
      // A mailbox from before the change log starts its log here (see changes.ts).
      UpdateExpression: 'SET highestModseq = :m1, logFloor = if_not_exists(logFloor, :m0), floorUidNext = if_not_exists(floorUidNext, :u0) ADD messageCount :n',
      ConditionExpression: 'highestModseq = :m0',
      ExpressionAttributeValues: { ':m0': N(mb.highestModseq), ':m1': N(mb.highestModseq + 1), ':u0': N(mb.uidNext), ':n': N(countDelta) },
    },
  };
}

/** Puts of a message: its MSG item, its MMETA item, any meta chunks and its MHDR item (all conditional on absence). */
function messagePuts(
  ctx: DynamoIndexContext,
  pk: string,
  mailboxId: string,
  uid: number,
  modseq: number,
  m: { flags: string[]; internalDate: number; size: number; blobKey: string; soleRef?: boolean; threadId?: string },
  meta: EncodedMeta,
): TransactWriteItem[] {
  const put = (Item: Item): TransactWriteItem => ({ Put: { TableName: ctx.table, Item, ConditionExpression: 'attribute_not_exists(pk)' } });
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
      // RFC 8514 §3: saved now, also for a copy (messagePuts never takes the source's).
      ...savedAtAttribute(),
      // The blob's only reference, counted nowhere else (no REF item): expunge orphans it, COPY turns it into a count.
      ...(m.soleRef ? { soleRef: BOOL(true) } : {}),
      // The thread it joined when stored (dynamo-index/threads.ts); COPY passes the source's on.
      ...(m.threadId ? { threadId: S(m.threadId) } : {}),
      // Split metas are rare; the count here lets expunge delete the chunks without reading the meta.
      ...(meta.extraChunks.length > 0 ? { metaChunks: N(meta.extraChunks.length + 1) } : {}),
    }),
    put({ pk: S(pk), sk: S(keys.metaSk(mailboxId, uid)), ...meta.attributes }),
    ...(meta.header ? [put({ pk: S(pk), sk: S(keys.headerSk(mailboxId, uid)), ...meta.header })] : []),
    ...meta.extraChunks.map((data, i) => put({ pk: S(pk), sk: S(keys.metaChunkSk(mailboxId, uid, i + 1)), data: { B: data } })),
  ];
}

interface MetaRead {
  parts: MetaParts;
  /** MMETA items and any chunk items (as a range Query returns them), possibly read eventually consistent. */
  metaItems: Item[];
  /** MHDR items (parts 'all'); a message without one keeps no header block in the index. */
  headerItems: Item[] | null;
}

/**
 * Message records from MSG items, with meta when `meta` is given. MMETA items an eventually
 * consistent read missed and missing chunks are fetched (strongly consistent).
 */
export async function toRecords(ctx: DynamoIndexContext, user: string, mailboxId: string, items: Item[], meta: MetaRead | null): Promise<MessageRecord[]> {
  items.sort((a, b) => num(a, 'uid') - num(b, 'uid'));
  const bySk = new Map<string, Item>();
  if (meta) {
    const pk = S(keys.userPk(user));
    for (const m of meta.metaItems) bySk.set(str(m, 'sk'), m);
    const missed = items.map((it) => keys.metaSk(mailboxId, num(it, 'uid'))).filter((sk) => !bySk.has(sk));
    const again =
      missed.length > 0
        ? await batchGetAll(
            ctx.db,
            ctx.table,
            missed.map((sk) => ({ pk, sk: S(sk) })),
          )
        : [];
    for (const m of again) bySk.set(str(m, 'sk'), m);
    for (const h of meta.headerItems ?? []) bySk.set(str(h, 'sk'), h);
    const missing: Key[] = [];
    for (const m of [...meta.metaItems, ...again]) {
      const sk = str(m, 'sk');
      if (sk.length !== keys.metaSk(mailboxId, 1).length) continue; // a chunk item
      const uid = Number(sk.slice(-UID_DIGITS));
      for (let c = 1; c < metaChunkCount(m); c++) {
        const chunkSk = keys.metaChunkSk(mailboxId, uid, c);
        if (!bySk.has(chunkSk)) missing.push({ pk, sk: S(chunkSk) });
      }
    }
    if (missing.length > 0) for (const c of await batchGetAll(ctx.db, ctx.table, missing)) bySk.set(str(c, 'sk'), c);
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
      ...saveDateOfItem(it),
    };
    if (it.threadId?.S) rec.threadId = it.threadId.S;
    if (meta) {
      const m = bySk.get(keys.metaSk(mailboxId, uid));
      const extra = m
        ? Array.from({ length: metaChunkCount(m) - 1 }, (_, c) => bySk.get(keys.metaChunkSk(mailboxId, uid, c + 1))?.data?.B ?? new Uint8Array())
        : [];
      rec.meta = decodeMeta(m, extra, bySk.get(keys.headerSk(mailboxId, uid)), meta.parts) as MessageMeta;
    }
    return rec;
  });
}

/**
 * Copies up to `uids.length` messages (fewer when the transaction would grow too big);
 * returns the mapping and how many of `uids` were consumed.
 */
async function copyBlock(
  ctx: DynamoIndexContext,
  user: string,
  pk: string,
  fromId: string,
  uids: number[],
  toId: string,
): Promise<{ mapping: Array<{ from: number; to: number }>; consumed: number }> {
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await sleep(backoffMs(attempt));
    const target = await readMailbox(ctx, user, toId);
    if (!target) throw new IndexError('NOT_FOUND', `no such mailbox: ${toId}`);
    if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', 'mailbox too busy: could not copy');
    const [sourceItems, metaItems, headerItems] = await Promise.all([
      readMessages(ctx, pk, fromId, uids),
      readMetaItems(ctx, pk, fromId, uids),
      readHeaderItems(ctx, pk, fromId, uids),
    ]);
    const records = await toRecords(ctx, user, fromId, sourceItems, { parts: 'all', metaItems, headerItems });
    if (records.length === 0) return { mapping: [], consumed: uids.length };
    if (target.uidNext + records.length - 1 > MAX_UID) throw new IndexError('CONFLICT', 'UID space of the target mailbox is exhausted');
    // RFC 7162 §3.1: the copies get one new mod-sequence, as one APPEND would.
    const modseq = target.highestModseq + 1;
    const tx: TransactWriteItem[] = [];
    const blobs = new Map<string, number>();
    // Sources that are their blob's sole reference (soleRef, no REF item): the copy makes the count 2.
    const soleUids = new Set(sourceItems.filter((it) => it.soleRef?.BOOL === true).map((it) => num(it, 'uid')));
    const soleBlobs = new Map<string, number>();
    const mapping: Array<{ from: number; to: number }> = [];
    let bytes = 0;
    for (const rec of records) {
      const uid = target.uidNext + mapping.length;
      const puts = messagePuts(ctx, pk, toId, uid, modseq, rec, encodeMeta(rec.meta ?? null));
      const size = puts.reduce((a, p) => a + approxItemBytes(p.Put?.Item ?? {}) + 100, 0);
      const sole = soleUids.has(rec.uid);
      // + 1: the MBOX update; + 1: room for a checkpoint item; + 1: the USAGE update.
      const items = 3 + tx.length + puts.length + blobs.size + 2 * soleBlobs.size + (sole ? 2 : blobs.has(rec.blobKey) ? 0 : 1);
      if (mapping.length > 0 && (items > TX_MAX_ITEMS || bytes + size > TX_MAX_BYTES)) break;
      tx.push(...puts);
      if (sole) soleBlobs.set(rec.blobKey, rec.uid);
      else blobs.set(rec.blobKey, (blobs.get(rec.blobKey) ?? 0) + 1);
      mapping.push({ from: rec.uid, to: uid });
      bytes += size;
    }
    for (const [blobKey, n] of blobs) {
      tx.push({
        Update: {
          TableName: ctx.table,
          Key: { pk: S(keys.blobPk(blobKey)), sk: S(keys.blobSk) },
          UpdateExpression: 'ADD refs :n',
          // The source message holds a reference; refs < 1 means the blob is being orphaned.
          ConditionExpression: 'refs >= :one',
          ExpressionAttributeValues: { ':n': N(n), ':one': N(1) },
        },
      });
    }
    for (const [blobKey, sourceUid] of soleBlobs) {
      // The source stops being the sole reference (its soleRef read must still be there: an
      // expunge of it cancels us) and the count starts at 2, the source and the copy.
      tx.push({
        Update: {
          TableName: ctx.table,
          Key: { pk: S(pk), sk: S(keys.messageSk(fromId, sourceUid)) },
          UpdateExpression: 'REMOVE soleRef',
          ConditionExpression: 'soleRef = :t',
          ExpressionAttributeValues: { ':t': BOOL(true) },
        },
      });
      tx.push({
        Update: {
          TableName: ctx.table,
          Key: { pk: S(keys.blobPk(blobKey)), sk: S(keys.blobSk) },
          UpdateExpression: 'ADD refs :two',
          ConditionExpression: 'attribute_not_exists(pk)',
          ExpressionAttributeValues: { ':two': N(2) },
        },
      });
    }
    const copied = records.slice(0, mapping.length);
    const out = await transactWrite(ctx.db, [
      allocateUids(ctx, pk, toId, target, mapping.length),
      ...checkpointPuts(ctx, pk, toId, modseq, target.uidNext + mapping.length),
      ...tx,
      usageUpdate(
        ctx,
        pk,
        copied.reduce((n, r) => n + r.size, 0),
        copied.length,
      ),
    ]);
    if (out.ok) {
      const last = mapping[mapping.length - 1].from;
      const consumed = mapping.length === records.length ? uids.length : uids.findIndex((u) => u > last);
      return { mapping, consumed };
    }
  }
}

/** Message items of the given UIDs (consistent BatchGet), in UID order. */
export async function readMessages(ctx: DynamoIndexContext, pk: string, mailboxId: string, uids: number[], fields?: string[]): Promise<Item[]> {
  const p = fields ? projection(fields) : null;
  const items = await batchGetAll(
    ctx.db,
    ctx.table,
    uids.map((u) => ({ pk: S(pk), sk: S(keys.messageSk(mailboxId, u)) })),
    p ? { projection: p.ProjectionExpression, names: p.ExpressionAttributeNames } : {},
  );
  return items.sort((a, b) => num(a, 'uid') - num(b, 'uid'));
}

/** MMETA items of the given UIDs (BatchGet, consistent unless asked; chunks are not included). */
export async function readMetaItems(ctx: DynamoIndexContext, pk: string, mailboxId: string, uids: number[], consistent = true): Promise<Item[]> {
  return batchGetAll(
    ctx.db,
    ctx.table,
    uids.map((u) => ({ pk: S(pk), sk: S(keys.metaSk(mailboxId, u)) })),
    { consistent },
  );
}

/** MHDR items of the given UIDs (consistent BatchGet: an absent one means no header block in the index). */
export async function readHeaderItems(ctx: DynamoIndexContext, pk: string, mailboxId: string, uids: number[]): Promise<Item[]> {
  return batchGetAll(
    ctx.db,
    ctx.table,
    uids.map((u) => ({ pk: S(pk), sk: S(keys.headerSk(mailboxId, u)) })),
  );
}
