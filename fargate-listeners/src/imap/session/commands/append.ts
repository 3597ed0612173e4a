/**
 * APPEND (RFC 9051 §6.3.12) with APPENDUID (RFC 4315 §3), APPENDLIMIT (RFC 7889, enforced at
 * the literal announcement by the session, and again on the stored size) and literal8 (RFC
 * 3516). The message is stored with CRLF line endings (core/mime/crlf.ts: bare LF and bare CR
 * become CRLF, as for SMTP), so what FETCH serves and RFC822.SIZE counts is that form; a
 * literal8 is stored exactly as received, since binary content (RFC 3516 §4.4) may hold any
 * octet. APPEND is not a delivery: no Return-Path is added (MailboxWrites.append,
 * core/mailbox/writes.ts: blob first, then the index record, then other sessions are told).
 */
import { toCanonicalCrlf } from '#core/mime/crlf.ts';
import { IndexError } from '#core/ports/mail-index.ts';
import type { AppendRequest } from '#listeners/imap/protocol/requests.ts';
import { bad, ok, no, type Tagged } from '../errors.ts';
import { canonicalClientFlags } from '../flags.ts';
import { decodeMailboxName } from '../mailbox-names.ts';
import type { ImapSession } from '../session.ts';

export async function append(s: ImapSession, req: AppendRequest): Promise<Tagged> {
  const { adapters } = s.deps;
  const name = decodeMailboxName(req.mailbox, s.utf8);
  const flags = canonicalClientFlags(req.flags);
  if (req.message.length === 0) throw no('Empty message');
  // RFC 6855 §4: the UTF8 form is valid only once UTF8=ACCEPT (or IMAP4rev2) is enabled.
  if (req.utf8 && !s.utf8) throw bad('APPEND UTF8 needs ENABLE UTF8=ACCEPT');
  if (req.message.length > s.ctx.limits.maxAppendSize) throw no('Message too large', 'TOOBIG');
  const message = req.binary ? req.message : toCanonicalCrlf(req.message);
  if (message.length > s.ctx.limits.maxAppendSize) throw no('Message too large (with CRLF line endings)', 'TOOBIG');
  const mailbox = await adapters.index.getMailbox(s.user!, name);
  // RFC 9051 §6.3.12: a missing target is NO [TRYCREATE], so the client may CREATE and retry.
  if (!mailbox) throw no('No such mailbox', 'TRYCREATE');
  s.ctx.recent.observe(mailbox.id, mailbox.uidNext);
  let result;
  try {
    result = await s.writes.append(s.user!, name, message, { flags, internalDate: req.date ?? Date.now() });
  } catch (err) {
    if (err instanceof IndexError && err.code === 'NOT_FOUND') throw no('No such mailbox', 'TRYCREATE');
    throw err;
  }
  // Into the selected mailbox: the next refresh recognises the message as our own write.
  if (!result.duplicate && s.selected?.id === result.mailboxId) s.selected.noteOwnAppend(result.uid, result.modseq);
  return ok('APPEND completed', `APPENDUID ${result.uidValidity} ${result.uid}`);
}
