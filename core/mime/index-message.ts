/**
 * The MIME index of a stored message: one byte-exact pass over the raw bytes at
 * ingest/APPEND, producing the part tree with exact offsets, the envelope and the header
 * block (types.ts: MessageMeta). The IMAP engine answers ENVELOPE, BODYSTRUCTURE,
 * BODY[section] and RFC822.SIZE from this without re-parsing.
 *
 * Implementation notes (rules every change must keep):
 * - Offsets are byte offsets into `raw`. The message is never decoded as a whole; header
 *   fields are decoded one at a time (header.ts).
 * - Lines end at LF; CRLF and bare LF are both line endings (bare CR is not).
 * - Header block: up to and including the first empty line. Without one the part is all
 *   header and its body is empty (bodyStart = bodyEnd = end of header). Inside a
 *   multipart, a delimiter line of an enclosing boundary also ends the header; the line
 *   ending before it belongs to the delimiter, so the header stops before it and the body
 *   is empty (as Dovecot does).
 * - Delimiter lines (RFC 2046 §5.1.1): "--" boundary, then optionally "--" (close
 *   delimiter), then only linear whitespace up to the line end. A longer boundary that
 *   merely starts with an enclosing one (boundary-prefix overlap) is therefore not mistaken
 *   for it. Every enclosing multipart's boundary is recognised at every level; when
 *   several match, the longest wins, then the innermost. The CRLF (or LF) preceding a
 *   delimiter line belongs to the delimiter, not to the body before it.
 * - Missing close delimiter: the multipart (and its last part) runs to the end of the
 *   enclosing body: the next delimiter of an enclosing multipart, or the end of the
 *   message. The preamble and epilogue belong to the multipart's body but to no child.
 * - Defaults (RFC 2045 §5.2): no or invalid Content-Type means text/plain;
 *   charset=us-ascii, except inside multipart/digest where it means message/rfc822
 *   (RFC 2046 §5.1.5). A multipart without a usable boundary has no children; its body is
 *   opaque (the IMAP engine writes a zero-part multipart the way Dovecot and Cyrus do, as
 *   an empty text/plain).
 * - message/rfc822 and message/global: the body is parsed as a message whatever its
 *   Content-Transfer-Encoding (as Dovecot does; RFC 2046 §5.2.1 allows only 7bit, 8bit
 *   and binary), so `message` is always set and BODYSTRUCTURE stays well formed.
 * - Limits: nesting depth MAX_DEPTH and MAX_PARTS parts. Beyond them a multipart is
 *   opaque (no children), a message/rfc822 encloses one opaque text/plain leaf covering
 *   its whole body, and further delimiters of an exhausted multipart are skipped. Header
 *   fields past MAX_FIELDS_PER_HEADER in one block (or MAX_FIELDS_TOTAL in the message)
 *   are not looked at for the envelope and Content-* fields; the block still ends at the
 *   right place. Work is linear in the message size.
 * - `lines` is the number of LF octets in [bodyStart, bodyEnd), for every part: what
 *   Dovecot (message-parser.c counts '\n' in body blocks; the boundary's line ending is
 *   not part of the body) and Cyrus (message.c counts lines ending in '\n', minus the one
 *   whose CRLF goes to the boundary) both report in BODYSTRUCTURE. A last line without a
 *   terminator is not counted.
 */
import type { Envelope, MessageMeta, MimePart } from './types.ts';
import { META_HEADER_LIMIT } from './types.ts';
import type { HeaderField } from './header.ts';
import { fieldValue, fieldValueLatin1, firstField, scanHeaderBlock } from './header.ts';
import { parseContentType, parseDisposition, parseLanguage, parseTransferEncoding } from './content-fields.ts';
import { envelopeFromFields } from './envelope.ts';

export const MAX_DEPTH = 50;
export const MAX_PARTS = 10_000;
/** Header fields looked at per header block, and in the whole message (memory bound). */
export const MAX_FIELDS_PER_HEADER = 5_000;
export const MAX_FIELDS_TOTAL = 200_000;

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
const NL_DASH_DASH = Buffer.from('\n--', 'latin1');

/** A delimiter line found while scanning. */
interface Delimiter {
  /** Index of the boundary in the stack of open multiparts (0 = outermost). */
  level: number;
  close: boolean;
  /** Offset of the line's first '-'. */
  lineStart: number;
  /** Offset where the line's terminator starts (or the end of the message). */
  contentEnd: number;
  /** Offset just after the line's LF (or the end of the message). */
  lineEnd: number;
  /** Where the body before this delimiter ends (before the line ending that precedes it). */
  bodyEnd: number;
}

interface Parsed {
  part: MimePart;
  fields: HeaderField[];
  /** What ended this part: a delimiter of an enclosing multipart, or null for end of data. */
  term: Delimiter | null;
}

function emptyEnvelope(): Envelope {
  return {
    date: null,
    subject: null,
    from: null,
    sender: null,
    replyTo: null,
    to: null,
    cc: null,
    bcc: null,
    inReplyTo: null,
    messageId: null,
  };
}

class Scanner {
  readonly buf: Buffer;
  readonly len: number;
  /** Boundaries of the open multiparts, outermost first. */
  readonly stack: Buffer[] = [];
  partCount = 0;
  fieldCount = 0;

  constructor(buf: Buffer) {
    this.buf = buf;
    this.len = buf.length;
  }

  /**
   * Is the line at `ls` a delimiter of an open multipart? (see file comment) The text after
   * "--", without trailing whitespace, must be exactly a boundary, or a boundary and "--";
   * so only boundaries of those two lengths are compared.
   */
  matchLine(ls: number): Delimiter | null {
    const { buf, len, stack } = this;
    if (ls + 1 >= len || buf[ls] !== DASH || buf[ls + 1] !== DASH) return null;
    const nl = buf.indexOf(LF, ls + 2);
    const q = nl < 0 ? len : nl;
    const s = ls + 2;
    let e = q;
    while (e > s && (buf[e - 1] === 0x20 || buf[e - 1] === 0x09 || buf[e - 1] === CR)) e--;
    const t = e - s;
    const closeMark = t >= 2 && buf[e - 1] === DASH && buf[e - 2] === DASH;
    let best = -1;
    let close = false;
    for (let k = stack.length - 1; k >= 0; k--) {
      const b = stack[k];
      const isOpen = b.length === t;
      const isClose = closeMark && b.length === t - 2;
      if (!isOpen && !isClose) continue;
      if (best >= 0 && stack[best].length >= b.length) continue;
      if (!sameBytes(buf, s, b)) continue;
      best = k;
      close = !isOpen;
    }
    if (best < 0) return null;
    const contentEnd = nl < 0 ? len : nl > s && buf[nl - 1] === CR ? nl - 1 : nl;
    return { level: best, close, lineStart: ls, contentEnd, lineEnd: nl < 0 ? len : nl + 1, bodyEnd: ls };
  }

  /** Length of the line ending just before offset `p` (0, 1 for LF, 2 for CRLF). */
  eolBefore(p: number): number {
    const { buf } = this;
    if (p < 1 || buf[p - 1] !== LF) return 0;
    return p >= 2 && buf[p - 2] === CR ? 2 : 1;
  }

  /**
   * The next delimiter line of any open multipart at or after the line starting at `from`;
   * null at the end of the data. The body before it ends before the line ending that
   * precedes the delimiter, but never before `floor`.
   */
  findDelimiter(from: number, floor: number = from): Delimiter | null {
    if (this.stack.length === 0 || from >= this.len) return null;
    const { buf } = this;
    let d = this.matchLine(from);
    let pos = from;
    while (d === null) {
      const i = buf.indexOf(NL_DASH_DASH, pos);
      if (i < 0) return null;
      d = this.matchLine(i + 1);
      pos = i + 1;
    }
    d.bodyEnd = Math.max(floor, d.lineStart - this.eolBefore(d.lineStart));
    return d;
  }

  /**
   * The header block starting at `from` (header.ts rules), ended early by a delimiter line
   * of an open multipart: then the line ending before the delimiter belongs to the
   * delimiter, so the block ends before it, and `cut` is that delimiter.
   */
  scanHeader(from: number): { fields: HeaderField[]; end: number; cut: Delimiter | null } {
    let cut: Delimiter | null = null;
    const stopAt =
      this.stack.length === 0
        ? undefined
        : (p: number): boolean => {
            cut = this.matchLine(p);
            return cut !== null;
          };
    const budget = Math.max(0, Math.min(MAX_FIELDS_PER_HEADER, MAX_FIELDS_TOTAL - this.fieldCount));
    const scan = scanHeaderBlock(this.buf, from, this.len, stopAt, budget);
    this.fieldCount += scan.fields.length;
    if (scan.stoppedAt < 0 || cut === null) return { fields: scan.fields, end: scan.end, cut: null };
    const d: Delimiter = cut;
    const end = Math.max(from, scan.stoppedAt - this.eolBefore(scan.stoppedAt));
    d.bodyEnd = end;
    return { fields: scan.fields, end, cut: d };
  }

  /** Parses the entity (header + body) starting at `start`. */
  entity(start: number, digestParent: boolean, depth: number): Parsed {
    this.partCount++;
    const { buf } = this;
    const h = this.scanHeader(start);
    const fields = h.fields;
    const { part, boundary } = this.describe(fields, start, h.end, digestParent);

    if (h.cut !== null) {
      // Header cut short by a delimiter: empty body.
      if (isMessage(part)) part.message = { envelope: emptyEnvelope(), body: this.opaqueLeaf(h.end, h.end) };
      return { part, fields, term: h.cut };
    }

    const withinLimits = depth < MAX_DEPTH && this.partCount < MAX_PARTS;
    let term: Delimiter | null;
    if (part.type === 'multipart' && boundary !== null && withinLimits) {
      term = this.multipartBody(part, boundary, depth);
    } else if (isMessage(part)) {
      if (withinLimits) {
        const inner = this.entity(part.bodyStart, false, depth + 1);
        part.message = { envelope: envelopeFromFields(buf, inner.fields), body: inner.part };
        part.bodyEnd = inner.part.bodyEnd;
        term = inner.term;
      } else {
        term = this.findDelimiter(part.bodyStart);
        part.bodyEnd = term === null ? this.len : term.bodyEnd;
        part.message = { envelope: emptyEnvelope(), body: this.opaqueLeaf(part.bodyStart, part.bodyEnd) };
      }
    } else {
      term = this.findDelimiter(part.bodyStart);
      part.bodyEnd = term === null ? this.len : term.bodyEnd;
    }
    return { part, fields, term };
  }

  /**
   * Body of a multipart: preamble, parts, close delimiter, epilogue (RFC 2046 §5.1.1).
   * Returns the enclosing delimiter that ended it, or null at the end of the data.
   */
  multipartBody(part: MimePart, boundary: Buffer, depth: number): Delimiter | null {
    const level = this.stack.length;
    this.stack.push(boundary);
    const digest = part.subtype === 'digest';
    let term = this.findDelimiter(part.bodyStart);
    for (;;) {
      if (term === null || term.level < level) {
        // End of data or an enclosing delimiter: this multipart had no close delimiter.
        this.stack.length = level;
        part.bodyEnd = term === null ? this.len : term.bodyEnd;
        return term;
      }
      if (term.close) {
        // Epilogue: runs to the enclosing delimiter or the end of the data.
        this.stack.length = level;
        const next = this.findDelimiter(term.lineEnd, term.contentEnd);
        part.bodyEnd = next === null ? this.len : next.bodyEnd;
        return next;
      }
      if (this.partCount >= MAX_PARTS) {
        term = this.findDelimiter(term.lineEnd);
        continue;
      }
      const child = this.entity(term.lineEnd, digest, depth + 1);
      part.children.push(child.part);
      term = child.term;
    }
  }

  /** A text/plain leaf over [start, end) with no header (beyond-limit content). */
  opaqueLeaf(start: number, end: number): MimePart {
    return {
      headerStart: start,
      bodyStart: start,
      bodyEnd: end,
      type: 'text',
      subtype: 'plain',
      params: [['charset', 'us-ascii']],
      id: null,
      description: null,
      encoding: '7BIT',
      size: 0,
      lines: 0,
      md5: null,
      disposition: null,
      language: null,
      location: null,
      children: [],
      message: null,
    };
  }

  /** The MimePart fields that come from the header (RFC 2045 §§5-8, RFC 2183, 3282, 2557). */
  describe(fields: HeaderField[], headerStart: number, bodyStart: number, digestParent: boolean): { part: MimePart; boundary: Buffer | null } {
    const { buf } = this;
    const get = (name: string): HeaderField | undefined => firstField(fields, name);
    const text = (name: string): string | null => {
      const f = get(name);
      return f === undefined ? null : fieldValue(buf, f);
    };
    const ctField = get('content-type');
    const ct = ctField === undefined ? null : parseContentType(fieldValueLatin1(buf, ctField));
    let type: string;
    let subtype: string;
    let params: Array<[string, string]> = ct === null ? [] : ct.params;
    if (ct !== null && ct.type !== '') {
      type = ct.type;
      subtype = ct.subtype;
    } else if (digestParent) {
      type = 'message';
      subtype = 'rfc822';
    } else {
      type = 'text';
      subtype = 'plain';
      if (!params.some(([k]) => k === 'charset')) params = [['charset', 'us-ascii'], ...params];
    }
    const cte = get('content-transfer-encoding');
    const disp = get('content-disposition');
    const lang = get('content-language');
    const part: MimePart = {
      headerStart,
      bodyStart,
      bodyEnd: bodyStart,
      type,
      subtype,
      params,
      id: text('content-id'),
      description: text('content-description'),
      encoding: parseTransferEncoding(cte === undefined ? null : fieldValueLatin1(buf, cte)),
      size: 0,
      lines: 0,
      md5: text('content-md5'),
      disposition: disp === undefined ? null : parseDisposition(fieldValueLatin1(buf, disp)),
      language: lang === undefined ? null : parseLanguage(fieldValueLatin1(buf, lang)),
      location: text('content-location'),
      children: [],
      message: null,
    };
    return { part, boundary: ct === null ? null : ct.boundary };
  }
}

function sameBytes(buf: Buffer, at: number, b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (buf[at + i] !== b[i]) return false;
  return true;
}

function isMessage(part: MimePart): boolean {
  return part.type === 'message' && (part.subtype === 'rfc822' || part.subtype === 'global');
}

/** Every part of the tree, depth first (children and enclosed messages). */
export function walkParts(root: MimePart, visit: (p: MimePart) => void): void {
  const todo: MimePart[] = [root];
  while (todo.length > 0) {
    const p = todo.pop() as MimePart;
    visit(p);
    if (p.message !== null) todo.push(p.message.body);
    for (let i = p.children.length - 1; i >= 0; i--) todo.push(p.children[i]);
  }
}

/** Sets size and lines of every part, with one pass over the bytes for all line counts. */
function fillSizes(buf: Buffer, root: MimePart): void {
  const parts: MimePart[] = [];
  walkParts(root, (p) => parts.push(p));
  const marks = new Set<number>();
  for (const p of parts) {
    p.size = p.bodyEnd - p.bodyStart;
    marks.add(p.bodyStart);
    marks.add(p.bodyEnd);
  }
  const sorted = [...marks].sort((a, b) => a - b);
  const lfBefore = new Map<number, number>();
  let count = 0;
  let pos = sorted.length > 0 ? sorted[0] : 0;
  for (const m of sorted) {
    for (let i = pos; i < m; i++) if (buf[i] === LF) count++;
    pos = m;
    lfBefore.set(m, count);
  }
  for (const p of parts) p.lines = (lfBefore.get(p.bodyEnd) as number) - (lfBefore.get(p.bodyStart) as number);
}

/** Indexes a raw message (RFC 5322 + MIME). Never throws on any input. */
export function indexMessage(raw: Buffer): MessageMeta {
  const scanner = new Scanner(raw);
  const top = scanner.entity(0, false, 0);
  fillSizes(raw, top.part);
  const headerLen = top.part.bodyStart;
  return {
    envelope: envelopeFromFields(raw, top.fields),
    mime: top.part,
    size: raw.length,
    header: headerLen <= META_HEADER_LIMIT ? raw.toString('latin1', 0, headerLen) : null,
  };
}
