/**
 * What the local blob store (core/adapters/local/sqlite-blob-store.ts) holds in a data
 * directory: its rows in blobs.sqlite and its files under blobs/ (temporary files included),
 * for tests that check nothing of a refused or interrupted message was kept.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { FileBlobStore } from '#core/adapters/local/file-blob-store.ts';

export interface StoredBlobs {
  rows: Array<{ key: string; size: number }>;
  files: Array<{ path: string; size: number }>;
}

export function storedBlobs(dataDir: string): StoredBlobs {
  const rows: StoredBlobs['rows'] = [];
  const dbFile = path.join(dataDir, 'blobs.sqlite');
  if (existsSync(dbFile)) {
    const db = new DatabaseSync(dbFile, { readOnly: true });
    try {
      rows.push(...(db.prepare('SELECT key, length(data) AS size FROM blobs ORDER BY key').all() as StoredBlobs['rows']));
    } finally {
      db.close();
    }
  }
  const files: StoredBlobs['files'] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        // A temporary file may be renamed or removed between the listing and its stat.
        const st = statSync(p, { throwIfNoEntry: false });
        if (st) files.push({ path: p, size: st.size });
      }
    }
  };
  const root = path.join(dataDir, 'blobs');
  if (existsSync(root)) walk(root);
  return { rows, files };
}

/** Every row key and file path, for an assertion that the store holds nothing (or just so much). */
export function storedBlobNames(dataDir: string): string[] {
  const { rows, files } = storedBlobs(dataDir);
  return [...rows.map((r) => `row:${r.key}`), ...files.map((f) => f.path)];
}

/** Changes a blob behind the store's back (damage, as a disk or a hand might do it): its row, or its file. */
export function rewriteStoredBlob(dataDir: string, key: string, change: (bytes: Buffer) => Buffer): void {
  const db = new DatabaseSync(path.join(dataDir, 'blobs.sqlite'));
  try {
    const row = db.prepare('SELECT data FROM blobs WHERE key = ?').get(key) as { data: Uint8Array } | undefined;
    if (row) {
      db.prepare('UPDATE blobs SET data = ? WHERE key = ?').run(change(Buffer.from(row.data)), key);
      return;
    }
  } finally {
    db.close();
  }
  const file = new FileBlobStore(dataDir).pathOf(key);
  writeFileSync(file, change(readFileSync(file)));
}

/**
 * Makes every read of `key` fail with an I/O error (EISDIR): its row, if any, is removed and a
 * directory stands where its file would be (root ignores chmod 000).
 */
export function makeStoredBlobUnreadable(dataDir: string, key: string): void {
  const db = new DatabaseSync(path.join(dataDir, 'blobs.sqlite'));
  try {
    db.prepare('DELETE FROM blobs WHERE key = ?').run(key);
  } finally {
    db.close();
  }
  const file = new FileBlobStore(dataDir).pathOf(key);
  rmSync(file, { force: true });
  mkdirSync(file, { recursive: true });
}
