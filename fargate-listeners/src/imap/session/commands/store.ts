/**
 * STORE / UID STORE (RFC 9051 §6.4.6): +FLAGS, -FLAGS, FLAGS and .SILENT. The new flags of
 * every message in the set are returned as FETCH responses (with UID for UID STORE) unless
 * .SILENT; new keywords are announced in FLAGS/PERMANENTFLAGS first.
 */
import type { StoreRequest } from '#listeners/imap/protocol/requests.ts';
import { flagList } from '#listeners/imap/protocol/encode.ts';
import { ok, no, type Tagged } from '../errors.ts';
import { canonicalClientFlags } from '../flags.ts';
import type { ImapSession } from '../session.ts';

export async function store(s: ImapSession, req: StoreRequest): Promise<Tagged> {
  const sel = s.selected!;
  const flags = canonicalClientFlags(req.flags);
  const idxs = sel.resolve(req.set, req.uid);
  if (sel.readOnly) throw no('Mailbox is read-only', 'READ-ONLY');
  const uids = idxs.map((i) => sel.uids[i]).filter((u) => !sel.pendingExpunge.has(u));
  if (uids.length > 0) {
    const changes = await s.deps.adapters.index.updateFlags(s.user!, sel.id, uids, req.mode, flags);
    for (const c of changes) sel.setFlags(c.uid, c.flags, c.modseq);
    if (changes.length > 0) s.deps.events.notify(s.user!, sel.id);
  }
  s.pushLines(sel.takeKeywordLines());
  if (!req.silent) {
    for (const uid of uids) {
      const seq = sel.seqOf(uid);
      if (seq === 0) continue;
      sel.pendingFlags.delete(uid);
      const f = flagList(sel.flagsOf(uid, !s.rev2));
      await s.untaggedAsync([req.uid ? `${seq} FETCH (UID ${uid} FLAGS ${f})` : `${seq} FETCH (FLAGS ${f})`]);
    }
  }
  return ok(`${req.uid ? 'UID ' : ''}STORE completed`);
}
