/** What the JMAP methods use: the index, the contact store, the shared write path and notifications, the limits. */
import type { BlobStore } from '#core/ports/blob-store.ts';
import type { ContactStore } from '#core/ports/contacts.ts';
import type { MailboxEvents } from '#core/mailbox/events.ts';
import type { MailboxWrites } from '#core/mailbox/writes.ts';
import type { MailIndex } from '#core/ports/mail-index.ts';
import type { CoreLimits } from './limits.ts';

export interface JmapServices {
  index: MailIndex;
  blobs: BlobStore;
  /** Address books and cards (JMAP for Contacts; the store CardDAV serves). */
  contacts: ContactStore;
  writes: MailboxWrites;
  events: MailboxEvents;
  limits: CoreLimits;
  /** Serialises each account's writing methods (see AccountLocks). */
  locks: AccountLocks;
}

/**
 * Runs the /set-like methods of one account one at a time in this process, so that
 * `ifInState` is checked and the writes made without another /set in between (RFC 8620 §5.3:
 * of two calls with the same ifInState, one gets stateMismatch). Across listener processes
 * the check is not atomic with the writes (the index has no per-account transaction); two
 * processes may both pass it (docs/jmap.md).
 */
export class AccountLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
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
