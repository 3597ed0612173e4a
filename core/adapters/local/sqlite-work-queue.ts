/**
 * WorkQueue in one SQLite file (`<dataDir>/queue.sqlite`, WAL mode, separate from the index),
 * with SQS semantics so the local runner behaves like production:
 *  - at-least-once: a received job is hidden for the visibility timeout and becomes visible
 *    again unless acked (a worker that dies mid-job leaves it to be retried, invariant 1);
 *  - every receive gets a new receipt; a receipt stops working once the job is received again,
 *    and ack/release with such a stale receipt does nothing (SQS: "the request succeeds, but
 *    the message might not be deleted"), so a slow worker cannot delete a job that another
 *    worker now holds;
 *  - a job that has been received `maxReceiveCount` times moves to the dead-letter set on the
 *    next receive attempt, as SQS's redrive policy does; release() does not reset the count;
 *  - limits as SQS: body ≤ 256 KiB of JSON, delay ≤ 900 s, wait ≤ 20 s, max ≤ 10 per receive;
 *    jobs older than the queue's retention (core/resources.ts QUEUES) are dropped.
 *
 * Jobs are rows committed with `synchronous = FULL`, so they survive a crash or restart; a job
 * received by a process that then dies becomes visible again when its timeout runs out.
 *
 * Group commit of sends (durability argument, invariant 1). A commit with `synchronous = FULL`
 * costs one fsync of the WAL, and node:sqlite runs it on the event loop, so a commit per SMTP
 * message serialised every listener behind the disk. send() therefore only validates its job
 * and adds it to a batch; the batch is written at the end of the current turn of the event
 * loop (setImmediate) as ONE `BEGIN IMMEDIATE … COMMIT` holding every job sent meanwhile, with
 * one fsync. Each send's promise settles only after that COMMIT has returned: resolved when
 * it succeeded, so the row is on disk before the caller (acceptMessage) may answer 250;
 * rejected, for every job of the batch, when it failed, and then the rollback means none of
 * them is in the queue, so each caller answers 451 and deletes its blob. No promise resolves
 * on the strength of a commit that does not contain its row, and a crash before the COMMIT
 * returns loses only jobs whose senders have not been told 250. The batch waits for nothing
 * but the current turn (no timer): one message alone is committed as soon as it would have
 * been, and under load the jobs that arrive while a commit blocks the loop share the next.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import type { DeadLetter, QueueName, QueueStats, ReceiveOptions, ReceivedJob, WorkQueue } from '#core/ports/work-queue.ts';
import { QUEUES } from '#core/resources.ts';
import { openSqlite, type SqliteHandle } from './sqlite-db.ts';

/**
 * Receives, acks and releases commit without an fsync: losing one to a power cut only makes a
 * job come back (redelivery is harmless: delivery is idempotent, invariant 2). `send` stays
 * fully durable, because the SMTP 250 depends on it (invariant 1).
 */
const RELAXED = { durable: false } as const;

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  queue TEXT NOT NULL,
  body TEXT NOT NULL,
  sent_at INTEGER NOT NULL,
  visible_at INTEGER NOT NULL,
  receive_count INTEGER NOT NULL DEFAULT 0,
  receipt TEXT,
  dead INTEGER NOT NULL DEFAULT 0,
  dead_at INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (queue, dead, visible_at, seq);
CREATE INDEX IF NOT EXISTS jobs_receipt ON jobs (receipt);
`;

/** SQS limits, kept locally so that what works here works there. */
export const MAX_BODY_BYTES = 256 * 1024;
const MAX_DELAY_SECONDS = 900;
const MAX_WAIT_SECONDS = 20;
const MAX_RECEIVE_BATCH = 10;
const MAX_VISIBILITY_SECONDS = 12 * 3600;
/** Most jobs one group commit writes (a bound on the time one commit holds the write lock). */
const MAX_SEND_BATCH = 500;

export interface SqliteWorkQueueOptions {
  dataDir: string;
  /** Database file; default `<dataDir>/queue.sqlite`. */
  file?: string;
  /** Overrides of QUEUES[q].maxReceiveCount (tests). */
  maxReceiveCount?: Partial<Record<QueueName, number>>;
  /** Overrides of QUEUES[q].visibilityTimeoutSeconds, the default of receive(). */
  visibilityTimeoutSeconds?: Partial<Record<QueueName, number>>;
  /** How often a waiting receive looks for jobs sent by other processes; default 200 ms. */
  pollIntervalMs?: number;
  busyTimeoutMs?: number;
}

/** A sent job waiting for its group commit. */
interface PendingSend {
  id: string;
  queue: QueueName;
  json: string;
  now: number;
  visibleAt: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface JobRow {
  seq: number;
  id: string;
  body: string;
  sent_at: number;
  receive_count: number;
}

/**
 * Same-process wake-ups: a send wakes the receivers waiting on the same file at once, in this
 * thread directly and in the process's other threads (the local ingest thread,
 * fargate-listeners/src/ingest-thread.ts) through a BroadcastChannel; other processes find
 * the job at their next poll.
 */
const waiters = new Map<string, Set<() => void>>();
let channel: BroadcastChannel | null = null;

function wakeHere(file: string): void {
  const set = waiters.get(file);
  if (!set) return;
  for (const w of [...set]) w();
}

function wake(file: string): void {
  wakeHere(file);
  wakeChannel().postMessage(file);
}

function wakeChannel(): BroadcastChannel {
  if (!channel) {
    channel = new BroadcastChannel('cloudmail:sqlite-work-queue');
    channel.onmessage = (e: unknown) => wakeHere(String((e as { data: unknown }).data));
    // Listening must not keep a process (or thread) alive that has nothing else to do.
    channel.unref();
  }
  return channel;
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

function checkQueue(queue: QueueName): void {
  if (!Object.hasOwn(QUEUES, queue)) throw new Error(`unknown queue: ${String(queue)}`);
}

export class SqliteWorkQueue implements WorkQueue {
  readonly file: string;
  private readonly h: SqliteHandle;
  private readonly options: SqliteWorkQueueOptions;
  private closed = false;
  private readonly pending = new Set<() => void>();
  private readonly lastPurge = new Map<QueueName, number>();
  /** Sends not yet committed, and whether a group commit is scheduled for them. */
  private batch: PendingSend[] = [];
  private flushScheduled = false;

  constructor(options: SqliteWorkQueueOptions) {
    this.options = options;
    this.file = path.resolve(options.file ?? path.join(options.dataDir, 'queue.sqlite'));
    this.h = openSqlite(this.file, 'work-queue', SCHEMA_VERSION, SCHEMA, options.busyTimeoutMs);
  }

  maxReceiveCount(queue: QueueName): number {
    return this.options.maxReceiveCount?.[queue] ?? QUEUES[queue].maxReceiveCount;
  }

  async send<T>(queue: QueueName, body: T, options: { delaySeconds?: number } = {}): Promise<string> {
    checkQueue(queue);
    const json = JSON.stringify(body ?? null);
    if (Buffer.byteLength(json, 'utf8') > MAX_BODY_BYTES) throw new Error(`job body exceeds ${MAX_BODY_BYTES} bytes (SQS limit)`);
    const delay = clamp(options.delaySeconds ?? 0, 0, MAX_DELAY_SECONDS);
    if (this.closed) throw new Error('work queue closed');
    const id = randomUUID();
    const now = Date.now();
    await new Promise<void>((resolve, reject) => {
      this.batch.push({ id, queue, json, now, visibleAt: now + Math.round(delay * 1000), resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushSends());
      }
    });
    return id;
  }

  /** The group commit (see the top of this file): one durable transaction for the waiting sends. */
  private flushSends(): void {
    this.flushScheduled = false;
    while (this.batch.length > 0) {
      const group = this.batch.splice(0, MAX_SEND_BATCH);
      try {
        if (this.closed) throw new Error('work queue closed');
        this.h.immediate(() => {
          const insert = this.h.stmt('INSERT INTO jobs (id, queue, body, sent_at, visible_at) VALUES (?, ?, ?, ?, ?)');
          for (const j of group) insert.run(j.id, j.queue, j.json, j.now, j.visibleAt);
        });
      } catch (err) {
        for (const j of group) j.reject(err);
        continue;
      }
      for (const j of group) j.resolve();
      if (group.some((j) => j.visibleAt <= j.now)) wake(this.file);
    }
  }

  async receive<T>(queue: QueueName, options: ReceiveOptions = {}): Promise<ReceivedJob<T>[]> {
    checkQueue(queue);
    const max = clamp(Math.floor(options.max ?? 1), 1, MAX_RECEIVE_BATCH);
    const visibility = clamp(
      options.visibilityTimeoutSeconds ?? this.options.visibilityTimeoutSeconds?.[queue] ?? QUEUES[queue].visibilityTimeoutSeconds,
      0,
      MAX_VISIBILITY_SECONDS,
    );
    const deadline = Date.now() + clamp(options.waitSeconds ?? 0, 0, MAX_WAIT_SECONDS) * 1000;
    const poll = this.options.pollIntervalMs ?? 200;
    for (;;) {
      if (this.closed) return [];
      const jobs = this.take<T>(queue, max, visibility);
      if (jobs.length > 0) return jobs;
      const now = Date.now();
      if (now >= deadline) return [];
      // Sleep until the next delayed/hidden job is due, a same-process send, or the poll interval.
      const nextDue = this.h.stmt('SELECT MIN(visible_at) AS t FROM jobs WHERE queue = ? AND dead = 0 AND visible_at > ?').get(queue, now) as {
        t: number | null;
      };
      const dueIn = nextDue.t === null ? Infinity : nextDue.t - now;
      await this.sleep(Math.max(1, Math.min(poll, dueIn, deadline - now)));
    }
  }

  async ack(queue: QueueName, receipt: string): Promise<void> {
    checkQueue(queue);
    this.h.immediate(() => {
      this.h.stmt('DELETE FROM jobs WHERE receipt = ? AND queue = ? AND dead = 0').run(receipt, queue);
    }, RELAXED);
  }

  async release(queue: QueueName, receipt: string, delaySeconds: number): Promise<void> {
    checkQueue(queue);
    const delay = clamp(delaySeconds, 0, MAX_VISIBILITY_SECONDS);
    this.h.immediate(() => {
      this.h.stmt('UPDATE jobs SET visible_at = ? WHERE receipt = ? AND queue = ? AND dead = 0').run(Date.now() + Math.round(delay * 1000), receipt, queue);
    }, RELAXED);
    if (delay === 0) wake(this.file);
  }

  async stats(queue: QueueName): Promise<QueueStats> {
    checkQueue(queue);
    const r = this.h
      .stmt(
        `SELECT
           COALESCE(SUM(dead = 0 AND visible_at <= @now), 0) AS visible,
           COALESCE(SUM(dead = 0 AND visible_at > @now AND receipt IS NOT NULL), 0) AS inFlight,
           COALESCE(SUM(dead = 0 AND visible_at > @now AND receipt IS NULL), 0) AS delayed,
           COALESCE(SUM(dead = 1), 0) AS dead
         FROM jobs WHERE queue = @queue`,
      )
      .get({ now: Date.now(), queue }) as { visible: number; inFlight: number; delayed: number; dead: number };
    return { visible: Number(r.visible), inFlight: Number(r.inFlight), delayed: Number(r.delayed), dead: Number(r.dead) };
  }

  async deadLetters<T>(queue: QueueName, max = 10): Promise<DeadLetter<T>[]> {
    checkQueue(queue);
    const rows = this.h
      .stmt('SELECT id, body, receive_count, sent_at FROM jobs WHERE queue = ? AND dead = 1 ORDER BY dead_at, seq LIMIT ?')
      .all(queue, Math.max(0, Math.floor(max))) as Array<{ id: string; body: string; receive_count: number; sent_at: number }>;
    return rows.map((r) => ({ id: r.id, body: JSON.parse(r.body) as T, receiveCount: r.receive_count, sentAt: r.sent_at }));
  }

  async close(): Promise<void> {
    this.flushSends(); // sends already made are committed (or rejected), not dropped
    this.closed = true;
    for (const w of [...this.pending]) w();
    this.h.close();
  }

  /** One write transaction: hands out up to `max` visible jobs, dead-lettering exhausted ones. */
  private take<T>(queue: QueueName, max: number, visibilitySeconds: number): ReceivedJob<T>[] {
    const now = Date.now();
    // Cheap read first, so idle polling never takes the write lock.
    if (!this.h.stmt('SELECT 1 FROM jobs WHERE queue = ? AND dead = 0 AND visible_at <= ? LIMIT 1').get(queue, now)) return [];
    const limit = this.maxReceiveCount(queue);
    return this.h.immediate(() => {
      this.purgeExpired(queue, now);
      const out: ReceivedJob<T>[] = [];
      // Jobs handed out in this call are excluded: with a 0 s visibility timeout they are visible again at once.
      const select = this.h.stmt(
        `SELECT seq, id, body, sent_at, receive_count FROM jobs
         WHERE queue = ? AND dead = 0 AND visible_at <= ? AND seq NOT IN (SELECT value FROM json_each(?))
         ORDER BY visible_at, seq LIMIT ?`,
      );
      const toDead = this.h.stmt('UPDATE jobs SET dead = 1, dead_at = ?, receipt = NULL WHERE seq = ?');
      const hand = this.h.stmt('UPDATE jobs SET receive_count = ?, receipt = ?, visible_at = ? WHERE seq = ?');
      const handed: number[] = [];
      while (out.length < max) {
        const rows = select.all(queue, now, JSON.stringify(handed), max - out.length) as unknown as JobRow[];
        if (rows.length === 0) break;
        for (const r of rows) {
          if (r.receive_count >= limit) {
            toDead.run(now, r.seq);
            continue;
          }
          const receipt = `${r.id}:${randomBytes(12).toString('base64url')}`;
          const receiveCount = r.receive_count + 1;
          hand.run(receiveCount, receipt, now + Math.round(visibilitySeconds * 1000), r.seq);
          handed.push(r.seq);
          out.push({ id: r.id, receipt, body: JSON.parse(r.body) as T, receiveCount, sentAt: r.sent_at });
        }
      }
      return out;
    }, RELAXED);
  }

  /**
   * Drops jobs past their queue's retention, at most once a minute. As on SQS, a dead letter's
   * retention counts from when the job was first sent, not from when it was dead-lettered.
   */
  private purgeExpired(queue: QueueName, now: number): void {
    if (now - (this.lastPurge.get(queue) ?? 0) < 60_000) return;
    this.lastPurge.set(queue, now);
    const def = QUEUES[queue];
    this.h
      .stmt('DELETE FROM jobs WHERE queue = ? AND ((dead = 0 AND sent_at < ?) OR (dead = 1 AND sent_at < ?))')
      .run(queue, now - def.retentionSeconds * 1000, now - def.deadLetterRetentionSeconds * 1000);
  }

  private sleep(ms: number): Promise<void> {
    wakeChannel(); // so that a send in another thread of this process wakes this receiver
    return new Promise((resolve) => {
      let set = waiters.get(this.file);
      if (!set) {
        set = new Set();
        waiters.set(this.file, set);
      }
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && waiters.get(this.file) === set) waiters.delete(this.file);
        this.pending.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
      this.pending.add(done);
    });
  }
}
