/**
 * What every part of the DynamoDB MailIndex shares: the client and table, the limits, and the
 * reads of one item and of a mailbox's counters. The facade is ../dynamo-mail-index.ts.
 */
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IndexError } from '#core/ports/mail-index.ts';
import { MAX_KEY_PART_BYTES, keys } from '../dynamo-keys.ts';
import { S, batchGetAll, num, type Item } from '../dynamo-ops.ts';

export interface DynamoIndexContext {
  readonly db: DynamoDBClient;
  readonly table: string;
  /** How long change-log entries are kept before a later write trims them; default CHANGE_LOG_RETENTION_MS (tests pass less). */
  readonly changeLogRetentionMs?: number;
}

/** RFC 3501 §2.3.1.1: UIDs are 32-bit unsigned, non-zero. */
export const MAX_UID = 0xffffffff;
/** TransactWriteItems takes at most 100 items and 4 MB; we stay below both. */
export const TX_MAX_ITEMS = 100;
export const TX_MAX_BYTES = 3_500_000;
/** Optimistic retries of one operation before giving up with CONFLICT. */
export const MAX_ATTEMPTS = 120;
/** Messages per expunge transaction: 1 MBOX update + 3 deletes each (MSG, MMETA, MHDR) + 1 change-log item + 1 USAGE update ≤ 100 items. */
export const EXPUNGE_BLOCK = 32;
/** Delivery keys longer than this are replaced by their SHA-256 (sort keys are at most 1024 bytes). */
export const DELIVERY_KEY_MAX_BYTES = 512;
export const MAILBOX_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function checkKeyPart(value: string, what: string): void {
  if (Buffer.byteLength(value) > MAX_KEY_PART_BYTES) throw new IndexError('INVALID', `${what} is too long`);
}

export interface MailboxSnapshot {
  item: Item;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
}

export function snapshotOf(item: Item): MailboxSnapshot {
  return { item, uidValidity: num(item, 'uidValidity'), uidNext: num(item, 'uidNext'), highestModseq: num(item, 'highestModseq') };
}

export async function getItem(ctx: DynamoIndexContext, pk: string, sk: string): Promise<Item | null> {
  const res = await ctx.db.send(new GetItemCommand({ TableName: ctx.table, Key: { pk: S(pk), sk: S(sk) }, ConsistentRead: true }));
  return res.Item ?? null;
}

/**
 * Per-index memory of mailboxes, to save reads on the delivery path (one MailIndex per
 * process: a Lambda container, a listener task):
 *  - the id of a (user, name), so getMailbox reads only the MBOX item; the MBOX item carries
 *    its name, and a NAME item and its MBOX item change together (one transaction in create,
 *    rename and delete), so an MBOX item read with the name asked for proves the id still
 *    right — else the NAME item is read as before;
 *  - the MBOX item getMailbox has just read, which appendMessage takes (once, within
 *    RECENT_MAILBOX_MS) as its first guess of uidNext/highestModseq instead of reading it
 *    again: the transaction's condition on both still decides (invariant 3), and a guess gone
 *    stale costs one cancelled transaction, after which it reads as before.
 */
interface MailboxMemory {
  ids: Map<string, string>;
  recent: Map<string, { snapshot: MailboxSnapshot; at: number }>;
}
const memories = new WeakMap<DynamoIndexContext, MailboxMemory>();
const MAX_REMEMBERED = 10_000;
export const RECENT_MAILBOX_MS = 2_000;

function memoryOf(ctx: DynamoIndexContext): MailboxMemory {
  let m = memories.get(ctx);
  if (!m) memories.set(ctx, (m = { ids: new Map(), recent: new Map() }));
  return m;
}

const memoryKey = (user: string, part: string) => `${user}\u0000${part}`;

export function rememberedMailboxId(ctx: DynamoIndexContext, user: string, name: string): string | undefined {
  return memoryOf(ctx).ids.get(memoryKey(user, name));
}

export function rememberMailbox(ctx: DynamoIndexContext, user: string, name: string, item: Item): void {
  const m = memoryOf(ctx);
  if (m.ids.size >= MAX_REMEMBERED) m.ids.clear();
  if (m.recent.size >= MAX_REMEMBERED) m.recent.clear();
  const id = item.id?.S;
  if (!id) return;
  m.ids.set(memoryKey(user, name), id);
  m.recent.set(memoryKey(user, id), { snapshot: snapshotOf(item), at: Date.now() });
}

export function forgetMailboxId(ctx: DynamoIndexContext, user: string, name: string): void {
  memoryOf(ctx).ids.delete(memoryKey(user, name));
}

/** The MBOX item getMailbox read for this mailbox within RECENT_MAILBOX_MS, once. */
export function takeRecentMailbox(ctx: DynamoIndexContext, user: string, mailboxId: string): MailboxSnapshot | null {
  const m = memoryOf(ctx);
  const key = memoryKey(user, mailboxId);
  const hit = m.recent.get(key);
  m.recent.delete(key);
  return hit && Date.now() - hit.at <= RECENT_MAILBOX_MS ? hit.snapshot : null;
}

/** The MBOX item if it exists in the user's partition (which is also the ownership check, invariant 4). */
export async function readMailbox(ctx: DynamoIndexContext, user: string, mailboxId: string): Promise<MailboxSnapshot | null> {
  if (typeof mailboxId !== 'string' || !MAILBOX_ID.test(mailboxId) || typeof user !== 'string' || user === '') return null;
  const item = await getItem(ctx, keys.userPk(user), keys.mailboxSk(mailboxId));
  return item ? snapshotOf(item) : null;
}

/** The MBOX item and one more item of the user's partition, in one consistent BatchGetItem. */
export async function readMailboxAnd(
  ctx: DynamoIndexContext,
  user: string,
  mailboxId: string,
  otherSk: string | null,
): Promise<{ mailbox: MailboxSnapshot | null; other: Item | null }> {
  if (typeof mailboxId !== 'string' || !MAILBOX_ID.test(mailboxId) || typeof user !== 'string' || user === '') return { mailbox: null, other: null };
  if (!otherSk) return { mailbox: await readMailbox(ctx, user, mailboxId), other: null };
  const pk = keys.userPk(user);
  const mbSk = keys.mailboxSk(mailboxId);
  const items = await batchGetAll(ctx.db, ctx.table, [
    { pk: S(pk), sk: S(mbSk) },
    { pk: S(pk), sk: S(otherSk) },
  ]);
  const mbItem = items.find((i) => i.sk?.S === mbSk);
  return { mailbox: mbItem ? snapshotOf(mbItem) : null, other: items.find((i) => i.sk?.S === otherSk) ?? null };
}
