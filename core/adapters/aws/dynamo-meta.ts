/**
 * How MessageMeta (envelope, MIME tree, header block) is stored in the message's MMETA item
 * (dynamo-keys.ts), keeping every item well under DynamoDB's 400 KB item limit:
 *
 *  - JSON of at most META_INLINE_JSON_BYTES: attribute `meta` (S), readable in the console.
 *  - larger: gzip'd JSON in attribute `metaZ` (B). JSON of MIME trees compresses ~5-10x, so
 *    this covers multiparts with thousands of parts.
 *  - gzip still above META_ITEM_BYTES (a pathological MIME tree): the gzip bytes are split in
 *    META_ITEM_BYTES pieces; the MMETA item holds the first in `metaZ` and the count in
 *    `chunks`, chunk items `MMETA#…#<n>` (n ≥ 1) hold the rest in `data`. They are written in
 *    the same transaction as the message, so at most META_MAX_CHUNKS pieces fit (the 4 MB
 *    TransactWriteItems request limit); beyond that the append is refused with
 *    IndexError('INVALID') — the MIME parser is expected to cap the number of parts long
 *    before (docs/architecture.md, invariant 6: limits are enforced).
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { MessageMeta } from '#core/mime/types.ts';
import { IndexError } from '#core/ports/mail-index.ts';

export const META_INLINE_JSON_BYTES = 4 * 1024;
export const META_ITEM_BYTES = 350_000;
export const META_MAX_CHUNKS = 8;

export interface EncodedMeta {
  /** Attributes of the MMETA item (besides its key). */
  attributes: Record<string, AttributeValue>;
  /** Payloads of chunk items 1..n-1 (empty unless the meta is split). */
  extraChunks: Buffer[];
  /** Stored bytes (for sizing transactions). */
  bytes: number;
}

export function encodeMeta(meta: MessageMeta | null): EncodedMeta {
  const json = JSON.stringify(meta ?? null);
  const jsonBytes = Buffer.byteLength(json);
  if (jsonBytes <= META_INLINE_JSON_BYTES) return { attributes: { meta: { S: json } }, extraChunks: [], bytes: jsonBytes };
  const zipped = gzipSync(json);
  if (zipped.length <= META_ITEM_BYTES) return { attributes: { metaZ: { B: zipped } }, extraChunks: [], bytes: zipped.length };
  const pieces: Buffer[] = [];
  for (let off = 0; off < zipped.length; off += META_ITEM_BYTES) pieces.push(zipped.subarray(off, off + META_ITEM_BYTES));
  if (pieces.length > META_MAX_CHUNKS) {
    throw new IndexError('INVALID', `message structure too large to index (${zipped.length} bytes compressed)`);
  }
  return { attributes: { metaZ: { B: pieces[0] }, chunks: { N: String(pieces.length) } }, extraChunks: pieces.slice(1), bytes: zipped.length };
}

/** Total pieces of a meta (1 unless split): `chunks` of a MMETA item, `metaChunks` of a MSG item. */
export function metaChunkCount(item: Record<string, AttributeValue>): number {
  const n = item.chunks?.N ?? item.metaChunks?.N;
  return n ? Number(n) : 1;
}

/** Decodes a MMETA item; `extra` are the `data` of chunk items 1..n-1, in order, when split. */
export function decodeMeta(metaItem: Record<string, AttributeValue> | undefined, extra: Uint8Array[] = []): MessageMeta | null {
  if (!metaItem) return null;
  if (metaItem.meta?.S !== undefined) return JSON.parse(metaItem.meta.S) as MessageMeta | null;
  if (metaItem.metaZ?.B !== undefined) {
    const zipped = extra.length > 0 ? Buffer.concat([metaItem.metaZ.B, ...extra]) : Buffer.from(metaItem.metaZ.B);
    return JSON.parse(gunzipSync(zipped).toString('utf8')) as MessageMeta | null;
  }
  return null;
}
