/**
 * EXPUNGE (RFC 9051 §6.4.3), UID EXPUNGE (RFC 4315 §2.1) and the expunge step of CLOSE.
 * Only messages that have \Deleted *in the index* are removed (a flag set by another
 * session counts). Orphaned blobs are deleted after the index commit, then other sessions
 * are notified.
 */
import type { UidExpungeRequest } from '../../protocol/requests.ts';
import { ok, no, type Tagged } from '../errors.ts';
import type { SelectedMailbox } from '../selected-mailbox.ts';
import type { ImapSession } from '../session.ts';

/** Deletes blobs no message references any more; failures only leave garbage behind. */
export async function deleteOrphans(s: ImapSession, keys: string[]): Promise<void> {
  for (const key of keys) {
    await s.deps.adapters.blobs.delete(key).catch((err: Error) => s.log.warn('orphaned blob not deleted', { key, err }));
  }
}

/**
 * Expunges the \Deleted messages (optionally only those UIDs); `tell` records them for the
 * EXPUNGE responses that follow the command.
 */
export async function expungeDeleted(s: ImapSession, sel: SelectedMailbox, onlyUids: number[] | null, tell: boolean): Promise<number[]> {
  const { index } = s.deps.adapters;
  const candidates = onlyUids ?? sel.uids;
  const deleted = candidates.filter((u) => !sel.pendingExpunge.has(u) && (sel.flags.get(u) ?? []).includes('\\Deleted'));
  if (deleted.length === 0) return [];
  // Re-check \Deleted in the index: the view may be a moment old.
  const fresh = await index.getMessages(s.user!, sel.id, deleted);
  const really = fresh.filter((m) => m.flags.includes('\\Deleted')).map((m) => m.uid);
  if (really.length === 0) return [];
  const { expunged, orphanedBlobs } = await index.expunge(s.user!, sel.id, really);
  await deleteOrphans(s, orphanedBlobs);
  s.deps.events.notify(s.user!, sel.id);
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
