/**
 * The common shape of our SQS-triggered Lambdas (Powertools' batch pattern, without the
 * dependency): decode each record the way SqsWorkQueue encodes jobs, run the core job
 * function, and report the failed records so only they return to the queue
 * (ReportBatchItemFailures). A job that keeps failing reaches the dead-letter queue by the
 * queue's redrive policy.
 */
import { decodeJobMessage, JOB_ID_ATTRIBUTE } from '../core/adapters/aws/sqs-work-queue.ts';
import type { Logger } from '../core/log.ts';
import type { ReceivedJob } from '../core/ports/work-queue.ts';

export interface SqsRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes?: Record<string, string | undefined>;
  messageAttributes?: Record<string, { stringValue?: string } | undefined>;
}

export interface SqsEvent {
  Records: SqsRecord[];
}

export interface SqsBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

export function toReceivedJob<T>(record: SqsRecord): ReceivedJob<T> {
  const attr = record.messageAttributes?.[JOB_ID_ATTRIBUTE]?.stringValue;
  const decoded = decodeJobMessage<T>({
    MessageId: record.messageId,
    Body: record.body,
    Attributes: record.attributes,
    MessageAttributes: attr ? { [JOB_ID_ATTRIBUTE]: { StringValue: attr } } : undefined,
  });
  return { ...decoded, receipt: record.receiptHandle };
}

export async function processSqsBatch<T>(event: SqsEvent, logger: Logger, handle: (job: ReceivedJob<T>) => Promise<void>): Promise<SqsBatchResponse> {
  const failures: SqsBatchResponse['batchItemFailures'] = [];
  // Records are independent jobs: run them concurrently; each failure is reported on its own.
  await Promise.all(
    event.Records.map(async (record) => {
      const job = toReceivedJob<T>(record);
      try {
        await handle(job);
      } catch (err) {
        logger.error('job failed', { messageId: record.messageId, job: job.id, receiveCount: job.receiveCount, err });
        failures.push({ itemIdentifier: record.messageId });
      }
    }),
  );
  return { batchItemFailures: failures };
}
