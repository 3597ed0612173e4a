/**
 * Contract of the WorkQueue port (core/ports/work-queue.ts), run against every adapter:
 * SQLite (test/contract/local.test.ts) and SQS (the aws contract test). Uses only the port.
 *
 * Timeouts are whole seconds (SQS granularity) and short, so the suite runs in seconds.
 * Each test gets a fresh fixture (empty queues). Receives that expect a job use a short
 * long-poll (`waitSeconds`), since SQS may return fewer messages than are visible.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { QueueName, ReceivedJob, WorkQueue } from '#core/ports/work-queue.ts';
import { QUEUES } from '#core/resources.ts';

export interface WorkQueueFixture {
  queue: WorkQueue;
  cleanup(): Promise<void>;
}

interface Job {
  n: number;
  tag?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function workQueueContract(adapterName: string, make: () => Promise<WorkQueueFixture>): void {
  describe(`WorkQueue contract: ${adapterName}`, () => {
    let fx: WorkQueueFixture;
    let q: WorkQueue;

    beforeEach(async () => {
      fx = await make();
      q = fx.queue;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    /** Receives until `count` jobs arrived or `seconds` passed (SQS may hand out fewer per call). */
    async function receiveN<T>(queue: QueueName, count: number, seconds = 3, visibilityTimeoutSeconds = 30): Promise<ReceivedJob<T>[]> {
      const got: ReceivedJob<T>[] = [];
      const deadline = Date.now() + seconds * 1000;
      while (got.length < count && Date.now() < deadline) {
        const wait = Math.max(1, Math.min(2, Math.ceil((deadline - Date.now()) / 1000)));
        got.push(...(await q.receive<T>(queue, { max: Math.min(10, count - got.length), waitSeconds: wait, visibilityTimeoutSeconds })));
      }
      return got;
    }

    it('send, receive and ack: the body round-trips, receiveCount is 1, the job is gone after ack', async () => {
      const body = { n: 1, tag: 'ünï', nested: { list: [1, 'two', null, true], empty: {} } };
      const before = Date.now();
      const id = await q.send('ingest', body);
      expect(typeof id).toBe('string');
      expect(id.length).toBeGreaterThan(0);
      const [job, ...rest] = await receiveN<typeof body>('ingest', 1);
      expect(rest).toEqual([]);
      expect(job.id).toBe(id);
      expect(job.body).toEqual(body);
      expect(job.receiveCount).toBe(1);
      expect(typeof job.receipt).toBe('string');
      expect(job.sentAt).toBeGreaterThanOrEqual(before - 2000);
      expect(job.sentAt).toBeLessThanOrEqual(Date.now() + 2000);
      await q.ack('ingest', job.receipt);
      expect(await q.receive('ingest', { waitSeconds: 0 })).toEqual([]);
      expect(await q.stats('ingest')).toEqual({ visible: 0, inFlight: 0, delayed: 0, dead: 0 });
    });

    it('receive on an empty queue returns an empty list', async () => {
      expect(await q.receive('ingest', { waitSeconds: 0 })).toEqual([]);
      expect(await q.receive('ingest', { waitSeconds: 1 })).toEqual([]);
    });

    it('receive hands out each visible job once, up to max per call', async () => {
      const ids = new Set<string>();
      for (let n = 0; n < 5; n++) ids.add(await q.send<Job>('ingest', { n }));
      const jobs = await receiveN<Job>('ingest', 5);
      expect(jobs.length).toBe(5);
      expect(new Set(jobs.map((j) => j.id))).toEqual(ids);
      expect(jobs.map((j) => j.body.n).sort()).toEqual([0, 1, 2, 3, 4]);
      // All in flight now: nothing more to receive.
      expect(await q.receive('ingest', { max: 10, waitSeconds: 0 })).toEqual([]);
      const one = await q.receive('ingest', { max: 1, waitSeconds: 0 });
      expect(one).toEqual([]);
      for (const j of jobs) await q.ack('ingest', j.receipt);
    });

    it('ack removes only the acked job', async () => {
      await q.send<Job>('ingest', { n: 1 });
      await q.send<Job>('ingest', { n: 2 });
      const jobs = await receiveN<Job>('ingest', 2, 3, 1);
      expect(jobs.length).toBe(2);
      await q.ack('ingest', jobs[0].receipt);
      // The other one comes back after its 1 s visibility timeout.
      const again = await receiveN<Job>('ingest', 1, 4);
      expect(again.map((j) => j.id)).toEqual([jobs[1].id]);
      expect(again[0].receiveCount).toBe(2);
    });

    it('a received job is hidden for the visibility timeout, then delivered again with a new receipt', async () => {
      const id = await q.send<Job>('ingest', { n: 7 });
      const [first] = await receiveN<Job>('ingest', 1, 3, 1);
      const receivedAt = Date.now();
      expect(first.id).toBe(id);
      expect(await q.receive('ingest', { waitSeconds: 0 })).toEqual([]);
      expect((await q.stats('ingest')).inFlight).toBe(1);
      const [second] = await receiveN<Job>('ingest', 1, 4);
      expect(Date.now() - receivedAt).toBeGreaterThanOrEqual(900);
      expect(second.id).toBe(id);
      expect(second.body).toEqual({ n: 7 });
      expect(second.receiveCount).toBe(2);
      expect(second.receipt).not.toBe(first.receipt);
      await q.ack('ingest', second.receipt);
      expect(await q.stats('ingest')).toEqual({ visible: 0, inFlight: 0, delayed: 0, dead: 0 });
    });

    it('release(0) makes the job visible at once; its receiveCount goes on counting', async () => {
      const id = await q.send<Job>('outbound', { n: 1 });
      const [first] = await receiveN<Job>('outbound', 1);
      await q.release('outbound', first.receipt, 0);
      const [second] = await receiveN<Job>('outbound', 1, 2);
      expect(second.id).toBe(id);
      expect(second.receiveCount).toBe(2);
      await q.ack('outbound', second.receipt);
    });

    it('release with a delay hides the job for that long', async () => {
      const id = await q.send<Job>('outbound', { n: 2 });
      const [first] = await receiveN<Job>('outbound', 1);
      const releasedAt = Date.now();
      await q.release('outbound', first.receipt, 1);
      expect(await q.receive('outbound', { waitSeconds: 0 })).toEqual([]);
      const [second] = await receiveN<Job>('outbound', 1, 4);
      expect(Date.now() - releasedAt).toBeGreaterThanOrEqual(900);
      expect(second.id).toBe(id);
      expect(second.receiveCount).toBe(2);
      await q.ack('outbound', second.receipt);
    });

    it('send with delaySeconds keeps the job back until the delay has run out', async () => {
      const sentAt = Date.now();
      const id = await q.send<Job>('ingest', { n: 3 }, { delaySeconds: 1 });
      expect(await q.stats('ingest')).toEqual({ visible: 0, inFlight: 0, delayed: 1, dead: 0 });
      expect(await q.receive('ingest', { waitSeconds: 0 })).toEqual([]);
      const [job] = await receiveN<Job>('ingest', 1, 4);
      expect(Date.now() - sentAt).toBeGreaterThanOrEqual(900);
      expect(job.id).toBe(id);
      expect(job.receiveCount).toBe(1);
      await q.ack('ingest', job.receipt);
    });

    it('a long-poll receive returns as soon as a job is sent', async () => {
      const started = Date.now();
      const pending = q.receive<Job>('ingest', { waitSeconds: 5 });
      await sleep(300);
      const id = await q.send<Job>('ingest', { n: 4 });
      const jobs = await pending;
      expect(jobs.map((j) => j.id)).toEqual([id]);
      expect(Date.now() - started).toBeLessThan(4000);
      await q.ack('ingest', jobs[0].receipt);
    });

    it('stats count visible, in-flight, delayed and dead jobs', async () => {
      await q.send<Job>('ingest', { n: 1 });
      await q.send<Job>('ingest', { n: 2 });
      await q.send<Job>('ingest', { n: 3 }, { delaySeconds: 30 });
      expect(await q.stats('ingest')).toEqual({ visible: 2, inFlight: 0, delayed: 1, dead: 0 });
      const [job] = await q.receive<Job>('ingest', { max: 1, waitSeconds: 1, visibilityTimeoutSeconds: 30 });
      expect(job).toBeDefined();
      expect(await q.stats('ingest')).toEqual({ visible: 1, inFlight: 1, delayed: 1, dead: 0 });
      await q.ack('ingest', job.receipt);
      expect(await q.stats('ingest')).toEqual({ visible: 1, inFlight: 0, delayed: 1, dead: 0 });
      expect(await q.stats('outbound')).toEqual({ visible: 0, inFlight: 0, delayed: 0, dead: 0 });
    });

    it(`moves a job to the dead letters after QUEUES.ingest.maxReceiveCount (${QUEUES.ingest.maxReceiveCount}) receives`, async () => {
      const max = QUEUES.ingest.maxReceiveCount;
      const body = { n: 99, tag: 'poison' };
      const id = await q.send('ingest', body);
      const sentBefore = Date.now();
      for (let i = 1; i <= max; i++) {
        const jobs = await receiveN<typeof body>('ingest', 1, 3);
        expect(jobs.map((j) => [j.id, j.receiveCount])).toEqual([[id, i]]);
        await q.release('ingest', jobs[0].receipt, 0);
      }
      // The next receive attempt moves it to the dead letters instead of handing it out.
      expect(await q.receive('ingest', { waitSeconds: 1 })).toEqual([]);
      expect(await q.receive('ingest', { waitSeconds: 0 })).toEqual([]);
      const dead = await q.deadLetters<typeof body>('ingest');
      expect(dead.length).toBe(1);
      expect(dead[0].id).toBe(id);
      expect(dead[0].body).toEqual(body);
      expect(dead[0].receiveCount).toBeGreaterThanOrEqual(max);
      expect(dead[0].sentAt).toBeLessThanOrEqual(sentBefore + 2000);
      expect((await q.stats('ingest')).dead).toBe(1);
      expect((await q.stats('ingest')).visible).toBe(0);
      // Peeking does not consume.
      expect((await q.deadLetters('ingest')).map((d) => d.id)).toEqual([id]);
      expect(await q.deadLetters('outbound')).toEqual([]);
    });

    it("jobs of 'ingest' and 'outbound' do not mix", async () => {
      const a = await q.send<Job>('ingest', { n: 1, tag: 'in' });
      const b = await q.send<Job>('outbound', { n: 2, tag: 'out' });
      const fromOut = await receiveN<Job>('outbound', 1);
      expect(fromOut.map((j) => [j.id, j.body.tag])).toEqual([[b, 'out']]);
      expect(await q.receive('outbound', { waitSeconds: 0 })).toEqual([]);
      const fromIn = await receiveN<Job>('ingest', 1);
      expect(fromIn.map((j) => [j.id, j.body.tag])).toEqual([[a, 'in']]);
      await q.ack('outbound', fromOut[0].receipt);
      await q.ack('ingest', fromIn[0].receipt);
      expect((await q.stats('ingest')).visible + (await q.stats('outbound')).visible).toBe(0);
    });
  });
}
