/**
 * Header blocks as bytes (RFC 5322 §2.2, §3.2.2; RFC 3501 §6.4.5).
 *
 * A header block is split into fields by byte offsets so that IMAP can return fields
 * byte-exact (original folding and line endings) and the MIME scanner never has to decode
 * the message into a string. Rules, lenient the way IMAP servers are:
 * - a line ends at LF; a preceding CR is part of the line terminator (bare LF is accepted);
 * - the block ends at the first empty line ("" or a lone CR before the LF), or at the end
 *   of the given range (a message without a header/body separator is all header);
 * - a line starting with SP or HTAB continues the previous field (folding, §2.2.3);
 * - a field name is printable US-ASCII other than ':' and SP (§3.6.8 ftext), optionally
 *   followed by WSP before the colon (obs-optional, §4.5); any other line (an mbox
 *   "From " line, garbage, 8-bit junk) is not a field and is skipped, as are its
 *   continuation lines.
 */
import { isUtf8 } from 'node:buffer';

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const DASH = 0x2d;

export interface HeaderField {
  /** The field name as written (latin1), without trailing WSP. */
  name: string;
  /** The name lower-cased, for lookups. */
  key: string;
  /** Offset of the field's first byte. */
  start: number;
  /** Offset just after the colon. */
  valueStart: number;
  /** Offset one past the field's last line terminator (folded lines included). */
  end: number;
}

/**
 * Splits the header block that begins at `start` into fields. Stops at the blank line that
 * ends the block or at `end`. Offsets are into `buf`.
 */
export function parseHeaderFields(buf: Buffer, start = 0, end = buf.length): HeaderField[] {
  return scanHeaderBlock(buf, start, end).fields;
}

/**
 * `raw` without the top-level header fields `drop` chooses (by their lower-case name and
 * offsets), and how many went; `raw` itself when none did. The one way fields are taken out of
 * a stored or relayed message (Return-Path, Bcc:, forged Authentication-Results, a sender's
 * spam headers).
 */
export function withoutHeaderFields(raw: Buffer, drop: (field: HeaderField) => boolean): { message: Buffer; removed: number } {
  const gone = parseHeaderFields(raw).filter(drop);
  if (gone.length === 0) return { message: raw, removed: 0 };
  const parts: Buffer[] = [];
  let from = 0;
  for (const f of gone) {
    parts.push(raw.subarray(from, f.start));
    from = f.end;
  }
  parts.push(raw.subarray(from));
  return { message: Buffer.concat(parts), removed: gone.length };
}

export interface HeaderScan {
  fields: HeaderField[];
  /** Offset just after the blank line ending the block, or where the scan stopped. */
  end: number;
  /** Offset of the line for which `stopAt` returned true (not part of the block), or -1. */
  stoppedAt: number;
}

/**
 * One pass over a header block: its fields and where it ends. `stopAt`, when given, is
 * asked about every line that starts with '-' and ends the block before that line when it
 * returns true (the MIME scanner uses it for delimiter lines of enclosing multiparts).
 * At most `maxFields` fields are returned (later ones are skipped, the block still ends at
 * the right place), which bounds memory on hostile headers.
 */
export function scanHeaderBlock(
  buf: Buffer,
  start: number,
  end: number,
  stopAt?: (lineStart: number) => boolean,
  maxFields = Number.MAX_SAFE_INTEGER,
): HeaderScan {
  const fields: HeaderField[] = [];
  let current: HeaderField | null = null;
  let p = start;
  while (p < end) {
    const first = buf[p];
    // Empty line: LF alone or CR LF. It ends the block.
    if (first === LF) return { fields, end: p + 1, stoppedAt: -1 };
    if (first === CR && p + 1 < end && buf[p + 1] === LF) return { fields, end: p + 2, stoppedAt: -1 };
    if (first === DASH && stopAt !== undefined && stopAt(p)) return { fields, end: p, stoppedAt: p };
    const nl = buf.indexOf(LF, p);
    const lineEnd = nl < 0 || nl >= end ? end : nl + 1;
    if (first === SP || first === HTAB) {
      if (current !== null) current.end = lineEnd;
      p = lineEnd;
      continue;
    }
    current = null;
    if (fields.length >= maxFields) {
      p = lineEnd;
      continue;
    }
    // A UTF-8 byte order mark before the first field (some Windows tools write one) is
    // not part of the field name; the field still starts at the mark.
    const nameStart = p === start && p + 3 <= end && buf[p] === 0xef && buf[p + 1] === 0xbb && buf[p + 2] === 0xbf ? p + 3 : p;
    const colon = findFieldColon(buf, nameStart, lineEnd);
    if (colon >= 0) {
      let nameEnd = colon;
      while (nameEnd > nameStart && (buf[nameEnd - 1] === SP || buf[nameEnd - 1] === HTAB)) nameEnd--;
      const name = buf.toString('latin1', nameStart, nameEnd);
      current = { name, key: name.toLowerCase(), start: p, valueStart: colon + 1, end: lineEnd };
      fields.push(current);
    }
    p = lineEnd;
  }
  return { fields, end, stoppedAt: -1 };
}

/** The colon ending a valid field name on the line [p, lineEnd), or -1. */
function findFieldColon(buf: Buffer, p: number, lineEnd: number): number {
  let q = p;
  while (q < lineEnd) {
    const c = buf[q];
    if (c === COLON) return q > p ? q : -1;
    if (c === SP || c === HTAB) {
      // Only WSP may follow the name before the colon (obs-optional).
      let r = q;
      while (r < lineEnd && (buf[r] === SP || buf[r] === HTAB)) r++;
      return r < lineEnd && buf[r] === COLON && q > p ? r : -1;
    }
    if (c < 33 || c > 126) return -1;
    q++;
  }
  return -1;
}

/** The first field with this name (case-insensitive), or undefined. */
export function firstField(fields: readonly HeaderField[], name: string): HeaderField | undefined {
  const key = name.toLowerCase();
  for (const f of fields) if (f.key === key) return f;
  return undefined;
}

/**
 * Header text as a string: UTF-8 when the bytes are valid UTF-8 (RFC 6532), else latin1,
 * so no byte is ever lost or replaced.
 */
export function decodeHeaderBytes(bytes: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (ascii || !isUtf8(b)) return b.toString('latin1');
  return b.toString('utf8');
}

/** Removes the line breaks of folding (RFC 5322 §2.2.3): every CR and LF goes, WSP stays. */
export function unfold(value: string): string {
  return value.replace(/[\r\n]/g, '');
}

/** Trims SP and HTAB (not other whitespace: NBSP etc. are content). */
export function trimWsp(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === SP || s.charCodeAt(a) === HTAB)) a++;
  while (b > a && (s.charCodeAt(b - 1) === SP || s.charCodeAt(b - 1) === HTAB)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** A field's value unfolded and trimmed, decoded per decodeHeaderBytes. */
export function fieldValue(buf: Buffer, field: HeaderField): string {
  return trimWsp(unfold(decodeHeaderBytes(buf.subarray(field.valueStart, field.end))));
}

/** A field's value unfolded and trimmed, one char per byte (for MIME syntax parsing). */
export function fieldValueLatin1(buf: Buffer, field: HeaderField): string {
  return trimWsp(unfold(buf.toString('latin1', field.valueStart, field.end)));
}

/**
 * RFC 3501 §6.4.5 BODY[HEADER.FIELDS (names)] / BODY[HEADER.FIELDS.NOT (names)]: the
 * matching fields of `headerBlock`, byte-exact in their original order (folding and line
 * endings kept), followed by the blank line that ends a header. With no match, just the
 * blank line. The blank line uses the block's own line ending (CRLF, or LF for a bare-LF
 * block); a last field cut off without a line terminator gets one first.
 */
export function selectHeaderFields(headerBlock: Buffer, names: readonly string[], not: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const fields = parseHeaderFields(headerBlock, 0, headerBlock.length);
  const eol = lineEndingOf(headerBlock);
  const chunks: Buffer[] = [];
  for (const f of fields) {
    if (wanted.has(f.key) === not) continue;
    chunks.push(headerBlock.subarray(f.start, f.end));
    if (headerBlock[f.end - 1] !== LF) chunks.push(eol);
  }
  chunks.push(eol);
  return Buffer.concat(chunks);
}

const CRLF_BYTES = Buffer.from('\r\n', 'latin1');
const LF_BYTES = Buffer.from('\n', 'latin1');

/** CRLF, or LF when the block's first line ends with a bare LF. */
function lineEndingOf(block: Buffer): Buffer {
  const nl = block.indexOf(LF);
  if (nl < 0) return CRLF_BYTES;
  return nl > 0 && block[nl - 1] === CR ? CRLF_BYTES : LF_BYTES;
}
