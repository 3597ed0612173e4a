/**
 * Mailboxes and subscriptions of the SQLite MailIndex: the `mailboxes` rows (with their UID and
 * modseq counters), the per-user `uidvalidity_counters` and the `subscriptions` list.
 */
import { randomUUID } from 'node:crypto';
import { IndexError, type Mailbox, type MailboxState, type SpecialUse } from '#core/ports/mail-index.ts';
import { checkString } from '#core/adapters/index-input.ts';
import type { SqliteHandle } from '../sqlite-db.ts';
import { addUsage } from './usage.ts';
import { unref } from './blob-refs.ts';
import { dropChangeLog, startChangeLog } from './changes.ts';
import { dropMailboxThreads } from './threads.ts';

export interface MailboxRow {
  id: string;
  user: string;
  name: string;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  message_count: number;
  special_use: string | null;
  /** Legacy per-mailbox subscription flag: always 0 (see the schema). */
  subscribed: number;
  created_at: number;
}

function toMailbox(r: MailboxRow): Mailbox {
  return {
    id: r.id,
    user: r.user,
    name: r.name,
    uidValidity: r.uid_validity,
    uidNext: r.uid_next,
    highestModseq: r.highest_modseq,
    messageCount: r.message_count,
    specialUse: (r.special_use as SpecialUse | null) ?? null,
    createdAt: r.created_at,
  };
}

export async function createMailbox(
  h: SqliteHandle,
  user: string,
  name: string,
  options: { specialUse?: SpecialUse | null; subscribed?: boolean } = {},
): Promise<Mailbox> {
  checkString(name, 'mailbox name');
  return h.immediate(() => {
    if (!h.stmt('SELECT 1 FROM users WHERE address = ?').get(user)) throw new IndexError('NOT_FOUND', `no such user: ${user}`);
    if (h.stmt('SELECT 1 FROM mailboxes WHERE user = ? AND name = ?').get(user, name)) throw new IndexError('EXISTS', `mailbox exists: ${name}`);
    const now = Date.now();
    const last = (h.stmt('SELECT last FROM uidvalidity_counters WHERE user = ?').get(user) as { last: number } | undefined)?.last ?? 0;
    const uidValidity = Math.max(last + 1, Math.floor(now / 1000));
    h.stmt('INSERT INTO uidvalidity_counters (user, last) VALUES (?, ?) ON CONFLICT (user) DO UPDATE SET last = excluded.last').run(user, uidValidity);
    const row: MailboxRow = {
      id: randomUUID(),
      user,
      name,
      uid_validity: uidValidity,
      uid_next: 1,
      highest_modseq: 1,
      message_count: 0,
      special_use: options.specialUse ?? null,
      subscribed: 0,
      created_at: now,
    };
    h.stmt(
      `INSERT INTO mailboxes (id, user, name, uid_validity, uid_next, highest_modseq, message_count, special_use, subscribed, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(row.id, row.user, row.name, row.uid_validity, row.uid_next, row.highest_modseq, row.message_count, row.special_use, row.subscribed, row.created_at);
    startChangeLog(h, row.id, row.highest_modseq);
    if (options.subscribed) h.stmt('INSERT OR IGNORE INTO subscriptions (user, name) VALUES (?, ?)').run(user, name);
    return toMailbox(row);
  });
}

export async function getMailbox(h: SqliteHandle, user: string, name: string): Promise<Mailbox | null> {
  const r = h.stmt('SELECT * FROM mailboxes WHERE user = ? AND name = ?').get(user, name) as MailboxRow | undefined;
  return r ? toMailbox(r) : null;
}

export async function listMailboxes(h: SqliteHandle, user: string): Promise<Mailbox[]> {
  return (h.stmt('SELECT * FROM mailboxes WHERE user = ? ORDER BY name').all(user) as unknown as MailboxRow[]).map(toMailbox);
}

export async function renameMailbox(h: SqliteHandle, user: string, oldName: string, newName: string): Promise<Mailbox> {
  checkString(newName, 'mailbox name');
  return h.immediate(() => {
    const row = h.stmt('SELECT * FROM mailboxes WHERE user = ? AND name = ?').get(user, oldName) as MailboxRow | undefined;
    if (!row) throw new IndexError('NOT_FOUND', `no such mailbox: ${oldName}`);
    if (h.stmt('SELECT 1 FROM mailboxes WHERE user = ? AND name = ?').get(user, newName)) throw new IndexError('EXISTS', `mailbox exists: ${newName}`);
    h.stmt('UPDATE mailboxes SET name = ? WHERE id = ?').run(newName, row.id);
    return toMailbox({ ...row, name: newName });
  });
}

export async function deleteMailbox(h: SqliteHandle, user: string, name: string): Promise<{ orphanedBlobs: string[] }> {
  return h.immediate(() => {
    const row = h.stmt('SELECT id FROM mailboxes WHERE user = ? AND name = ?').get(user, name) as { id: string } | undefined;
    if (!row) throw new IndexError('NOT_FOUND', `no such mailbox: ${name}`);
    const msgs = h.stmt('SELECT blob_key, size FROM messages WHERE mailbox_id = ?').all(row.id) as Array<{ blob_key: string; size: number }>;
    const blobKeys = msgs.map((r) => r.blob_key);
    addUsage(h, user, -msgs.reduce((n, r) => n + r.size, 0), -msgs.length);
    dropMailboxRows(h, row.id);
    return { orphanedBlobs: unref(h, blobKeys) };
  });
}

export async function setSubscribed(h: SqliteHandle, user: string, name: string, subscribed: boolean): Promise<void> {
  checkString(name, 'mailbox name');
  h.immediate(() => {
    if (!h.stmt('SELECT 1 FROM users WHERE address = ?').get(user)) throw new IndexError('NOT_FOUND', `no such user: ${user}`);
    if (subscribed) h.stmt('INSERT OR IGNORE INTO subscriptions (user, name) VALUES (?, ?)').run(user, name);
    else h.stmt('DELETE FROM subscriptions WHERE user = ? AND name = ?').run(user, name);
  });
}

export async function listSubscriptions(h: SqliteHandle, user: string): Promise<string[]> {
  const rows = h.stmt('SELECT name FROM subscriptions WHERE user = ?').all(user) as Array<{ name: string }>;
  return rows.map((r) => r.name).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export async function mailboxState(h: SqliteHandle, user: string, mailboxId: string): Promise<MailboxState | null> {
  const r = h.stmt('SELECT uid_validity, uid_next, highest_modseq, message_count FROM mailboxes WHERE id = ? AND user = ?').get(mailboxId, user) as
    Pick<MailboxRow, 'uid_validity' | 'uid_next' | 'highest_modseq' | 'message_count'> | undefined;
  return r ? { uidValidity: r.uid_validity, uidNext: r.uid_next, highestModseq: r.highest_modseq, messageCount: r.message_count } : null;
}

/** The mailbox row if it exists and belongs to `user`, else NOT_FOUND (invariant 4). */
export function ownMailbox(h: SqliteHandle, user: string, mailboxId: string): MailboxRow {
  const row = h.stmt('SELECT * FROM mailboxes WHERE id = ?').get(mailboxId) as MailboxRow | undefined;
  if (!row || row.user !== user) throw new IndexError('NOT_FOUND', `no such mailbox: ${mailboxId}`);
  return row;
}

export function dropMailboxRows(h: SqliteHandle, mailboxId: string): void {
  h.stmt('DELETE FROM messages WHERE mailbox_id = ?').run(mailboxId);
  h.stmt('DELETE FROM delivery_keys WHERE mailbox_id = ?').run(mailboxId);
  dropMailboxThreads(h, mailboxId);
  dropChangeLog(h, mailboxId);
  h.stmt('DELETE FROM mailboxes WHERE id = ?').run(mailboxId);
}
