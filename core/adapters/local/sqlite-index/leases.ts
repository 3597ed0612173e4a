/** Leases of the SQLite MailIndex: one `leases` row per name, taken when free, expired or already ours. */
import { IndexError } from '#core/ports/mail-index.ts';
import { checkString } from '#core/adapters/index-input.ts';
import type { SqliteHandle } from '../sqlite-db.ts';

export async function acquireLease(h: SqliteHandle, name: string, owner: string, ttlSeconds: number): Promise<boolean> {
  checkString(name, 'lease name');
  checkString(owner, 'lease owner');
  if (!(ttlSeconds > 0)) throw new IndexError('INVALID', 'ttlSeconds must be positive');
  return h.immediate(() => {
    const now = Date.now();
    const row = h.stmt('SELECT owner, expires_at FROM leases WHERE name = ?').get(name) as { owner: string; expires_at: number } | undefined;
    if (row && row.owner !== owner && row.expires_at > now) return false;
    h.stmt(
      'INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at',
    ).run(name, owner, now + Math.ceil(ttlSeconds * 1000));
    return true;
  });
}

export async function releaseLease(h: SqliteHandle, name: string, owner: string): Promise<void> {
  h.immediate(() => {
    h.stmt('DELETE FROM leases WHERE name = ? AND owner = ?').run(name, owner);
  });
}
