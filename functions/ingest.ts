/** Lambda: SQS `ingest` queue → runIngestJob (core/ingest/ingest-job.ts). */
import { loadConfig } from '../core/config.ts';
import { runIngestJob, type IngestJob } from '../core/ingest/ingest-job.ts';
import { createLogger } from '../core/log.ts';
import { createOutboundServices, type OutboundServices } from '../core/outbound/services.ts';
import { awsAdapters } from './aws-context.ts';
import { processSqsBatch, type SqsBatchResponse, type SqsEvent } from './sqs-batch.ts';

const logger = createLogger({ function: 'ingest' });
// Remote recipients of submissions → outbound jobs; unknown local users → DSN (issue 5).
const config = loadConfig({ ...process.env, MAIL_RUNTIME: 'aws' });
let outbound: OutboundServices | undefined;

export async function handler(event: SqsEvent): Promise<SqsBatchResponse> {
  const adapters = await awsAdapters();
  outbound ??= createOutboundServices({ adapters, config, logger });
  const { routeRemote, onUnknownLocal } = outbound.routing;
  return processSqsBatch<IngestJob>(event, logger, async (job) => {
    await runIngestJob(job.body, { adapters, logger, routeRemote, onUnknownLocal });
  });
}
