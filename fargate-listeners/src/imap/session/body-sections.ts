/**
 * BODY[section] and BINARY[section] addressing (RFC 9051 §6.4.5, RFC 3501 §6.4.5, RFC 3516):
 * part numbers → byte ranges of the stored message, from the MIME tree in the index. The bytes
 * themselves are read from the blob store by range; only HEADER.FIELDS of the top-level header
 * is served from the index's copy of the header block.
 */
import type { MessageMeta, MimePart } from '#core/mime/types.ts';
import type { Section } from '../protocol/requests.ts';

/**
 * The MIME node a part path names. In a non-multipart body, part 1 is the body itself; a
 * message/rfc822 part's sub-parts are those of the encapsulated message's body.
 */
export function findPart(root: MimePart, path: number[]): MimePart | null {
  let body = root;
  let part: MimePart | null = null;
  for (let i = 0; i < path.length; i++) {
    const n = path[i];
    if (body.type === 'multipart') part = body.children[n - 1] ?? null;
    else part = n === 1 ? body : null;
    if (!part) return null;
    if (i < path.length - 1) {
      if (part.message) body = part.message.body;
      else if (part.type === 'multipart') body = part;
      else return null;
    }
  }
  return part;
}

export type SectionPlan =
  /** Bytes [start, end) of the message. */
  | { kind: 'range'; start: number; end: number }
  /** HEADER.FIELDS[.NOT] of the header block [start, end). */
  | { kind: 'fields'; start: number; end: number; fields: string[]; not: boolean }
  /** The section does not exist (NIL). */
  | { kind: 'nil' };

export function planSection(meta: MessageMeta, size: number, section: Section): SectionPlan {
  const root = meta.mime;
  if (section.part.length === 0) {
    switch (section.text) {
      case null:
        return { kind: 'range', start: 0, end: size };
      case 'HEADER':
        return { kind: 'range', start: 0, end: root.bodyStart };
      case 'TEXT':
        return { kind: 'range', start: root.bodyStart, end: size };
      case 'HEADER.FIELDS':
      case 'HEADER.FIELDS.NOT':
        return { kind: 'fields', start: 0, end: root.bodyStart, fields: section.fields, not: section.text === 'HEADER.FIELDS.NOT' };
      default:
        return { kind: 'nil' };
    }
  }
  const part = findPart(root, section.part);
  if (!part) return { kind: 'nil' };
  switch (section.text) {
    case null:
      return { kind: 'range', start: part.bodyStart, end: part.bodyEnd };
    case 'MIME':
      return { kind: 'range', start: part.headerStart, end: part.bodyStart };
    default: {
      // HEADER, HEADER.FIELDS, TEXT of a part apply to an encapsulated message only.
      const msg = part.message?.body;
      if (!msg) return { kind: 'nil' };
      if (section.text === 'HEADER') return { kind: 'range', start: msg.headerStart, end: msg.bodyStart };
      if (section.text === 'TEXT') return { kind: 'range', start: msg.bodyStart, end: part.bodyEnd };
      return { kind: 'fields', start: msg.headerStart, end: msg.bodyStart, fields: section.fields, not: section.text === 'HEADER.FIELDS.NOT' };
    }
  }
}

/**
 * Quoted-printable decoding (RFC 2045 §6.7), lenient: bad escapes are kept as they are.
 * Rule 3: white space at the end of an encoded line was added in transport and is deleted
 * (white space before a soft line break's '=' is protected by it and kept); a soft line break
 * is '=' followed by optional white space and the line end.
 */
export function decodeQuotedPrintable(input: Buffer): Buffer {
  const out = Buffer.alloc(input.length);
  let o = 0;
  const hex = (c: number) => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1);
  const isWsp = (c: number | undefined) => c === 0x20 || c === 0x09;
  /** Whether position j (after a run of white space) is a line end or the end of the input. */
  const lineEndAt = (j: number) => j >= input.length || input[j] === 0x0a || (input[j] === 0x0d && input[j + 1] === 0x0a);
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (isWsp(c)) {
      let j = i + 1;
      while (isWsp(input[j])) j++;
      if (lineEndAt(j)) {
        // Trailing white space: dropped; the line end itself is copied by the next round.
        i = j - 1;
        continue;
      }
      input.copy(out, o, i, j);
      o += j - i;
      i = j - 1;
      continue;
    }
    if (c !== 0x3d) {
      out[o++] = c;
      continue;
    }
    // Soft line break: '=' followed by optional white space and CRLF/LF (or the end of the input).
    let j = i + 1;
    while (isWsp(input[j])) j++;
    if (lineEndAt(j)) {
      i = j >= input.length ? j : input[j] === 0x0d ? j + 1 : j;
      continue;
    }
    const h = hex(input[i + 1] ?? -1);
    const l = hex(input[i + 2] ?? -1);
    if (h >= 0 && l >= 0) {
      out[o++] = (h << 4) | l;
      i += 2;
    } else out[o++] = c;
  }
  return out.subarray(0, o);
}

/** Decodes a part body per its Content-Transfer-Encoding; null for an unknown encoding. */
export function decodeTransfer(body: Buffer, encoding: string): Buffer | null {
  switch (encoding.toUpperCase()) {
    case '7BIT':
    case '8BIT':
    case 'BINARY':
    case '':
      return body;
    case 'BASE64':
      return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
    case 'QUOTED-PRINTABLE':
      return decodeQuotedPrintable(body);
    default:
      return null;
  }
}
