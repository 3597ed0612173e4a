/**
 * The local runtime's queue consumers: the ingest and outbound job functions the Lambdas run,
 * polling the local queue (core/worker.ts). Started by mail-system.ts in the listeners'
 * process, or inside the ingest thread (ingest-thread.ts) on its own event loop.
 */
import type { Adapters } from '#core/adapters/adapters.ts';
import type { MailConfig } from '#core/config.ts';
import { directoryFor } from '#core/accounts/directory-cache.ts';
import { runIngestJob, type IngestJob } from '#core/ingest/ingest-job.ts';
import type { Logger } from '#core/log.ts';
import type { MailboxEvents } from '#core/mailbox/events.ts';
import type { OutboundJob } from '#core/outbound/job.ts';
import { createOutboundServices, type OutboundServiceOptions } from '#core/outbound/services.ts';
import { startWorker, type RunningWorker } from '#core/worker.ts';

export interface JobWorkerDeps {
  adapters: Adapters;
  config: MailConfig;
  logger: Logger;
  events: MailboxEvents;
  /** Outbound overrides (tests): DNS resolver, SMTP transport. */
  outbound?: Pick<OutboundServiceOptions, 'resolver' | 'deliver'>;
}

export function startJobWorkers(deps: JobWorkerDeps): RunningWorker[] {
  const { adapters, config, logger, events } = deps;
  // Submission and outbound delivery: ingest hooks and the outbound job function.
  const outbound = createOutboundServices({ adapters, config, logger: logger.child({ worker: 'outbound' }), events, ...deps.outbound });
  return [
    startWorker<IngestJob>(
      adapters.queue,
      'ingest',
      async (job) => {
        await runIngestJob(job.body, {
          adapters,
          logger: logger.child({ worker: 'ingest' }),
          events,
          routeRemote: outbound.routing.routeRemote,
          onUnknownLocal: outbound.routing.onUnknownLocal,
          directory: directoryFor(adapters.index, config.directoryCacheSeconds),
          junkThreshold: config.inbound.junkThreshold,
        });
      },
      logger.child({ worker: 'ingest' }),
    ),
    startWorker<OutboundJob>(
      adapters.queue,
      'outbound',
      async (job) => {
        await outbound.runOutbound(job.body);
      },
      logger.child({ worker: 'outbound' }),
    ),
  ];
}
