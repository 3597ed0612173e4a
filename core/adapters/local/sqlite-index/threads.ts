/**
 * Threads in the SQLite MailIndex (the rules: core/ports/mail-index.ts, "Threads"; the choice:
 * core/adapters/thread-choice.ts). Two tables of their own (schema.ts), so an existing index
 * file gains them as it is opened and its messages keep no thread id (callers derive one):
 *  - `message_threads (mailbox_id, uid) → thread_id`: the thread of each message stored with
 *    thread keys; written by appendMessage, copied by copyMessages, dropped with the message.
 *  - `tombstone_threads (mailbox_id, uid) → modseq, thread_id`: an expunged message's thread,
 *    beside its tombstone (changesSince `expungedThreadIds`), trimmed and dropped with it;
 *  - `thread_refs (user, message_id) → thread_id, subject`: the per-user Message-ID map
 *    (subject: the digest of the base subject of the message that wrote the entry); removed
 *    by removeUser only.
 * Every function runs inside the caller's write transaction.
 */
import type { NewMessage } from '#core/ports/mail-index.ts';
import { chooseThread, lookupIds, type ThreadRef } from '#core/adapters/thread-choice.ts';
import type { SqliteHandle } from '../sqlite-db.ts';

/** Chooses the thread of a message being appended to mailboxId/uid, stores it and records its ids; the thread id, or undefined without keys. */
export function threadNewMessage(h: SqliteHandle, user: string, mailboxId: string, uid: number, message: NewMessage): string | undefined {
  if (!message.thread) return undefined;
  const ids = lookupIds(message.thread, message.blobKey);
  const rows = h
    .stmt('SELECT message_id, thread_id, subject FROM thread_refs WHERE user = ? AND message_id IN (SELECT value FROM json_each(?))')
    .all(user, JSON.stringify(ids)) as Array<{ message_id: string; thread_id: string; subject: string }>;
  const found = new Map<string, ThreadRef>(rows.map((r) => [r.message_id, { threadId: r.thread_id, subject: r.subject }]));
  const { threadId, record } = chooseThread(message.thread, message.blobKey, found);
  const put = h.stmt('INSERT OR IGNORE INTO thread_refs (user, message_id, thread_id, subject) VALUES (?, ?, ?, ?)');
  for (const [id, ref] of record) put.run(user, id, ref.threadId, ref.subject);
  h.stmt('INSERT OR REPLACE INTO message_threads (mailbox_id, uid, thread_id) VALUES (?, ?, ?)').run(mailboxId, uid, threadId);
  return threadId;
}

/** copyMessages: the copies keep their sources' thread ids. */
export function copyThreads(h: SqliteHandle, fromMailboxId: string, toMailboxId: string, mapping: ReadonlyArray<{ from: number; to: number }>): void {
  const get = h.stmt('SELECT thread_id FROM message_threads WHERE mailbox_id = ? AND uid = ?');
  const put = h.stmt('INSERT OR REPLACE INTO message_threads (mailbox_id, uid, thread_id) VALUES (?, ?, ?)');
  for (const m of mapping) {
    const row = get.get(fromMailboxId, m.from) as { thread_id: string } | undefined;
    if (row) put.run(toMailboxId, m.to, row.thread_id);
  }
}

/** expunge at `modseq`: the removed messages' rows move beside their tombstones. */
export function dropThreads(h: SqliteHandle, mailboxId: string, uids: readonly number[], modseq: number): void {
  const get = h.stmt('SELECT thread_id FROM message_threads WHERE mailbox_id = ? AND uid = ?');
  const tomb = h.stmt('INSERT OR REPLACE INTO tombstone_threads (mailbox_id, uid, modseq, thread_id) VALUES (?, ?, ?, ?)');
  const del = h.stmt('DELETE FROM message_threads WHERE mailbox_id = ? AND uid = ?');
  for (const uid of uids) {
    const row = get.get(mailboxId, uid) as { thread_id: string } | undefined;
    if (!row) continue;
    tomb.run(mailboxId, uid, modseq, row.thread_id);
    del.run(mailboxId, uid);
  }
}

/** The change log's trim: the thread rows of the tombstones dropped (modseq ≤ upTo). */
export function trimTombstoneThreads(h: SqliteHandle, mailboxId: string, upTo: number): void {
  h.stmt('DELETE FROM tombstone_threads WHERE mailbox_id = ? AND modseq <= ?').run(mailboxId, upTo);
}

/** deleteMailbox / removeUser: every row of the mailbox. */
export function dropMailboxThreads(h: SqliteHandle, mailboxId: string): void {
  h.stmt('DELETE FROM message_threads WHERE mailbox_id = ?').run(mailboxId);
  h.stmt('DELETE FROM tombstone_threads WHERE mailbox_id = ?').run(mailboxId);
}

/** removeUser: the user's Message-ID map. */
export function dropUserThreadRefs(h: SqliteHandle, user: string): void {
  h.stmt('DELETE FROM thread_refs WHERE user = ?').run(user);
}

/** The SELECT column and join that read a message's thread id as `thread_id` (messages aliased `m`). */
export const THREAD_COLUMN = 't.thread_id AS thread_id';
export const THREAD_JOIN = 'LEFT JOIN message_threads t ON t.mailbox_id = m.mailbox_id AND t.uid = m.uid';
