/** Bearer tokens of the SQLite MailIndex: one `auth_tokens` row per token hash; expired rows go when another token is filed. */
import { IndexError, type AuthToken } from '#core/ports/mail-index.ts';
import type { SqliteHandle } from '../sqlite-db.ts';

function checkHash(tokenHash: string): void {
  if (typeof tokenHash !== 'string' || !/^[A-Za-z0-9_-]{16,128}$/.test(tokenHash))
    throw new IndexError('INVALID', 'a token hash is 16–128 characters of [A-Za-z0-9_-]');
}

export async function putAuthToken(h: SqliteHandle, tokenHash: string, token: AuthToken): Promise<void> {
  checkHash(tokenHash);
  h.immediate(() => {
    h.stmt('DELETE FROM auth_tokens WHERE expires_at <= ?').run(Date.now());
    h.stmt('INSERT OR REPLACE INTO auth_tokens (token_hash, user, created_at, expires_at, binding) VALUES (?, ?, ?, ?, ?)').run(
      tokenHash,
      token.user,
      token.createdAt,
      token.expiresAt,
      token.binding,
    );
  });
}

export async function getAuthToken(h: SqliteHandle, tokenHash: string): Promise<AuthToken | null> {
  if (typeof tokenHash !== 'string' || !/^[A-Za-z0-9_-]{16,128}$/.test(tokenHash)) return null;
  const row = h.stmt('SELECT user, created_at, expires_at, binding FROM auth_tokens WHERE token_hash = ?').get(tokenHash) as
    { user: string; created_at: number; expires_at: number; binding: string } | undefined;
  if (!row || row.expires_at <= Date.now()) return null;
  return { user: row.user, createdAt: row.created_at, expiresAt: row.expires_at, binding: row.binding };
}

export async function deleteAuthToken(h: SqliteHandle, tokenHash: string): Promise<void> {
  if (typeof tokenHash !== 'string') return;
  h.immediate(() => {
    h.stmt('DELETE FROM auth_tokens WHERE token_hash = ?').run(tokenHash);
  });
}
