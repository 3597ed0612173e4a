/**
 * The local runtime's job workers (ingest and outbound, job-workers.ts) on a thread of their
 * own, so that on a small machine they do not share the listeners' event loop: parsing and
 * indexing a message, and the index commit's fsync (node:sqlite commits synchronously, on the
 * thread that runs it), no longer hold up SMTP, IMAP and POP3 sessions; the thread runs on the
 * other core. The thread opens its own connections to the same data directory
 * (createLocalAdapters: SQLite in WAL mode is made for several connections; the file blob
 * store needs none), as a second process would.
 *
 * What crosses between the two: mailbox change notifications (the thread's ingest tells the
 * listeners' MailboxEvents, so an IDLE session hears of a delivery at once, as when the
 * workers ran in-process), log lines (written by the listeners' logger), and start/stop. Jobs
 * travel through the durable queue only; a send wakes a receiver waiting in the other thread
 * (sqlite-work-queue.ts). Nothing durable is held in the thread's memory: a thread that dies
 * leaves its jobs in flight to come back after their visibility timeout, as a killed process
 * does, and is started again.
 */
import { Worker } from 'node:worker_threads';
import type { MailConfig } from '#core/config.ts';
import type { Logger, LogLevel } from '#core/log.ts';
import type { MailboxEvents } from '#core/mailbox/events.ts';
import type { RunningWorker } from '#core/worker.ts';

export interface IngestThreadOptions {
  dataDir: string;
  config: MailConfig;
  logger: Logger;
  events: MailboxEvents;
}

/** Messages from the thread (ingest-thread-worker.ts). */
export type FromIngestThread =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'notify'; user: string; mailboxId: string }
  | { type: 'log'; line: string }
  | { type: 'stopped' };

const RESTART_MS = 1000;

export async function startIngestThread(options: IngestThreadOptions): Promise<RunningWorker> {
  const { logger, events } = options;
  let stopping = false;
  let current: Worker;
  const launch = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const worker = new Worker(new URL('./ingest-thread-worker.ts', import.meta.url), {
        workerData: { dataDir: options.dataDir, config: options.config },
      });
      current = worker;
      let started = false;
      worker.on('message', (m: FromIngestThread) => {
        if (m.type === 'notify') events.notify(m.user, m.mailboxId);
        else if (m.type === 'log') relayLog(logger, m.line);
        else if (m.type === 'ready') {
          started = true;
          resolve();
        } else if (m.type === 'failed') reject(new Error(`ingest thread did not start: ${m.message}`));
      });
      worker.on('error', (err) => {
        if (!started) reject(err);
        else logger.error('ingest thread failed', { err });
      });
      worker.on('exit', (code) => {
        if (!started) return reject(new Error(`ingest thread exited (${code}) before it started`));
        if (stopping) return;
        logger.error('ingest thread exited; starting it again', { code, restartInMs: RESTART_MS });
        setTimeout(() => {
          if (!stopping) launch().catch((err: unknown) => logger.error('ingest thread restart failed', { err: err as Error }));
        }, RESTART_MS).unref();
      });
    });
  await launch();
  return {
    async stop() {
      stopping = true;
      const worker = current;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage({ type: 'stop' });
      await exited;
    },
  };
}

/** A log line of the thread, written by this process's logger (whose level and sink apply). */
function relayLog(logger: Logger, line: string): void {
  try {
    const { level, msg, time: _time, ...fields } = JSON.parse(line) as { level: LogLevel; msg: string; time?: string } & Record<string, unknown>;
    (logger[level] ?? logger.info)(msg, fields);
  } catch {
    logger.info(line);
  }
}
