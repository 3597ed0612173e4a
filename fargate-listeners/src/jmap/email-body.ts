/**
 * An Email's body as RFC 8621 §4.1.4 describes it, from the MIME tree the index keeps
 * (core/mime/index-message.ts, the one IMAP BODYSTRUCTURE uses): bodyStructure, the
 * textBody/htmlBody/attachments lists (the RFC's parseStructure algorithm, followed step by
 * step), body values decoded from their transfer encoding and charset, and the preview.
 */
import libmime from 'libmime';
import type { MimePart } from '#core/mime/types.ts';
import { decodeTransfer } from '../imap/session/body-sections.ts';
import { blobIdOfPart } from './ids.ts';

export interface JmapPart {
  part: MimePart;
  partId: string | null;
  type: string;
  name: string | null;
  disposition: string | null;
  subParts: JmapPart[] | null;
}

export const DEFAULT_BODY_PROPERTIES = ['partId', 'blobId', 'size', 'name', 'type', 'charset', 'disposition', 'cid', 'language', 'location'];
export const BODY_PROPERTIES = [...DEFAULT_BODY_PROPERTIES, 'headers', 'subParts'];

export function decodeWords(s: string | null): string | null {
  if (s === null) return null;
  try {
    return libmime.decodeWords(s);
  } catch {
    return s;
  }
}

function param(params: Array<[string, string]>, name: string): string | null {
  return params.find(([k]) => k === name)?.[1] ?? null;
}

/** The tree with IMAP section numbers as part ids (multipart containers have none, RFC 8621 §4.1.4). */
export function jmapTree(root: MimePart): JmapPart {
  const walk = (p: MimePart, section: string): JmapPart => {
    const type = `${p.type}/${p.subtype}`;
    const isMulti = p.type === 'multipart';
    const rawName = (p.disposition && param(p.disposition.params, 'filename')) ?? param(p.params, 'name');
    return {
      part: p,
      partId: isMulti ? null : section,
      type,
      name: decodeWords(rawName),
      disposition: p.disposition?.type.toLowerCase() ?? null,
      subParts: isMulti ? p.children.map((c, i) => walk(c, section === '' ? String(i + 1) : `${section}.${i + 1}`)) : null,
    };
  };
  // A single-part message's body is section 1 (RFC 3501 §6.4.5).
  return root.type === 'multipart' ? walk(root, '') : walk(root, '1');
}

function isInlineMediaType(type: string): boolean {
  return type.startsWith('image/') || type.startsWith('audio/') || type.startsWith('video/');
}

/** RFC 8621 §4.1.4 parseStructure, as written there. */
export function bodyLists(root: JmapPart): { textBody: JmapPart[]; htmlBody: JmapPart[]; attachments: JmapPart[] } {
  const textBody: JmapPart[] = [];
  const htmlBody: JmapPart[] = [];
  const attachments: JmapPart[] = [];
  const parse = (parts: JmapPart[], multipartType: string, inAlternative: boolean, html: JmapPart[] | null, text: JmapPart[] | null) => {
    const textLength = text ? text.length : -1;
    const htmlLength = html ? html.length : -1;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      const isMultipart = part.subParts !== null;
      const isInline =
        part.disposition !== 'attachment' &&
        (part.type === 'text/plain' || part.type === 'text/html' || isInlineMediaType(part.type)) &&
        (i === 0 || (multipartType !== 'related' && (isInlineMediaType(part.type) || !part.name)));
      if (isMultipart) {
        const sub = part.type.split('/')[1];
        parse(part.subParts!, sub, inAlternative || sub === 'alternative', html, text);
      } else if (isInline) {
        if (multipartType === 'alternative') {
          if (part.type === 'text/plain') text?.push(part);
          else if (part.type === 'text/html') html?.push(part);
          else attachments.push(part);
          continue;
        } else if (inAlternative) {
          if (part.type === 'text/plain') html = null;
          if (part.type === 'text/html') text = null;
        }
        text?.push(part);
        html?.push(part);
        if ((!text || !html) && isInlineMediaType(part.type)) attachments.push(part);
      } else {
        attachments.push(part);
      }
    }
    if (multipartType === 'alternative' && text && html) {
      if (textLength === text.length && htmlLength !== html.length) for (let i = htmlLength; i < html.length; i++) text.push(html[i]);
      if (htmlLength === html.length && textLength !== text.length) for (let i = textLength; i < text.length; i++) html.push(text[i]);
    }
  };
  parse([root], 'mixed', false, htmlBody, textBody);
  return { textBody, htmlBody, attachments };
}

/** The part headers as EmailHeader objects ({name, value} raw, RFC 8621 §4.1.2). */
export function rawHeaders(raw: Buffer, start: number, end: number): Array<{ name: string; value: string }> {
  const text = raw.toString('latin1', start, end);
  const out: Array<{ name: string; value: string }> = [];
  for (const line of text.split(/\r?\n(?![ \t])/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out.push({ name: line.slice(0, colon).trimEnd(), value: Buffer.from(line.slice(colon + 1), 'latin1').toString('utf8') });
  }
  return out;
}

export function partObject(p: JmapPart, blobKey: string, properties: readonly string[], raw: Buffer | null): Record<string, unknown> {
  const m = p.part;
  const all: Record<string, unknown> = {
    partId: p.partId,
    blobId: p.partId ? blobIdOfPart(blobKey, p.partId) : null,
    size: p.subParts ? 0 : m.size,
    name: p.name,
    type: p.type,
    charset: param(m.params, 'charset') ?? (m.type === 'text' ? 'us-ascii' : null),
    disposition: p.disposition,
    cid: m.id ? m.id.replace(/^\s*<|>\s*$/g, '') : null,
    language: m.language,
    location: m.location,
  };
  const out: Record<string, unknown> = {};
  for (const prop of properties) {
    if (prop === 'subParts') out.subParts = p.subParts ? p.subParts.map((c) => partObject(c, blobKey, properties, raw)) : null;
    else if (prop === 'headers') out.headers = raw ? rawHeaders(raw, m.headerStart, m.bodyStart) : [];
    else if (prop in all) out[prop] = all[prop];
  }
  return out;
}

/** A text part's content as a string: transfer decoding, then the charset (RFC 8621 §4.1.4 EmailBodyValue). */
export function decodePartText(raw: Buffer, part: MimePart): { value: string; isEncodingProblem: boolean } {
  const body = raw.subarray(part.bodyStart, Math.min(part.bodyEnd, raw.length));
  const decoded = decodeTransfer(body, part.encoding);
  if (!decoded) return { value: body.toString('utf8'), isEncodingProblem: true };
  const charset = param(part.params, 'charset') ?? 'us-ascii';
  let decoder: InstanceType<typeof TextDecoder>;
  try {
    decoder = new TextDecoder(charset.toLowerCase() === 'us-ascii' ? 'utf-8' : charset, { fatal: false });
  } catch {
    return { value: new TextDecoder('utf-8').decode(decoded), isEncodingProblem: true };
  }
  const value = decoder.decode(decoded);
  return { value: value.replace(/\r\n/g, '\n'), isEncodingProblem: value.includes('\uFFFD') };
}

/** Truncates to at most `max` UTF-8 octets without splitting a character. */
export function truncateUtf8(s: string, max: number): { value: string; isTruncated: boolean } {
  if (max <= 0 || Buffer.byteLength(s, 'utf8') <= max) return { value: s, isTruncated: false };
  let b = Buffer.from(s, 'utf8').subarray(0, max);
  while (b.length > 0 && (b[b.length - 1] & 0xc0) === 0x80) b = b.subarray(0, b.length - 1);
  if (b.length > 0 && b[b.length - 1] >= 0xc0) b = b.subarray(0, b.length - 1);
  return { value: b.toString('utf8'), isTruncated: true };
}

export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

/** RFC 8621 §4.1.4 preview: up to 256 characters of the first text part, whitespace collapsed. */
export function previewOf(raw: Buffer, lists: { textBody: JmapPart[]; htmlBody: JmapPart[] }): string {
  const first = lists.textBody.find((p) => p.type.startsWith('text/')) ?? lists.htmlBody.find((p) => p.type.startsWith('text/'));
  if (!first) return '';
  let text = decodePartText(raw, first.part).value;
  if (first.type === 'text/html') text = htmlToText(text);
  return [...text.replace(/\s+/g, ' ').trim()].slice(0, 256).join('');
}
