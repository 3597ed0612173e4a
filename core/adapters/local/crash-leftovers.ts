/**
 * What a kill -9 of the local runtime can leave in the data directory, removed at start
 * (fargate-listeners/src/local-main.ts):
 *  - temporary files of FileBlobStore.put (`blobs/<xx>/<yy>/.tmp-*`) that never got renamed;
 *  - orphaned blobs: messages nothing refers to (the process died between storing the bytes and
 *    taking the ingest job's hold, or between an expunge and the blob's deletion), as files
 *    under `blobs/` and as rows of `blobs.sqlite` (sqlite-blob-store.ts).
 *
 * A blob is kept when any record may still need it: a message row, a blob reference, a hold
 * (a queued ingest job holds its blob: holdBlob/releaseBlob) or any job in the queue database
 * (outbound copies; dead letters too). Blob files are named by the SHA-256 of their key, so the
 * check goes from the records to the files; rows carry their key. Blobs that are not messages — DKIM keys (JSON) and
 * outbound "queued" markers (a timestamp), contact photos (a data: URI) — are never taken for
 * orphans. Only blobs older than
 * the grace period are touched, so a put or a delivery under way in another process is safe.
 * When a database cannot be read, no blob is removed.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export const LEFTOVER_GRACE_MS = 60 * 60_000;

export interface RemovedFile {
  path: string;
  size: number;
}

export interface LeftoverReport {
  tempFiles: RemovedFile[];
  /** Files by path; rows as `<dataDir>/blobs.sqlite:<key>`. */
  orphanedBlobs: RemovedFile[];
  /** Why orphans were not looked for (a database that could not be read), if so. */
  orphanCheckSkipped?: string;
}

function keyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Every blob key the index and the queue refer to. */
function referencedKeys(dataDir: string): Set<string> {
  const keys = new Set<string>();
  const indexFile = path.join(dataDir, 'index.sqlite');
  const queueFile = path.join(dataDir, 'queue.sqlite');
  if (!existsSync(indexFile) || !existsSync(queueFile)) throw new Error('index or queue database missing');
  const index = new DatabaseSync(indexFile, { readOnly: true });
  try {
    for (const sql of ['SELECT blob_key AS k FROM messages', 'SELECT blob_key AS k FROM blob_refs', 'SELECT blob_key AS k FROM blob_holds']) {
      for (const row of index.prepare(sql).all() as Array<{ k: string }>) keys.add(row.k);
    }
  } finally {
    index.close();
  }
  const queue = new DatabaseSync(queueFile, { readOnly: true });
  try {
    for (const row of queue.prepare('SELECT body FROM jobs').all() as Array<{ body: string }>) {
      let body: unknown;
      try {
        body = JSON.parse(row.body);
      } catch {
        continue;
      }
      const key = (body as { blobKey?: unknown } | null)?.blobKey;
      if (typeof key === 'string') keys.add(key);
    }
  } finally {
    queue.close();
  }
  return keys;
}

/**
 * True for the blob store's non-message contents: JSON documents (DKIM keys, junk models,
 * settings), timestamp markers, and contact photos (core/contacts/photo-blobs.ts: a `data:` URI
 * with base64 content, referred to from the contact store, not the mail index).
 */
function notAMessage(head: Uint8Array): boolean {
  const text = Buffer.from(head.buffer, head.byteOffset, Math.min(256, head.byteLength)).toString('latin1');
  // A photo keeps its vCard line folds (CRLF + space) anywhere, "data:" included.
  const unfolded = text.replace(/\r\n[ \t]/g, '');
  return text.trimStart().startsWith('{') || /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\s*$/.test(text) || /^data:[^,]*;base64,/i.test(unfolded);
}

async function fileHead(file: string): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(256);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Orphaned rows of blobs.sqlite, removed in one transaction; none when the check was skipped. */
function removeOrphanRows(dataDir: string, referenced: Set<string> | null, cutoff: number, report: LeftoverReport): void {
  const file = path.join(dataDir, 'blobs.sqlite');
  if (!referenced || !existsSync(file)) return;
  const db = new DatabaseSync(file, { timeout: 10_000 });
  try {
    // Keys first (a row's key is on its b-tree page; the bytes are on overflow pages), then the
    // bytes of the unreferenced ones only.
    const keys = (db.prepare('SELECT key FROM blobs WHERE stored_at <= ?').all(cutoff) as Array<{ key: string }>)
      .map((r) => r.key)
      .filter((k) => !referenced.has(k));
    const read = db.prepare('SELECT data FROM blobs WHERE key = ?');
    const orphans: Array<{ key: string; size: number }> = [];
    for (const key of keys) {
      const row = read.get(key) as { data: Uint8Array } | undefined;
      if (row && !notAMessage(row.data)) orphans.push({ key, size: row.data.byteLength });
    }
    if (orphans.length === 0) return;
    const del = db.prepare('DELETE FROM blobs WHERE key = ? AND stored_at <= ?');
    db.exec('BEGIN IMMEDIATE');
    try {
      for (const r of orphans) del.run(r.key, cutoff);
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
    for (const r of orphans) report.orphanedBlobs.push({ path: `${file}:${r.key}`, size: r.size });
  } finally {
    db.close();
  }
}

export async function removeCrashLeftovers(dataDir: string, options: { graceMs?: number; now?: number } = {}): Promise<LeftoverReport> {
  const report: LeftoverReport = { tempFiles: [], orphanedBlobs: [] };
  const root = path.join(dataDir, 'blobs');
  const rows = path.join(dataDir, 'blobs.sqlite');
  if (!existsSync(root) && !existsSync(rows)) return report;
  const cutoff = (options.now ?? Date.now()) - (options.graceMs ?? LEFTOVER_GRACE_MS);
  let referenced: Set<string> | null = null;
  try {
    referenced = referencedKeys(dataDir);
  } catch (err) {
    report.orphanCheckSkipped = (err as Error).message;
  }
  removeOrphanRows(dataDir, referenced, cutoff, report);
  if (!existsSync(root)) return report;
  const hashes = referenced ? new Set([...referenced].map(keyHash)) : null;
  for (const a of await readdir(root)) {
    if (!/^[0-9a-f]{2}$/.test(a)) continue;
    for (const b of await readdir(path.join(root, a)).catch(() => [])) {
      if (!/^[0-9a-f]{2}$/.test(b)) continue;
      const dir = path.join(root, a, b);
      for (const name of await readdir(dir).catch(() => [])) {
        const file = path.join(dir, name);
        const st = await stat(file).catch(() => null);
        if (!st?.isFile() || st.mtimeMs > cutoff) continue;
        const temp = name.startsWith('.tmp-');
        if (!temp && (!hashes || hashes.has(name) || !/^[0-9a-f]{64}$/.test(name) || notAMessage(await fileHead(file)))) continue;
        try {
          await unlink(file);
          (temp ? report.tempFiles : report.orphanedBlobs).push({ path: file, size: st.size });
        } catch {
          // gone meanwhile
        }
      }
    }
  }
  return report;
}
