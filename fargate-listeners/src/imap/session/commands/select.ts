/**
 * SELECT / EXAMINE (RFC 9051 §6.3.2–6.3.3, RFC 3501 §6.3.1–6.3.2) with HIGHESTMODSEQ and the
 * CONDSTORE and QRESYNC parameters (RFC 7162 §3.1.2, §3.1.8, §3.2.5), CLOSE (§6.4.1), UNSELECT
 * (RFC 3691).
 */
import type { SelectRequest } from '#listeners/imap/protocol/requests.ts';
import { bad, ok, no, type Tagged } from '../errors.ts';
import { decodeMailboxName, encodeMailboxName } from '../mailbox-names.ts';
import { SelectedMailbox } from '../selected-mailbox.ts';
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
    if (s.rev2) s.untagged('OK [CLOSED] Previous mailbox closed');
  }
  const mailbox = await index.getMailbox(s.user!, name);
  if (!mailbox) throw no('No such mailbox', 'NONEXISTENT');
  const state = await index.mailboxState(s.user!, mailbox.id);
  if (!state) throw no('No such mailbox', 'NONEXISTENT');
  s.ctx.recent.observe(mailbox.id, state.uidNext);
  const records = await index.listMessages(s.user!, mailbox.id);
  const sel = new SelectedMailbox({ id: mailbox.id, name: mailbox.name, user: s.user!, readOnly, uidValidity: state.uidValidity });
  sel.load(state, records, s.ctx.recent);
  s.pushLines(sel.flagsLines());
  s.untagged(`${sel.count} EXISTS`);
  if (!s.rev2) {
    s.untagged(`${sel.recent.size} RECENT`);
    // rev1 only: the first unseen message (RFC 3501 §6.3.1); rev2 dropped it.
    const firstUnseen = sel.uids.findIndex((u) => !(sel.flags.get(u) ?? []).includes('\\Seen'));
    if (firstUnseen >= 0) s.untagged(`OK [UNSEEN ${firstUnseen + 1}] First unseen`);
  }
  s.untagged(`OK [UIDVALIDITY ${sel.uidValidity}] UIDs valid`);
  s.untagged(`OK [UIDNEXT ${sel.uidNext}] Predicted next UID`);
  // RFC 7162 §3.1.2.1: every mailbox keeps mod-sequences, so NOMODSEQ (§3.1.2.2) never applies.
  s.untagged(`OK [HIGHESTMODSEQ ${sel.highestModseq}] Highest`);
  if (s.rev2) s.untagged(['LIST () "/" ', ...encodeMailboxName(mailbox.name, true)]);
  s.selected = sel;
  s.state = 'selected';
  return ok(`${req.name} completed`, readOnly ? 'READ-ONLY' : 'READ-WRITE');
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
