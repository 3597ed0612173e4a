/**
 * Messages of the SQLite MailIndex: append, list and read, flag changes, expunge and copy, each
 * one BEGIN IMMEDIATE transaction that moves the mailbox's counters (invariant 3; see
 * ../sqlite-mail-index.ts), with the `delivery_keys` rows of deliveries and the `message_envelopes`
 * rows' texts (envelopes.ts).
 */
import type { MessageMeta } from '#core/mime/types.ts';
import { IndexError } from '#core/ports/mail-index.ts';
import type {
  AppendResult,
  FlagChange,
  FlagUpdateMode,
  FlagUpdateOptions,
  ListOptions,
  MessageRecord,
  MetaOption,
  NewMessage,
} from '#core/ports/mail-index.ts';
import { applyFlags, normalizeFlags, sameFlagSet } from '#core/mailbox/flags.ts';
import { checkFlagUpdate, checkNewMessage } from '#core/adapters/index-input.ts';
import type { SqliteHandle } from '../sqlite-db.ts';
import { ref, unref } from './blob-refs.ts';
import { recordTombstones, trimChangeLog, type SqliteIndexHandle } from './changes.ts';
import { getMailbox, ownMailbox } from './mailboxes.ts';
import { saveDateOf } from './save-dates.ts';
import { addUsage } from './usage.ts';
import { copyEnvelopes, envelopeTexts, storeEnvelope } from './envelopes.ts';
import { THREAD_COLUMN, THREAD_JOIN, copyThreads, dropThreads, threadNewMessage } from './threads.ts';

/** RFC 3501 §2.3.1.1: UIDs are 32-bit unsigned, non-zero. */
const MAX_UID = 0xffffffff;

interface MessageRow {
  uid: number;
  modseq: number;
  flags: string;
  internal_date: number;
  size: number;
  blob_key: string;
  /** From message_threads (THREAD_JOIN): null for a message without one. */
  thread_id?: string | null;
  saved_at?: number | null;
  meta?: string;
}

/** A row as a record; `withMeta: 'structure'` leaves out the header block (the port's contract). */
function toMessage(r: MessageRow, withMeta: MetaOption = true): MessageRecord {
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
  if (r.meta !== undefined) {
    rec.meta = JSON.parse(r.meta) as MessageMeta;
    if (withMeta === 'structure' && rec.meta) rec.meta.header = null;
  }
  return rec;
}

function uidList(uids: readonly number[]): string {
  return JSON.stringify(uids.filter((u) => Number.isInteger(u) && u > 0));
}

/** getMailbox, then appendMessage: both are local reads and writes, so there is nothing to save. */
export async function appendMessageTo(
  h: SqliteHandle,
  user: string,
  mailboxName: string,
  message: NewMessage,
): Promise<(AppendResult & { mailboxId: string }) | null> {
  const mailbox = await getMailbox(h, user, mailboxName);
  if (!mailbox) return null;
  return { ...(await appendMessage(h, user, mailbox.id, message)), mailboxId: mailbox.id };
}

export async function appendMessage(h: SqliteHandle, user: string, mailboxId: string, message: NewMessage): Promise<AppendResult> {
  checkNewMessage(message);
  const flags = JSON.stringify(normalizeFlags(message.flags));
  const meta = JSON.stringify(message.meta ?? null);
  const envelope = message.meta ? envelopeTexts(message.meta.envelope) : null;
  // Group commit: the appends of one turn of the event loop (the ingest worker runs several
  // jobs at once) share one durable COMMIT, each in a savepoint of its own (sqlite-db.ts).
  return h.grouped(() => {
    const mb = ownMailbox(h, user, mailboxId);
    if (message.deliveryKey !== undefined) {
      const dk = h.stmt('SELECT uid, modseq FROM delivery_keys WHERE mailbox_id = ? AND delivery_key = ?').get(mailboxId, message.deliveryKey) as
        { uid: number; modseq: number } | undefined;
      if (dk) return { uid: dk.uid, uidValidity: mb.uid_validity, modseq: dk.modseq, duplicate: true };
    }
    const uid = mb.uid_next;
    if (uid > MAX_UID) throw new IndexError('CONFLICT', 'UID space of the mailbox is exhausted; recreate it');
    const modseq = mb.highest_modseq + 1;
    h.stmt('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, blob_key, meta, saved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
      mailboxId,
      uid,
      modseq,
      flags,
      Math.trunc(message.internalDate),
      message.size,
      message.blobKey,
      meta,
      Date.now(),
    );
    if (envelope) storeEnvelope(h, mailboxId, uid, envelope);
    h.stmt('UPDATE mailboxes SET uid_next = ?, highest_modseq = ?, message_count = message_count + 1 WHERE id = ?').run(uid + 1, modseq, mailboxId);
    const threadId = threadNewMessage(h, user, mailboxId, uid, message);
    if (message.deliveryKey !== undefined) {
      h.stmt('INSERT INTO delivery_keys (mailbox_id, delivery_key, uid, modseq) VALUES (?, ?, ?, ?)').run(mailboxId, message.deliveryKey, uid, modseq);
    }
    // A taken-over hold's reference becomes the message's; otherwise the message adds one ('sole' too: counts are cheap here).
    const take = message.blobReference;
    const tookOver =
      typeof take === 'object' && Number(h.stmt('DELETE FROM blob_holds WHERE blob_key = ? AND holder = ?').run(message.blobKey, take.takeOver).changes) === 1;
    if (!tookOver) ref(h, message.blobKey, 1);
    addUsage(h, user, message.size, 1);
    return { uid, uidValidity: mb.uid_validity, modseq, duplicate: false, ...(threadId ? { threadId } : {}) };
  });
}

export async function listMessages(h: SqliteHandle, user: string, mailboxId: string, options: ListOptions = {}): Promise<MessageRecord[]> {
  const from = options.uidFrom ?? 1;
  const to = options.uidTo ?? MAX_UID;
  const cols = options.withMeta
    ? `m.uid, m.modseq, m.flags, m.internal_date, m.size, m.blob_key, m.saved_at, ${THREAD_COLUMN}, m.meta`
    : `m.uid, m.modseq, m.flags, m.internal_date, m.size, m.blob_key, m.saved_at, ${THREAD_COLUMN}`;
  // The join on the owner keeps one user from reading another's mailbox by id (invariant 4).
  const rows = h
    .stmt(
      `SELECT ${cols} FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id AND b.user = ? ${THREAD_JOIN} WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid`,
    )
    .all(user, mailboxId, from, to) as unknown as MessageRow[];
  return rows.map((r) => toMessage(r, options.withMeta));
}

export async function getMessages(
  h: SqliteHandle,
  user: string,
  mailboxId: string,
  uids: number[],
  options: { withMeta?: MetaOption } = {},
): Promise<MessageRecord[]> {
  if (uids.length === 0) return [];
  const withMeta = options.withMeta ?? true;
  const rows = h
    .stmt(
      `SELECT m.uid, m.modseq, m.flags, m.internal_date, m.size, m.blob_key, m.saved_at, ${THREAD_COLUMN}${withMeta ? ', m.meta' : ''}
       FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id AND b.user = ? ${THREAD_JOIN}
       WHERE m.mailbox_id = ? AND m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid`,
    )
    .all(user, mailboxId, uidList(uids)) as unknown as MessageRow[];
  return rows.map((r) => toMessage(r, withMeta));
}

export async function updateFlags(
  h: SqliteIndexHandle,
  user: string,
  mailboxId: string,
  uids: number[],
  mode: FlagUpdateMode,
  flags: string[],
  options: FlagUpdateOptions = {},
): Promise<FlagChange[]> {
  checkFlagUpdate(mode, flags);
  const given = normalizeFlags(flags);
  return h.immediate(() => {
    const mb = ownMailbox(h, user, mailboxId);
    if (uids.length === 0) return [];
    const rows = h
      .stmt('SELECT uid, flags, modseq FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid')
      .all(mailboxId, uidList(uids)) as Array<{ uid: number; flags: string; modseq: number }>;
    const modseq = mb.highest_modseq + 1;
    const changes: FlagChange[] = [];
    const modified: FlagChange[] = [];
    const update = h.stmt('UPDATE messages SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?');
    for (const r of rows) {
      const current = JSON.parse(r.flags) as string[];
      // UNCHANGEDSINCE, tested inside the transaction that writes (RFC 7162 §3.1.3).
      if (options.unchangedSince !== undefined && r.modseq > options.unchangedSince) {
        modified.push({ uid: r.uid, flags: current, modseq: r.modseq, modified: true });
        continue;
      }
      const next = applyFlags(current, mode, given);
      if (sameFlagSet(current, next)) continue;
      update.run(JSON.stringify(next), modseq, mailboxId, r.uid);
      changes.push({ uid: r.uid, flags: next, modseq });
    }
    if (changes.length > 0) {
      h.stmt('UPDATE mailboxes SET highest_modseq = ? WHERE id = ?').run(modseq, mailboxId);
      trimChangeLog(h, mailboxId);
    }
    return [...changes, ...modified];
  });
}

export async function expunge(h: SqliteIndexHandle, user: string, mailboxId: string, uids: number[]): Promise<{ expunged: number[]; orphanedBlobs: string[] }> {
  return h.immediate(() => {
    const mb = ownMailbox(h, user, mailboxId);
    if (uids.length === 0) return { expunged: [], orphanedBlobs: [] };
    const rows = h
      .stmt('SELECT uid, blob_key, size FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid')
      .all(mailboxId, uidList(uids)) as Array<{ uid: number; blob_key: string; size: number }>;
    if (rows.length === 0) return { expunged: [], orphanedBlobs: [] };
    addUsage(h, user, -rows.reduce((n, r) => n + r.size, 0), -rows.length);
    const del = h.stmt('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?');
    for (const r of rows) del.run(mailboxId, r.uid);
    const modseq = mb.highest_modseq + 1;
    h.stmt('UPDATE mailboxes SET highest_modseq = ?, message_count = message_count - ? WHERE id = ?').run(modseq, rows.length, mailboxId);
    recordTombstones(
      h,
      mailboxId,
      rows.map((r) => ({ uid: r.uid, blobKey: r.blob_key })),
      modseq,
    );
    dropThreads(
      h,
      mailboxId,
      rows.map((r) => r.uid),
      modseq,
    );
    trimChangeLog(h, mailboxId);
    return {
      expunged: rows.map((r) => r.uid),
      orphanedBlobs: unref(
        h,
        rows.map((r) => r.blob_key),
      ),
    };
  });
}

export async function copyMessages(
  h: SqliteHandle,
  user: string,
  fromMailboxId: string,
  uids: number[],
  toMailboxId: string,
): Promise<{ uidValidity: number; mapping: Array<{ from: number; to: number }> }> {
  return h.immediate(() => {
    ownMailbox(h, user, fromMailboxId);
    const target = ownMailbox(h, user, toMailboxId);
    if (uids.length === 0) return { uidValidity: target.uid_validity, mapping: [] };
    const rows = h
      .stmt(
        `SELECT uid, flags, internal_date, size, blob_key, meta FROM messages
         WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid`,
      )
      .all(fromMailboxId, uidList(uids)) as Array<Required<Omit<MessageRow, 'modseq'>>>;
    if (rows.length === 0) return { uidValidity: target.uid_validity, mapping: [] };
    if (target.uid_next + rows.length - 1 > MAX_UID) throw new IndexError('CONFLICT', 'UID space of the target mailbox is exhausted');
    const modseq = target.highest_modseq + 1;
    // RFC 8514 §3: a copy's save date is the time of the copy, not the source's.
    const savedAt = Date.now();
    const insert = h.stmt(
      'INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, blob_key, meta, saved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const mapping: Array<{ from: number; to: number }> = [];
    let next = target.uid_next;
    for (const r of rows) {
      insert.run(toMailboxId, next, modseq, r.flags, r.internal_date, r.size, r.blob_key, r.meta, savedAt);
      mapping.push({ from: r.uid, to: next });
      next += 1;
    }
    h.stmt('UPDATE mailboxes SET uid_next = ?, highest_modseq = ?, message_count = message_count + ? WHERE id = ?').run(next, modseq, rows.length, toMailboxId);
    copyThreads(h, fromMailboxId, toMailboxId, mapping);
    copyEnvelopes(h, fromMailboxId, toMailboxId, mapping);
    for (const r of rows) ref(h, r.blob_key, 1);
    addUsage(
      h,
      user,
      rows.reduce((n, r) => n + r.size, 0),
      rows.length,
    );
    return { uidValidity: target.uid_validity, mapping };
  });
}
