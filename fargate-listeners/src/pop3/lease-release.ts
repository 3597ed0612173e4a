/**
 * Releasing the POP3 maildrop lock when the store refuses the write (SQLite on a full disk,
 * a DynamoDB hiccup). A session that has ended must never hold the maildrop (RFC 1939 §8: the
 * lock is the session's), yet the row that records the lease stays until a write succeeds.
 * So a failed release is remembered per index and retried — in the background with backoff,
 * and at once before anyone in this process asks for that lease again — until it succeeds or
 * the lease would have run out anyway. The next login of the user then gets the maildrop as
 * soon as the store takes writes again, not only when the lease TTL has passed.
 */
import type { Logger } from '#core/log.ts';
import type { MailIndex } from '#core/ports/mail-index.ts';

interface Pending {
  owner: string;
  /** When the lease expires by itself: no retry is needed after that. */
  expiresAt: number;
  timer: NodeJS.Timeout | null;
  attempts: number;
  /** The releasing session's logger. */
  log: Logger;
}

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 10_000;

export class LeaseReleases {
  private readonly pending = new Map<string, Pending>();
  private readonly index: Pick<MailIndex, 'releaseLease'>;

  constructor(index: Pick<MailIndex, 'releaseLease'>) {
    this.index = index;
  }

  /** Releases `name` for `owner`; when the store fails, keeps trying (see above). */
  async release(name: string, owner: string, ttlSeconds: number, log: Logger): Promise<void> {
    const earlier = this.pending.get(name);
    if (earlier?.timer) clearTimeout(earlier.timer);
    const entry: Pending = { owner, expiresAt: Date.now() + ttlSeconds * 1000, timer: null, attempts: 0, log };
    this.pending.set(name, entry);
    await this.attempt(name, entry);
  }

  /**
   * Before `name` is acquired: a release of it still owed is tried now. Resolves either way;
   * if the store still refuses, the acquire that follows fails the same way and says so.
   */
  async settle(name: string): Promise<void> {
    const entry = this.pending.get(name);
    if (!entry) return;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
    await this.attempt(name, entry);
  }

  /** Releases still owed (tests, diagnostics). */
  get owed(): number {
    return this.pending.size;
  }

  private async attempt(name: string, entry: Pending): Promise<void> {
    if (this.pending.get(name) !== entry) return;
    try {
      await this.index.releaseLease(name, entry.owner);
      this.pending.delete(name);
      if (entry.attempts > 0) entry.log.info('pop3 lease released after retry', { lease: name, attempts: entry.attempts + 1 });
      return;
    } catch (err) {
      entry.attempts++;
      if (Date.now() >= entry.expiresAt) {
        this.pending.delete(name);
        return; // expired by itself: nobody is kept out any longer
      }
      if (entry.attempts === 1) entry.log.warn('pop3 lease release failed; retrying until it succeeds', { lease: name, err });
      const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (entry.attempts - 1), Math.max(0, entry.expiresAt - Date.now()));
      entry.timer = setTimeout(() => void this.attempt(name, entry), delay);
      entry.timer.unref();
    }
  }
}

const perIndex = new WeakMap<object, LeaseReleases>();

/** The one LeaseReleases of an index in this process (shared by the POP3 and POP3S listeners). */
export function leaseReleasesFor(index: Pick<MailIndex, 'releaseLease'>): LeaseReleases {
  let r = perIndex.get(index);
  if (!r) {
    r = new LeaseReleases(index);
    perIndex.set(index, r);
  }
  return r;
}
