/**
 * What this listener process knows of each account's messages (UID, flags, modseq, date, size,
 * blob key per mailbox; no meta), kept up to date from the index's change log, so that a JMAP
 * call reads what changed since the last one instead of listing the account again
 * (docs/architecture.md, "Cost follows mail, not mailboxes"; the same log serves IMAP
 * CONDSTORE/QRESYNC).
 *
 * Every read starts from the mailbox list the caller has just read (listMailboxes: one small
 * read), so the answer is as fresh as a full listing would be, in any listener process:
 *  - a mailbox whose highestModseq and UIDVALIDITY are what the cache saw is used as it is;
 *  - one that moved is brought forward with changesSince(the modseq it saw, the uidNext read
 *    with it): appended and changed messages are set, expunged UIDs dropped. The port promises
 *    nothing at or below the returned highestModseq is missed; the cache records that state;
 *  - a mailbox it has not seen, one whose log does not reach back (complete: false), or one
 *    recreated under the same id is listed in full once.
 * The mailbox list and the messages are read one after the other, so a write in between may be
 * in the messages but not in the state string the caller computes from the list: the client
 * is then told of that change once more by its next /changes, never left without it.
 *
 * Memory: an account costs ≈ 770 bytes per message; at most MAX_CACHED_MESSAGES are kept in all, the accounts used least recently are dropped first (and listed again if used).
 * Reads of one account are serialised in the process, so two requests do not list it twice.
 */
import type { Mailbox, MailIndex, MessageRecord } from '#core/ports/mail-index.ts';

/**
 * The messages (across accounts) this process keeps at most. Measured: ≈ 770 bytes of heap per
 * message with the Emails built from them (account-view.ts), so ≈ 75 MB — a share a 512 MiB task
 * can spare beside its IMAP sessions.
 */
export const MAX_CACHED_MESSAGES = 100_000;

interface CachedMailbox {
  uidValidity: number;
  highestModseq: number;
  uidNext: number;
  /** UID → record (without meta). Read-only for callers. */
  records: Map<number, MessageRecord>;
}

interface CachedAccount {
  mailboxes: Map<string, CachedMailbox>;
  messages: number;
  /** Moves whenever a read changed anything of the account. */
  version: number;
  /** What a caller built from the records at `version` (see memo()). */
  memo?: { version: number; key: string; value: unknown };
}

/** The records of a read, and the account's version they are. */
export interface CachedRecords {
  lists: Map<string, MessageRecord[]>;
  version: number;
}

/** How a read went (for tests and the benchmark): mailboxes listed in full, and brought forward from the log. */
export interface CacheReadStats {
  listed: number;
  caughtUp: number;
}

export class AccountCache {
  private readonly accounts = new Map<string, CachedAccount>();
  private readonly tails = new Map<string, Promise<unknown>>();
  private total = 0;
  /** Totals since the cache was made. */
  readonly stats: CacheReadStats = { listed: 0, caughtUp: 0 };

  private readonly index: MailIndex;
  private readonly maxMessages: number;

  constructor(index: MailIndex, maxMessages = MAX_CACHED_MESSAGES) {
    this.index = index;
    this.maxMessages = maxMessages;
  }

  /**
   * The records of each of `mailboxes` (as just read by the caller), in UID order, current at
   * least as of that read. The records are shared with the cache: callers must not change them.
   * `complete`: `mailboxes` is the account's whole list (mailboxes not in it are forgotten).
   */
  async records(user: string, mailboxes: readonly Mailbox[], options: { complete?: boolean } = {}): Promise<CachedRecords> {
    return this.serialise(user, async () => {
      let account = this.accounts.get(user);
      if (account) this.accounts.delete(user); // re-inserted below: most recently used last
      account ??= { mailboxes: new Map(), messages: 0, version: 0 };
      this.accounts.set(user, account);
      if (options.complete) {
        // `mailboxes` is the whole list: forget the mailboxes deleted since.
        const live = new Set(mailboxes.map((m) => m.id));
        for (const id of account.mailboxes.keys()) {
          if (live.has(id)) continue;
          account.mailboxes.delete(id);
          account.version++;
        }
      }
      const changed = await Promise.all(mailboxes.map((m) => this.refresh(user, account, m)));
      if (changed.some(Boolean)) account.version++;
      this.recount(account);
      this.evict(user);
      const lists = new Map<string, MessageRecord[]>();
      for (const m of mailboxes) {
        const cached = account.mailboxes.get(m.id);
        const list = cached ? [...cached.records.values()] : [];
        // Map order is UID order (listing, then appends at higher UIDs); sort only if not.
        if (list.some((r, i) => i > 0 && list[i - 1].uid > r.uid)) list.sort((a, b) => a.uid - b.uid);
        lists.set(m.id, list);
      }
      return { lists, version: account.version };
    });
  }

  /**
   * A value the caller built from the records of `version` under `key` (e.g. the Emails of a set
   * of mailboxes), kept with the account until the next change; undefined when there is none.
   */
  memo<T>(user: string, version: number, key: string): T | undefined {
    const m = this.accounts.get(user)?.memo;
    return m && m.version === version && m.key === key ? (m.value as T) : undefined;
  }

  setMemo(user: string, version: number, key: string, value: unknown): void {
    const account = this.accounts.get(user);
    if (account && account.version === version) account.memo = { version, key, value };
  }

  /** Forgets an account (e.g. after it was removed). */
  forget(user: string): void {
    const account = this.accounts.get(user);
    if (account) this.total -= account.messages;
    this.accounts.delete(user);
  }

  /** Brings one mailbox forward; true when anything changed. */
  private async refresh(user: string, account: CachedAccount, m: Mailbox): Promise<boolean> {
    const cached = account.mailboxes.get(m.id);
    if (cached && cached.uidValidity === m.uidValidity && cached.highestModseq >= m.highestModseq) return false;
    if (cached && cached.uidValidity === m.uidValidity) {
      const ch = await this.index.changesSince(user, m.id, cached.highestModseq, { uidNext: cached.uidNext });
      if (!ch) {
        account.mailboxes.delete(m.id);
        return true;
      }
      if (ch.complete && ch.state.uidValidity === cached.uidValidity) {
        for (const r of ch.changed) cached.records.set(r.uid, r);
        for (const uid of ch.expunged) cached.records.delete(uid);
        cached.highestModseq = ch.state.highestModseq;
        cached.uidNext = ch.state.uidNext;
        this.stats.caughtUp++;
        return ch.changed.length > 0 || ch.expunged.length > 0;
      }
    }
    // The state read before the listing: everything at or below it is in the listing.
    const records = await this.index.listMessages(user, m.id);
    account.mailboxes.set(m.id, {
      uidValidity: m.uidValidity,
      highestModseq: m.highestModseq,
      uidNext: m.uidNext,
      records: new Map(records.map((r) => [r.uid, r])),
    });
    this.stats.listed++;
    return true;
  }

  private recount(account: CachedAccount): void {
    let n = 0;
    for (const mb of account.mailboxes.values()) n += mb.records.size;
    this.total += n - account.messages;
    account.messages = n;
  }

  /** Drops the least recently used accounts (never `keep`, the one just read) until the total fits. */
  private evict(keep: string): void {
    for (const [user, account] of this.accounts) {
      if (this.total <= this.maxMessages) break;
      if (user === keep) continue;
      this.total -= account.messages;
      this.accounts.delete(user);
    }
  }

  private serialise<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

const caches = new WeakMap<MailIndex, AccountCache>();

/** The process's cache for `index` (one per index instance). */
export function accountCacheOf(index: MailIndex): AccountCache {
  let cache = caches.get(index);
  if (!cache) {
    cache = new AccountCache(index);
    caches.set(index, cache);
  }
  return cache;
}
