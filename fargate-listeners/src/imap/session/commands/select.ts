/**
 * SELECT / EXAMINE (RFC 9051 §6.3.2–6.3.3, RFC 3501 §6.3.1–6.3.2) with HIGHESTMODSEQ and the
 * CONDSTORE and QRESYNC parameters (RFC 7162 §3.1.2, §3.1.8, §3.2.5), CLOSE (§6.4.1), UNSELECT
 * (RFC 3691).
 */
import { flagList } from '#listeners/imap/protocol/encode.ts';
import type { QresyncParams, SelectRequest } from '#listeners/imap/protocol/requests.ts';
import { uidSetContains } from '#listeners/imap/protocol/sequence-set.ts';
import { bad, ok, no, type Tagged } from '../errors.ts';
import { decodeMailboxName, encodeMailboxName } from '../mailbox-names.ts';
import { SelectedMailbox } from '../selected-mailbox.ts';
import { formatRanges, normalise, vanishedSince, type UidRanges } from '../vanished.ts';
import type { ImapSession } from '../session.ts';
import { expungeDeleted } from './expunge.ts';

export async function select(s: ImapSession, req: SelectRequest): Promise<Tagged> {
  const { index } = s.deps.adapters;
  const readOnly = req.name === 'EXAMINE';
  const name = decodeMailboxName(req.mailbox, s.utf8);
  // RFC 7162 §3.2.5: QRESYNC is a parameter only for a client that enabled it (else BAD,
  // with the current mailbox still selected: nothing changed).
  if (req.qresync && !s.qresync) throw bad(`${req.name} with QRESYNC needs ENABLE QRESYNC first`);
  // The CONDSTORE parameter is a CONDSTORE enabling command (§3.1.8).
  if (req.condstore) s.enableCondstore();
  if (s.selected) {
    // RFC 9051 §6.3.2: selecting closes the current mailbox without expunging; rev2 clients
    // hear [CLOSED] first (RFC 7162 §3.2.11).
    s.deselect();
    if (s.rev2 || s.qresync) s.untagged('OK [CLOSED] Previous mailbox closed');
  }
  const mailbox = await index.getMailbox(s.user!, name);
  if (!mailbox) throw no('No such mailbox', 'NONEXISTENT');
  const state = await index.mailboxState(s.user!, mailbox.id);
  if (!state) throw no('No such mailbox', 'NONEXISTENT');
  s.ctx.recent.observe(mailbox.id, state.uidNext);
  // The process's packed view of the mailbox, brought up to date from the change log (only
  // the first SELECT in the process lists the mailbox: mailbox-views.ts).
  const snap = await s.ctx.views.snapshot(index, s.user!, mailbox.id, state);
  if (!snap || snap.state.uidValidity !== state.uidValidity) throw no('No such mailbox', 'NONEXISTENT');
  const sel = new SelectedMailbox({ id: mailbox.id, name: mailbox.name, user: s.user!, readOnly, uidValidity: state.uidValidity, views: s.ctx.views });
  sel.load(snap, s.ctx.recent);
  s.pushLines(sel.flagsLines());
  s.untagged(`${sel.count} EXISTS`);
  if (!s.rev2) {
    s.untagged(`${sel.recent.size} RECENT`);
    // rev1 only: the first unseen message (RFC 3501 §6.3.1); rev2 dropped it.
    const firstUnseen = sel.firstUnseen();
    if (firstUnseen >= 0) s.untagged(`OK [UNSEEN ${firstUnseen + 1}] First unseen`);
  }
  s.untagged(`OK [UIDVALIDITY ${sel.uidValidity}] UIDs valid`);
  s.untagged(`OK [UIDNEXT ${sel.uidNext}] Predicted next UID`);
  // RFC 8474 §4.1: the mailbox's object id (the JMAP Mailbox id).
  s.untagged(`OK [MAILBOXID (${mailbox.id})] Ok`);
  // RFC 7162 §3.1.2.1: every mailbox keeps mod-sequences, so NOMODSEQ (§3.1.2.2) never applies.
  s.untagged(`OK [HIGHESTMODSEQ ${sel.highestModseq}] Highest`);
  if (s.rev2) s.untagged(['LIST () "/" ', ...encodeMailboxName(mailbox.name, true)]);
  // §3.2.5.1: with the client's UIDVALIDITY, what changed since its mod-sequence; with another
  // UIDVALIDITY its cache is void and the plain SELECT responses are all it gets.
  if (req.qresync && req.qresync.uidValidity === sel.uidValidity) await tellChangesSince(s, sel, req.qresync);
  s.selected = sel;
  s.state = 'selected';
  return ok(`${req.name} completed`, readOnly ? 'READ-ONLY' : 'READ-WRITE');
}

/**
 * `VANISHED (EARLIER)` for the known UIDs expunged since the client's mod-sequence
 * (../vanished.ts), then a FETCH (UID FLAGS MODSEQ) for each message changed or added since.
 * The flags come from the listing SELECT just read, so this costs one change-log read at most.
 * The sequence match data (§3.2.5.2) is accepted and not needed: the change log, or the
 * complement of the mailbox within the known UIDs, is exact enough without it.
 */
async function tellChangesSince(s: ImapSession, sel: SelectedMailbox, q: QresyncParams): Promise<void> {
  const maxUid = sel.uidNext - 1;
  const known = q.knownUids && !q.knownUids.saved ? normalise(q.knownUids.ranges, maxUid) : maxUid > 0 ? ([[1, maxUid]] as UidRanges) : [];
  const vanished = await vanishedSince(s.deps.adapters.index, sel, q.modseq, known);
  if (vanished.length > 0) s.untagged(`VANISHED (EARLIER) ${formatRanges(vanished)}`);
  const knownSet = q.knownUids && !q.knownUids.saved ? q.knownUids.ranges : null;
  for (const uid of sel.uids) {
    const modseq = sel.modseqOf(uid);
    if (modseq <= q.modseq || (knownSet && !uidSetContains(knownSet, uid, maxUid))) continue;
    await s.untaggedAsync([`${sel.seqOf(uid)} FETCH (UID ${uid} FLAGS ${flagList(sel.flagsOf(uid, !s.rev2))} MODSEQ (${modseq}))`]);
  }
}

/** CLOSE: expunge \Deleted messages silently (read-write only), then deselect. */
export async function close(s: ImapSession): Promise<Tagged> {
  const sel = s.selected!;
  if (!sel.readOnly) await expungeDeleted(s, sel, null, false);
  s.deselect();
  return ok('CLOSE completed');
}

export async function unselect(s: ImapSession): Promise<Tagged> {
  s.deselect();
  return ok('UNSELECT completed');
}
