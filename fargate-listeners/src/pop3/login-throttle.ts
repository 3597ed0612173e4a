/**
 * Failed-login throttling (docs/architecture.md, invariant 6), in memory, per client address and per
 * account. Every failure in the window doubles the delay before the `-ERR [AUTH]` answer
 * (base, 2×base, 4×base … up to maxDelayMs). An address with `lockoutFailures` failures in the
 * window is refused without checking the password until the window passes; accounts are only
 * slowed, never locked, so a stranger cannot lock a user out.
 *
 * Per process: a container behind the NLB sees only its own connections. That bounds a
 * guessing rate per container, which is the point; a shared store is not needed for it.
 */

import { clientKey } from '../auth-throttle.ts';

export interface LoginThrottleOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  windowMs?: number;
  lockoutFailures?: number;
  /** Entries kept per map before the oldest are dropped (memory bound). */
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  last: number;
}

export class LoginThrottle {
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly windowMs: number;
  private readonly lockoutFailures: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly byAddress = new Map<string, Entry>();
  private readonly byAccount = new Map<string, Entry>();

  constructor(options: LoginThrottleOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 15_000;
    this.windowMs = options.windowMs ?? 15 * 60_000;
    this.lockoutFailures = options.lockoutFailures ?? 30;
    this.maxEntries = options.maxEntries ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  private get(map: Map<string, Entry>, key: string): number {
    const e = map.get(key);
    if (!e) return 0;
    if (this.now() - e.last > this.windowMs) {
      map.delete(key);
      return 0;
    }
    return e.failures;
  }

  private bump(map: Map<string, Entry>, key: string): number {
    const failures = this.get(map, key) + 1;
    map.delete(key); // re-insert: Map order is then oldest-first
    map.set(key, { failures, last: this.now() });
    while (map.size > this.maxEntries) map.delete(map.keys().next().value as string);
    return failures;
  }

  /** True when the address is locked out: answer `-ERR [AUTH]` without checking credentials. */
  lockedOut(address: string): boolean {
    return this.lockoutFailures > 0 && this.get(this.byAddress, clientKey(address)) >= this.lockoutFailures;
  }

  /** Records a failure; returns how long to wait before answering it. */
  failure(address: string, account: string | null): number {
    const a = this.bump(this.byAddress, clientKey(address));
    const b = account ? this.bump(this.byAccount, account.toLowerCase()) : 0;
    const n = Math.max(a, b);
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(n - 1, 30));
  }

  /** A successful login clears the account's count (not the address's). */
  success(account: string): void {
    this.byAccount.delete(account.toLowerCase());
  }
}
