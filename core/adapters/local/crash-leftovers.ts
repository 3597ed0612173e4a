/**
 * What a kill -9 of the local runtime can leave in the data directory, removed at start
 * (fargate-listeners/src/local-main.ts):
 *  - temporary files of FileBlobStore.put (`blobs/<xx>/<yy>/.tmp-*`) that never got renamed;
 *  - orphaned blobs: message files nothing refers to (the process died between storing the
 *    bytes and taking the ingest job's hold, or between an expunge and the file's deletion).
 *
 * A blob is kept when any record may still need it: a message row, a blob reference, a hold
 * (a queued ingest job holds its blob: holdBlob/releaseBlob) or any job in the queue database
 * (outbound copies; dead letters too). Blob files are named by the SHA-256 of their key, so the
 * check goes from the records to the files. Files that are not messages — DKIM keys (JSON) and
 * outbound "queued" markers (a timestamp), contact photos (a data: URI) — are never taken for
 * orphans. Only files older than
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
  orphanedBlobs: RemovedFile[];
  /** Why orphans were not looked for (a database that could not be read), if so. */
  orphanCheckSkipped?: string;
}

function keyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Every blob key the index and the queue refer to, hashed as FileBlobStore names them. */
function referencedHashes(dataDir: string): Set<string> {
  const hashes = new Set<string>();
  const indexFile = path.join(dataDir, 'index.sqlite');
  const queueFile = path.join(dataDir, 'queue.sqlite');
  if (!existsSync(indexFile) || !existsSync(queueFile)) throw new Error('index or queue database missing');
  const index = new DatabaseSync(indexFile, { readOnly: true });
  try {
    for (const sql of ['SELECT blob_key AS k FROM messages', 'SELECT blob_key AS k FROM blob_refs', 'SELECT blob_key AS k FROM blob_holds']) {
      for (const row of index.prepare(sql).all() as Array<{ k: string }>) hashes.add(keyHash(row.k));
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
      if (typeof key === 'string') hashes.add(keyHash(key));
    }
  } finally {
    queue.close();
  }
  return hashes;
}

/**
 * True for the blob store's non-message contents: JSON documents (DKIM keys, junk models,
 * settings), timestamp markers, and contact photos (core/contacts/photo-blobs.ts: a `data:` URI
 * with base64 content, referred to from the contact store, not the mail index).
 */
async function notAMessage(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(256);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const text = head.subarray(0, bytesRead).toString('latin1');
    // A photo keeps its vCard line folds (CRLF + space) anywhere, "data:" included.
    const unfolded = text.replace(/\r\n[ \t]/g, '');
    return text.trimStart().startsWith('{') || /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\s*$/.test(text) || /^data:[^,]*;base64,/i.test(unfolded);
  } finally {
    await fh.close();
  }
}

export async function removeCrashLeftovers(dataDir: string, options: { graceMs?: number; now?: number } = {}): Promise<LeftoverReport> {
  const report: LeftoverReport = { tempFiles: [], orphanedBlobs: [] };
  const root = path.join(dataDir, 'blobs');
  if (!existsSync(root)) return report;
  const cutoff = (options.now ?? Date.now()) - (options.graceMs ?? LEFTOVER_GRACE_MS);
  let referenced: Set<string> | null = null;
  try {
    referenced = referencedHashes(dataDir);
  } catch (err) {
    report.orphanCheckSkipped = (err as Error).message;
  }
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
        if (!temp && (!referenced || referenced.has(name) || !/^[0-9a-f]{64}$/.test(name) || (await notAMessage(file)))) continue;
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
