/**
 * APPEND (RFC 9051 §6.3.12; literal8 from RFC 3516 BINARY; the UTF8 form of RFC 6855 §4), with
 * several messages in one command (MULTIAPPEND, RFC 3502 §6.3.11: `APPEND mailbox 1*(SP
 * [flags SP] [date-time SP] literal)`).
 */
import { monthIndex } from '../encode.ts';
import { ArgReader, ParseError } from '../reader.ts';
import type { AppendMessage, AppendRequest } from '../requests.ts';

/** date-time (RFC 9051 §9): "dd-Mon-yyyy hh:mm:ss +zzzz" → epoch ms. */
export function parseDateTime(text: string): number {
  const m = /^([ \d]?\d)-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (!m) throw new ParseError('Invalid date-time');
  const day = Number(m[1].trim());
  const month = monthIndex(m[2]);
  const [year, hh, mi, ss] = [Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])];
  if (month < 0 || day < 1 || day > 31 || hh > 23 || mi > 59 || ss > 60) throw new ParseError('Invalid date-time');
  const utc = Date.UTC(year, month, day, hh, mi, Math.min(ss, 59));
  const check = new Date(utc);
  if (check.getUTCDate() !== day) throw new ParseError('Invalid date-time');
  const offset = (Number(m[8]) * 60 + Number(m[9])) * 60_000 * (m[7] === '-' ? -1 : 1);
  return utc - offset;
}

export function parseAppend(r: ArgReader): AppendRequest {
  r.sp();
  const mailbox = r.astring();
  r.sp();
  const first = parseAppendMessage(r);
  const more: AppendMessage[] = [];
  while (!r.atEnd()) {
    r.sp();
    more.push(parseAppendMessage(r));
  }
  return { name: 'APPEND', mailbox, ...first, more };
}

/** `[flags SP] [date-time SP] (literal / "UTF8 (" literal8 ")")`. */
function parseAppendMessage(r: ArgReader): AppendMessage {
  let flags: string[] = [];
  if (r.peek() === 0x28) {
    flags = r.flagList();
    r.sp();
  }
  let date: number | null = null;
  if (r.peek() === 0x22) {
    date = parseDateTime(r.quoted().toString('latin1'));
    r.sp();
  }
  // RFC 6855 §4: `UTF8 (literal8)` carries a message with UTF-8 headers.
  const utf8Form = r.maybeKeyword('UTF8 (');
  // Literal8 announced as `~{n}`: the receiver marked it binary and stripped the '~'.
  if (!r.atLiteral()) throw new ParseError('APPEND needs the message as a literal');
  const binary = r.literalIsBinary();
  const message = r.literal();
  if (utf8Form) r.expect(')');
  return { flags, date, message, binary, utf8: utf8Form };
}
