/**
 * The change log of the SQLite MailIndex (changesSince; the rules are in the port's header).
 *
 * Appends, copies and flag changes need no log of their own: each sets the message row's
 * `modseq`, and `messages_by_modseq (mailbox_id, modseq)` finds the rows above a modseq without
 * reading the rest of the mailbox. Expunged messages leave a row in `tombstones` (uid, the
 * expunge's modseq, when) and one in `tombstone_blobs` (its blob key), written in the expunge's transaction. `change_logs.log_floor` is the
 * modseq below which the log is incomplete: 1 (the creation modseq) for a new mailbox, the
 * mailbox's highestModseq at the upgrade for one that existed before the log (schema.ts), and
 * raised to the newest trimmed tombstone when a later flag change or expunge trims tombstones
 * older than the retention (CHANGE_LOG_RETENTION_MS unless the adapter was given another).
 *
 * changesSince reads in one read transaction (one WAL snapshot), so a trim cannot slip between
 * its check of the floor and its read of the tombstones.
 */
import { CHANGE_LOG_RETENTION_MS, type ChangesOptions, type MailboxChanges, type MessageRecord } from '#core/ports/mail-index.ts';
import type { MessageMeta } from '#core/mime/types.ts';
import { checkChangesSince } from '#core/adapters/index-input.ts';
import type { SqliteHandle } from '../sqlite-db.ts';
import { THREAD_COLUMN, THREAD_JOIN, trimTombstoneThreads } from './threads.ts';
import { saveDateOf } from './save-dates.ts';

/** The SQLite MailIndex's context: the database handle and the change log's retention. */
export interface SqliteIndexHandle extends SqliteHandle {
  readonly changeLogRetentionMs?: number;
}

interface ChangedRow {
  uid: number;
  modseq: number;
  flags: string;
  internal_date: number;
  size: number;
  blob_key: string;
  thread_id: string | null;
  saved_at: number | null;
  meta?: string;
}

/** Runs `fn` in a deferred read transaction: all its statements see one committed snapshot. */
function readSnapshot<T>(h: SqliteHandle, fn: () => T): T {
  h.db.exec('BEGIN');
  try {
    const result = fn();
    h.db.exec('COMMIT');
    return result;
  } catch (err) {
    if (h.db.isTransaction) h.db.exec('ROLLBACK');
    throw err;
  }
}

export async function changesSince(
  h: SqliteIndexHandle,
  user: string,
  mailboxId: string,
  since: number,
  options: ChangesOptions = {},
): Promise<MailboxChanges | null> {
  checkChangesSince(since, options);
  return readSnapshot(h, () => {
    const mb = h
      .stmt(
        `SELECT b.uid_validity, b.uid_next, b.highest_modseq, b.message_count, c.log_floor
         FROM mailboxes b LEFT JOIN change_logs c ON c.mailbox_id = b.id WHERE b.id = ? AND b.user = ?`,
      )
      .get(mailboxId, user) as { uid_validity: number; uid_next: number; highest_modseq: number; message_count: number; log_floor: number | null } | undefined;
    if (!mb) return null;
    const state = { uidValidity: mb.uid_validity, uidNext: mb.uid_next, highestModseq: mb.highest_modseq, messageCount: mb.message_count };
    if (since >= mb.highest_modseq) return { state, changed: [], expunged: [], complete: true };
    if (since < (mb.log_floor ?? mb.highest_modseq)) return { state, changed: [], expunged: [], complete: false };
    const base = `m.uid, m.modseq, m.flags, m.internal_date, m.size, m.blob_key, m.saved_at, ${THREAD_COLUMN}`;
    const cols = options.withMeta ? `${base}, m.meta` : base;
    const rows = h
      .stmt(`SELECT ${cols} FROM messages m ${THREAD_JOIN} WHERE m.mailbox_id = ? AND m.modseq > ? ORDER BY m.uid`)
      .all(mailboxId, since) as unknown as ChangedRow[];
    const changed = rows.map((r): MessageRecord => {
      const rec: MessageRecord = {
        uid: r.uid,
        modseq: r.modseq,
        flags: JSON.parse(r.flags) as string[],
        internalDate: r.internal_date,
        size: r.size,
        blobKey: r.blob_key,
        ...saveDateOf(r.saved_at),
      };
      if (r.thread_id) rec.threadId = r.thread_id;
      if (r.meta !== undefined) rec.meta = JSON.parse(r.meta) as MessageMeta;
      return rec;
    });
    const gone = h
      .stmt(
        `SELECT t.uid, b.blob_key, th.thread_id FROM tombstones t LEFT JOIN tombstone_blobs b ON b.mailbox_id = t.mailbox_id AND b.uid = t.uid
         LEFT JOIN tombstone_threads th ON th.mailbox_id = t.mailbox_id AND th.uid = t.uid AND th.modseq = t.modseq
         WHERE t.mailbox_id = ? AND t.modseq > ? ORDER BY t.uid`,
      )
      .all(mailboxId, since) as Array<{ uid: number; blob_key: string | null; thread_id: string | null }>;
    const expunged = gone.map((r) => r.uid);
    if (options.withBlobKeys) {
      return {
        state,
        changed,
        expunged,
        expungedBlobKeys: gone.map((r) => r.blob_key),
        expungedThreadIds: gone.map((r) => r.thread_id),
        complete: true,
      };
    }
    return { state, changed, expunged, complete: true };
  });
}

/** Inside an expunge's transaction: the tombstones of the messages it removed (UID and blob key), at its modseq. */
export function recordTombstones(h: SqliteHandle, mailboxId: string, removed: ReadonlyArray<{ uid: number; blobKey: string }>, modseq: number): void {
  const now = Date.now();
  const put = h.stmt('INSERT OR REPLACE INTO tombstones (mailbox_id, uid, modseq, created_at) VALUES (?, ?, ?, ?)');
  const putBlob = h.stmt('INSERT OR REPLACE INTO tombstone_blobs (mailbox_id, uid, modseq, blob_key) VALUES (?, ?, ?, ?)');
  for (const r of removed) {
    put.run(mailboxId, r.uid, modseq, now);
    putBlob.run(mailboxId, r.uid, modseq, r.blobKey);
  }
}

/**
 * Inside a flag change's or expunge's transaction: drops the tombstones older than the
 * retention and raises the log floor to the newest modseq dropped. Looks at the oldest
 * tombstone first, so the common case (nothing to trim) is one indexed row.
 */
export function trimChangeLog(h: SqliteIndexHandle, mailboxId: string): void {
  const cutoff = Date.now() - (h.changeLogRetentionMs ?? CHANGE_LOG_RETENTION_MS);
  const oldest = h.stmt('SELECT created_at FROM tombstones WHERE mailbox_id = ? ORDER BY modseq LIMIT 1').get(mailboxId) as { created_at: number } | undefined;
  if (!oldest || oldest.created_at >= cutoff) return;
  const top = h.stmt('SELECT max(modseq) AS m FROM tombstones WHERE mailbox_id = ? AND created_at < ?').get(mailboxId, cutoff) as { m: number | null };
  if (top.m === null) return;
  h.stmt('DELETE FROM tombstones WHERE mailbox_id = ? AND modseq <= ?').run(mailboxId, top.m);
  h.stmt('DELETE FROM tombstone_blobs WHERE mailbox_id = ? AND modseq <= ?').run(mailboxId, top.m);
  trimTombstoneThreads(h, mailboxId, top.m);
  h.stmt(
    `INSERT INTO change_logs (mailbox_id, log_floor) VALUES (?, ?)
     ON CONFLICT (mailbox_id) DO UPDATE SET log_floor = max(log_floor, excluded.log_floor)`,
  ).run(mailboxId, top.m);
}

/** A new mailbox's log starts at its creation modseq. */
export function startChangeLog(h: SqliteHandle, mailboxId: string, creationModseq: number): void {
  h.stmt('INSERT OR REPLACE INTO change_logs (mailbox_id, log_floor) VALUES (?, ?)').run(mailboxId, creationModseq);
}

export function dropChangeLog(h: SqliteHandle, mailboxId: string): void {
  h.stmt('DELETE FROM tombstones WHERE mailbox_id = ?').run(mailboxId);
  h.stmt('DELETE FROM tombstone_blobs WHERE mailbox_id = ?').run(mailboxId);
  h.stmt('DELETE FROM change_logs WHERE mailbox_id = ?').run(mailboxId);
}
