/**
 * APPEND (RFC 9051 §6.3.12) with APPENDUID (RFC 4315 §3), APPENDLIMIT (RFC 7889, enforced at
 * the literal announcement by the session, and again on the stored size) and literal8 (RFC
 * 3516). The message is stored with CRLF line endings (core/mime/crlf.ts: bare LF and bare CR
 * become CRLF, as for SMTP), so what FETCH serves and RFC822.SIZE counts is that form; a
 * literal8 is stored exactly as received, since binary content (RFC 3516 §4.4) may hold any
 * octet. APPEND is not a delivery: no Return-Path is added (MailboxWrites.append,
 * core/mailbox/writes.ts: blob first, then the index record, then other sessions are told).
 * MULTIAPPEND (RFC 3502): several messages in one command, all or none
 * (MailboxWrites.appendAll), answered with one APPENDUID and the set of their UIDs.
 */
import { toCanonicalCrlf } from '#core/mime/crlf.ts';
import { IndexError } from '#core/ports/mail-index.ts';
import type { AppendMessage, AppendRequest } from '#listeners/imap/protocol/requests.ts';
import { formatNumberSet } from '#listeners/imap/protocol/sequence-set.ts';
import { bad, ok, no, type Tagged } from '../errors.ts';
import { canonicalClientFlags } from '../flags.ts';
import { decodeMailboxName } from '../mailbox-names.ts';
import type { ImapSession } from '../session.ts';
import { requireQuotaRoom } from './quota.ts';

export async function append(s: ImapSession, req: AppendRequest): Promise<Tagged> {
  const { adapters } = s.deps;
  const name = decodeMailboxName(req.mailbox, s.utf8);
  // RFC 3502 §6.3.11: every message is checked before any is stored; one bad message fails all.
  const messages = [req, ...req.more].map((m, i) => ({
    raw: checkedMessage(s, m, i + 1, req.more.length > 0),
    flags: canonicalClientFlags(m.flags),
    internalDate: m.date ?? Date.now(),
  }));
  const mailbox = await adapters.index.getMailbox(s.user!, name);
  // RFC 9051 §6.3.12: a missing target is NO [TRYCREATE], so the client may CREATE and retry.
  if (!mailbox) throw no('No such mailbox', 'TRYCREATE');
  // RFC 9208 §4.3: over the user's quota is NO [OVERQUOTA], and nothing is stored.
  await requireQuotaRoom(
    s,
    messages.reduce((n, m) => n + m.raw.length, 0),
    messages.length,
  );
  s.ctx.recent.observe(mailbox.id, mailbox.uidNext);
  let results;
  try {
    if (messages.length === 1) {
      const [m] = messages;
      results = [await s.writes.append(s.user!, name, m.raw, { flags: m.flags, internalDate: m.internalDate })];
    } else {
      results = (await s.writes.appendAll(s.user!, name, messages)).results.map((r) => ({ ...r, mailboxId: mailbox.id }));
    }
  } catch (err) {
    if (err instanceof IndexError && err.code === 'NOT_FOUND') throw no('No such mailbox', 'TRYCREATE');
    throw err;
  }
  // Into the selected mailbox: the next refresh recognises the messages as our own writes.
  for (const r of results) if (!r.duplicate && s.selected?.id === r.mailboxId) s.selected.noteOwnAppend(r.uid, r.modseq);
  // RFC 4315 §3: APPENDUID uidvalidity uid-set (a set when MULTIAPPEND stored several).
  return ok('APPEND completed', `APPENDUID ${results[0].uidValidity} ${formatNumberSet(results.map((r) => r.uid))}`);
}

/** One message's checks; with MULTIAPPEND the text says which message (from 1) failed. */
function checkedMessage(s: ImapSession, m: AppendMessage, n: number, several: boolean): Buffer {
  const which = several ? ` (message ${n}; none was appended)` : '';
  if (m.message.length === 0) throw no(`Empty message${which}`);
  // RFC 6855 §4: the UTF8 form is valid only once UTF8=ACCEPT (or IMAP4rev2) is enabled.
  if (m.utf8 && !s.utf8) throw bad(`APPEND UTF8 needs ENABLE UTF8=ACCEPT${which}`);
  if (m.message.length > s.ctx.limits.maxAppendSize) throw no(`Message too large${which}`, 'TOOBIG');
  const message = m.binary ? m.message : toCanonicalCrlf(m.message);
  if (message.length > s.ctx.limits.maxAppendSize) throw no(`Message too large (with CRLF line endings)${which}`, 'TOOBIG');
  return message;
}
