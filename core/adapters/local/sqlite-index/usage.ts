/**
 * Quotas of the SQLite MailIndex: per-user limits (`user_quotas`) and usage (`user_usage`). The
 * usage row moves inside the transaction of every write that adds or removes messages
 * (appendMessage, copyMessages, expunge, deleteMailbox; removeUser drops it), so reading it is
 * one primary-key lookup, never a count over the messages.
 */
import { IndexError, type QuotaLimits, type QuotaUsage } from '#core/ports/mail-index.ts';
import type { SqliteHandle } from '../sqlite-db.ts';

/** Moves the user's usage by the given amounts (inside the caller's transaction). */
export function addUsage(h: SqliteHandle, user: string, storage: number, messages: number): void {
  if (storage === 0 && messages === 0) return;
  h.stmt(
    'INSERT INTO user_usage (user, storage, messages) VALUES (?, ?, ?) ON CONFLICT (user) DO UPDATE SET storage = storage + excluded.storage, messages = messages + excluded.messages',
  ).run(user, storage, messages);
}

export function dropUsage(h: SqliteHandle, user: string): void {
  h.stmt('DELETE FROM user_usage WHERE user = ?').run(user);
  h.stmt('DELETE FROM user_quotas WHERE user = ?').run(user);
}

export async function getQuota(h: SqliteHandle, address: string): Promise<{ limits: QuotaLimits; usage: QuotaUsage } | null> {
  if (!h.stmt('SELECT 1 FROM users WHERE address = ?').get(address)) return null;
  const q = h.stmt('SELECT storage_limit, message_limit FROM user_quotas WHERE user = ?').get(address) as
    { storage_limit: number | null; message_limit: number | null } | undefined;
  const u = h.stmt('SELECT storage, messages FROM user_usage WHERE user = ?').get(address) as { storage: number; messages: number } | undefined;
  return {
    limits: { storage: q?.storage_limit ?? null, messages: q?.message_limit ?? null },
    usage: { storage: u?.storage ?? 0, messages: u?.messages ?? 0 },
  };
}

export function checkQuotaLimits(limits: QuotaLimits): void {
  for (const v of [limits.storage, limits.messages]) {
    if (v !== null && !(Number.isSafeInteger(v) && v >= 0)) throw new IndexError('INVALID', 'a quota limit is a whole number of at least 0, or none');
  }
}

export async function setQuota(h: SqliteHandle, address: string, limits: QuotaLimits): Promise<void> {
  checkQuotaLimits(limits);
  h.immediate(() => {
    if (!h.stmt('SELECT 1 FROM users WHERE address = ?').get(address)) throw new IndexError('NOT_FOUND', `no such user: ${address}`);
    h.stmt(
      'INSERT INTO user_quotas (user, storage_limit, message_limit) VALUES (?, ?, ?) ON CONFLICT (user) DO UPDATE SET storage_limit = excluded.storage_limit, message_limit = excluded.message_limit',
    ).run(address, limits.storage, limits.messages);
  });
}
