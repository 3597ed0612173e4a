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
 * 2 at a time, and each carries every mailbox told of while they were under way (up to
 * MAX_CHANGES_PER_PUBLISH): a Lambda batch of deliveries is a publish or two, not one per
 * message. A mailbox told of again while it waits to be published is published once.
 * flush() waits for the publishes under way and queued: a Lambda handler
 * awaits it before returning (a frozen container sends nothing), mailctl before it exits.
 */
import { EventEmitter } from 'node:events';
import { silentLogger, type Logger } from '../log.ts';
import { MAX_CHANGES_PER_PUBLISH, type ChangeFeed, type MailboxChange } from '../ports/change-feed.ts';

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
  /** Publishes under way at once, at most; default 2 (what is told meanwhile goes out together in the next). */
  maxConcurrentPublishes?: number;
  /**
   * How long a change told of in a quiet moment waits for others to share its publish, ms;
   * default 0 (at once). The functions wait (functions/aws-context.ts) and flush at the end of
   * each batch: the deliveries of one batch, or of one message to several recipients, go out
   * in one publish. flush() sends at once.
   */
  publishDelayMs?: number;
}

export function createMailboxEvents(options: MailboxEventsOptions = {}): MailboxEvents {
  const { feed } = options;
  const log = options.log ?? silentLogger;
  const maxConcurrent = Math.max(1, options.maxConcurrentPublishes ?? 2);
  const delayMs = Math.max(0, options.publishDelayMs ?? 0);
  let delayTimer: NodeJS.Timeout | null = null;
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
    while (feed && active < maxConcurrent) {
      // Every queued mailbox not being published now, in one publish (up to the port's cap).
      const batch: Array<[string, MailboxChange]> = [];
      for (const [key, change] of queued) {
        if (batch.length >= MAX_CHANGES_PER_PUBLISH) break;
        if (!sending.has(key)) batch.push([key, change]);
      }
      if (batch.length === 0) return;
      for (const [key] of batch) {
        queued.delete(key);
        sending.add(key);
      }
      active++;
      void feed
        .publish(batch.map(([, change]) => change))
        .then(
          () => undefined,
          (err: unknown) =>
            log.warn('change notification not published; other listeners see the change at their next poll', {
              mailboxId: batch[0][1].mailboxId,
              mailboxes: batch.length,
              err: err as Error,
            }),
        )
        .finally(() => {
          active--;
          for (const [key] of batch) sending.delete(key);
          pump();
          if (active === 0 && queued.size === 0) {
            const waiting = settled;
            settled = [];
            for (const w of waiting) w();
          }
        });
    }
  };
  /** pump(), after the delay (what is told meanwhile joins the publish). */
  const schedule = () => {
    if (delayMs === 0) return pump();
    delayTimer ??= setTimeout(() => {
      delayTimer = null;
      pump();
    }, delayMs);
  };
  let listening = false;
  const flush = async () => {
    if (delayTimer) {
      clearTimeout(delayTimer);
      delayTimer = null;
      pump();
    }
    while (active > 0 || queued.size > 0) await new Promise<void>((resolve) => settled.push(resolve));
  };
  return {
    notify(user, mailboxId) {
      emitter.emit(user, mailboxId);
      if (!feed) return;
      const key = `${user}\0${mailboxId}`;
      if (queued.has(key)) return;
      queued.set(key, { user, mailboxId });
      schedule();
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
