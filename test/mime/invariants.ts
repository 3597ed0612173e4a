/**
 * Structural checks every MessageMeta must pass, whatever the input (used by the hand-made,
 * corpus and fuzz tests). Throws an Error naming the first broken rule.
 */
import { indexMessage, MAX_DEPTH } from '#core/mime/index-message.ts';
import { META_HEADER_LIMIT } from '#core/mime/types.ts';
import type { MessageMeta, MimePart } from '#core/mime/types.ts';

export function countLf(raw: Buffer, a: number, b: number): number {
  let n = 0;
  for (let i = a; i < b; i++) if (raw[i] === 0x0a) n++;
  return n;
}

function fail(msg: string, p?: MimePart): never {
  const where = p ? ` [${p.type}/${p.subtype} h=${p.headerStart} b=${p.bodyStart}-${p.bodyEnd}]` : '';
  throw new Error(msg + where);
}

/** The content of the line starting at `ls` (without its line ending). */
function lineAt(raw: Buffer, ls: number): Buffer {
  let e = raw.indexOf(0x0a, ls);
  if (e < 0) e = raw.length;
  if (e > ls && raw[e - 1] === 0x0d) e--;
  return raw.subarray(ls, e);
}

/** Offset of the start of the line that ends just before `p` (p is a line start). */
function previousLineStart(raw: Buffer, p: number): number {
  let i = p - 2;
  while (i >= 0 && raw[i] !== 0x0a) i--;
  return i + 1;
}

export interface TreeStats {
  parts: number;
  depth: number;
}

export function checkInvariants(raw: Buffer, meta: MessageMeta, opts: { reslice?: boolean } = {}): TreeStats {
  if (meta.size !== raw.length) fail(`size ${meta.size} != ${raw.length}`);
  const root = meta.mime;
  if (root.headerStart !== 0) fail('root headerStart != 0', root);
  const headerLen = root.bodyStart;
  if (headerLen <= META_HEADER_LIMIT) {
    if (meta.header !== raw.toString('latin1', 0, headerLen)) fail('header is not raw[0, bodyStart)');
  } else if (meta.header !== null) {
    fail('header over the limit must be null');
  }
  const stats: TreeStats = { parts: 0, depth: 0 };
  const visit = (p: MimePart, depth: number, parentBoundary: Buffer | null): void => {
    stats.parts++;
    stats.depth = Math.max(stats.depth, depth);
    if (!(0 <= p.headerStart && p.headerStart <= p.bodyStart && p.bodyStart <= p.bodyEnd && p.bodyEnd <= raw.length)) {
      fail('offsets not monotone / out of bounds', p);
    }
    if (p.size !== p.bodyEnd - p.bodyStart) fail('size != bodyEnd - bodyStart', p);
    if (p.lines !== countLf(raw, p.bodyStart, p.bodyEnd)) fail(`lines ${p.lines} != LF count`, p);
    const token = /^[!-~]+$/; // RFC 2045 token characters, printable US-ASCII
    if (!token.test(p.type) || !token.test(p.subtype) || /[A-Z]/.test(p.type + p.subtype)) {
      fail('type/subtype empty, not a token or not lower-case', p);
    }
    if (p.encoding === '' || p.encoding !== p.encoding.toUpperCase()) fail('encoding not upper-case', p);
    for (const [k] of p.params) if (k !== k.toLowerCase()) fail('param name not lower-case', p);
    if (p.type !== 'multipart' && p.children.length > 0) fail('non-multipart with children', p);
    if (p.message !== null) {
      if (p.type !== 'message') fail('message set on a non-message part', p);
      const m = p.message.body;
      if (m.headerStart !== p.bodyStart || m.bodyEnd !== p.bodyEnd) fail('enclosed message does not span the body', p);
      visit(m, depth + 1, null);
    }
    // A part inside a multipart starts just after a delimiter line of its parent.
    if (parentBoundary !== null) {
      const ls = previousLineStart(raw, p.headerStart);
      const line = lineAt(raw, ls);
      if (!line.subarray(0, 2 + parentBoundary.length).equals(Buffer.concat([Buffer.from('--'), parentBoundary]))) {
        fail(`part does not follow a delimiter line (${JSON.stringify(line.toString('latin1').slice(0, 80))})`, p);
      }
    }
    let prevEnd = p.bodyStart;
    const bparam = p.params.find(([k]) => k === 'boundary');
    const boundary = bparam && /^[^\u0080-\uffff]+$/.test(bparam[1]) ? Buffer.from(bparam[1], 'latin1') : null;
    for (const c of p.children) {
      if (c.headerStart < prevEnd) fail('children overlap or lie before the body', c);
      if (c.bodyEnd > p.bodyEnd) fail('child ends after its multipart body', c);
      // After a child's body: the end of the multipart's body, or the line ending that
      // belongs to the next delimiter line, or (empty body) the delimiter line itself.
      let at = c.bodyEnd;
      if (at !== p.bodyEnd) {
        if (raw[at] === 0x0d && raw[at + 1] === 0x0a) at += 2;
        else if (raw[at] === 0x0a) at += 1;
        if (raw[at] !== 0x2d || raw[at + 1] !== 0x2d) fail('child body not followed by a delimiter line', c);
      }
      prevEnd = c.bodyEnd;
      visit(c, depth + 1, boundary);
    }
    // (Skipped for parts without any header line: opaque beyond-limit leaves.)
    if (opts.reslice && p.type !== 'multipart' && p.message === null && p.headerStart < p.bodyStart) {
      // Re-indexing the part's own bytes alone gives the same header/body split and type.
      const sub = raw.subarray(p.headerStart, p.bodyEnd);
      const alone = indexMessage(sub).mime;
      const cutHeader = p.bodyStart === p.bodyEnd && !endsWithBlankLine(raw, p.headerStart, p.bodyStart);
      if (!cutHeader && alone.bodyStart !== p.bodyStart - p.headerStart) fail('re-sliced header length differs', p);
      if (!cutHeader && (alone.type !== p.type || alone.subtype !== p.subtype) && !(p.type === 'message')) {
        fail(`re-sliced type ${alone.type}/${alone.subtype}`, p);
      }
    }
  };
  visit(root, 0, null);
  if (stats.depth > 2 * MAX_DEPTH + 2) fail(`depth ${stats.depth} over the limit`);
  return stats;
}

function endsWithBlankLine(raw: Buffer, a: number, b: number): boolean {
  if (b - a >= 1 && raw[b - 1] === 0x0a) {
    if (b - a === 1) return true;
    if (raw[b - 2] === 0x0a) return true;
    if (raw[b - 2] === 0x0d && (b - a === 2 || raw[b - 3] === 0x0a)) return true;
  }
  return false;
}
