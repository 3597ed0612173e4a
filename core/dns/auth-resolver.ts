/**
 * The DNS resolver of inbound verification (SPF, DKIM, DMARC, ARC, reverse DNS, blocklists),
 * in the shape mailauth asks for: `(name, rrtype) => records`, failures thrown as Node's DNS
 * errors with their `code` (ENOTFOUND, ENODATA: the name or the records do not exist;
 * ETIMEOUT, ESERVFAIL, ECONNREFUSED, ...: temporary, mailauth reports them as `temperror`).
 * It asks the same servers as the MX routing resolver (DNS_SERVERS, DNS_TIMEOUT_MS, DNS_TRIES;
 * core/dns/resolver.ts).
 *
 * Answers are cached per process so a busy MX does not ask the same key and policy records
 * for every message:
 *  - A and AAAA for as long as their TTL says (Node reports the TTL of these types);
 *  - other types (TXT, MX, PTR, CNAME) for DNS_CACHE_SECONDS: Node's resolver does not
 *    report their TTL, so the cache cannot honour a shorter one — keep DNS_CACHE_SECONDS at
 *    or below the TTLs of the records that matter (300 s by default, a common TTL);
 *  - "no such name / no such record" (ENOTFOUND, ENODATA) for at most NEGATIVE_CACHE_SECONDS
 *    (RFC 2308 negative caching; the SOA minimum is not reported either);
 *  - temporary failures never: the next message (the sender's retry after our 451) asks again.
 * No entry outlives DNS_CACHE_SECONDS; 0 turns the cache off. The cache is bounded by the
 * octets its entries hold (MAX_CACHE_BYTES, an estimate: names, record text, a fixed cost per
 * entry and record), not by a count — one TXT answer may be 64 KiB, so a count would let
 * hostile senders' records grow it to gigabytes — and the least recently stored go first;
 * expired entries are dropped every minute. The RFC 7208 §4.6.4 limits (10
 * DNS-querying mechanisms, 2 void lookups) are counted per SPF evaluation by mailauth, cached
 * answers included.
 */
import { Resolver } from 'node:dns/promises';
import type { DnsConfig } from '../config.ts';

/** mailauth's resolver shape: string[] for A/AAAA/PTR/CNAME/NS, string[][] for TXT, MxRecord[] for MX. */
export type AuthDnsResolver = (name: string, rrtype: string) => Promise<string[] | string[][]>;

export const NEGATIVE_CACHE_SECONDS = 60;
/** Octets the cache may hold (estimated); the oldest entries go first. */
export const MAX_CACHE_BYTES = 16 * 1024 * 1024;
/** Estimated cost of an entry and of each record beyond their text (objects, map slots). */
const ENTRY_OVERHEAD = 128;
const RECORD_OVERHEAD = 32;
const SWEEP_MS = 60_000;

export interface AuthResolverOptions {
  /** Upper bound of every cached answer, in seconds; 0 = no cache. */
  cacheSeconds: number;
  /** The clock, epoch ms (tests). */
  now?: () => number;
  /** Octets the cache may hold; MAX_CACHE_BYTES unless given (tests). */
  maxBytes?: number;
}

interface Entry {
  expires: number;
  value?: unknown;
  error?: NodeJS.ErrnoException;
  bytes: number;
}

export interface CachingAuthResolver {
  resolve: AuthDnsResolver;
  /** Questions sent to the servers (not answered from the cache), as `name TYPE`; tests. */
  readonly misses: number;
  /** Estimated octets the cache holds now. */
  readonly cachedBytes: number;
  /** Stops the periodic clean-up of expired entries. */
  close(): void;
}

/** Estimated octets of an answer: its strings (one octet per character) and a cost per record. */
function answerBytes(value: unknown): number {
  if (typeof value === 'string') return value.length + RECORD_OVERHEAD;
  if (Array.isArray(value)) return value.reduce<number>((n, v) => n + answerBytes(v), RECORD_OVERHEAD);
  if (value && typeof value === 'object') return Object.values(value).reduce<number>((n, v) => n + answerBytes(v), RECORD_OVERHEAD);
  return 8;
}

function copyError(err: NodeJS.ErrnoException): NodeJS.ErrnoException {
  // mailauth writes its verdict onto the error it gets: every caller gets its own.
  const copy = new Error(err.message) as NodeJS.ErrnoException;
  copy.code = err.code;
  return copy;
}

export function createAuthResolver(config: DnsConfig, options: AuthResolverOptions): CachingAuthResolver {
  const resolver = new Resolver({ timeout: config.timeoutMs, tries: Math.max(1, config.tries) });
  if (config.servers.length > 0) resolver.setServers(config.servers);
  const now = options.now ?? Date.now;
  const capMs = options.cacheSeconds * 1000;
  const maxBytes = options.maxBytes ?? MAX_CACHE_BYTES;
  const cache = new Map<string, Entry>();
  let bytes = 0;
  const inFlight = new Map<string, Promise<unknown>>();
  let misses = 0;
  const forget = (key: string) => {
    const e = cache.get(key);
    if (!e) return;
    bytes -= e.bytes;
    cache.delete(key);
  };
  const timer = setInterval(() => {
    const t = now();
    for (const [key, e] of cache) if (e.expires <= t) forget(key);
  }, SWEEP_MS);
  timer.unref();

  /** The answer and how long it may be kept (ms). */
  const query = async (name: string, type: string): Promise<{ value: unknown; ttlMs: number }> => {
    switch (type) {
      case 'A':
      case 'AAAA': {
        const records = type === 'A' ? await resolver.resolve4(name, { ttl: true }) : await resolver.resolve6(name, { ttl: true });
        const ttl = records.length > 0 ? Math.min(...records.map((r) => r.ttl)) : 0;
        return { value: records.map((r) => r.address), ttlMs: Math.min(capMs, ttl * 1000) };
      }
      case 'TXT':
        return { value: await resolver.resolveTxt(name), ttlMs: capMs };
      case 'MX':
        return { value: await resolver.resolveMx(name), ttlMs: capMs };
      case 'PTR':
        return { value: await resolver.resolvePtr(name), ttlMs: capMs };
      case 'CNAME':
        return { value: await resolver.resolveCname(name), ttlMs: capMs };
      case 'NS':
        return { value: await resolver.resolveNs(name), ttlMs: capMs };
      default: {
        const err = new Error(`unsupported DNS record type ${type}`) as NodeJS.ErrnoException;
        err.code = 'ENOTIMP';
        throw err;
      }
    }
  };

  const remember = (key: string, entry: Omit<Entry, 'bytes'>) => {
    if (entry.expires <= now()) return;
    const size = ENTRY_OVERHEAD + key.length + (entry.error ? 64 : answerBytes(entry.value));
    if (size > maxBytes) return;
    forget(key);
    while (cache.size > 0 && bytes + size > maxBytes) forget(cache.keys().next().value!);
    cache.set(key, { ...entry, bytes: size });
    bytes += size;
  };

  const resolve: AuthDnsResolver = async (name, rrtype) => {
    const type = rrtype.toUpperCase();
    const key = `${type} ${name.toLowerCase().replace(/\.$/, '')}`;
    const hit = cache.get(key);
    if (hit && hit.expires > now()) {
      if (hit.error) throw copyError(hit.error);
      return (hit.value as string[]).slice();
    }
    if (hit) forget(key);
    let pending = inFlight.get(key);
    if (!pending) {
      misses++;
      pending = query(name, type).then(
        ({ value, ttlMs }) => {
          remember(key, { expires: now() + ttlMs, value });
          return value;
        },
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOTFOUND' || err.code === 'ENODATA')
            remember(key, { expires: now() + Math.min(capMs, NEGATIVE_CACHE_SECONDS * 1000), error: err });
          throw err;
        },
      );
      inFlight.set(key, pending);
      void pending.then(
        () => inFlight.delete(key),
        () => inFlight.delete(key),
      );
    }
    try {
      // A fresh list for every caller: mailauth sorts MX lists in place.
      return ((await pending) as string[]).slice();
    } catch (err) {
      throw copyError(err as NodeJS.ErrnoException);
    }
  };
  return {
    resolve,
    get misses() {
      return misses;
    },
    get cachedBytes() {
      return bytes;
    },
    close() {
      clearInterval(timer);
    },
  };
}
