/**
 * Remembered password checks, so a client that logs in again and again (a phone polling every
 * minute, a mail app opening ten IMAP connections, a load of short sessions) costs one scrypt
 * per `ttl` instead of one per login. Dovecot's `auth_cache` is the precedent.
 *
 * What is kept: an HMAC-SHA-256, under a random key of this process only, of the address, the
 * password given and the user's stored password hash. Never the password. Because the stored
 * hash is part of the key, a changed password (a new hash, with a new salt) misses at once on
 * every process that reads the user record, which every login does; so no invalidation is
 * needed. Only successes are kept (failures go to the throttle, auth-throttle.ts). Bounded in
 * entries (oldest dropped first); entries older than `ttl` are ignored and dropped.
 *
 * The trade: while an entry lives, someone who could read this process's memory could test
 * password guesses against it at HMAC speed rather than scrypt speed. The TTL bounds that
 * window (AUTH_CACHE_SECONDS; 0 turns the cache off).
 */
import { createHmac, randomBytes } from 'node:crypto';

export const DEFAULT_AUTH_CACHE_SECONDS = 300;
const MAX_ENTRIES = 10_000;

export class VerifiedCredentials {
  private readonly secret = randomBytes(32);
  private readonly entries = new Map<string, number>();
  private ttlMs: number;
  private readonly now: () => number;

  constructor(ttlSeconds = DEFAULT_AUTH_CACHE_SECONDS, now: () => number = Date.now) {
    this.ttlMs = ttlSeconds * 1000;
    this.now = now;
  }

  setTtl(seconds: number): void {
    this.ttlMs = seconds * 1000;
    if (seconds <= 0) this.entries.clear();
  }

  private key(address: string, password: string, passwordHash: string): string {
    return createHmac('sha256', this.secret)
      .update(`${address}\0${password.normalize('NFC')}\0${passwordHash}`)
      .digest('base64url');
  }

  /** True when this password was verified for this address and stored hash within the TTL. */
  has(address: string, password: string, passwordHash: string): boolean {
    if (this.ttlMs <= 0) return false;
    const key = this.key(address, password, passwordHash);
    const at = this.entries.get(key);
    if (at === undefined) return false;
    if (this.now() - at < this.ttlMs) return true;
    this.entries.delete(key);
    return false;
  }

  /** Remembers a successful check. */
  add(address: string, password: string, passwordHash: string): void {
    if (this.ttlMs <= 0) return;
    const key = this.key(address, password, passwordHash);
    this.entries.delete(key);
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, this.now());
  }

  get size(): number {
    return this.entries.size;
  }
}

/** The process's remembered checks, used by accounts.ts authenticate(). */
export const verifiedCredentials = new VerifiedCredentials();
