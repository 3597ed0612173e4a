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
 * CATENATE (RFC 4469): a message given as TEXT and URL parts is put together first
 * (../catenate.ts); a part that cannot be used fails the command before anything is stored.
 */
import { toCanonicalCrlf } from '#core/mime/crlf.ts';
import { IndexError } from '#core/ports/mail-index.ts';
import type { AppendMessage, AppendRequest } from '#listeners/imap/protocol/requests.ts';
import { formatNumberSet } from '#listeners/imap/protocol/sequence-set.ts';
import { bad, ok, no, type Tagged } from '../errors.ts';
import { assembleCatenate } from '../catenate.ts';
import { canonicalClientFlags } from '../flags.ts';
import { decodeMailboxName } from '../mailbox-names.ts';
import type { ImapSession } from '../session.ts';
import { requireQuotaRoom } from './quota.ts';

export async function append(s: ImapSession, req: AppendRequest): Promise<Tagged> {
  const { adapters } = s.deps;
  const name = decodeMailboxName(req.mailbox, s.utf8);
  const several = req.more.length > 0;
  const all = [req, ...req.more];
  // RFC 3502 §6.3.11: every message is checked before any is stored; one bad message fails all.
  const literals = all.map((m, i) => (m.catenate ? null : checkedMessage(s, m, i + 1, several)));
  const mailbox = await adapters.index.getMailbox(s.user!, name);
  // RFC 9051 §6.3.12: a missing target is NO [TRYCREATE], so the client may CREATE and retry.
  if (!mailbox) throw no('No such mailbox', 'TRYCREATE');
  // CATENATE (RFC 4469): messages made of parts, put together before anything is stored, all of
  // one APPEND within APPENDLIMIT together (catenate.ts).
  const budget = { left: s.ctx.limits.maxAppendSize - literals.reduce((n, l) => n + (l?.length ?? 0), 0) };
  const messages = [];
  for (const [i, m] of all.entries()) {
    const raw = m.catenate ? await assembleCatenate(s, m.catenate, budget, which(i + 1, several)) : literals[i]!;
    messages.push({ raw, flags: canonicalClientFlags(m.flags), internalDate: m.date ?? Date.now() });
  }
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

/** With MULTIAPPEND an error's text says which message (from 1) failed. */
function which(n: number, several: boolean): string {
  return several ? ` (message ${n}; none was appended)` : '';
}

/** One message's checks. */
function checkedMessage(s: ImapSession, m: AppendMessage, n: number, several: boolean): Buffer {
  const what = which(n, several);
  if (m.message.length === 0) throw no(`Empty message${what}`);
  // RFC 6855 §4: the UTF8 form is valid only once UTF8=ACCEPT (or IMAP4rev2) is enabled.
  if (m.utf8 && !s.utf8) throw bad(`APPEND UTF8 needs ENABLE UTF8=ACCEPT${what}`);
  if (m.message.length > s.ctx.limits.maxAppendSize) throw no(`Message too large${what}`, 'TOOBIG');
  const message = m.binary ? m.message : toCanonicalCrlf(m.message);
  if (message.length > s.ctx.limits.maxAppendSize) throw no(`Message too large (with CRLF line endings)${what}`, 'TOOBIG');
  return message;
}
