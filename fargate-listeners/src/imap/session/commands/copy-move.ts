/**
 * COPY / UID COPY (RFC 9051 §6.4.7) with COPYUID (RFC 4315 §3), MOVE / UID MOVE (RFC 6851).
 * MOVE is copy-then-expunge in the index; its EXPUNGE responses follow the untagged
 * `OK [COPYUID …]` (RFC 6851 §4.3).
 */
import type { CopyRequest } from '#listeners/imap/protocol/requests.ts';
import { formatNumberSet } from '#listeners/imap/protocol/sequence-set.ts';
import { expungeIssued, ok, no, type Tagged } from '../errors.ts';
import { decodeMailboxName } from '../mailbox-names.ts';
import type { ImapSession } from '../session.ts';
import { requireQuotaRoom } from './quota.ts';

export async function copyOrMove(s: ImapSession, req: CopyRequest): Promise<Tagged> {
  const { index } = s.deps.adapters;
  const sel = s.selected!;
  const verb = `${req.uid ? 'UID ' : ''}${req.name}`;
  const idxs = sel.resolve(req.set, req.uid);
  if (req.name === 'MOVE' && sel.readOnly) throw no('Mailbox is read-only', 'READ-ONLY');
  const name = decodeMailboxName(req.mailbox, s.utf8);
  const target = await index.getMailbox(s.user!, name);
  if (!target) throw no('No such mailbox', 'TRYCREATE');
  const uids = idxs.map((i) => sel.uids[i]);
  // A message another session expunged, still in our view because the client has not been
  // told yet (rule 4 in ../session.ts): the command cannot be carried out as asked, so
  // nothing is copied or moved and the client hears NO [EXPUNGEISSUED] (RFC 9051 §7.1,
  // RFC 5530 §3); RFC 9051 §6.4.7: a failed COPY leaves the destination unchanged. (A UID
  // COPY/MOVE has heard the EXPUNGEs before it runs, so a vanished UID is simply not in its
  // set — RFC 9051 §6.4.9: non-existent UIDs are ignored.)
  if (uids.some((u) => sel.pendingExpunge.has(u))) {
    return expungeIssued();
  }
  if (uids.length === 0) return ok(`${verb} completed`);
  // RFC 9208 §4.3: a COPY over quota is NO [OVERQUOTA]. A MOVE stays within the user's one
  // quota root, so it never adds usage and is never refused for quota.
  if (req.name === 'COPY') {
    const sizes = await index.getMessages(s.user!, sel.id, uids, { withMeta: false });
    await requireQuotaRoom(
      s,
      sizes.reduce((n, m) => n + m.size, 0),
      sizes.length,
    );
  }
  s.ctx.recent.observe(target.id, target.uidNext);
  const { uidValidity, mapping } = await s.writes.copy(s.user!, sel.id, uids, target.id);
  const code = mapping.length > 0 ? `COPYUID ${uidValidity} ${formatNumberSet(mapping.map((m) => m.from))} ${formatNumberSet(mapping.map((m) => m.to))}` : null;
  if (req.name === 'COPY') {
    // Some messages vanished between the view and the copy: RFC 5530 EXPUNGEISSUED.
    if (mapping.length < uids.length) return expungeIssued();
    return ok(`${verb} completed`, code);
  }
  const moved = mapping.map((m) => m.from);
  const expunged = await s.writes.expunge(s.user!, sel.id, moved);
  if (code) s.untagged(`OK [${code}] Moved`);
  sel.markExpunged(expunged);
  // Some messages vanished between the view's refresh and the copy (another session's
  // EXPUNGE in between): the rest were moved, the client learns the set was not whole.
  if (mapping.length < uids.length) return expungeIssued();
  return ok(`${verb} completed`);
}
