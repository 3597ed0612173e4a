/**
 * A stand-in for the Lambda SQS event source mapping, for the cloud form on one machine
 * (`npm run start:emulated`, fargate-listeners/src/emulated-system.ts): it drives the real
 * handlers (functions/ingest.ts, functions/outbound.ts) from the emulator's queues the way
 * Lambda drives them from SQS.
 *
 *  - `maxConcurrency` pollers long-poll the queue (ReceiveMessage, up to `batchSize` messages;
 *    WaitTimeSeconds 5 where Lambda's pollers use 20, so that stopping takes at most 5 s); each invokes the handler with what one receive returned and polls
 *    again when the invocation ends, so at most `maxConcurrency` invocations run at once.
 *  - The queue's visibility timeout applies (the receive sets none): a record that is not
 *    deleted reappears when it runs out.
 *  - ReportBatchItemFailures: after an invocation the records not named in
 *    `batchItemFailures` are deleted (DeleteMessageBatch); the named ones stay in flight. An
 *    identifier that names no record of the batch, a handler that throws, or one that runs
 *    past the function timeout fails the whole batch: nothing is deleted. (A handler past its
 *    timeout is not killed, unlike in Lambda; its late result is ignored.)
 *  - Dead letters: the queue itself moves a message to its DLQ once it has been received
 *    maxReceiveCount times (the redrive policy provision.ts sets; the emulator applies it).
 * Records have the shape of Lambda's SQS event (messageId, receiptHandle, body, attributes,
 * messageAttributes with stringValue).
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import type { Logger } from '#core/log.ts';
import type { LambdaContext } from './lambda-context.ts';
import type { SqsBatchResponse, SqsEvent, SqsRecord } from './sqs-batch.ts';

export interface EventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** Called as Lambda calls it: the event, and a context with a request id and the time left. */
  handler: (event: SqsEvent, context: LambdaContext) => Promise<SqsBatchResponse | null | undefined | void>;
  batchSize: number;
  maxConcurrency: number;
  functionTimeoutSeconds: number;
  /** Long-poll wait per receive (default 5 s); Lambda's pollers use 20 s. */
  waitSeconds?: number;
  logger: Logger;
  /** After each invocation: how many records, how long it ran, how many failed (bench/aws-cost.ts). */
  onInvoke?: (info: { records: number; durationMs: number; failed: number }) => void;
}

export interface RunningEventSource {
  /**
   * Stops polling: waits for the long polls to end (never aborted: an aborted receive may still
   * take messages, hidden until their visibility timeout) and their invocations to finish.
   */
  stop(): Promise<void>;
  /** Resolves when no invocation is running (those that start later are not waited for). */
  idle(): Promise<void>;
}

export function toSqsRecord(m: Message): SqsRecord {
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: { ...(m.Attributes ?? {}) },
    messageAttributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, { stringValue: v.StringValue }])),
  };
}

/** The records of a batch to delete after an invocation: all but the failures; none when the response is invalid. */
export function recordsToDelete(records: SqsRecord[], response: SqsBatchResponse | null | undefined | void): SqsRecord[] {
  const failures = response?.batchItemFailures ?? [];
  const ids = new Set(records.map((r) => r.messageId));
  // Lambda treats an empty or unknown identifier as a failure of the whole batch.
  if (failures.some((f) => !f?.itemIdentifier || !ids.has(f.itemIdentifier))) return [];
  const failed = new Set(failures.map((f) => f.itemIdentifier));
  return records.filter((r) => !failed.has(r.messageId));
}

export function startSqsEventSource(options: EventSourceOptions): RunningEventSource {
  const { sqs, queueUrl, logger } = options;
  const waitSeconds = options.waitSeconds ?? 5;
  let stopping = false;
  const running = new Set<Promise<void>>();

  const invoke = async (records: SqsRecord[]): Promise<void> => {
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    let toDelete: SqsRecord[] = [];
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`function timed out after ${options.functionTimeoutSeconds} s`)), options.functionTimeoutSeconds * 1000);
      });
      const deadline = Date.now() + options.functionTimeoutSeconds * 1000;
      const context: LambdaContext = { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
      const response = await Promise.race([options.handler({ Records: records }, context), timeout]);
      toDelete = recordsToDelete(records, response);
      if (response?.batchItemFailures?.length)
        logger.warn('batch item failures: they return after the visibility timeout', { queueUrl, failed: records.length - toDelete.length });
    } catch (err) {
      logger.error('invocation failed: the whole batch returns after the visibility timeout', { queueUrl, records: records.length, err: err as Error });
    } finally {
      clearTimeout(timer);
    }
    options.onInvoke?.({ records: records.length, durationMs: performance.now() - t0, failed: records.length - toDelete.length });
    if (toDelete.length > 0) {
      try {
        const res = await sqs.send(
          new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: toDelete.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })) }),
        );
        if (res.Failed?.length) logger.warn('some records were not deleted; they will be received again', { queueUrl, failed: res.Failed.length });
      } catch (err) {
        logger.error('DeleteMessageBatch failed; the records will be received again', { queueUrl, err: err as Error });
      }
    }
  };

  const poll = async (): Promise<void> => {
    while (!stopping) {
      let messages: Message[];
      try {
        const res = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: Math.min(10, Math.max(1, options.batchSize)),
            WaitTimeSeconds: waitSeconds,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
        );
        messages = res.Messages ?? [];
      } catch (err) {
        logger.error('ReceiveMessage failed', { queueUrl, err: err as Error });
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      // Messages received while stopping are still handled: they were taken from the queue.
      if (messages.length === 0) continue;
      const p = invoke(messages.map(toSqsRecord));
      running.add(p);
      try {
        await p;
      } finally {
        running.delete(p);
      }
    }
  };

  const pollers = Array.from({ length: Math.max(1, options.maxConcurrency) }, () => poll());
  return {
    async stop() {
      stopping = true;
      await Promise.all(pollers);
    },
    async idle() {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}
