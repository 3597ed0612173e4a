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
   * Starts a password check. Resolves null when the client address or the account has reached
   * its failure limit (refuse without checking). Otherwise the attempt counts as a failure from
   * now on until release() takes it back (the password was right, or the check could not be
   * made). When the checks already in progress could take the count to the limit, the new one
   * waits (at most maxWaitMs) for one of them to end instead of being refused: so parallel
   * connections cannot pass the limit while their checks run, and a crowd of right passwords
   * (an office behind one NAT address, a client opening ten connections) is only delayed.
   */
  begin(client: string, account: string): Promise<AuthAttempt | null>;
  /** True when the client address or the account has reached its failure limit. */
  blocked(client: string, account: string): boolean;
  /** Records a failed attempt that had no begin() (e.g. a refused authorization identity). */
  failed(client: string, account: string): void;
}

export interface AuthAttempt {
  /** The password was right, or the check could not be made: the attempt does not count. */
  release(): void;
  /** The password was wrong: the attempt stays counted as a failure. */
  fail(): void;
}

export interface AuthThrottleOptions {
  now?: () => number;
  /** How long begin() waits for checks in progress before refusing (default 30 s: clients wait a minute). */
  maxWaitMs?: number;
  /** An attempt neither released nor failed by then counts as a failed one (default 60 s). */
  settleMs?: number;
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

export function createAuthThrottle(config: AuthThrottleConfig, options: AuthThrottleOptions = {}): AuthThrottle {
  const now = options.now ?? Date.now;
  const maxWaitMs = options.maxWaitMs ?? 30_000;
  const settleMs = options.settleMs ?? 60_000;
  const windowMs = config.windowSeconds * 1000;
  const clients = new Map<string, number[]>();
  const accounts = new Map<string, number[]>();
  /** Checks in progress per key ('c:' client, 'a:' account); their entries are in the maps above. */
  const inProgress = new Map<string, number>();
  /** begin() calls waiting for a check in progress to end. */
  const waiters = new Set<() => void>();

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
  const count = (key: string, delta: number) => {
    const n = (inProgress.get(key) ?? 0) + delta;
    if (n > 0) inProgress.set(key, n);
    else inProgress.delete(key);
  };

  /** Failures in the window; with `settledOnly`, without the checks still in progress. */
  const over = (client: string, account: string, settledOnly: boolean): boolean => {
    const c = clientKey(client);
    const a = accountKey(account);
    const pending = (key: string) => (settledOnly ? (inProgress.get(key) ?? 0) : 0);
    if (config.maxFailuresPerClient > 0 && recent(clients, c).length - pending(`c:${c}`) >= config.maxFailuresPerClient) return true;
    if (config.maxFailuresPerAccount > 0 && a && recent(accounts, a).length - pending(`a:${a}`) >= config.maxFailuresPerAccount) return true;
    return false;
  };
  const blocked = (client: string, account: string): boolean => over(client, account, true);
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
  const wake = () => {
    const all = [...waiters];
    waiters.clear();
    for (const w of all) w();
  };
  const waitForAnEnd = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiters.add(done);
    });

  return {
    async begin(client, account) {
      const started = Date.now();
      for (;;) {
        if (blocked(client, account)) return null;
        if (!over(client, account, false)) break;
        const left = maxWaitMs - (Date.now() - started);
        if (left <= 0) return null;
        // Re-check at least every second: entries also leave the window with time.
        await waitForAnEnd(Math.min(left, 1000));
      }
      const keys = [`c:${clientKey(client)}`, ...(accountKey(account) ? [`a:${accountKey(account)}`] : [])];
      let undo: (() => void) | null = failed(client, account);
      keys.forEach((k) => count(k, 1));
      let open = true;
      const end = (counted: boolean) => {
        if (!open) return;
        open = false;
        clearTimeout(timer);
        keys.forEach((k) => count(k, -1));
        if (!counted) undo?.();
        undo = null;
        wake();
      };
      const timer = setTimeout(() => end(true), settleMs);
      timer.unref?.();
      return { release: () => end(false), fail: () => end(true) };
    },
    blocked,
    failed(client, account) {
      failed(client, account);
      wake();
    },
  };
}
