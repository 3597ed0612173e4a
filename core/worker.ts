/**
 * The local runtime's queue consumer: the same job functions the Lambdas run, polling the
 * local queue. A job that throws is released with exponential backoff; after the queue's
 * maxReceiveCount it lands in the dead-letter queue (the adapter does that).
 *
 * A queue that cannot be read (a full disk, the store gone) is one persistent fault, not one
 * per poll: it is logged once, then every REMINDER_MS with the number of failed polls since,
 * and once more when receiving works again; meanwhile the polls back off (1 s doubling to 30 s).
 */
import type { Logger } from './log.ts';
import type { QueueName, ReceivedJob, WorkQueue } from './ports/work-queue.ts';
import { QUEUES } from './resources.ts';

export interface WorkerOptions {
  concurrency?: number;
  /** Long-poll wait per receive. */
  waitSeconds?: number;
}

export interface RunningWorker {
  /** Stop receiving; resolves when in-flight jobs have finished. */
  stop(): Promise<void>;
}

const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
const REMINDER_MS = 5 * 60_000;

export function retryDelaySeconds(receiveCount: number): number {
  return Math.min(900, 5 * 2 ** Math.max(0, receiveCount - 1));
}

export function startWorker<T>(
  queue: WorkQueue,
  name: QueueName,
  handle: (job: ReceivedJob<T>) => Promise<void>,
  logger: Logger,
  options: WorkerOptions = {},
): RunningWorker {
  const concurrency = options.concurrency ?? 4;
  const waitSeconds = options.waitSeconds ?? 1;
  let stopping = false;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const sleep = (ms: number) => Promise.race([new Promise((r) => setTimeout(r, ms).unref()), stopped]);
  const loops: Promise<void>[] = [];
  // The receive fault shared by this worker's loops (null: receiving works).
  let fault: { message: string; since: number; failures: number; lastLogged: number; failuresLogged: number } | null = null;
  const receiveFailed = (err: unknown) => {
    const message = (err as Error)?.message ?? String(err);
    const now = Date.now();
    if (!fault || fault.message !== message) {
      fault = { message, since: now, failures: 1, lastLogged: now, failuresLogged: 1 };
      logger.error('queue receive failed', { queue: name, err });
      return;
    }
    fault.failures++;
    if (now - fault.lastLogged >= REMINDER_MS) {
      logger.error('queue receive still failing', {
        queue: name,
        error: message,
        repeated: fault.failures - fault.failuresLogged,
        sinceSeconds: Math.round((now - fault.since) / 1000),
      });
      fault.lastLogged = now;
      fault.failuresLogged = fault.failures;
    }
  };

  const loop = async () => {
    let backoff = FIRST_BACKOFF_MS;
    while (!stopping) {
      let jobs: ReceivedJob<T>[];
      try {
        jobs = await queue.receive<T>(name, { max: 1, waitSeconds, visibilityTimeoutSeconds: QUEUES[name].visibilityTimeoutSeconds });
      } catch (err) {
        receiveFailed(err);
        await sleep(backoff);
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
        continue;
      }
      backoff = FIRST_BACKOFF_MS;
      if (fault) {
        const { failures, since } = fault;
        fault = null;
        logger.info('queue receive recovered', { queue: name, failedPolls: failures, afterSeconds: Math.round((Date.now() - since) / 1000) });
      }
      for (const job of jobs) {
        try {
          await handle(job);
          await queue.ack(name, job.receipt);
        } catch (err) {
          const delay = retryDelaySeconds(job.receiveCount);
          logger.error('job failed; will retry', { queue: name, job: job.id, receiveCount: job.receiveCount, retryInSeconds: delay, err });
          await queue.release(name, job.receipt, delay).catch((e) => logger.error('release failed', { queue: name, job: job.id, err: e }));
        }
      }
    }
  };
  for (let i = 0; i < concurrency; i++) loops.push(loop());
  return {
    async stop() {
      stopping = true;
      wake();
      await Promise.all(loops);
    },
  };
}
