/**
 * EXPUNGE (RFC 9051 §6.4.3), UID EXPUNGE (RFC 4315 §2.1) and the expunge step of CLOSE.
 * Only messages that have \Deleted *in the index* are removed (a flag set by another
 * session counts). The write itself — index, then orphaned blobs, then other sessions — is
 * MailboxWrites.expunge (core/mailbox/writes.ts).
 */
import type { UidExpungeRequest } from '#listeners/imap/protocol/requests.ts';
import { ok, no, type Tagged } from '../errors.ts';
import type { SelectedMailbox } from '../selected-mailbox.ts';
import type { ImapSession } from '../session.ts';

/**
 * Expunges the \Deleted messages (optionally only those UIDs); `tell` records them for the
 * EXPUNGE responses that follow the command.
 */
export async function expungeDeleted(s: ImapSession, sel: SelectedMailbox, onlyUids: number[] | null, tell: boolean): Promise<number[]> {
  const { index } = s.deps.adapters;
  const candidates = onlyUids ?? sel.liveUids();
  const deleted = candidates.filter((u) => !sel.pendingExpunge.has(u) && sel.storedFlags(u).includes('\\Deleted'));
  if (deleted.length === 0) return [];
  // Re-check \Deleted in the index: the view may be a moment old.
  const fresh = await index.getMessages(s.user!, sel.id, deleted);
  const really = fresh.filter((m) => m.flags.includes('\\Deleted')).map((m) => m.uid);
  if (really.length === 0) return [];
  const expunged = await s.writes.expunge(s.user!, sel.id, really);
  if (tell) sel.markExpunged(expunged);
  return expunged;
}

export async function expunge(s: ImapSession): Promise<Tagged> {
  const sel = s.selected!;
  if (sel.readOnly) throw no('Mailbox is read-only', 'READ-ONLY');
  await expungeDeleted(s, sel, null, true);
  return ok('EXPUNGE completed');
}

export async function uidExpunge(s: ImapSession, req: UidExpungeRequest): Promise<Tagged> {
  const sel = s.selected!;
  if (sel.readOnly) throw no('Mailbox is read-only', 'READ-ONLY');
  const uids = sel.resolve(req.set, true).map((i) => sel.uids[i]);
  await expungeDeleted(s, sel, uids, true);
  return ok('UID EXPUNGE completed');
}
