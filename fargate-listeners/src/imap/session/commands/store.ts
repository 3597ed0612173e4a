/**
 * STORE / UID STORE (RFC 9051 §6.4.6): +FLAGS, -FLAGS, FLAGS and .SILENT. The new flags of
 * every message in the set are returned as FETCH responses (with UID for UID STORE) unless
 * .SILENT; new keywords are announced in FLAGS/PERMANENTFLAGS first.
 *
 * CONDSTORE (RFC 7162 §3.1.3): once enabled, each FETCH carries UID and MODSEQ, and a .SILENT
 * STORE still tells the new MODSEQ of the messages it changed. `(UNCHANGEDSINCE n)` changes only
 * the messages whose mod-sequence is at most n; the others are named in `OK [MODIFIED set]`
 * (sequence numbers for STORE, UIDs for UID STORE) and left as they are. The test runs in the
 * index, inside the same atomic write as the change (MailIndex.updateFlags `unchangedSince`), so a
 * change committed by anyone up to that write fails it.
 */
import type { StoreRequest } from '#listeners/imap/protocol/requests.ts';
import { flagList } from '#listeners/imap/protocol/encode.ts';
import { formatNumberSet } from '#listeners/imap/protocol/sequence-set.ts';
import { ok, no, type Tagged } from '../errors.ts';
import { canonicalClientFlags } from '../flags.ts';
import type { ImapSession } from '../session.ts';

export async function store(s: ImapSession, req: StoreRequest): Promise<Tagged> {
  const sel = s.selected!;
  const flags = canonicalClientFlags(req.flags);
  const idxs = sel.resolve(req.set, req.uid);
  if (sel.readOnly) throw no('Mailbox is read-only', 'READ-ONLY');
  const conditional = req.unchangedSince !== null;
  // A CONDSTORE enabling command (RFC 7162 §3.1).
  if (conditional) s.enableCondstore();
  const uids = idxs.map((i) => sel.uids[i]).filter((u) => !sel.pendingExpunge.has(u));
  const modified: number[] = [];
  const changed = new Set<number>();
  if (uids.length > 0) {
    const options = req.unchangedSince !== null ? { unchangedSince: req.unchangedSince } : undefined;
    const changes = await s.deps.adapters.index.updateFlags(s.user!, sel.id, uids, req.mode, flags, options);
    for (const c of changes) {
      // §3.1.3: "Use of UNCHANGEDSINCE with a modification sequence of 0 always fails" (every
      // message has a mod-sequence of at least 1).
      if (c.modified) {
        modified.push(c.uid);
        continue;
      }
      sel.setFlags(c.uid, c.flags, c.modseq);
      changed.add(c.uid);
    }
    if (changed.size > 0) s.deps.events.notify(s.user!, sel.id);
  }
  const failed = new Set(modified);
  s.pushLines(sel.takeKeywordLines());
  for (const uid of uids) {
    const seq = sel.seqOf(uid);
    if (seq === 0 || failed.has(uid)) continue;
    if (req.silent) {
      // §3.1.3: the client's cache needs the new MODSEQ even after .SILENT; with
      // UNCHANGEDSINCE every message that passed the test is told (its example 3).
      if (s.condstore && (conditional || changed.has(uid))) await s.untaggedAsync([`${seq} FETCH (UID ${uid} MODSEQ (${sel.modseqOf(uid)}))`]);
      continue;
    }
    sel.pendingFlags.delete(uid);
    const f = flagList(sel.flagsOf(uid, !s.rev2));
    if (s.condstore) await s.untaggedAsync([`${seq} FETCH (UID ${uid} FLAGS ${f} MODSEQ (${sel.modseqOf(uid)}))`]);
    else await s.untaggedAsync([req.uid ? `${seq} FETCH (UID ${uid} FLAGS ${f})` : `${seq} FETCH (FLAGS ${f})`]);
  }
  const verb = `${req.uid ? 'UID ' : ''}STORE`;
  if (modified.length > 0) {
    const numbers = req.uid ? modified : modified.map((u) => sel.seqOf(u));
    return ok(`Conditional ${verb} failed for some messages`, `MODIFIED ${formatNumberSet(numbers.sort((a, b) => a - b))}`);
  }
  return ok(`${conditional ? 'Conditional ' : ''}${verb} completed`);
}
