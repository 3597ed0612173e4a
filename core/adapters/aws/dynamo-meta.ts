/**
 * How MessageMeta is stored, in two items per message (dynamo-keys.ts), so that a FETCH of
 * ENVELOPE/BODYSTRUCTURE/RFC822.SIZE reads only the structure, never the raw header block:
 *
 *  - MMETA item: the structure — envelope, MIME tree, size — as JSON compressed with raw
 *    DEFLATE and a preset dictionary (STRUCTURE_DICTIONARY: the key names and common values
 *    of that JSON), attribute `sd1` (B). A typical text + HTML message: JSON ~1.5 KB, gzip
 *    ~530 B, brotli ~440 B, deflate-raw with the dictionary ~270 B (measured on
 *    bench/aws-cost.ts's message; the dictionary is what pays on items this small). When
 *    compression does not make it smaller, plain JSON in `sj` (S).
 *  - MHDR item: the raw top-level header block (MessageMeta.header, ≤ META_HEADER_LIMIT), raw
 *    DEFLATE with HEADER_DICTIONARY (common field names) in `hd1` (B), or the bytes in `hr` (B)
 *    when that is not smaller. No MHDR item when the header is not kept in the index (null).
 *  - A structure still above META_ITEM_BYTES compressed (a pathological MIME tree): the bytes
 *    are split in META_ITEM_BYTES pieces; the MMETA item holds the first and the count in
 *    `chunks`, chunk items `MMETA#…#<n>` (n ≥ 1) hold the rest in `data`. They are written in
 *    the same transaction as the message, so at most META_MAX_CHUNKS pieces fit (the 4 MB
 *    TransactWriteItems request limit); beyond that the append is refused with
 *    IndexError('INVALID') — the MIME parser is expected to cap the number of parts long
 *    before (docs/architecture.md, invariant 6: limits are enforced).
 *
 * The dictionaries are part of the stored format: never change them; a new dictionary gets new
 * attribute names (`sd2`, `hd2`). Items written before this layout hold the whole meta, header
 * included, in the MMETA item: `meta` (S, JSON) or `metaZ` (B, gzip JSON, maybe split the same
 * way); they still decode (decodeMeta), and no MHDR item exists for them.
 */
import { deflateRawSync, gunzipSync, inflateRawSync } from 'node:zlib';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { MessageMeta } from '#core/mime/types.ts';
import { IndexError } from '#core/ports/mail-index.ts';

export const META_ITEM_BYTES = 350_000;
export const META_MAX_CHUNKS = 8;

/** Which parts of a meta a reader wants: the structure only, or the header block too. */
export type MetaParts = 'structure' | 'all';

const part = (type: string, subtype: string, params: string) =>
  `{"headerStart":0,"bodyStart":0,"bodyEnd":0,"type":"${type}","subtype":"${subtype}","params":[${params}],"id":null,"description":null,` +
  `"encoding":"7BIT","size":0,"lines":0,"md5":null,"disposition":null,"language":null,"location":null,"children":[],"message":null}`;
const address = '[{"name":null,"adl":null,"mailbox":"","host":""}]';

/**
 * Preset dictionary of the structure JSON (stored format `sd1`: never change it). DEFLATE
 * prefers matches near the end of the dictionary, so the most common shape comes last.
 */
export const STRUCTURE_DICTIONARY = Buffer.from(
  '"quoted-printable""base64""8BIT""BINARY""QUOTED-PRINTABLE""BASE64""attachment""inline""filename""name""application""octet-stream""pdf"' +
    '"image""jpeg""png""gif""mixed""related""report""delivery-status""rfc822""message""us-ascii""iso-8859-1""windows-1252""format""flowed"' +
    '"Re: ""Fwd: "' +
    part('text', 'plain', '["charset","us-ascii"]') +
    `{"envelope":{"date":"Mon, 1 Jan 2026 00:00:00 +0000","subject":"","from":${address},"sender":${address},"replyTo":${address},` +
    `"to":${address},"cc":null,"bcc":null,"inReplyTo":null,"messageId":"<@>"},"mime":` +
    part('multipart', 'alternative', '["boundary",""]').replace(
      '"children":[]',
      `"children":[${part('text', 'plain', '["charset","utf-8"]')},${part('text', 'html', '["charset","utf-8"]')}]`,
    ) +
    ',"size":0}',
);

/** Preset dictionary of the header block (stored format `hd1`: never change it). */
export const HEADER_DICTIONARY = Buffer.from(
  'X-Mailer: X-Spam-Status: X-Spam-Score: X-Originating-IP: Thread-Topic: Thread-Index: Accept-Language: Content-Language: ' +
    'References: <@>\r\nIn-Reply-To: <@>\r\nReply-To: \r\nSender: \r\nList-Id: <>\r\nList-Unsubscribe: <https://>, <mailto:>\r\n' +
    'List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nPrecedence: bulk\r\nFeedback-ID: \r\n' +
    'ARC-Seal: i=1; a=rsa-sha256; t=; cv=none; d=; s=; b=\r\nARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=; s=; h=; bh=; b=\r\n' +
    'ARC-Authentication-Results: i=1; \r\n' +
    'Return-Path: <>\r\nReceived: from  ([]) by  with ESMTPS id  for <>; Mon, 1 Jan 2026 00:00:00 +0000\r\n' +
    'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=; s=; t=;\r\n\tbh=; h=From:To:Subject:Date:Message-ID:MIME-Version:Content-Type;\r\n\tb=\r\n' +
    'Authentication-Results: ; dkim=pass header.d= header.s=; spf=pass smtp.mailfrom=; dmarc=pass header.from=\r\n' +
    'From: "" <@>\r\nTo: <@>\r\nCc: \r\nSubject: \r\nDate: Mon, 1 Jan 2026 00:00:00 +0000\r\nMessage-ID: <@>\r\n' +
    'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=""\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: \r\n\r\n',
);

export interface EncodedMeta {
  /** Attributes of the MMETA item (besides its key). */
  attributes: Record<string, AttributeValue>;
  /** Payloads of chunk items 1..n-1 (empty unless the structure is split). */
  extraChunks: Buffer[];
  /** Attributes of the MHDR item, or null when no header block is kept. */
  header: Record<string, AttributeValue> | null;
  /** Stored bytes (for sizing transactions). */
  bytes: number;
}

export function encodeMeta(meta: MessageMeta | null): EncodedMeta {
  const header = meta?.header ?? null;
  const json = JSON.stringify(meta ? { envelope: meta.envelope, mime: meta.mime, size: meta.size } : null);
  const jsonBytes = Buffer.byteLength(json);
  const zipped = deflateRawSync(json, { dictionary: STRUCTURE_DICTIONARY });
  let headerAttrs: EncodedMeta['header'] = null;
  let headerBytes = 0;
  if (header !== null) {
    const rawHeader = Buffer.from(header, 'latin1');
    const zippedHeader = deflateRawSync(rawHeader, { dictionary: HEADER_DICTIONARY });
    headerAttrs = zippedHeader.length < rawHeader.length ? { hd1: { B: zippedHeader } } : { hr: { B: rawHeader } };
    headerBytes = Math.min(zippedHeader.length, rawHeader.length);
  }
  if (jsonBytes <= zipped.length && jsonBytes <= META_ITEM_BYTES) {
    return { attributes: { sj: { S: json } }, extraChunks: [], header: headerAttrs, bytes: jsonBytes + headerBytes };
  }
  if (zipped.length <= META_ITEM_BYTES) return { attributes: { sd1: { B: zipped } }, extraChunks: [], header: headerAttrs, bytes: zipped.length + headerBytes };
  const pieces: Buffer[] = [];
  for (let off = 0; off < zipped.length; off += META_ITEM_BYTES) pieces.push(zipped.subarray(off, off + META_ITEM_BYTES));
  if (pieces.length > META_MAX_CHUNKS) {
    throw new IndexError('INVALID', `message structure too large to index (${zipped.length} bytes compressed)`);
  }
  return {
    attributes: { sd1: { B: pieces[0] }, chunks: { N: String(pieces.length) } },
    extraChunks: pieces.slice(1),
    header: headerAttrs,
    bytes: zipped.length + headerBytes,
  };
}

/** Total pieces of a meta (1 unless split): `chunks` of a MMETA item, `metaChunks` of a MSG item. */
export function metaChunkCount(item: Record<string, AttributeValue>): number {
  const n = item.chunks?.N ?? item.metaChunks?.N;
  return n ? Number(n) : 1;
}

/**
 * Decodes a MMETA item (either layout); `extra` are the `data` of chunk items 1..n-1, in order,
 * when split; `headerItem` the message's MHDR item, if read. `parts: 'structure'` gives
 * `header: null` whatever is stored (the reader did not ask for it), 'all' the header block
 * when the index keeps one.
 */
export function decodeMeta(
  metaItem: Record<string, AttributeValue> | undefined,
  extra: Uint8Array[] = [],
  headerItem?: Record<string, AttributeValue>,
  parts: MetaParts = 'all',
): MessageMeta | null {
  if (!metaItem) return null;
  const joined = (first: Uint8Array) => (extra.length > 0 ? Buffer.concat([first, ...extra]) : Buffer.from(first));
  let meta: MessageMeta | null = null;
  if (metaItem.sd1?.B !== undefined || metaItem.sj?.S !== undefined) {
    const json = metaItem.sj?.S ?? inflateRawSync(joined(metaItem.sd1!.B!), { dictionary: STRUCTURE_DICTIONARY }).toString('utf8');
    const structure = JSON.parse(json) as Omit<MessageMeta, 'header'> | null;
    if (!structure) return null;
    meta = { ...structure, header: parts === 'all' ? decodeHeader(headerItem) : null };
    return meta;
  }
  // The layout before MHDR items: the whole meta, header included, in this item.
  if (metaItem.meta?.S !== undefined) meta = JSON.parse(metaItem.meta.S) as MessageMeta | null;
  else if (metaItem.metaZ?.B !== undefined) meta = JSON.parse(gunzipSync(joined(metaItem.metaZ.B)).toString('utf8')) as MessageMeta | null;
  if (meta && parts === 'structure') meta.header = null;
  return meta;
}

function decodeHeader(item: Record<string, AttributeValue> | undefined): string | null {
  if (item?.hd1?.B !== undefined) return inflateRawSync(item.hd1.B, { dictionary: HEADER_DICTIONARY }).toString('latin1');
  if (item?.hr?.B !== undefined) return Buffer.from(item.hr.B).toString('latin1');
  return null;
}
