/**
 * Lambda: SQS `outbound` queue → runOutboundJob (core/outbound/outbound-job.ts). Temporary
 * delivery failures are not errors here: the job re-queues itself with its backoff delay and
 * the record succeeds; only infrastructure failures (blob store, queue) are reported as
 * batch item failures and retried by SQS.
 */
import { loadConfig } from '#core/config.ts';
import { createLogger } from '#core/log.ts';
import type { OutboundJob } from '#core/outbound/job.ts';
import { createOutboundServices, type OutboundServices } from '#core/outbound/services.ts';
import { awsAdapters, awsChangeEvents } from './aws-context.ts';
import { outboundJobBody } from './job-bodies.ts';
import { invocationLogging, type LambdaContext } from './lambda-context.ts';
import { processSqsBatch, type SqsBatchResponse, type SqsEvent } from './sqs-batch.ts';

const config = loadConfig({ ...process.env, MAIL_RUNTIME: 'aws' });
const baseLogger = createLogger({ function: 'outbound' }, config.logLevel);
const invocationLogger = invocationLogging(baseLogger);
let services: OutboundServices | undefined;

export async function handler(event: SqsEvent, context: LambdaContext): Promise<SqsBatchResponse> {
  const logger = invocationLogger(context);
  const adapters = await awsAdapters();
  // Bounces (DSNs) to local senders land in their INBOX: the listener tasks hear of them.
  const events = awsChangeEvents(baseLogger);
  services ??= createOutboundServices({ adapters, config, logger: baseLogger, events });
  const s = services;
  const response = await processSqsBatch<OutboundJob>(event, { logger, body: outboundJobBody }, async (job) => {
    await s.runOutbound(job.body, logger);
  });
  await events.flush();
  return response;
}
