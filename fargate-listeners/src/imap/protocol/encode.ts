/**
 * Writing IMAP data items (RFC 9051 §4, §9): strings as atom, quoted or literal, NIL, flag
 * lists, dates. A response is built as a list of chunks — ASCII/UTF-8 text and raw byte
 * Buffers — so that message bytes go to the client exactly as stored, never re-encoded.
 */

export type Chunk = string | Buffer;

export interface EncodeOptions {
  /** UTF-8 allowed in quoted strings (IMAP4rev2 / UTF8=ACCEPT enabled, RFC 9051 §4.3). */
  utf8: boolean;
}

/** Longest string sent quoted; longer ones go as literals (easier on clients). */
const MAX_QUOTED = 1024;

function canQuote(bytes: Buffer, utf8: boolean): boolean {
  if (bytes.length > MAX_QUOTED) return false;
  let high = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0x00 || c === 0x0a || c === 0x0d) return false;
    if (c >= 0x80) high = true;
  }
  if (high && (!utf8 || !isValidUtf8(bytes))) return false;
  return true;
}

function isValidUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * A literal: `{n}` CRLF bytes. A literal carries CHAR8, which excludes NUL (RFC 3501 §9,
 * RFC 9051 §9 `literal = "{" number64 ["+"] "}" CRLF *CHAR8`), yet stored messages may hold
 * NULs: each 0x00 is sent as 0x80, as Dovecot does, so the length (RFC822.SIZE, partial
 * offsets) is unchanged. Content that must keep its NULs goes as literal8 (BINARY, RFC 3516).
 */
export function literal(bytes: Buffer): Chunk[] {
  return [`{${bytes.length}}\r\n`, withoutNul(bytes)];
}

/** The bytes with every NUL replaced by 0x80 (a copy only when there is a NUL). */
export function withoutNul(bytes: Buffer): Buffer {
  let i = bytes.indexOf(0);
  if (i < 0) return bytes;
  const copy = Buffer.from(bytes);
  while (i >= 0) {
    copy[i] = 0x80;
    i = copy.indexOf(0, i + 1);
  }
  return copy;
}

/** Printable ASCII without quoted-specials: quoted as is (the fast, common case). */
const PLAIN_QUOTABLE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
/** Printable ASCII that needs escapes. */
const ASCII_QUOTABLE = /^[\x20-\x7e]*$/;

/** string = quoted / literal, choosing quoted when the bytes allow it. */
export function stringChunks(value: string | Buffer, opts: EncodeOptions): Chunk[] {
  if (typeof value === 'string' && value.length <= MAX_QUOTED) {
    if (PLAIN_QUOTABLE.test(value)) return ['"' + value + '"'];
    if (ASCII_QUOTABLE.test(value)) return ['"' + value.replace(/[\\"]/g, (m) => '\\' + m) + '"'];
  }
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (canQuote(bytes, opts.utf8)) {
    let s = '"';
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i];
      if (c === 0x22 || c === 0x5c) s += '\\';
      s += String.fromCharCode(c);
    }
    s += '"';
    // Non-ASCII only reaches here as valid UTF-8: send those bytes unchanged.
    return [/[\u0080-\u00ff]/.test(s) ? Buffer.from(s, 'latin1') : s];
  }
  return literal(bytes);
}

/**
 * Like nstringChunks, appended to `out`: the common case (NIL, or printable ASCII quoted as is)
 * without a chunk array of its own (FETCH ENVELOPE of a whole mailbox writes ~20 a message).
 */
export function pushNstring(out: Chunk[], value: string | Buffer | null | undefined, opts: EncodeOptions): void {
  if (value === null || value === undefined) out.push('NIL');
  else if (typeof value === 'string' && value.length <= MAX_QUOTED && PLAIN_QUOTABLE.test(value)) out.push('"' + value + '"');
  else for (const c of stringChunks(value, opts)) out.push(c);
}

export function nstringChunks(value: string | Buffer | null | undefined, opts: EncodeOptions): Chunk[] {
  if (value === null || value === undefined) return ['NIL'];
  return stringChunks(value, opts);
}

/** A quoted ASCII string (caller guarantees no CR/LF/8-bit); escapes `"` and `\`. */
export function quote(s: string): string {
  return '"' + s.replace(/[\\"]/g, (m) => '\\' + m) + '"';
}

export function flagList(flags: Iterable<string>): string {
  return '(' + [...flags].join(' ') + ')';
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE, in UTC. */
export function formatInternalDate(epochMs: number): string {
  const d = new Date(epochMs);
  const day = String(d.getUTCDate()).padStart(2, ' ');
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `"${day}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000"`;
}

export function monthIndex(name: string): number {
  return MONTHS.findIndex((m) => m.toLowerCase() === name.toLowerCase());
}

/** Concatenates chunks into one Buffer (strings as UTF-8). */
export function chunksToBuffer(chunks: Chunk[]): Buffer {
  return Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)));
}
