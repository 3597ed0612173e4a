/**
 * Quota checks (RFC 9208 STORAGE and MESSAGE, one quota root per user): whether `add` more
 * octets and messages fit the user's limits. Reads the index's per-user usage counter (one item,
 * core/ports/mail-index.ts QuotaUsage), never the mailboxes. The check comes before the write it
 * guards and is not part of it: writers racing each other may together pass a limit by what one
 * of them adds, never more.
 */
import type { MailIndex, User } from '../ports/mail-index.ts';

export type QuotaResource = 'STORAGE' | 'MESSAGE';

/**
 * The first resource `add` would take over its limit, or null when it fits (or the user has no
 * limits). `known`: the user record at hand (a directory lookup): without limits on it, nothing
 * is read (the common case costs no usage read per RCPT and per delivery).
 */
export async function quotaExceeded(
  index: MailIndex,
  user: string,
  add: { storage: number; messages: number },
  known?: Pick<User, 'quota'> | null,
): Promise<QuotaResource | null> {
  if (known && !known.quota) return null;
  const q = await index.getQuota(user);
  if (!q) return null;
  if (q.limits.storage !== null && add.storage > 0 && q.usage.storage + add.storage > q.limits.storage) return 'STORAGE';
  if (q.limits.messages !== null && add.messages > 0 && q.usage.messages + add.messages > q.limits.messages) return 'MESSAGE';
  return null;
}
