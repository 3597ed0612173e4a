/**
 * The local runtime's queue consumer: the same job functions the Lambdas run, polling the
 * local queue. A job that throws is released with exponential backoff; after the queue's
 * maxReceiveCount it lands in the dead-letter queue (the adapter does that).
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

export function retryDelaySeconds(receiveCount: number): number {
  return Math.min(900, 5 * 2 ** Math.max(0, receiveCount - 1));
}

export function startWorker<T>(queue: WorkQueue, name: QueueName, handle: (job: ReceivedJob<T>) => Promise<void>, logger: Logger, options: WorkerOptions = {}): RunningWorker {
  const concurrency = options.concurrency ?? 4;
  const waitSeconds = options.waitSeconds ?? 1;
  let stopping = false;
  const loops: Promise<void>[] = [];

  const loop = async () => {
    while (!stopping) {
      let jobs: ReceivedJob<T>[];
      try {
        jobs = await queue.receive<T>(name, { max: 1, waitSeconds, visibilityTimeoutSeconds: QUEUES[name].visibilityTimeoutSeconds });
      } catch (err) {
        logger.error('queue receive failed', { queue: name, err });
        await new Promise((r) => setTimeout(r, 1000));
        continue;
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
      await Promise.all(loops);
    },
  };
}
