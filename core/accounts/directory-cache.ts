/**
 * Domains and users, cached briefly: the MX listener's RCPT check and the ingest job ask
 * "is this domain ours, does this user exist" for every recipient, and on AWS each answer is a
 * DynamoDB read. One cache per mail index per process (directoryFor), answers kept
 * DIRECTORY_CACHE_SECONDS (default 30; 0 = off), negative answers ("no such user/domain") at
 * most NEGATIVE_TTL_SECONDS, so a user just added is reachable within seconds.
 *
 * Staleness rule: a change made by another process (mailctl on another machine, another
 * listener task, the other Lambda instances) is seen within the TTL — a removed user may still
 * be accepted and receive mail for up to DIRECTORY_CACHE_SECONDS, a new one may be refused for
 * up to NEGATIVE_TTL_SECONDS. mailctl in the same process invalidates the cache at once
 * (invalidateDirectory). Only existence is cached: passwords and mailboxes are always read.
 */
import type { Domain, MailIndex, User } from '../ports/mail-index.ts';

export const DEFAULT_DIRECTORY_CACHE_SECONDS = 30;
export const NEGATIVE_TTL_SECONDS = 5;

export interface DirectoryCacheOptions {
  /** Seconds a found domain/user is kept; 0 = no cache (every call reads the index). */
  ttlSeconds: number;
  /** Seconds a "not found" is kept (at most ttlSeconds). */
  negativeTtlSeconds?: number;
  /** The clock, in epoch ms (tests). */
  now?: () => number;
}

interface Entry<V> {
  value: Promise<V | null>;
  expires: number;
}

/** Entries kept before the oldest are dropped (a directory-harvesting client must not grow it without bound). */
const MAX_ENTRIES = 10_000;

export class DirectoryCache {
  readonly #index: MailIndex;
  readonly #ttlMs: number;
  readonly #negativeTtlMs: number;
  readonly #now: () => number;
  readonly #domains = new Map<string, Entry<Domain>>();
  readonly #users = new Map<string, Entry<User>>();

  constructor(index: MailIndex, options: DirectoryCacheOptions) {
    this.#index = index;
    this.#ttlMs = options.ttlSeconds * 1000;
    this.#negativeTtlMs = Math.min(this.#ttlMs, (options.negativeTtlSeconds ?? NEGATIVE_TTL_SECONDS) * 1000);
    this.#now = options.now ?? Date.now;
  }

  /** The local domain `name` (lower case), or null when it is not ours. */
  domain(name: string): Promise<Domain | null> {
    return this.#get(this.#domains, name, () => this.#index.getDomain(name));
  }

  /** The user `address` (normalised), or null when there is none. */
  user(address: string): Promise<User | null> {
    return this.#get(this.#users, address, () => this.#index.getUser(address));
  }

  /** Forget everything (a domain or user was added, changed or removed in this process). */
  invalidate(): void {
    this.#domains.clear();
    this.#users.clear();
  }

  #get<V>(map: Map<string, Entry<V>>, key: string, read: () => Promise<V | null>): Promise<V | null> {
    if (this.#ttlMs === 0) return read();
    const now = this.#now();
    const hit = map.get(key);
    if (hit && hit.expires > now) return hit.value;
    map.delete(key);
    if (map.size >= MAX_ENTRIES) map.delete(map.keys().next().value!);
    // Concurrent lookups of the same key share one read; a failed read is not kept.
    const entry: Entry<V> = { value: read(), expires: now + this.#ttlMs };
    map.set(key, entry);
    entry.value.then(
      (v) => {
        if (v === null) entry.expires = Math.min(entry.expires, this.#now() + this.#negativeTtlMs);
      },
      () => {
        if (map.get(key) === entry) map.delete(key);
      },
    );
    return entry.value;
  }
}

const caches = new WeakMap<MailIndex, DirectoryCache>();

/** This process's cache in front of `index` (made on first use with `ttlSeconds`). */
export function directoryFor(index: MailIndex, ttlSeconds: number): DirectoryCache {
  let cache = caches.get(index);
  if (!cache) {
    cache = new DirectoryCache(index, { ttlSeconds });
    caches.set(index, cache);
  }
  return cache;
}

/** After a domain or user change through `index` in this process: the next lookup reads it again. */
export function invalidateDirectory(index: MailIndex): void {
  caches.get(index)?.invalidate();
}
