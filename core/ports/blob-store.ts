/**
 * Blob store port: raw message bytes, immutable once written (invariant 5).
 * Adapters: S3 (`core/adapters/aws/s3-blob-store.ts`) and files (`core/adapters/local/file-blob-store.ts`).
 */
import type { Readable } from 'node:stream';

export interface BlobStore {
  /**
   * Stores the bytes under `key`. Resolves only once the bytes are durable
   * (fsync'd file / S3 PutObject acknowledged). Rejects on any failure; a rejected put
   * leaves no visible object under `key`.
   */
  put(key: string, body: Buffer | Readable): Promise<{ size: number }>;
  /** Whole object. Rejects with BlobNotFoundError when absent. */
  get(key: string): Promise<Buffer>;
  /** Bytes [start, endExclusive) of the object (clamped to its size). */
  getRange(key: string, start: number, endExclusive: number): Promise<Buffer>;
  /** A stream of the whole object. */
  stream(key: string): Promise<Readable>;
  exists(key: string): Promise<boolean>;
  /** Idempotent: deleting an absent key succeeds. */
  delete(key: string): Promise<void>;
}

export class BlobNotFoundError extends Error {
  readonly key: string;
  constructor(key: string) {
    super(`blob not found: ${key}`);
    this.name = 'BlobNotFoundError';
    this.key = key;
  }
}
