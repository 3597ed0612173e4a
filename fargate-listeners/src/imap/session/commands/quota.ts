/**
 * QUOTA (RFC 9208): one quota root per user, named "" (every mailbox of the user shares it),
 * with the resources STORAGE (in units of 1024 octets, §5.1) and MESSAGE (§5.2) where the user
 * has a limit (`mailctl user quota`). GETQUOTAROOT and GETQUOTA report them; SETQUOTA is for
 * administrators (§4.1.3), and no IMAP user is one here: it is NO [NOPERM] and QUOTASET is not
 * advertised. APPEND and COPY over a limit are NO [OVERQUOTA] (append.ts, copy-move.ts).
 */
import { quotaExceeded } from '#core/mailbox/quota.ts';
import { quote } from '#listeners/imap/protocol/encode.ts';
import type { QuotaRequest } from '#listeners/imap/protocol/requests.ts';
import { no, ok, type Tagged } from '../errors.ts';
import { decodeMailboxName, encodeMailboxName } from '../mailbox-names.ts';
import type { ImapSession } from '../session.ts';

/** The user's one quota root. */
export const QUOTA_ROOT = '';

async function quotaLine(s: ImapSession): Promise<string> {
  const q = await s.deps.adapters.index.getQuota(s.user!);
  const res: string[] = [];
  if (q?.limits.storage != null) res.push(`STORAGE ${Math.ceil(q.usage.storage / 1024)} ${Math.floor(q.limits.storage / 1024)}`);
  if (q?.limits.messages != null) res.push(`MESSAGE ${q.usage.messages} ${q.limits.messages}`);
  return `QUOTA ${quote(QUOTA_ROOT)} (${res.join(' ')})`;
}

export async function quotaCommand(s: ImapSession, req: QuotaRequest): Promise<Tagged> {
  switch (req.name) {
    case 'GETQUOTAROOT': {
      const name = decodeMailboxName(req.mailbox, s.utf8);
      if (!(await s.deps.adapters.index.getMailbox(s.user!, name))) throw no('No such mailbox', 'NONEXISTENT');
      // §4.1.2: the QUOTAROOT response with the mailbox and its roots, then each root's QUOTA.
      s.untagged(['QUOTAROOT ', ...encodeMailboxName(name, s.utf8), ` ${quote(QUOTA_ROOT)}`]);
      s.untagged(await quotaLine(s));
      return ok('GETQUOTAROOT completed');
    }
    case 'GETQUOTA':
      if (req.root !== QUOTA_ROOT) throw no('No such quota root', 'NONEXISTENT');
      s.untagged(await quotaLine(s));
      return ok('GETQUOTA completed');
    case 'SETQUOTA':
      throw no('Quotas are set by the administrator', 'NOPERM');
  }
}

/** NO [OVERQUOTA] (RFC 9208 §4.3, RFC 5530) when adding this much would pass a limit. */
export async function requireQuotaRoom(s: ImapSession, storage: number, messages: number): Promise<void> {
  const over = await quotaExceeded(s.deps.adapters.index, s.user!, { storage, messages });
  if (over) throw no(over === 'STORAGE' ? 'Mailbox storage quota exceeded' : 'Message count quota exceeded', 'OVERQUOTA');
}
