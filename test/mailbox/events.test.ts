/**
 * Change notifications across processes (core/mailbox/events.ts with a change feed,
 * core/ports/change-feed.ts) and the IDLE watcher's use of them
 * (fargate-listeners/src/imap/session/commands/idle.ts, MailboxWatcher).
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '#core/log.ts';
import { createMailboxEvents } from '#core/mailbox/events.ts';
import type { ChangeFeed, ChangeListener, MailboxChange } from '#core/ports/change-feed.ts';
import type { MailIndex, MailboxState } from '#core/ports/mail-index.ts';
import { MailboxWatcher } from '#listeners/imap/session/commands/idle.ts';

/** A feed whose other processes are the test: `deliver` plays a notification from elsewhere. */
class TestFeed implements ChangeFeed {
  published: MailboxChange[] = [];
  /** How many publish calls (each may carry several changes). */
  publishes = 0;
  failWith: Error | null = null;
  listener: ChangeListener | null = null;
  closed = false;
  async publish(changes: readonly MailboxChange[]): Promise<void> {
    this.publishes++;
    await new Promise((r) => setTimeout(r, 5));
    if (this.failWith) throw this.failWith;
    this.published.push(...changes);
  }
  async listen(listener: ChangeListener): Promise<void> {
    this.listener = listener;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  deliver(change: MailboxChange | null): void {
    this.listener?.(change);
  }
}

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: createLogger({}, 'debug', (l) => lines.push(JSON.parse(l))) };
}

describe('mailbox events with a change feed', () => {
  it('tells subscribers here at once and publishes to the feed; flush waits for the publish', async () => {
    const feed = new TestFeed();
    const events = createMailboxEvents({ feed });
    const heard: string[] = [];
    events.subscribe('alice', (id) => heard.push(id));
    events.notify('alice', 'mb1');
    expect(heard).toEqual(['mb1']);
    expect(feed.published).toEqual([]);
    await events.flush();
    expect(feed.published).toEqual([{ user: 'alice', mailboxId: 'mb1' }]);
  });

  it('a failed publish is a logged warning, never an error of the write', async () => {
    const feed = new TestFeed();
    feed.failWith = new Error('topic unreachable');
    const { lines, log } = capture();
    const events = createMailboxEvents({ feed, log });
    expect(() => events.notify('alice', 'mb1')).not.toThrow();
    await expect(events.flush()).resolves.toBeUndefined();
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', mailboxId: 'mb1', err: expect.objectContaining({ message: 'topic unreachable' }) }));
  });

  it('after listen(), changes from other processes reach the user subscribers, and "the store changed" the subscribeAny ones', async () => {
    const feed = new TestFeed();
    const events = createMailboxEvents({ feed });
    const heard: string[] = [];
    let any = 0;
    events.subscribe('alice', (id) => heard.push(id));
    events.subscribeAny(() => any++);
    feed.deliver({ user: 'alice', mailboxId: 'before-listen' });
    await events.listen();
    feed.deliver({ user: 'alice', mailboxId: 'mb2' });
    feed.deliver({ user: 'bob', mailboxId: 'mb3' });
    feed.deliver(null);
    expect(heard).toEqual(['mb2']);
    expect(any).toBe(1);
    await events.close();
    expect(feed.closed).toBe(true);
  });
});

describe('mailbox events: publishing in bursts, and a feed that fails to start', () => {
  /** Counts the publishes under way at once. */
  class CountingFeed extends TestFeed {
    active = 0;
    maxActive = 0;
    override async publish(changes: readonly MailboxChange[]): Promise<void> {
      this.active++;
      this.maxActive = Math.max(this.maxActive, this.active);
      try {
        await super.publish(changes);
      } finally {
        this.active--;
      }
    }
  }

  it('100 notifies of one mailbox in a burst are a couple of publishes, not 100', async () => {
    const feed = new CountingFeed();
    const events = createMailboxEvents({ feed });
    for (let i = 0; i < 100; i++) events.notify('alice', 'mb1');
    await events.flush();
    expect(feed.published.length).toBeGreaterThanOrEqual(1);
    expect(feed.published.length).toBeLessThanOrEqual(2);
    expect(new Set(feed.published.map((c) => c.mailboxId))).toEqual(new Set(['mb1']));
  });

  it('every distinct mailbox of a burst is published, in a few publishes of many mailboxes, at most 2 at once; flush() waits for all of them', async () => {
    const feed = new CountingFeed();
    const events = createMailboxEvents({ feed });
    for (let round = 0; round < 3; round++) for (let i = 0; i < 50; i++) events.notify(i % 2 ? 'alice' : 'bob', `mb${i}`);
    await events.flush();
    expect(feed.active).toBe(0);
    expect(feed.maxActive).toBeLessThanOrEqual(2);
    const published = new Set(feed.published.map((c) => `${c.user}/${c.mailboxId}`));
    for (let i = 0; i < 50; i++) expect(published).toContain(`${i % 2 ? 'alice' : 'bob'}/mb${i}`);
    // The first two go at once with one mailbox each; the rest wait and go together.
    expect(feed.publishes).toBeLessThanOrEqual(5);
  });

  it('deliveries that finish one after another while a publish is under way go out together (a Lambda batch is not a publish per message)', async () => {
    const feed = new CountingFeed();
    const events = createMailboxEvents({ feed, maxConcurrentPublishes: 1 });
    events.notify('u1', 'INBOX-1');
    for (let i = 2; i <= 10; i++) {
      await new Promise((r) => setTimeout(r, 1));
      events.notify(`u${i}`, `INBOX-${i}`);
    }
    await events.flush();
    expect(feed.published.map((c) => c.user).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `u${i + 1}`).sort());
    // Each publish takes 5 ms and the notifies come about 1 ms apart: a few publishes, not ten.
    expect(feed.publishes).toBeLessThanOrEqual(5);
  });

  it('with a publish delay, the changes told of within it share one publish; flush() sends at once', async () => {
    const feed = new CountingFeed();
    const events = createMailboxEvents({ feed, publishDelayMs: 200 });
    for (let i = 1; i <= 5; i++) {
      events.notify(`u${i}`, 'INBOX');
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(feed.publishes).toBe(0);
    await new Promise((r) => setTimeout(r, 250));
    expect(feed.publishes).toBe(1);
    expect(feed.published.map((c) => c.user)).toEqual(['u1', 'u2', 'u3', 'u4', 'u5']);
    events.notify('u6', 'INBOX');
    const t0 = Date.now();
    await events.flush();
    expect(Date.now() - t0).toBeLessThan(150);
    expect(feed.publishes).toBe(2);
  });

  it('a notify while the mailbox is being published is published again (the receiver may have read before this change)', async () => {
    const feed = new CountingFeed();
    const events = createMailboxEvents({ feed });
    events.notify('alice', 'mb1'); // starts at once
    events.notify('alice', 'mb1'); // queued behind it
    await events.flush();
    expect(feed.published).toHaveLength(2);
  });

  it('a listen() that failed (throttled, role not yet propagated) can be tried again', async () => {
    const feed = new TestFeed();
    let attempts = 0;
    feed.listen = async (listener) => {
      if (++attempts === 1) throw new Error('ThrottlingException');
      feed.listener = listener;
    };
    const events = createMailboxEvents({ feed });
    await expect(events.listen()).rejects.toThrow('ThrottlingException');
    await events.listen();
    expect(attempts).toBe(2);
    const heard: string[] = [];
    events.subscribe('alice', (id) => heard.push(id));
    feed.deliver({ user: 'alice', mailboxId: 'mb1' });
    expect(heard).toEqual(['mb1']);
  });
});

describe('MailboxWatcher', () => {
  const state = (uidNext: number): MailboxState => ({ uidValidity: 1, uidNext, highestModseq: uidNext, messageCount: uidNext - 1 });

  it('wakes on a change from the feed without reading the index', async () => {
    const feed = new TestFeed();
    const events = createMailboxEvents({ feed });
    await events.listen();
    let reads = 0;
    const index = {
      mailboxState: async () => {
        reads++;
        return state(2);
      },
    } as unknown as MailIndex;
    const watcher = new MailboxWatcher(
      index,
      events,
      60_000,
      createLogger({}, 'error', () => {}),
    );
    let woken = 0;
    const stop = watcher.watch('alice', 'mb1', () => woken++);
    feed.deliver({ user: 'alice', mailboxId: 'mb1' });
    feed.deliver({ user: 'alice', mailboxId: 'other' });
    expect(woken).toBe(1);
    expect(reads).toBe(0);
    stop();
    watcher.stop();
  });

  it('"the store changed" during a read of the mailbox state is checked again when the read returns (the change is not left to the slow poll)', async () => {
    const feed = new TestFeed();
    const events = createMailboxEvents({ feed });
    await events.listen();
    // Each read waits until the test answers it with the state the read saw.
    const pending: Array<(s: MailboxState) => void> = [];
    const index = { mailboxState: () => new Promise<MailboxState>((resolve) => pending.push(resolve)) } as unknown as MailIndex;
    const watcher = new MailboxWatcher(
      index,
      events,
      60_000,
      createLogger({}, 'error', () => {}),
    );
    let woken = 0;
    watcher.watch('alice', 'mb1', () => woken++);
    const settle = () => new Promise((r) => setTimeout(r, 0));

    feed.deliver(null); // another process committed: the watcher reads the state
    expect(pending).toHaveLength(1);
    feed.deliver(null); // a second commit, announced while that read is under way: no second read at once
    expect(pending).toHaveLength(1);
    pending.shift()!(state(2)); // the first read saw the state before the second commit
    await settle();
    expect(woken).toBe(1); // first look at the mailbox
    expect(pending).toHaveLength(1); // read again for the announcement made meanwhile
    pending.shift()!(state(3));
    await settle();
    expect(woken).toBe(2);
    feed.deliver(null); // nothing moved since: no wake-up
    pending.shift()!(state(3));
    await settle();
    expect(woken).toBe(2);
    watcher.stop();
  });
});
