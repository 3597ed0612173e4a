/**
 * BlobStore on S3: one object per blob; the object key is the blob key (callers build keys
 * under MESSAGE_BUCKET.messagePrefix), after an optional extra prefix.
 *
 * - put(Buffer): one PutObject with Content-Length. put(Readable): @aws-sdk/lib-storage
 *   Upload, which buffers at most `queueSize × partSize` bytes: a stream of unknown length
 *   below one part becomes a single PutObject, a longer one a multipart upload that is
 *   aborted on failure. Either way the object appears only when S3 acknowledges the whole
 *   body (S3 writes are atomic per object), so a rejected put leaves nothing under the key.
 * - getRange: GetObject with `Range: bytes=a-b` (RFC 9110 §14.1.2: the last-byte position is
 *   inclusive, and a range past the end is clamped by S3 — 416 when it starts past the end).
 * - NoSuchKey / 404 → BlobNotFoundError.
 */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobNotFoundError, type BlobStore } from '#core/ports/blob-store.ts';

/** S3's limit on object key length in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
/** Multipart part size for streamed puts (S3 minimum is 5 MiB). */
const PART_SIZE = 8 * 1024 * 1024;

export interface S3BlobStoreOptions {
  client: S3Client;
  bucket: string;
  /** Prepended to every key (e.g. 'messages/'). */
  keyPrefix?: string;
  /** Destroy the client on close(). */
  ownsClient?: boolean;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } } | null;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.Code === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

function isInvalidRange(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  return e?.name === 'InvalidRange' || e?.$metadata?.httpStatusCode === 416;
}

async function toBuffer(body: unknown): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  const b = body as { transformToByteArray?: () => Promise<Uint8Array> };
  if (typeof b.transformToByteArray === 'function') return Buffer.from(await b.transformToByteArray());
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Uint8Array | string>) chunks.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c));
  return Buffer.concat(chunks);
}

export class S3BlobStore implements BlobStore {
  readonly bucket: string;
  readonly keyPrefix: string;
  private readonly s3: S3Client;
  private readonly ownsClient: boolean;

  constructor(options: S3BlobStoreOptions) {
    this.s3 = options.client;
    this.bucket = options.bucket;
    this.keyPrefix = options.keyPrefix ?? '';
    this.ownsClient = options.ownsClient ?? false;
  }

  /** The S3 object key of a blob key (validated). */
  objectKey(key: string): string {
    if (typeof key !== 'string' || key.length === 0) throw new Error('invalid blob key: empty');
    if (key.includes('\0')) throw new Error('invalid blob key: NUL');
    const full = this.keyPrefix + key;
    if (Buffer.byteLength(full) > MAX_KEY_BYTES) throw new Error('invalid blob key: too long');
    return full;
  }

  async put(key: string, body: Buffer | Readable): Promise<{ size: number }> {
    const Key = this.objectKey(key);
    if (Buffer.isBuffer(body)) {
      await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: body, ContentLength: body.length, ContentType: 'message/rfc822' }));
      return { size: body.length };
    }
    let size = 0;
    // Counts in the transform (a 'data' listener would switch the stream to flowing mode
    // under the uploader's reads).
    const counted = new Transform({
      transform(chunk: Buffer | string, _encoding, done) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        size += buf.length;
        done(null, buf);
      },
    });
    const feeding = pipeline(body, counted);
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key, Body: counted, ContentType: 'message/rfc822' },
      partSize: PART_SIZE,
      queueSize: 2,
      leavePartsOnError: false,
    });
    // A source error destroys `counted`, which fails the upload (and aborts a multipart one);
    // an upload error destroys the streams, so the feeding pipeline cannot hang on backpressure.
    const uploading = upload.done().catch((err: unknown) => {
      counted.destroy(err as Error);
      throw err;
    });
    const [fed, uploaded] = await Promise.allSettled([feeding, uploading]);
    if (uploaded.status === 'rejected') throw uploaded.reason;
    if (fed.status === 'rejected') {
      await this.delete(key).catch(() => undefined);
      throw fed.reason;
    }
    return { size };
  }

  async get(key: string): Promise<Buffer> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return await toBuffer(res.Body);
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(key);
      throw err;
    }
  }

  async getRange(key: string, start: number, endExclusive: number): Promise<Buffer> {
    const from = Math.max(0, Math.floor(start));
    const to = Math.floor(endExclusive);
    if (!(to > from)) {
      if (!(await this.exists(key))) throw new BlobNotFoundError(key);
      return Buffer.alloc(0);
    }
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Range: `bytes=${from}-${to - 1}` }));
      const buf = await toBuffer(res.Body);
      // A server that ignores Range answers 200 with the whole object: clamp ourselves.
      return res.ContentRange ? buf : buf.subarray(from, to);
    } catch (err) {
      if (isInvalidRange(err)) {
        if (!(await this.exists(key))) throw new BlobNotFoundError(key);
        return Buffer.alloc(0);
      }
      if (isNotFound(err)) throw new BlobNotFoundError(key);
      throw err;
    }
  }

  async stream(key: string): Promise<Readable> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      const body = res.Body;
      if (body instanceof Readable) return body;
      return Readable.from(await toBuffer(body));
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(key);
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.s3.destroy();
  }
}
