/**
 * BlobStore of the local set: blobs of at most SMALL_BLOB_BYTES as rows of one SQLite file
 * (`<dataDir>/blobs.sqlite`, WAL), larger ones as files (FileBlobStore, `<dataDir>/blobs/`).
 *
 * Why rows: a file blob costs six calls on libuv's four-thread pool (open, write, fsync, close,
 * rename, directory fsync), plus the directories' mkdir while the store is young; with twenty
 * SMTP senders those queued behind each other and a put took tens of milliseconds. A row costs
 * a share of one commit: every small put made in one turn of the event loop goes into one
 * `BEGIN IMMEDIATE … COMMIT` with one fsync of the WAL (SqliteHandle.grouped, sqlite-db.ts),
 * as the queue's sends do (sqlite-work-queue.ts), and small blobs read faster from SQLite than from files too.
 *
 * Durability (port contract, invariant 1), the queue's argument: a put's promise resolves only
 * after the `synchronous = FULL` COMMIT that holds its row has returned, so the bytes are on
 * disk before the caller may queue the job and answer 250. A failed commit rolls back and
 * rejects every put in it; none of their rows exists, so a rejected put leaves nothing under its
 * key. A crash before the COMMIT returns loses only puts that have not resolved.
 *
 * Reads look at the rows first, then at the files (large blobs, and every blob written before
 * this store existed). A put replaces whatever the key held in either place; deletes remove both
 * and commit without an fsync: a delete lost to a power cut leaves an orphan, which the start-up
 * sweep removes (crash-leftovers.ts), as it does for an unlinked file whose unlink was lost.
 *
 * Space: SQLite reuses the pages of deleted rows, but a file only shrinks by a vacuum. The file
 * is made with auto_vacuum = INCREMENTAL, and once RECLAIM_FREE_PAGES pages are free (checked
 * at open and every DELETES_PER_CHECK deletes) they go back to the file system in steps of
 * RECLAIM_STEP_PAGES, each its own short write transaction, RECLAIM_PAUSE_MS apart, so expunged
 * mail frees disk space without holding up the puts and reads. (A blobs.sqlite made before this
 * has no such mode and keeps its size, reusing its free pages, as before.)
 */
import { Readable } from 'node:stream';
import path from 'node:path';
import type { BlobStore } from '#core/ports/blob-store.ts';
import { FileBlobStore, validateBlobKey } from './file-blob-store.ts';
import { openSqlite, type SqliteHandle } from './sqlite-db.ts';

/** Blobs up to this size are rows; a put that turns out larger goes to a file. */
export const SMALL_BLOB_BYTES = 128 * 1024;

/** Free pages (4 KiB each) that start a reclaim (4 MiB), and the most one step gives back (1 MiB). */
export const RECLAIM_FREE_PAGES = 1024;
const RECLAIM_STEP_PAGES = 256;
/** The pause between two steps, for the connections' I/O (a step holds the event loop a few milliseconds). */
const RECLAIM_PAUSE_MS = 10;
/** Deletes between two looks at the free pages. */
const DELETES_PER_CHECK = 32;

const SCHEMA_VERSION = 1;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS blobs (
  key TEXT PRIMARY KEY,
  data BLOB NOT NULL,
  stored_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

export class SqliteBlobStore implements BlobStore {
  readonly file: string;
  /** The large blobs, and the blobs of data directories older than this store. */
  readonly files: FileBlobStore;
  private readonly h: SqliteHandle;
  private closed = false;
  /** Whether the file was made able to shrink (auto_vacuum = INCREMENTAL). */
  private readonly canShrink: boolean;
  private deletesSinceCheck = 0;
  private reclaimScheduled = false;

  constructor(dataDir: string, options: { busyTimeoutMs?: number } = {}) {
    this.file = path.resolve(dataDir, 'blobs.sqlite');
    this.files = new FileBlobStore(dataDir);
    this.h = openSqlite(this.file, 'blob-store', SCHEMA_VERSION, SCHEMA, options.busyTimeoutMs, { incrementalVacuum: true });
    this.canShrink = (this.h.stmt('PRAGMA auto_vacuum').get() as { auto_vacuum: number }).auto_vacuum === 2;
    // Rows deleted by an earlier run, or by another process, since the last reclaim.
    this.scheduleReclaim();
  }

  async put(key: string, body: Buffer | Readable): Promise<{ size: number }> {
    validateBlobKey(key);
    if (Buffer.isBuffer(body)) {
      if (body.length > SMALL_BLOB_BYTES) return this.putFile(key, body);
      await this.putRow(key, body);
      return { size: body.length };
    }
    // Gather up to the limit; past it, the gathered chunks and the rest of the stream go to a file.
    const source = (body as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
    const chunks: Buffer[] = [];
    let size = 0;
    for (;;) {
      const next = await source.next();
      if (next.done) break;
      const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      chunks.push(chunk);
      size += chunk.length;
      if (size > SMALL_BLOB_BYTES) {
        const rest = async function* (): AsyncGenerator<Buffer> {
          yield* chunks;
          for (;;) {
            const more = await source.next();
            if (more.done) return;
            yield typeof more.value === 'string' ? Buffer.from(more.value) : more.value;
          }
        };
        return this.putFile(key, Readable.from(rest()));
      }
    }
    await this.putRow(key, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    return { size };
  }

  async get(key: string): Promise<Buffer> {
    const row = this.row(key);
    return row ?? this.files.get(key);
  }

  async getRange(key: string, start: number, endExclusive: number): Promise<Buffer> {
    const row = this.row(key);
    if (!row) return this.files.getRange(key, start, endExclusive);
    const from = Math.max(0, Math.min(Math.floor(start), row.length));
    const to = Math.max(from, Math.min(Math.floor(endExclusive), row.length));
    return row.subarray(from, to);
  }

  async stream(key: string): Promise<Readable> {
    const row = this.row(key);
    return row ? Readable.from([row], { objectMode: false }) : this.files.stream(key);
  }

  async exists(key: string): Promise<boolean> {
    validateBlobKey(key);
    return this.h.stmt('SELECT 1 AS x FROM blobs WHERE key = ?').get(key) !== undefined || this.files.exists(key);
  }

  async delete(key: string): Promise<void> {
    validateBlobKey(key);
    this.h.immediate(() => this.h.stmt('DELETE FROM blobs WHERE key = ?').run(key), { durable: false });
    if (++this.deletesSinceCheck >= DELETES_PER_CHECK) this.scheduleReclaim();
    await this.files.delete(key);
  }

  /**
   * One reclaim step (see the top of this file): gives back up to RECLAIM_STEP_PAGES free pages
   * when at least RECLAIM_FREE_PAGES are free. Returns whether pages worth another step remain.
   */
  reclaimSpace(): boolean {
    if (this.closed || !this.canShrink) return false;
    this.deletesSinceCheck = 0;
    const before = this.freePages();
    if (before < RECLAIM_FREE_PAGES) return false;
    // Not durable: a vacuum lost to a power cut only leaves the pages free, for the next one.
    this.h.immediate(() => this.h.db.exec(`PRAGMA incremental_vacuum(${RECLAIM_STEP_PAGES})`), { durable: false });
    const after = this.freePages();
    return after >= RECLAIM_FREE_PAGES && after < before;
  }

  /** Commits what is waiting, then closes the file; later calls reject. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.h.close();
  }

  private freePages(): number {
    return (this.h.stmt('PRAGMA freelist_count').get() as { freelist_count: number }).freelist_count;
  }

  /** Reclaim steps run off the caller's path, RECLAIM_PAUSE_MS apart until done; a failed one waits for the next check. */
  private scheduleReclaim(first = true): void {
    if (this.reclaimScheduled || this.closed || !this.canShrink) return;
    this.reclaimScheduled = true;
    setTimeout(
      () => {
        this.reclaimScheduled = false;
        let more = false;
        try {
          more = this.reclaimSpace();
        } catch {
          // Busy with another process's writes, say: the next check tries again.
        }
        if (more) this.scheduleReclaim(false);
      },
      first ? 0 : RECLAIM_PAUSE_MS,
    ).unref();
  }

  private row(key: string): Buffer | null {
    validateBlobKey(key);
    if (this.closed) throw new Error('blob store closed');
    const r = this.h.stmt('SELECT data FROM blobs WHERE key = ?').get(key) as { data: Uint8Array } | undefined;
    return r ? Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength) : null;
  }

  private async putFile(key: string, body: Buffer | Readable): Promise<{ size: number }> {
    const stored = await this.files.put(key, body);
    // The key's row, if a small put made one before, would shadow the file.
    this.h.immediate(() => this.h.stmt('DELETE FROM blobs WHERE key = ?').run(key), { durable: false });
    return stored;
  }

  /** The group commit (see the top of this file): the puts of this turn share one durable COMMIT. */
  private putRow(key: string, bytes: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new Error('blob store closed'));
    const now = Date.now();
    return this.h.grouped(() => {
      this.h
        .stmt('INSERT INTO blobs (key, data, stored_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data, stored_at = excluded.stored_at')
        .run(key, bytes, now);
    });
  }
}
