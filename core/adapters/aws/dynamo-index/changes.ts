/**
 * The change log of the DynamoDB MailIndex (changesSince; the rules are in the port's header).
 *
 * Items (dynamo-keys.ts): `CHG#<mailboxId>#<modseq:16>` in the user's partition, with `kind`
 * (F: flags changed, X: expunged — the tombstones, C: checkpoint), `uids` (the UIDs as an IMAP
 * sequence set, "3:7,9"), `uidNext` (the mailbox's uidNext after that write) and `createdAt`;
 * an X item also has `blobs` (M: UID → the blob key it had; JMAP names Emails by blob, so its
 * /changes can say which Email lost a copy; older X items have none: reported as null) and
 * `threads` (M: UID → the thread id it had, for messages that had one; Thread/changes).
 * The MBOX item carries `logFloor` (changesSince below it is incomplete), `floorUidNext` (the
 * uidNext at the floor) and `logTrimmedAt` (when a writer last looked for entries to trim).
 *
 * Why this shape:
 *  - Delivery stays as cheap as it was: an append (and a copy into a mailbox) writes no log item.
 *    Its MSG item carries its modseq, and every append after modseq n has a UID at or above the
 *    uidNext the mailbox had at n, so "appended or changed since n" is a Query over the MSG items
 *    from that UID up (only the new ones) filtered by modseq > n. The caller usually knows that
 *    uidNext (the `uidNext` hint, from the same state it took `since` from); without it (QRESYNC
 *    gives only a modseq) we take the `uidNext` of the newest log item at or below n. So that this
 *    is never far back, the append whose modseq is a multiple of CHECKPOINT_EVERY adds a
 *    checkpoint item (one item per 256 appends, ≈ 0.01 WRU per message); the extra MSG items
 *    read are then fewer than 256.
 *  - A flag change or expunge transaction adds one log item (≈ 100 bytes: 2 WRU in a transaction)
 *    however many messages it touches (≤ 98 / 49 per transaction), written atomically with the
 *    MBOX update that takes its modseq, so no reader can see the modseq without its entry.
 *    changesSince reads the flag entries' UIDs back with one consistent BatchGetItem (or one
 *    range Query when they are dense) for their current flags and modseq.
 *  - changesSince reads the MBOX item first (strongly consistent) and reports only modseqs in
 *    (since, highestModseq]: every such write committed before the read, and its items are seen
 *    by the consistent reads after it. A message changed again meanwhile (modseq above the state
 *    read) is left to the next call, whose `since` is that state's highestModseq.
 *    A NOOP after one flag change costs: MBOX 1 RRU + log Query 1 RRU + BatchGet 1 RRU.
 *  - Trimming is in two phases so that a reader that read the old floor never finds entries
 *    gone from under it: a flag change or expunge that finds the last pass (`logTrimmedAt`) at
 *    least a trim interval ago raises `logFloor`
 *    to the newest entry older than the retention (one conditional MBOX update; one winner),
 *    and deletes only the entries at or below the floor that was already published by the
 *    previous pass, at least one trim interval ago (far longer than one changesSince takes).
 *  - A mailbox from before the log has no `logFloor`: changesSince answers complete: false
 *    (unless nothing changed) until its first flag change or expunge sets the floor there.
 */
import { QueryCommand, UpdateItemCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { CHANGE_LOG_RETENTION_MS, type ChangesOptions, type MailboxChanges, type MessageRecord } from '#core/ports/mail-index.ts';
import { checkChangesSince } from '#core/adapters/index-input.ts';
import { keys } from '../dynamo-keys.ts';
import { N, S, batchWriteAll, isConditionalCheckFailed, num, queryAll, str, type Item } from '../dynamo-ops.ts';
import { readMailbox, type DynamoIndexContext } from './context.ts';
import { readHeaderItems, readMessages, readMetaItems, toRecords } from './messages.ts';

/** An append whose modseq is a multiple of this writes a checkpoint item (see the header). */
export const CHECKPOINT_EVERY = 256;
/** A mailbox's log is looked at for trimming at most this often (less when the retention is shorter). */
export const CHANGE_LOG_TRIM_INTERVAL_MS = 3600 * 1000;
/** Log entries a trim pass reads per page, and at most in all; the rest wait for the next pass. */
const TRIM_PAGE = 200;
const TRIM_MAX = 2000;

export type ChangeKind = 'F' | 'X' | 'C';

function retentionOf(ctx: DynamoIndexContext): number {
  return ctx.changeLogRetentionMs ?? CHANGE_LOG_RETENTION_MS;
}

function trimIntervalOf(ctx: DynamoIndexContext): number {
  return Math.min(CHANGE_LOG_TRIM_INTERVAL_MS, Math.max(1, Math.floor(retentionOf(ctx) / 10)));
}

/** Ascending UIDs as a sequence set: [1,2,3,7] → "1:3,7". */
export function encodeUidSet(uids: readonly number[]): string {
  const sorted = [...new Set(uids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export function decodeUidSet(set: string): number[] {
  const out: number[] = [];
  if (set === '') return out;
  for (const part of set.split(',')) {
    const [a, b] = part.split(':').map(Number);
    for (let u = a; u <= (b ?? a); u++) out.push(u);
  }
  return out;
}

/** The log item of a flag change (F) or expunge (X), for the transaction that takes `modseq`. */
export function changeItemPut(
  ctx: DynamoIndexContext,
  pk: string,
  mailboxId: string,
  modseq: number,
  kind: ChangeKind,
  uids: readonly number[],
  uidNext: number,
  blobKeys?: ReadonlyMap<number, string>,
  threadIds?: ReadonlyMap<number, string>,
): TransactWriteItem {
  return {
    Put: {
      TableName: ctx.table,
      Item: {
        pk: S(pk),
        sk: S(keys.changeSk(mailboxId, modseq)),
        kind: S(kind),
        modseq: N(modseq),
        uids: S(encodeUidSet(uids)),
        uidNext: N(uidNext),
        createdAt: N(Date.now()),
        ...(blobKeys && blobKeys.size > 0 ? { blobs: { M: Object.fromEntries([...blobKeys].map(([uid, key]) => [String(uid), S(key)])) } } : {}),
        // X: UID → the thread id it had (dynamo-index/threads.ts), for messages that had one.
        ...(threadIds && threadIds.size > 0 ? { threads: { M: Object.fromEntries([...threadIds].map(([uid, t]) => [String(uid), S(t)])) } } : {}),
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}

/** For an append or copy taking `modseq` and leaving uidNext at `uidNextAfter`: a checkpoint item every CHECKPOINT_EVERY modseqs. */
export function checkpointPuts(ctx: DynamoIndexContext, pk: string, mailboxId: string, modseq: number, uidNextAfter: number): TransactWriteItem[] {
  return modseq % CHECKPOINT_EVERY === 0 ? [changeItemPut(ctx, pk, mailboxId, modseq, 'C', [], uidNextAfter)] : [];
}

/** The MBOX item's log attributes for a mailbox being created (its first trim pass comes a trim interval later). */
export function newMailboxLogAttributes(creationModseq: number, now: number): Item {
  return { logFloor: N(creationModseq), floorUidNext: N(1), logTrimmedAt: N(now) };
}

/** How often changesSince reads an append range again when a UID in it is neither a message nor a tombstone. */
const RANGE_REREADS = 3;

/** How many of `uids` lie in [lower, upper). */
function countIn(uids: ReadonlySet<number>, lower: number, upper: number): number {
  let n = 0;
  for (const u of uids) if (u >= lower && u < upper) n++;
  return n;
}

export async function changesSince(
  ctx: DynamoIndexContext,
  user: string,
  mailboxId: string,
  since: number,
  options: ChangesOptions = {},
): Promise<MailboxChanges | null> {
  checkChangesSince(since, options);
  const mb = await readMailbox(ctx, user, mailboxId);
  if (!mb) return null;
  const high = mb.highestModseq;
  const state = { uidValidity: mb.uidValidity, uidNext: mb.uidNext, highestModseq: high, messageCount: num(mb.item, 'messageCount') };
  if (since >= high) return { state, changed: [], expunged: [], complete: true };
  const floor = mb.item.logFloor?.N;
  if (floor === undefined || since < Number(floor)) return { state, changed: [], expunged: [], complete: false };

  const pk = keys.userPk(user);
  const [entries, lower] = await Promise.all([
    queryAll(ctx.db, {
      TableName: ctx.table,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :a AND :b',
      ExpressionAttributeValues: { ':pk': S(pk), ':a': S(keys.changeSk(mailboxId, since + 1)), ':b': S(keys.changeSk(mailboxId, high)) },
      ConsistentRead: true,
    }),
    options.uidNext !== undefined ? Promise.resolve(Math.min(options.uidNext, mb.uidNext)) : appendsLowerBound(ctx, pk, mailboxId, since, mb.item),
  ]);
  const inWindow = (it: Item) => {
    const m = num(it, 'modseq');
    return m > since && m <= high;
  };

  const gone = new Set<number>();
  const goneBlobs = new Map<number, string>();
  const goneThreads = new Map<number, string>();
  const flagged = new Set<number>();
  for (const e of entries) if (str(e, 'kind') === 'X') for (const u of decodeUidSet(str(e, 'uids'))) gone.add(u);
  // Appends and copies since `since`: UIDs in [lower, uidNext). With the caller's uidNext of the
  // `since` state, each UID there was made after `since`, so it is a message or a tombstone read
  // above — unless the transaction that made it is not yet fully visible to this Query, or an
  // expunge after the mailbox read took it. For those the range is read again, a few times,
  // briefly: a reader that went on would take the state past the message and never report it.
  // (Without the hint, `lower` may be older, where absent UIDs are old expunges: no re-read.)
  let range = lower < mb.uidNext ? await queryMessageRange(ctx, pk, mailboxId, lower, mb.uidNext - 1) : [];
  const exact = options.uidNext !== undefined;
  for (let attempt = 0; exact && attempt < RANGE_REREADS && range.length + countIn(gone, lower, mb.uidNext) < mb.uidNext - lower; attempt++) {
    await new Promise((r) => setTimeout(r, 20 * (attempt + 1)));
    range = await queryMessageRange(ctx, pk, mailboxId, lower, mb.uidNext - 1);
  }
  const appended = range.filter(inWindow);
  for (const e of entries) {
    const kind = str(e, 'kind');
    if (kind === 'X') {
      for (const u of decodeUidSet(str(e, 'uids'))) gone.add(u);
      for (const [u, v] of Object.entries(e.blobs?.M ?? {})) if (v.S !== undefined) goneBlobs.set(Number(u), v.S);
      for (const [u, v] of Object.entries(e.threads?.M ?? {})) if (v.S !== undefined) goneThreads.set(Number(u), v.S);
    } else if (kind === 'F') for (const u of decodeUidSet(str(e, 'uids'))) if (u < lower || u >= mb.uidNext) flagged.add(u);
  }
  const toRead = [...flagged].filter((u) => !gone.has(u)).sort((a, b) => a - b);
  const reread = (await readFlagged(ctx, pk, mailboxId, toRead)).filter(inWindow);

  const byUid = new Map<number, Item>();
  for (const it of [...appended, ...reread]) byUid.set(num(it, 'uid'), it);
  const items = [...byUid.values()];
  const readUids = [...byUid.keys()].sort((a, b) => a - b);
  const withMeta = options.withMeta === true;
  const [metaItems, headerItems] =
    withMeta && items.length > 0 ? await Promise.all([readMetaItems(ctx, pk, mailboxId, readUids), readHeaderItems(ctx, pk, mailboxId, readUids)]) : [[], []];
  const changed: MessageRecord[] = await toRecords(ctx, user, mailboxId, items, withMeta ? { parts: 'all', metaItems, headerItems } : null);
  const expunged = [...gone].sort((a, b) => a - b);
  if (options.withBlobKeys) {
    return {
      state,
      changed,
      expunged,
      expungedBlobKeys: expunged.map((u) => goneBlobs.get(u) ?? null),
      expungedThreadIds: expunged.map((u) => goneThreads.get(u) ?? null),
      complete: true,
    };
  }
  return { state, changed, expunged, complete: true };
}

/**
 * A UID at or below every append after `since`: the uidNext of the newest log item at or
 * below `since` (a checkpoint is never more than CHECKPOINT_EVERY modseqs back), else the
 * uidNext at the log floor.
 */
async function appendsLowerBound(ctx: DynamoIndexContext, pk: string, mailboxId: string, since: number, mbItem: Item): Promise<number> {
  const res = await ctx.db.send(
    new QueryCommand({
      TableName: ctx.table,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :a AND :b',
      ExpressionAttributeValues: { ':pk': S(pk), ':a': S(keys.changeSk(mailboxId, 0)), ':b': S(keys.changeSk(mailboxId, since)) },
      ProjectionExpression: 'uidNext',
      ScanIndexForward: false,
      Limit: 1,
      ConsistentRead: true,
    }),
  );
  const newest = res.Items?.[0];
  if (newest) return num(newest, 'uidNext');
  return mbItem.floorUidNext?.N !== undefined ? Number(mbItem.floorUidNext.N) : 1;
}

async function queryMessageRange(ctx: DynamoIndexContext, pk: string, mailboxId: string, from: number, to: number): Promise<Item[]> {
  return queryAll(ctx.db, {
    TableName: ctx.table,
    KeyConditionExpression: 'pk = :pk AND sk BETWEEN :a AND :b',
    ExpressionAttributeValues: { ':pk': S(pk), ':a': S(keys.messageSk(mailboxId, from)), ':b': S(keys.messageSk(mailboxId, to)) },
    ConsistentRead: true,
  });
}

/**
 * The MSG items of UIDs named by flag entries. A BatchGetItem bills each item as at least one
 * unit, a Query bills the bytes it reads (≈ 25 small MSG items per unit), so when the UIDs are
 * dense we query their span instead.
 */
async function readFlagged(ctx: DynamoIndexContext, pk: string, mailboxId: string, uids: number[]): Promise<Item[]> {
  if (uids.length === 0) return [];
  const span = uids[uids.length - 1] - uids[0] + 1;
  if (uids.length > 4 && uids.length * 20 > span) {
    const wanted = new Set(uids);
    return (await queryMessageRange(ctx, pk, mailboxId, uids[0], uids[uids.length - 1])).filter((it) => wanted.has(num(it, 'uid')));
  }
  return readMessages(ctx, pk, mailboxId, uids);
}

/**
 * After a flag change or expunge committed: when the mailbox's last trim pass (`logTrimmedAt`,
 * as read before the write) is a trim interval ago, one trim pass (see the header). Errors are swallowed: trimming is
 * housekeeping, and the write it follows has committed.
 */
export async function maybeTrimChangeLog(ctx: DynamoIndexContext, user: string, mailboxId: string, mbItem: Item): Promise<void> {
  const now = Date.now();
  const lastPass = mbItem.logTrimmedAt?.N;
  const floor = mbItem.logFloor?.N;
  if (floor === undefined || (lastPass !== undefined && now - Number(lastPass) < trimIntervalOf(ctx))) return;
  try {
    await trimPass(ctx, user, mailboxId, now, Number(floor), lastPass);
  } catch {
    // Left for the next pass.
  }
}

async function trimPass(ctx: DynamoIndexContext, user: string, mailboxId: string, now: number, floor: number, lastPass: string | undefined): Promise<void> {
  const pk = keys.userPk(user);
  const cutoff = now - retentionOf(ctx);
  // The oldest entries, page by page, while they are older than the retention.
  const entries: Item[] = [];
  let start: Item | undefined;
  do {
    const res = await ctx.db.send(
      new QueryCommand({
        TableName: ctx.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
        ExpressionAttributeValues: { ':pk': S(pk), ':p': S(keys.changePrefix(mailboxId)) },
        ProjectionExpression: 'sk, modseq, uidNext, createdAt',
        Limit: TRIM_PAGE,
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    entries.push(...(res.Items ?? []));
    start = res.LastEvaluatedKey;
  } while (start && entries.length < TRIM_MAX && num(entries[entries.length - 1], 'createdAt') < cutoff);
  let newFloor = floor;
  let newFloorUidNext: number | null = null;
  for (const e of entries) {
    if (num(e, 'createdAt') >= cutoff) break;
    if (num(e, 'modseq') > newFloor) {
      newFloor = num(e, 'modseq');
      newFloorUidNext = num(e, 'uidNext');
    }
  }
  const values: Item = { ':now': N(now), ':floor': N(floor), ':f': N(newFloor) };
  let update = 'SET logTrimmedAt = :now, logFloor = :f';
  if (newFloorUidNext !== null) {
    update += ', floorUidNext = :fu';
    values[':fu'] = N(newFloorUidNext);
  }
  let condition = 'logFloor = :floor AND ';
  if (lastPass === undefined) condition += 'attribute_not_exists(logTrimmedAt)';
  else {
    condition += 'logTrimmedAt = :last';
    values[':last'] = N(Number(lastPass));
  }
  try {
    await ctx.db.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: { pk: S(pk), sk: S(keys.mailboxSk(mailboxId)) },
        UpdateExpression: update,
        ConditionExpression: `attribute_exists(pk) AND ${condition}`,
        ExpressionAttributeValues: values,
      }),
    );
  } catch (err) {
    if (isConditionalCheckFailed(err)) return; // another writer's pass, or the mailbox is gone
    throw err;
  }
  // Entries at or below the floor the previous pass published (a trim interval ago, or at the
  // mailbox's creation or first logged write): no reader still relies on them.
  const old = entries.filter((e) => num(e, 'modseq') <= floor);
  if (old.length > 0)
    await batchWriteAll(
      ctx.db,
      ctx.table,
      old.map((e) => ({ DeleteRequest: { Key: { pk: S(pk), sk: e.sk } } })),
    );
}
