/**
 * WorkQueue on SQS standard queues, each with a dead-letter queue and a redrive policy
 * (maxReceiveCount from QUEUES in core/resources.ts; created by provision.ts or the CDK app).
 *
 * - The message body is the job's JSON as is (so a Lambda SQS event record's `body` is the
 *   job); the stable job id travels in the message attribute `jobId` (JOB_ID_ATTRIBUTE), which
 *   SQS keeps on every redelivery and on the move to the dead-letter queue. A message without
 *   it (sent by something else) gets its SQS MessageId as id.
 * - Limits are SQS's: body ≤ 256 KiB, delay ≤ 900 s, ≤ 10 messages per receive, wait ≤ 20 s,
 *   visibility ≤ 12 h. Values outside are clamped (the body limit throws).
 * - ack = DeleteMessage; release = ChangeMessageVisibility (the next receive counts toward
 *   maxReceiveCount, as the port says). A stale receipt (the message was received again by
 *   another worker) is ignored, as the local queue does.
 * - stats: ApproximateNumberOfMessages / …NotVisible / …Delayed of the queue, and the DLQ's
 *   visible + not-visible count. SQS counts are approximate (eventually consistent).
 * - deadLetters peeks: it receives from the DLQ with a short visibility timeout, then makes
 *   every message visible again at once (ChangeMessageVisibility 0); nothing is deleted.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import type { DeadLetter, QueueName, QueueStats, ReceiveOptions, ReceivedJob, WorkQueue } from '#core/ports/work-queue.ts';
import { QUEUES } from '#core/resources.ts';

export const JOB_ID_ATTRIBUTE = 'jobId';
export const MAX_BODY_BYTES = 256 * 1024;
const MAX_DELAY_SECONDS = 900;
const MAX_WAIT_SECONDS = 20;
const MAX_RECEIVE_BATCH = 10;
const MAX_VISIBILITY_SECONDS = 12 * 3600;
/** How long deadLetters() hides the messages it peeks at, at most (it unhides them right after). */
const PEEK_VISIBILITY_SECONDS = 30;

export interface SqsWorkQueueOptions {
  client: SQSClient;
  queueUrls: Record<QueueName, string>;
  deadLetterQueueUrls: Record<QueueName, string>;
  /** Destroy the client on close(). */
  ownsClient?: boolean;
}

function clamp(n: number, lo: number, hi: number): number {
  return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : lo;
}

function isStaleReceipt(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name ?? '';
  return name === 'ReceiptHandleIsInvalid' || name === 'MessageNotInflight' || name === 'InvalidParameterValue' || name.includes('ReceiptHandle');
}

/** The job id, body, receive count and first-send time of an SQS message (also for Lambda SQS event records). */
export function decodeJobMessage<T>(m: {
  MessageId?: string;
  Body?: string;
  Attributes?: Record<string, string | undefined>;
  MessageAttributes?: Record<string, { StringValue?: string } | undefined>;
}): { id: string; body: T; receiveCount: number; sentAt: number } {
  const attrs = m.Attributes ?? {};
  let body: T;
  try {
    body = JSON.parse(m.Body ?? 'null') as T;
  } catch {
    body = (m.Body ?? null) as T;
  }
  return {
    id: m.MessageAttributes?.[JOB_ID_ATTRIBUTE]?.StringValue ?? m.MessageId ?? '',
    body,
    receiveCount: Number(attrs.ApproximateReceiveCount ?? '1'),
    sentAt: Number(attrs.SentTimestamp ?? Date.now()),
  };
}

const SYSTEM_ATTRIBUTES = ['ApproximateReceiveCount', 'SentTimestamp'] as const;

/**
 * SQS bills each 64 KiB of a request's payload as one request: a message up to this size goes
 * in its ingest job as base64 (4/3 of it, 60 KiB) with room for the job's other fields, and
 * saves ingest its S3 GET (core/ingest/queue-ingest.ts).
 */
export const INLINE_MESSAGE_BYTES = 45 * 1024;

export class SqsWorkQueue implements WorkQueue {
  readonly inlineBytes = INLINE_MESSAGE_BYTES;
  private readonly sqs: SQSClient;
  private readonly urls: Record<QueueName, string>;
  private readonly dlqUrls: Record<QueueName, string>;
  private readonly ownsClient: boolean;

  constructor(options: SqsWorkQueueOptions) {
    this.sqs = options.client;
    this.urls = options.queueUrls;
    this.dlqUrls = options.deadLetterQueueUrls;
    this.ownsClient = options.ownsClient ?? false;
  }

  async send<T>(queue: QueueName, body: T, options: { delaySeconds?: number } = {}): Promise<string> {
    const url = this.url(queue);
    const json = JSON.stringify(body ?? null);
    if (Buffer.byteLength(json, 'utf8') > MAX_BODY_BYTES) throw new Error(`job body exceeds ${MAX_BODY_BYTES} bytes (SQS limit)`);
    const id = randomUUID();
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: json,
        DelaySeconds: Math.round(clamp(options.delaySeconds ?? 0, 0, MAX_DELAY_SECONDS)),
        MessageAttributes: { [JOB_ID_ATTRIBUTE]: { DataType: 'String', StringValue: id } },
      }),
    );
    return id;
  }

  async receive<T>(queue: QueueName, options: ReceiveOptions = {}): Promise<ReceivedJob<T>[]> {
    const url = this.url(queue);
    const res = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: Math.round(clamp(options.max ?? 1, 1, MAX_RECEIVE_BATCH)),
        VisibilityTimeout: Math.round(clamp(options.visibilityTimeoutSeconds ?? QUEUES[queue].visibilityTimeoutSeconds, 0, MAX_VISIBILITY_SECONDS)),
        WaitTimeSeconds: Math.round(clamp(options.waitSeconds ?? 0, 0, MAX_WAIT_SECONDS)),
        MessageSystemAttributeNames: [...SYSTEM_ATTRIBUTES],
        // The deprecated spelling too, for emulators that predate MessageSystemAttributeNames.
        AttributeNames: ['All'],
        MessageAttributeNames: [JOB_ID_ATTRIBUTE],
      }),
    );
    return (res.Messages ?? []).map((m: Message) => ({ ...decodeJobMessage<T>(m), receipt: m.ReceiptHandle ?? '' }));
  }

  async ack(queue: QueueName, receipt: string): Promise<void> {
    try {
      await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.url(queue), ReceiptHandle: receipt }));
    } catch (err) {
      if (!isStaleReceipt(err)) throw err;
    }
  }

  async release(queue: QueueName, receipt: string, delaySeconds: number): Promise<void> {
    try {
      await this.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.url(queue),
          ReceiptHandle: receipt,
          VisibilityTimeout: Math.round(clamp(delaySeconds, 0, MAX_VISIBILITY_SECONDS)),
        }),
      );
    } catch (err) {
      if (!isStaleReceipt(err)) throw err;
    }
  }

  async stats(queue: QueueName): Promise<QueueStats> {
    const [main, dead] = await Promise.all([
      this.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: this.url(queue),
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
        }),
      ),
      this.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: this.dlqUrl(queue),
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      ),
    ]);
    const n = (attrs: Record<string, string> | undefined, name: string) => Number(attrs?.[name] ?? '0');
    return {
      visible: n(main.Attributes, 'ApproximateNumberOfMessages'),
      inFlight: n(main.Attributes, 'ApproximateNumberOfMessagesNotVisible'),
      delayed: n(main.Attributes, 'ApproximateNumberOfMessagesDelayed'),
      // A dead letter being peeked at is briefly not visible; it is still dead.
      dead: n(dead.Attributes, 'ApproximateNumberOfMessages') + n(dead.Attributes, 'ApproximateNumberOfMessagesNotVisible'),
    };
  }

  async deadLetters<T>(queue: QueueName, max = 10): Promise<DeadLetter<T>[]> {
    const url = this.dlqUrl(queue);
    const limit = Math.max(0, Math.floor(max));
    const seen = new Map<string, DeadLetter<T>>();
    const handles: string[] = [];
    try {
      while (seen.size < limit) {
        const res = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: Math.min(MAX_RECEIVE_BATCH, limit - seen.size),
            VisibilityTimeout: PEEK_VISIBILITY_SECONDS,
            WaitTimeSeconds: 0,
            MessageSystemAttributeNames: [...SYSTEM_ATTRIBUTES],
            AttributeNames: ['All'],
            MessageAttributeNames: [JOB_ID_ATTRIBUTE],
          }),
        );
        const messages = res.Messages ?? [];
        let fresh = 0;
        for (const m of messages) {
          if (m.ReceiptHandle) handles.push(m.ReceiptHandle);
          const key = m.MessageId ?? m.ReceiptHandle ?? '';
          if (seen.has(key) || seen.size >= limit) continue;
          const job = decodeJobMessage<T>(m);
          // Our own peek is one more receive on the DLQ; report the count before it.
          seen.set(key, { id: job.id, body: job.body, receiveCount: Math.max(1, job.receiveCount - 1), sentAt: job.sentAt });
          fresh++;
        }
        if (fresh === 0) break;
      }
    } finally {
      await this.unhide(url, handles);
    }
    return [...seen.values()].sort((a, b) => a.sentAt - b.sentAt);
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.sqs.destroy();
  }

  private async unhide(url: string, handles: string[]): Promise<void> {
    for (let i = 0; i < handles.length; i += 10) {
      const batch = handles.slice(i, i + 10);
      await this.sqs
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: url,
            Entries: batch.map((h, j) => ({ Id: String(j), ReceiptHandle: h, VisibilityTimeout: 0 })),
          }),
        )
        .catch(() => undefined);
    }
  }

  private url(queue: QueueName): string {
    const url = Object.hasOwn(this.urls, queue) ? this.urls[queue] : undefined;
    if (!url) throw new Error(`unknown queue: ${String(queue)}`);
    return url;
  }

  private dlqUrl(queue: QueueName): string {
    const url = Object.hasOwn(this.dlqUrls, queue) ? this.dlqUrls[queue] : undefined;
    if (!url) throw new Error(`unknown queue: ${String(queue)}`);
    return url;
  }
}
