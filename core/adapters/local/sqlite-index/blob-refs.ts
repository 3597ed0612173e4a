/**
 * Blob references of the SQLite MailIndex: `blob_refs` counts the messages and holds that
 * refer to each blob key; `blob_holds` has one row per (blob key, holder) (invariant 5; see
 * ../sqlite-mail-index.ts). ref and unref run inside the caller's transaction.
 */
import { checkString } from '#core/adapters/index-input.ts';
import type { SqliteHandle } from '../sqlite-db.ts';

export async function holdBlob(h: SqliteHandle, blobKey: string, holder: string): Promise<void> {
  checkString(blobKey, 'blobKey');
  checkString(holder, 'holder');
  h.immediate(() => {
    const res = h.stmt('INSERT INTO blob_holds (blob_key, holder, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(blobKey, holder, Date.now());
    if (Number(res.changes) === 1) ref(h, blobKey, 1);
  });
}

export async function releaseBlob(h: SqliteHandle, blobKey: string, holder: string): Promise<{ orphaned: boolean }> {
  checkString(blobKey, 'blobKey');
  checkString(holder, 'holder');
  return h.immediate(() => {
    const res = h.stmt('DELETE FROM blob_holds WHERE blob_key = ? AND holder = ?').run(blobKey, holder);
    if (Number(res.changes) === 0) return { orphaned: false };
    return { orphaned: unref(h, [blobKey]).length > 0 };
  });
}

export function ref(h: SqliteHandle, blobKey: string, n: number): void {
  h.stmt('INSERT INTO blob_refs (blob_key, refs) VALUES (?, ?) ON CONFLICT (blob_key) DO UPDATE SET refs = refs + excluded.refs').run(blobKey, n);
}

/** Drops one reference per entry; returns the keys whose count reached zero. */
export function unref(h: SqliteHandle, blobKeys: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const k of blobKeys) counts.set(k, (counts.get(k) ?? 0) + 1);
  const orphaned: string[] = [];
  for (const [key, n] of counts) {
    const row = h.stmt('SELECT refs FROM blob_refs WHERE blob_key = ?').get(key) as { refs: number } | undefined;
    const left = (row?.refs ?? 0) - n;
    if (left > 0) {
      h.stmt('UPDATE blob_refs SET refs = ? WHERE blob_key = ?').run(left, key);
    } else {
      h.stmt('DELETE FROM blob_refs WHERE blob_key = ?').run(key);
      orphaned.push(key);
    }
  }
  return orphaned;
}
