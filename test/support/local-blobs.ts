/**
 * What the local blob store (core/adapters/local/sqlite-blob-store.ts) holds in a data
 * directory: its rows in blobs.sqlite and its files under blobs/ (temporary files included),
 * for tests that check nothing of a refused or interrupted message was kept.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';

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
