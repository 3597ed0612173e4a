/**
 * Change notifications: "something changed in this user's mailbox". Writers (the ingest job,
 * IMAP/POP3 sessions, mailctl) call notify() after committing; IDLE sessions subscribe and
 * re-read the index at once.
 *
 * With a change feed (core/ports/change-feed.ts) the same notifications cross processes:
 * notify() also publishes to the feed, and once listen() has run, what the feed receives from
 * other processes reaches the same subscribers. A feed that can only say "the store changed"
 * (the local SQLite one) calls the subscribeAny() listeners instead, which re-check what they
 * watch. Publishing never fails a write: notify() returns at once, and a publish error is
 * logged as a warning (the listeners' slow poll still finds the change). flush() waits for the
 * publishes under way: a Lambda handler awaits it before returning (a frozen container sends
 * nothing), mailctl before it exits.
 */
import { EventEmitter } from 'node:events';
import { silentLogger, type Logger } from '../log.ts';
import type { ChangeFeed } from '../ports/change-feed.ts';

export interface MailboxEvents {
  notify(user: string, mailboxId: string): void;
  /** Changes of `user`'s mailboxes, made here or (after listen()) elsewhere. Returns an unsubscribe function. */
  subscribe(user: string, listener: (mailboxId: string) => void): () => void;
  /** "Something in the store changed, which mailbox unknown" (feeds without details). Returns an unsubscribe function. */
  subscribeAny(listener: () => void): () => void;
  /** Starts receiving the feed's changes from other processes (listener processes); no-op without a feed. */
  listen(): Promise<void>;
  /** Resolves when every publish started so far has settled (sent or logged). */
  flush(): Promise<void>;
  /** Flushes, then stops listening. */
  close(): Promise<void>;
}

export interface MailboxEventsOptions {
  feed?: ChangeFeed;
  /** Where a failed publish is reported. */
  log?: Logger;
}

export function createMailboxEvents(options: MailboxEventsOptions = {}): MailboxEvents {
  const { feed } = options;
  const log = options.log ?? silentLogger;
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const ANY = Symbol('any');
  const pending = new Set<Promise<void>>();
  let listening = false;
  const flush = async () => {
    while (pending.size > 0) await Promise.all([...pending]);
  };
  return {
    notify(user, mailboxId) {
      emitter.emit(user, mailboxId);
      if (!feed) return;
      const p = feed.publish({ user, mailboxId }).then(
        () => undefined,
        (err: unknown) => log.warn('change notification not published; other listeners see the change at their next poll', { mailboxId, err: err as Error }),
      );
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },
    subscribe(user, listener) {
      emitter.on(user, listener);
      return () => emitter.off(user, listener);
    },
    subscribeAny(listener) {
      emitter.on(ANY, listener);
      return () => emitter.off(ANY, listener);
    },
    async listen() {
      if (!feed || listening) return;
      listening = true;
      await feed.listen((change) => {
        if (change) emitter.emit(change.user, change.mailboxId);
        else emitter.emit(ANY);
      });
    },
    flush,
    async close() {
      await flush();
      if (feed) await feed.close();
    },
  };
}
