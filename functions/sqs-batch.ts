/**
 * The common shape of our SQS-triggered Lambdas (Powertools' batch pattern, in our own code):
 * for each record, inside its own try, decode the body the way SqsWorkQueue encodes jobs,
 * check it against the job's type (functions/job-bodies.ts) and run the core job function;
 * report the failed records so only they return to the queue (ReportBatchItemFailures). A
 * record that keeps failing — a malformed body included — reaches the dead-letter queue by the
 * queue's redrive policy. When every record of a batch failed, the invocation throws
 * (FullBatchFailureError): the whole batch returns to the queue as it would with a report,
 * and Lambda's SQS poller counts an error and slows down, instead of spinning on a broken
 * dependency.
 *
 * Why not @aws-lambda-powertools/batch and /logger: what we use of them is these ~40 lines and
 * two log fields (functions/lambda-context.ts), our logs are already JSON lines with one shape
 * across Lambda, Fargate and the local runtime (core/log.ts), and the same job functions run
 * in the local worker loop, which Powertools does not serve. Their extras (FIFO ordering,
 * Kinesis/DynamoDB streams, log sampling) are features we do not have.
 */
import { decodeJobMessage, JOB_ID_ATTRIBUTE } from '#core/adapters/aws/sqs-work-queue.ts';
import type { Logger } from '#core/log.ts';
import type { ReceivedJob } from '#core/ports/work-queue.ts';

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

/** Decodes one record into a job; `body` checks the decoded body against the job's type (and throws when it is not). */
export function toReceivedJob<T>(record: SqsRecord, body: (value: unknown) => T): ReceivedJob<T> {
  const attr = record.messageAttributes?.[JOB_ID_ATTRIBUTE]?.stringValue;
  const decoded = decodeJobMessage<unknown>({
    MessageId: record.messageId,
    Body: record.body,
    Attributes: record.attributes,
    MessageAttributes: attr ? { [JOB_ID_ATTRIBUTE]: { StringValue: attr } } : undefined,
  });
  return { ...decoded, body: body(decoded.body), receipt: record.receiptHandle };
}

/** Every record of the batch failed (each is logged on its own); the batch goes back whole. */
export class FullBatchFailureError extends Error {
  readonly failures: number;
  constructor(failures: number) {
    super(`all ${failures} records of the batch failed`);
    this.name = 'FullBatchFailureError';
    this.failures = failures;
  }
}

export interface SqsBatchOptions<T> {
  /** The invocation's logger (functions/lambda-context.ts: awsRequestId, coldStart). */
  logger: Logger;
  /** Checks a decoded body against the job's type; throws (JobBodyError) when it is not that job. */
  body: (value: unknown) => T;
  /**
   * What a job writes to that another job of the batch may write to as well (for ingest: its
   * recipients' mailboxes, which allocate UIDs under a condition). Jobs sharing any key run one
   * after another, in record order, so they do not race and retry on that condition; groups
   * sharing nothing still run concurrently. Without it, every record runs concurrently.
   */
  serialiseOn?: (job: T) => readonly string[];
}

/**
 * Splits the records into chains: records whose jobs share a key (directly or through another
 * record) go into one chain, in record order. A record whose body does not decode has no keys
 * and runs alone (it fails on its own when handled).
 */
export function chainsOf<T>(records: readonly SqsRecord[], body: (value: unknown) => T, keysOf?: (job: T) => readonly string[]): SqsRecord[][] {
  if (!keysOf) return records.map((r) => [r]);
  const parent = records.map((_, i) => i);
  const root = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  const owner = new Map<string, number>();
  records.forEach((record, i) => {
    let keys: readonly string[];
    try {
      keys = keysOf(toReceivedJob<T>(record, body).body);
    } catch {
      return;
    }
    for (const key of keys) {
      const j = owner.get(key);
      if (j === undefined) owner.set(key, i);
      else {
        const [a, b] = [root(i), root(j)];
        if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
      }
    }
  });
  const chains = new Map<number, SqsRecord[]>();
  records.forEach((record, i) => {
    const r = root(i);
    const chain = chains.get(r) ?? [];
    chain.push(record);
    chains.set(r, chain);
  });
  return [...chains.values()];
}

export async function processSqsBatch<T>(
  event: SqsEvent,
  options: SqsBatchOptions<T>,
  handle: (job: ReceivedJob<T>) => Promise<void>,
): Promise<SqsBatchResponse> {
  const { logger } = options;
  const failures: SqsBatchResponse['batchItemFailures'] = [];
  // Chains of records run concurrently; the records of one chain one after another (a failed
  // record does not stop its chain). Each failure is reported on its own.
  await Promise.all(
    chainsOf(event.Records, options.body, options.serialiseOn).map(async (chain) => {
      for (const record of chain) {
        try {
          await handle(toReceivedJob<T>(record, options.body));
        } catch (err) {
          const job = record.messageAttributes?.[JOB_ID_ATTRIBUTE]?.stringValue ?? record.messageId;
          logger.error('job failed', { messageId: record.messageId, job, receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? '1'), err });
          failures.push({ itemIdentifier: record.messageId });
        }
      }
    }),
  );
  if (event.Records.length > 0 && failures.length === event.Records.length) {
    logger.error('batch failed', { records: event.Records.length });
    throw new FullBatchFailureError(failures.length);
  }
  return { batchItemFailures: failures };
}
