/**
 * APPEND (RFC 9051 §6.3.12; literal8 from RFC 3516 BINARY; the UTF8 form of RFC 6855 §4), with
 * several messages in one command (MULTIAPPEND, RFC 3502 §6.3.11: `APPEND mailbox 1*(SP
 * [flags SP] [date-time SP] literal)`), each of them possibly made of parts (CATENATE, RFC 4469).
 */
import { monthIndex } from '../encode.ts';
import { ArgReader, ParseError, utf8 } from '../reader.ts';
import type { AppendMessage, AppendRequest, CatPart } from '../requests.ts';

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
  // Each URL part is a lookup and a read: bound them per command, not only per message.
  if ([first, ...more].reduce((n, m) => n + (m.catenate?.length ?? 0), 0) > MAX_CAT_PARTS_PER_COMMAND) {
    throw new ParseError(`More than ${MAX_CAT_PARTS_PER_COMMAND} CATENATE parts in one APPEND`);
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
  // RFC 4469 §5: append-data =/ "CATENATE" SP "(" cat-part *(SP cat-part) ")".
  if (r.maybeKeyword('CATENATE (')) return { flags, date, message: Buffer.alloc(0), catenate: parseCatParts(r), binary: false, utf8: false };
  // RFC 6855 §4: `UTF8 (literal8)` carries a message with UTF-8 headers.
  const utf8Form = r.maybeKeyword('UTF8 (');
  // Literal8 announced as `~{n}`: the receiver marked it binary and stripped the '~'.
  if (!r.atLiteral()) throw new ParseError('APPEND needs the message as a literal');
  const binary = r.literalIsBinary();
  const message = r.literal();
  if (utf8Form) r.expect(')');
  return { flags, date, message, catenate: null, binary, utf8: utf8Form };
}

/** Most parts one CATENATE message may have (each URL is a lookup and a read). */
export const MAX_CAT_PARTS = 64;
/** Most CATENATE parts of all messages of one APPEND (MULTIAPPEND). */
export const MAX_CAT_PARTS_PER_COMMAND = 256;

/**
 * `cat-part *(SP cat-part) ")"` after "CATENATE (": cat-part = text-literal / url, text-literal
 * = "TEXT" SP literal (literal8 too, RFC 3516 §4.4; and RFC 6855 §4's `"UTF8" SP "(" literal8
 * ")"`), url = "URL" SP astring.
 */
function parseCatParts(r: ArgReader): CatPart[] {
  const parts: CatPart[] = [];
  for (;;) {
    if (parts.length >= MAX_CAT_PARTS) throw new ParseError(`More than ${MAX_CAT_PARTS} CATENATE parts`);
    if (r.maybeKeyword('TEXT ')) {
      if (!r.atLiteral()) throw new ParseError('CATENATE TEXT needs a literal');
      const binary = r.literalIsBinary();
      parts.push({ kind: 'text', bytes: r.literal(), binary, utf8: false });
    } else if (r.maybeKeyword('UTF8 (')) {
      if (!r.atLiteral() || !r.literalIsBinary()) throw new ParseError('CATENATE UTF8 needs a literal8');
      parts.push({ kind: 'text', bytes: r.literal(), binary: true, utf8: true });
      r.expect(')');
    } else if (r.maybeKeyword('URL ')) {
      parts.push({ kind: 'url', url: utf8(r.astring(), 'URL') });
    } else throw new ParseError('CATENATE part must be TEXT, UTF8 or URL');
    if (r.maybe(')')) return parts;
    r.sp();
  }
}
