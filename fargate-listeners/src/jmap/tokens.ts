/**
 * Bearer tokens for the web app (RFC 8620 §1.5; `Authorization: Bearer`, RFC 6750 §2.1), so a
 * browser holds a revocable token instead of the password.
 *
 *  - `POST /jmap/auth/token` with HTTP Basic (checked by BasicAuthenticator: the shared
 *    failed-login throttle, TLS only but on loopback) answers `{access_token, token_type:
 *    "Bearer", expires_in}` (the field names of RFC 6749 §5.1) with `Cache-Control: no-store`.
 *    The token is 256 random bits; the index keeps only its SHA-256, with the user, the expiry
 *    (TOKEN_LIFETIME_MS) and a hash of the user's password hash at issue — so a password change
 *    ends every token of the user at once.
 *  - `DELETE /jmap/auth/token` with that bearer token revokes it (logout): 204.
 *  - The session, API, download, upload and event source routes take `Bearer` as they take
 *    `Basic`. Each request reads the token and the user from the index (no cache), so a revoked
 *    or expired token, or one of a removed user or a changed password, fails on every listener
 *    task at once. A token that fails counts against the client address in the throttle, as a
 *    wrong password does; once that address is blocked, even a good token from it waits (429).
 * Tokens are stored in the mail index (SQLite locally, DynamoDB on AWS), so they survive
 * restarts and work on every task.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { MailIndex } from '#core/ports/mail-index.ts';
import type { AuthThrottle } from '../auth-throttle.ts';
import { isLoopback, type AuthResult, type BasicAuthenticator } from './auth.ts';

export const TOKEN_PATH = '/jmap/auth/token';
/** How long a token is good for: 7 days. */
export const TOKEN_LIFETIME_MS = 7 * 24 * 3600 * 1000;
/**
 * The throttle's account key for bearer failures: no account is known for an unknown token, and
 * one shared key would let anyone block every token; so it is the client's own.
 */
const bearerAccount = (client: string) => `(bearer token from ${client})`;

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('base64url');
}

/** What a token is bound to: a change of the password hash unbinds it. */
function bindingOf(passwordHash: string): string {
  return sha256(`token-binding:${passwordHash}`).slice(0, 22);
}

/** The token of `Authorization: Bearer <token>`, or null. */
export function parseBearer(header: string | undefined): string | null {
  const m = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(header ?? '');
  return m ? m[1] : null;
}

export interface TokenDeps {
  index: MailIndex;
  throttle: AuthThrottle;
  allowPlaintextAuthOnLoopback: boolean;
  basic: BasicAuthenticator;
  realm: string;
}

export class JmapAuthenticator {
  private readonly deps: TokenDeps;
  constructor(deps: TokenDeps) {
    this.deps = deps;
  }

  private challenge(error?: string): Record<string, string> {
    const realm = `realm="${this.deps.realm}"`;
    // RFC 6750 §3: the Bearer challenge, with error="invalid_token" for a token that failed.
    return { 'WWW-Authenticate': `Basic ${realm}, charset="UTF-8", Bearer ${realm}${error ? `, error="${error}"` : ''}` };
  }

  /** Basic or Bearer. */
  async check(req: IncomingMessage, remoteAddress: string, secure: boolean): Promise<AuthResult> {
    const token = parseBearer(req.headers.authorization);
    if (token === null) return this.deps.basic.check(req, remoteAddress, secure);
    if (!secure && !(this.deps.allowPlaintextAuthOnLoopback && isLoopback(remoteAddress))) {
      return { ok: false, status: 403, detail: 'Authentication requires TLS: use the HTTPS port' };
    }
    if (this.deps.throttle.blocked(remoteAddress, bearerAccount(remoteAddress))) {
      return { ok: false, status: 429, detail: 'Too many failed logins; try again later', headers: { 'Retry-After': '60' } };
    }
    const user = await this.userOf(token);
    if (!user) {
      this.deps.throttle.failed(remoteAddress, bearerAccount(remoteAddress));
      return { ok: false, status: 401, detail: 'Invalid or expired token', headers: this.challenge('invalid_token') };
    }
    return { ok: true, user };
  }

  /** The user a token stands for, or null when it is unknown, expired, revoked or unbound. */
  private async userOf(token: string): Promise<string | null> {
    const stored = await this.deps.index.getAuthToken(sha256(token));
    if (!stored) return null;
    const user = await this.deps.index.getUser(stored.user);
    if (!user || bindingOf(user.passwordHash) !== stored.binding) return null;
    return user.address;
  }

  /** A new token for an authenticated user. */
  async issue(address: string): Promise<{ access_token: string; token_type: 'Bearer'; expires_in: number }> {
    const user = await this.deps.index.getUser(address);
    if (!user) throw new Error(`no such user ${address}`);
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    await this.deps.index.putAuthToken(sha256(token), {
      user: user.address,
      createdAt: now,
      expiresAt: now + TOKEN_LIFETIME_MS,
      binding: bindingOf(user.passwordHash),
    });
    return { access_token: token, token_type: 'Bearer', expires_in: Math.floor(TOKEN_LIFETIME_MS / 1000) };
  }

  /** Revokes the request's bearer token; false when the request has no valid one. */
  async revoke(req: IncomingMessage, remoteAddress: string, secure: boolean): Promise<AuthResult> {
    const token = parseBearer(req.headers.authorization);
    if (token === null) return { ok: false, status: 401, detail: 'Logout takes the bearer token to revoke', headers: this.challenge() };
    const result = await this.check(req, remoteAddress, secure);
    if (result.ok) await this.deps.index.deleteAuthToken(sha256(token));
    return result;
  }
}
