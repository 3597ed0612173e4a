/**
 * An Email's `preview` (RFC 8621 §4.1.4: up to 256 characters of the first text body part)
 * from a ranged read of that part alone, so Email/get of list properties reads a few KiB of
 * each message and never the whole message (attachments included) from the blob store.
 *
 * At most PREVIEW_READ_BYTES of the part are read; when the part is longer the read is cut at
 * its last line break, so base64 (whole lines of 4-character groups) and quoted-printable
 * (soft breaks at line ends) still decode. That is far more than 256 characters of text,
 * unless an HTML part opens with a long style block: its preview is then what text there is.
 */
import type { BlobStore } from '#core/ports/blob-store.ts';
import { decodePartText, htmlToText, type JmapPart } from './email-body.ts';

export const PREVIEW_READ_BYTES = 32 * 1024;

export async function previewByRange(blobs: BlobStore, blobKey: string, lists: { textBody: JmapPart[]; htmlBody: JmapPart[] }): Promise<string> {
  const first = lists.textBody.find((p) => p.type.startsWith('text/')) ?? lists.htmlBody.find((p) => p.type.startsWith('text/'));
  if (!first) return '';
  const { bodyStart, bodyEnd } = first.part;
  if (bodyEnd <= bodyStart) return '';
  let bytes = await blobs.getRange(blobKey, bodyStart, Math.min(bodyEnd, bodyStart + PREVIEW_READ_BYTES));
  if (bodyEnd - bodyStart > PREVIEW_READ_BYTES) {
    const nl = bytes.lastIndexOf(0x0a);
    if (nl > 0) bytes = bytes.subarray(0, nl + 1);
  }
  let text = decodePartText(bytes, { ...first.part, bodyStart: 0, bodyEnd: bytes.length }).value;
  if (first.type === 'text/html') text = htmlToText(text);
  return [...text.replace(/\s+/g, ' ').trim()].slice(0, 256).join('');
}
