/** Lambda: SQS `ingest` queue → runIngestJob (core/ingest/ingest-job.ts). */
import { normalizeAddress } from '#core/accounts/addresses.ts';
import { directoryFor } from '#core/accounts/directory-cache.ts';
import { loadConfig } from '#core/config.ts';
import { runIngestJob, type IngestJob } from '#core/ingest/ingest-job.ts';
import { createLogger } from '#core/log.ts';
import { createOutboundServices, type OutboundServices } from '#core/outbound/services.ts';
import { awsAdapters, awsChangeEvents } from './aws-context.ts';
import { ingestJobBody } from './job-bodies.ts';
import { invocationLogging, type LambdaContext } from './lambda-context.ts';
import { processSqsBatch, type SqsBatchResponse, type SqsEvent } from './sqs-batch.ts';

// Remote recipients of submissions → outbound jobs; unknown local users → DSN (the outbound services).
const config = loadConfig({ ...process.env, MAIL_RUNTIME: 'aws' });
const baseLogger = createLogger({ function: 'ingest' }, config.logLevel);
const invocationLogger = invocationLogging(baseLogger);
let outbound: OutboundServices | undefined;

export async function handler(event: SqsEvent, context: LambdaContext): Promise<SqsBatchResponse> {
  const logger = invocationLogger(context);
  const adapters = await awsAdapters();
  const events = awsChangeEvents(baseLogger);
  outbound ??= createOutboundServices({ adapters, config, logger: baseLogger, events });
  const { routeRemote, onUnknownLocal } = outbound.routing;
  // Jobs for the same recipient append to the same mailbox (one UID condition): one after another.
  const serialiseOn = (job: IngestJob) => job.rcptTo.map((r) => normalizeAddress(r));
  const response = await processSqsBatch<IngestJob>(event, { logger, body: ingestJobBody, serialiseOn }, async (job) => {
    const directory = directoryFor(adapters.index, config.directoryCacheSeconds);
    await runIngestJob(job.body, {
      adapters,
      logger,
      routeRemote,
      onUnknownLocal,
      directory,
      events,
      junkThreshold: config.inbound.junkThreshold,
      firstReceive: job.receiveCount === 1,
    });
  });
  // The listener tasks' IDLE sessions hear of the deliveries (docs/deploy.md, "Push between listener tasks").
  await events.flush();
  return response;
}
