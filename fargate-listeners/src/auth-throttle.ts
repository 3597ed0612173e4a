/**
 * Throttling of failed logins (invariant 6: auth failures are limited): within a sliding
 * window, a client address with too many failures is refused every further attempt, and so
 * is an account that too many failures were aimed at (from any address) — password guessing
 * spread over many addresses is slowed as well. Refused attempts do not reach the password
 * check at all. Counts are per process (one Fargate task); the limits are per task.
 *
 * Any listener may use it (SMTP submission AUTH, IMAP LOGIN/AUTHENTICATE, POP3 USER/PASS).
 */
import type { AuthThrottleConfig } from '../../core/config.ts';

export interface AuthThrottle {
  /** True when the client address or the account has reached its failure limit. */
  blocked(client: string, account: string): boolean;
  /** Records a failed attempt. */
  failed(client: string, account: string): void;
}

/** Entries kept at most per map (oldest dropped first), so a flood cannot exhaust memory. */
const MAX_KEYS = 100_000;

export function clientKey(address: string): string {
  // IPv4-mapped IPv6 is the IPv4 address; IPv6 clients are counted per /64, as one host
  // usually owns the whole prefix.
  const a = address.replace(/^::ffff:/i, '');
  if (!a.includes(':')) return a;
  const groups = a.split('::');
  const head = groups[0].split(':').filter(Boolean);
  const tail = groups.length > 1 ? groups[1].split(':').filter(Boolean) : [];
  const full = [...head, ...Array(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail];
  return full.slice(0, 4).join(':').toLowerCase() + '::/64';
}

export function createAuthThrottle(config: AuthThrottleConfig, now: () => number = Date.now): AuthThrottle {
  const windowMs = config.windowSeconds * 1000;
  const clients = new Map<string, number[]>();
  const accounts = new Map<string, number[]>();

  const recent = (map: Map<string, number[]>, key: string): number[] => {
    const list = map.get(key);
    if (!list) return [];
    const since = now() - windowMs;
    const kept = list.filter((t) => t > since);
    if (kept.length === 0) map.delete(key);
    else if (kept.length !== list.length) map.set(key, kept);
    return kept;
  };
  const add = (map: Map<string, number[]>, key: string) => {
    const list = recent(map, key);
    list.push(now());
    map.delete(key); // re-insert: Map order is then least recently failed first
    map.set(key, list.slice(-1000));
    if (map.size > MAX_KEYS) map.delete(map.keys().next().value as string);
  };

  return {
    blocked(client, account) {
      if (config.maxFailuresPerClient > 0 && recent(clients, clientKey(client)).length >= config.maxFailuresPerClient) return true;
      if (config.maxFailuresPerAccount > 0 && account && recent(accounts, account.toLowerCase()).length >= config.maxFailuresPerAccount) return true;
      return false;
    },
    failed(client, account) {
      add(clients, clientKey(client));
      if (account) add(accounts, account.toLowerCase());
    },
  };
}
