/**
 * One running mail system: every listener, and (in the local runtime) the queue workers that
 * run the same job functions as the Lambdas. Used by `npm start` (local-main.ts), the Fargate
 * entry point (aws-main.ts, listeners only) and the end-to-end tests.
 */
import type { Adapters } from '../../core/adapters/adapters.ts';
import type { MailConfig } from '../../core/config.ts';
import { runIngestJob, type IngestJob } from '../../core/ingest/ingest-job.ts';
import type { Logger } from '../../core/log.ts';
import { createMailboxEvents, type MailboxEvents } from '../../core/mailbox-events.ts';
import { startWorker, type RunningWorker } from '../../core/worker.ts';
import type { ListenerDeps, RunningListener } from './listener.ts';
import { startMxListener } from './smtp/mx-listener.ts';
import { loadTls } from './tls.ts';

export interface MailSystemOptions {
  adapters: Adapters;
  config: MailConfig;
  logger: Logger;
  /** Run the ingest/outbound workers in this process (local runtime). */
  workers: boolean;
  events?: MailboxEvents;
}

export interface MailSystem {
  deps: ListenerDeps;
  listeners: RunningListener[];
  /** Port of a listener by name ('smtp-mx', 'imap', 'imaps', 'pop3', 'pop3s', ...). */
  port(name: string): number;
  stop(graceMs?: number): Promise<void>;
}

export async function startMailSystem(options: MailSystemOptions): Promise<MailSystem> {
  const { adapters, config, logger } = options;
  const tls = await loadTls(config);
  const events = options.events ?? createMailboxEvents();
  const deps: ListenerDeps = { adapters, config, tls, logger, events };
  const listeners: RunningListener[] = [];
  const workers: RunningWorker[] = [];
  const stopAll = async (graceMs: number) => {
    await Promise.all(listeners.map((l) => l.close(graceMs)));
    await Promise.all(workers.map((w) => w.stop()));
  };
  try {
    listeners.push(await startMxListener(deps));
    if (options.workers) {
      workers.push(
        startWorker<IngestJob>(adapters.queue, 'ingest', async (job) => {
          await runIngestJob(job.body, { adapters, logger: logger.child({ worker: 'ingest' }), events });
        }, logger.child({ worker: 'ingest' })),
      );
    }
  } catch (err) {
    await stopAll(0);
    throw err;
  }
  return {
    deps,
    listeners,
    port(name) {
      const l = listeners.find((x) => x.name === name);
      if (!l) throw new Error(`no listener named ${name}`);
      return l.port;
    },
    stop: (graceMs = 5_000) => stopAll(graceMs),
  };
}
