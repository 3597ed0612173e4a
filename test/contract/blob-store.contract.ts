/**
 * Contract of the BlobStore port (core/ports/blob-store.ts), run against every adapter:
 * local files (test/contract/local.test.ts) and S3 (the aws contract test).
 * Uses only the port interface.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobNotFoundError, type BlobStore } from '#core/ports/blob-store.ts';
import { rejection } from '../support/rejection.ts';

export interface BlobStoreFixture {
  blobs: BlobStore;
  cleanup(): Promise<void>;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

/** A stream of `data` in uneven chunks, so adapters cannot rely on one chunk per put. */
function chunked(data: Buffer, chunk = 7919): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  return Readable.from(parts);
}

export function blobStoreContract(adapterName: string, make: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore contract: ${adapterName}`, () => {
    let fx: BlobStoreFixture;
    let blobs: BlobStore;
    let n = 0;
    /** A key unique per test, in the shape the system uses (prefix/…/id). */
    const key = (name: string) => `messages/contract/${Date.now().toString(36)}-${n++}/${name}`;

    beforeEach(async () => {
      fx = await make();
      blobs = fx.blobs;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('put(Buffer) then get returns the same bytes, exists is true, size is the byte count', async () => {
      const k = key('a.eml');
      const data = Buffer.from('Subject: hi\r\n\r\nhello ünïcödé\r\n', 'utf8');
      expect(await blobs.exists(k)).toBe(false);
      expect(await blobs.put(k, data)).toEqual({ size: data.length });
      expect(await blobs.exists(k)).toBe(true);
      expect((await blobs.get(k)).equals(data)).toBe(true);
    });

    it('round-trips every byte value (binary safe)', async () => {
      const k = key('bin');
      const data = Buffer.alloc(512);
      for (let i = 0; i < data.length; i++) data[i] = i % 256;
      await blobs.put(k, data);
      expect((await blobs.get(k)).equals(data)).toBe(true);
    });

    it('stores an empty blob', async () => {
      const k = key('empty');
      expect(await blobs.put(k, Buffer.alloc(0))).toEqual({ size: 0 });
      expect(await blobs.exists(k)).toBe(true);
      expect((await blobs.get(k)).length).toBe(0);
      expect((await blobs.getRange(k, 0, 10)).length).toBe(0);
    });

    it('put(Readable) stores the whole stream and reports its size', async () => {
      const k = key('streamed.eml');
      const data = randomBytes(100_000);
      expect(await blobs.put(k, chunked(data))).toEqual({ size: data.length });
      expect((await blobs.get(k)).equals(data)).toBe(true);
    });

    it('a put whose stream fails rejects and leaves nothing under the key', async () => {
      const k = key('broken');
      const failing = new Readable({
        read() {
          this.push(Buffer.alloc(1000, 0x61));
          this.destroy(new Error('client went away'));
        },
      });
      await rejection(blobs.put(k, failing));
      expect(await blobs.exists(k)).toBe(false);
      expect(await rejection(blobs.get(k))).toBeInstanceOf(BlobNotFoundError);
    });

    it('getRange returns bytes [start, end) and clamps to the size', async () => {
      const k = key('range');
      const data = Buffer.from('0123456789abcdefghij');
      await blobs.put(k, data);
      expect((await blobs.getRange(k, 0, 5)).toString()).toBe('01234');
      expect((await blobs.getRange(k, 10, 13)).toString()).toBe('abc');
      expect((await blobs.getRange(k, 15, 1000)).toString()).toBe('fghij');
      expect((await blobs.getRange(k, 0, data.length)).equals(data)).toBe(true);
      expect((await blobs.getRange(k, 19, 20)).toString()).toBe('j');
      expect((await blobs.getRange(k, 7, 7)).length).toBe(0);
      expect((await blobs.getRange(k, 20, 30)).length).toBe(0);
      expect((await blobs.getRange(k, 50, 60)).length).toBe(0);
    });

    it('stream returns the whole object', async () => {
      const k = key('s');
      const data = randomBytes(70_000);
      await blobs.put(k, data);
      expect((await readAll(await blobs.stream(k))).equals(data)).toBe(true);
    });

    it('handles a 5 MiB blob: put from a stream, get, ranged read across the middle, stream', async () => {
      const k = key('large.eml');
      const data = randomBytes(5 * 1024 * 1024);
      expect(await blobs.put(k, chunked(data, 64 * 1024 + 3))).toEqual({ size: data.length });
      const mid = 2 * 1024 * 1024 + 12345;
      expect((await blobs.getRange(k, mid, mid + 100_000)).equals(data.subarray(mid, mid + 100_000))).toBe(true);
      expect((await blobs.getRange(k, data.length - 10, data.length + 10)).equals(data.subarray(data.length - 10))).toBe(true);
      expect((await blobs.get(k)).equals(data)).toBe(true);
      expect((await readAll(await blobs.stream(k))).equals(data)).toBe(true);
    });

    it('a missing key gives BlobNotFoundError from get, getRange and stream, and exists false', async () => {
      const k = key('missing');
      expect(await blobs.exists(k)).toBe(false);
      for (const call of [() => blobs.get(k), () => blobs.getRange(k, 0, 10), () => blobs.stream(k)]) {
        const err = await rejection(call());
        expect(err).toBeInstanceOf(BlobNotFoundError);
        expect((err as BlobNotFoundError).key).toBe(k);
      }
    });

    it('delete removes the object and is idempotent', async () => {
      const k = key('del');
      await blobs.put(k, Buffer.from('x'));
      await blobs.delete(k);
      expect(await blobs.exists(k)).toBe(false);
      expect(await rejection(blobs.get(k))).toBeInstanceOf(BlobNotFoundError);
      await blobs.delete(k);
      await blobs.delete(key('never-existed'));
    });

    it('keys are independent: similar keys and key prefixes do not collide', async () => {
      const base = key('dir');
      const keys = [base, `${base}/child`, `${base}-x`, `${base}/child/grandchild`, `${base}/ü nicode & spaces`];
      for (const [i, k] of keys.entries()) await blobs.put(k, Buffer.from(`v${i}`));
      for (const [i, k] of keys.entries()) expect((await blobs.get(k)).toString()).toBe(`v${i}`);
      await blobs.delete(keys[1]);
      expect(await blobs.exists(keys[0])).toBe(true);
      expect(await blobs.exists(keys[3])).toBe(true);
    });
  });
}
