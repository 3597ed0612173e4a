/**
 * Authentication of JMAP requests: HTTP Basic (RFC 7617) with the account's address and
 * password, checked by core/accounts/accounts.ts authenticate() under the process's shared
 * failed-login throttle (auth-throttle.ts; failures here count against IMAP, POP3 and
 * submission too, and theirs against JMAP).
 *
 * Credentials only over TLS: on the plain listener a request is refused (403) unless it comes
 * from loopback and MAIL_ALLOW_PLAINTEXT_LOOPBACK is on, as for IMAP LOGIN.
 *
 * Every JMAP request carries the credentials, and a password check (scrypt) costs tens of
 * milliseconds, so a success is remembered for SUCCESS_CACHE_MS under a SHA-256 of the
 * header (never the password itself). The cost: a password changed with mailctl keeps working
 * on this process for up to that long (one changed through password-route.ts ends at once).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { authenticate } from '#core/accounts/accounts.ts';
import type { MailIndex } from '#core/ports/mail-index.ts';
import type { AuthThrottle } from '../auth-throttle.ts';

export const SUCCESS_CACHE_MS = 60_000;
const SUCCESS_CACHE_MAX = 10_000;

export type AuthResult = { ok: true; user: string } | { ok: false; status: 401 | 403 | 429; detail: string; headers?: Record<string, string> };

export interface AuthDeps {
  index: MailIndex;
  throttle: AuthThrottle;
  allowPlaintextAuthOnLoopback: boolean;
  realm: string;
}

export function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Parses `Authorization: Basic base64(user:pass)`; null when absent or malformed. */
export function parseBasic(header: string | undefined): { user: string; password: string } | null {
  if (!header) return null;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export class BasicAuthenticator {
  private readonly cache = new Map<string, { user: string; until: number }>();
  private readonly deps: AuthDeps;
  constructor(deps: AuthDeps) {
    this.deps = deps;
  }

  /** Forgets the remembered successes of a user (their password changed). */
  forget(user: string): void {
    for (const [key, entry] of this.cache) if (entry.user === user) this.cache.delete(key);
  }

  private challenge(): Record<string, string> {
    return { 'WWW-Authenticate': `Basic realm="${this.deps.realm}", charset="UTF-8"` };
  }

  /** `fresh`: check the password even when a success is remembered (issuing a bearer token must not outlive a password change). */
  async check(req: IncomingMessage, remoteAddress: string, secure: boolean, options: { fresh?: boolean } = {}): Promise<AuthResult> {
    const header = req.headers.authorization;
    if (!secure && !(this.deps.allowPlaintextAuthOnLoopback && isLoopback(remoteAddress))) {
      return { ok: false, status: 403, detail: 'Authentication requires TLS: use the HTTPS port' };
    }
    const creds = parseBasic(header);
    if (!creds) return { ok: false, status: 401, detail: 'Authentication required (HTTP Basic)', headers: this.challenge() };
    const key = createHash('sha256').update(header!).digest('base64');
    const cached = this.cache.get(key);
    if (cached && cached.until > Date.now() && !options.fresh) return { ok: true, user: cached.user };
    if (cached) this.cache.delete(key);

    const attempt = await this.deps.throttle.begin(remoteAddress, creds.user);
    if (!attempt) return { ok: false, status: 429, detail: 'Too many failed logins; try again later', headers: { 'Retry-After': '60' } };
    let user;
    try {
      user = await authenticate(this.deps.index, creds.user, creds.password);
    } catch (err) {
      attempt.release();
      throw err;
    }
    if (!user) {
      this.cache.delete(key); // a fresh check that failed ends a remembered success too
      attempt.fail();
      return { ok: false, status: 401, detail: 'Invalid credentials', headers: this.challenge() };
    }
    attempt.release();
    if (this.cache.size >= SUCCESS_CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { user: user.address, until: Date.now() + SUCCESS_CACHE_MS });
    return { ok: true, user: user.address };
  }
}
