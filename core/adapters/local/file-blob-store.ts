/**
 * BlobStore on the local file system: one file per blob under `<dataDir>/blobs/`.
 *
 * Layout: `blobs/<h0h1>/<h2h3>/<sha256(key)>`. Hashing the key (after validating it) means no
 * key can name a path outside the store, two keys never collide as file and directory
 * (`a` vs `a/b`), and a directory never holds more than a few hundred entries per 65 536 blobs.
 *
 * Durability (port contract, invariant 1): put() writes a temp file in the target directory,
 * fsyncs it, renames it into place (atomic on POSIX) and fsyncs the directory, so a blob is
 * either wholly present after a crash or absent; a failed put leaves nothing under the key.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { BlobNotFoundError, type BlobStore } from '#core/ports/blob-store.ts';

/** S3's limit on key length (UTF-8 bytes); kept locally so a key valid here is valid there. */
const MAX_KEY_BYTES = 1024;
/** Directories remembered as existing; there are at most 65 536 (`<h0h1>/<h2h3>`). */
const MAX_KNOWN_DIRS = 65_536;

export class InvalidBlobKeyError extends Error {
  readonly key: string;
  constructor(key: string, reason: string) {
    super(`invalid blob key (${reason}): ${JSON.stringify(key.slice(0, 200))}`);
    this.name = 'InvalidBlobKeyError';
    this.key = key;
  }
}

/** Rejects keys that are empty, too long, absolute, contain NUL/backslash or a `.`/`..` segment. */
export function validateBlobKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidBlobKeyError(String(key), 'empty');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new InvalidBlobKeyError(key, 'too long');
  if (key.includes('\0')) throw new InvalidBlobKeyError(key, 'NUL');
  if (key.includes('\\')) throw new InvalidBlobKeyError(key, 'backslash');
  if (key.startsWith('/') || path.isAbsolute(key)) throw new InvalidBlobKeyError(key, 'absolute');
  for (const segment of key.split('/')) {
    if (segment === '..' || segment === '.') throw new InvalidBlobKeyError(key, 'dot segment');
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

export class FileBlobStore implements BlobStore {
  /** The `blobs/` directory. */
  readonly root: string;
  /** Blob directories this store has made or found (bounded: 65 536 of them in all). */
  private readonly knownDirs = new Set<string>();

  constructor(dataDir: string) {
    this.root = path.resolve(dataDir, 'blobs');
  }

  /** The file that holds `key` (validated). */
  pathOf(key: string): string {
    validateBlobKey(key);
    const h = createHash('sha256').update(key, 'utf8').digest('hex');
    return path.join(this.root, h.slice(0, 2), h.slice(2, 4), h);
  }

  async put(key: string, body: Buffer | Readable): Promise<{ size: number }> {
    const file = this.pathOf(key);
    const dir = path.dirname(file);
    const tmp = path.join(dir, `.tmp-${process.pid}-${randomBytes(8).toString('hex')}`);
    let size = 0;
    try {
      const fh = await this.openNew(tmp, dir);
      try {
        if (Buffer.isBuffer(body)) {
          await fh.writeFile(body);
          size = body.length;
        } else {
          for await (const chunk of body as AsyncIterable<Buffer | string>) {
            const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
            let off = 0;
            while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
            size += buf.length;
          }
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await syncDir(dir);
    return { size };
  }

  async get(key: string): Promise<Buffer> {
    const file = this.pathOf(key);
    try {
      return await readFile(file);
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(key);
      throw err;
    }
  }

  async getRange(key: string, start: number, endExclusive: number): Promise<Buffer> {
    const fh = await this.openBlob(key);
    try {
      const { size } = await fh.stat();
      const from = Math.max(0, Math.min(Math.floor(start), size));
      const to = Math.max(from, Math.min(Math.floor(endExclusive), size));
      const length = to - from;
      const buf = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, from + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === length ? buf : buf.subarray(0, done);
    } finally {
      await fh.close();
    }
  }

  async stream(key: string): Promise<Readable> {
    // Open first so a missing key rejects here rather than as a stream error later.
    const fh = await this.openBlob(key);
    return fh.createReadStream({ autoClose: true });
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /**
   * Creates `tmp` in `dir`, making the directory first only when this store has not seen it
   * yet (one mkdir per directory and process, not one per message); a directory removed
   * meanwhile (ENOENT) is made again.
   */
  private async openNew(tmp: string, dir: string): Promise<FileHandle> {
    if (!this.knownDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.rememberDir(dir);
    }
    try {
      return await open(tmp, 'wx', 0o600);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await mkdir(dir, { recursive: true });
      return await open(tmp, 'wx', 0o600);
    }
  }

  private rememberDir(dir: string): void {
    if (this.knownDirs.size >= MAX_KNOWN_DIRS) this.knownDirs.clear();
    this.knownDirs.add(dir);
  }

  private async openBlob(key: string): Promise<FileHandle> {
    const file = this.pathOf(key);
    try {
      return await open(file, 'r');
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(key);
      throw err;
    }
  }
}

/** fsync a directory so a rename into it survives a crash (no-op where unsupported). */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EACCES') throw err;
  } finally {
    await fh?.close();
  }
}
