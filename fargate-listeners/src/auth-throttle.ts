/**
 * Throttling of failed logins (invariant 6: auth failures are limited): within a sliding
 * window, a client address with too many failures is refused every further attempt, and so
 * is an account that too many failures were aimed at (from any address) — password guessing
 * spread over many addresses is bounded as well. Refused attempts do not reach the password
 * check at all. Counts are per process (one Fargate task); the limits are per task, so N
 * listener tasks allow N times the budget (README, "Security").
 *
 * One throttle per process (mail-system.ts puts it in ListenerDeps) serves SMTP submission
 * AUTH, IMAP LOGIN/AUTHENTICATE and POP3 USER/PASS/AUTH together: a failure on one protocol
 * counts against the others.
 *
 * The account is keyed by the identity authentication resolves (normalizeAddress, the function
 * accounts.ts authenticate() looks the user up with): `alice@example.test `, ` ALICE@…` and the
 * NFD spelling of a name are one account here as they are there.
 */
import { normalizeAddress } from '#core/accounts/addresses.ts';
import type { AuthThrottleConfig } from '#core/config.ts';

export interface AuthThrottle {
  /**
   * Starts a password check: null when the client address or the account has reached its
   * limit (refuse without checking). Otherwise the attempt counts as a failure from now on —
   * so parallel connections cannot all pass the limit while their checks run — until
   * release() takes it back (the password was right, or the check could not be made).
   */
  begin(client: string, account: string): AuthAttempt | null;
  /** True when the client address or the account has reached its failure limit. */
  blocked(client: string, account: string): boolean;
  /** Records a failed attempt that had no begin() (e.g. a refused authorization identity). */
  failed(client: string, account: string): void;
}

export interface AuthAttempt {
  release(): void;
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

/** The account key: the identity authentication looks up (accounts.ts authenticate()). */
export function accountKey(account: string): string {
  return normalizeAddress(account);
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
  const add = (map: Map<string, number[]>, key: string, at: number) => {
    const list = recent(map, key);
    list.push(at);
    map.delete(key); // re-insert: Map order is then least recently failed first
    map.set(key, list.slice(-1000));
    if (map.size > MAX_KEYS) map.delete(map.keys().next().value as string);
  };
  const remove = (map: Map<string, number[]>, key: string, at: number) => {
    const list = map.get(key);
    const i = list ? list.lastIndexOf(at) : -1;
    if (!list || i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) map.delete(key);
  };

  const blocked = (client: string, account: string): boolean => {
    if (config.maxFailuresPerClient > 0 && recent(clients, clientKey(client)).length >= config.maxFailuresPerClient) return true;
    const key = accountKey(account);
    if (config.maxFailuresPerAccount > 0 && key && recent(accounts, key).length >= config.maxFailuresPerAccount) return true;
    return false;
  };
  const failed = (client: string, account: string): (() => void) => {
    const at = now();
    const c = clientKey(client);
    const key = accountKey(account);
    add(clients, c, at);
    if (key) add(accounts, key, at);
    return () => {
      remove(clients, c, at);
      if (key) remove(accounts, key, at);
    };
  };

  return {
    begin(client, account) {
      if (blocked(client, account)) return null;
      let undo: (() => void) | null = failed(client, account);
      return {
        release() {
          undo?.();
          undo = null;
        },
      };
    },
    blocked,
    failed(client, account) {
      failed(client, account);
    },
  };
}
