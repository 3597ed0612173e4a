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
 * logged as a warning (the listeners' slow poll still finds the change). Publishes run at most
 * 8 at a time; a mailbox told of again while its publish is still waiting to start is
 * published once. flush() waits for the publishes under way and queued: a Lambda handler
 * awaits it before returning (a frozen container sends nothing), mailctl before it exits.
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
  /** Publishes under way at once, at most; default 8. */
  maxConcurrentPublishes?: number;
}

export function createMailboxEvents(options: MailboxEventsOptions = {}): MailboxEvents {
  const { feed } = options;
  const log = options.log ?? silentLogger;
  const maxConcurrent = Math.max(1, options.maxConcurrentPublishes ?? 8);
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const ANY = Symbol('any');
  // Changes told of and not yet published, in order, one entry per (user, mailbox): a burst of
  // notifies of one mailbox is one publish (a notification names the mailbox, nothing more).
  // Once a publish has started, a new notify queues the mailbox again (the receiver may read
  // before the new commit); one publish per mailbox is under way at a time.
  // A mailbox whose publish is under way waits in `queued` until that publish settles.
  const queued = new Map<string, { user: string; mailboxId: string }>();
  const sending = new Set<string>();
  let active = 0;
  let settled: Array<() => void> = [];
  const pump = () => {
    for (const [key, change] of queued) {
      if (!feed || active >= maxConcurrent) return;
      if (sending.has(key)) continue;
      queued.delete(key);
      sending.add(key);
      active++;
      void feed
        .publish(change)
        .then(
          () => undefined,
          (err: unknown) =>
            log.warn('change notification not published; other listeners see the change at their next poll', {
              mailboxId: change.mailboxId,
              err: err as Error,
            }),
        )
        .finally(() => {
          active--;
          sending.delete(key);
          pump();
          if (active === 0 && queued.size === 0) {
            const waiting = settled;
            settled = [];
            for (const w of waiting) w();
          }
        });
    }
  };
  let listening = false;
  const flush = async () => {
    while (active > 0 || queued.size > 0) await new Promise<void>((resolve) => settled.push(resolve));
  };
  return {
    notify(user, mailboxId) {
      emitter.emit(user, mailboxId);
      if (!feed) return;
      const key = `${user}\0${mailboxId}`;
      if (queued.has(key)) return;
      queued.set(key, { user, mailboxId });
      pump();
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
      try {
        await feed.listen((change) => {
          if (change) emitter.emit(change.user, change.mailboxId);
          else emitter.emit(ANY);
        });
      } catch (err) {
        // Not listening: a later listen() tries again.
        listening = false;
        throw err;
      }
    },
    flush,
    async close() {
      await flush();
      if (feed) await feed.close();
    },
  };
}
