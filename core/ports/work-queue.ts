/**
 * Work queue port: at-least-once jobs with a visibility timeout, retries with delay,
 * and a dead-letter queue after `maxReceiveCount` receives.
 * Adapters: SQS with a redrive policy, and a durable queue in SQLite.
 *
 * Job bodies are small JSON documents. A small message's bytes may ride along in its ingest job
 * (IngestJob.bytes, a copy of the stored blob) when the queue says how many it carries cheaply
 * (`inlineBytes`); the blob store keeps the message either way.
 */

/** The queues of the system. Their settings live in `core/resources.ts`. */
export type QueueName = 'ingest' | 'outbound';

export interface ReceivedJob<T = unknown> {
  /** Stable id of the job (the same on every redelivery). */
  id: string;
  /** Handle for ack/retry of this particular receive. */
  receipt: string;
  body: T;
  /** 1 on the first receive. */
  receiveCount: number;
  /** When the job was first sent, epoch ms. */
  sentAt: number;
}

export interface DeadLetter<T = unknown> {
  id: string;
  body: T;
  receiveCount: number;
  sentAt: number;
}

export interface QueueStats {
  /** Ready to be received now (approximate on SQS). */
  visible: number;
  /** Received and not yet acked or released. */
  inFlight: number;
  /** Sent with a delay that has not yet run out. */
  delayed: number;
  /** In the dead-letter queue. */
  dead: number;
}

export interface ReceiveOptions {
  max?: number;
  /** How long a received job stays hidden from other receivers. */
  visibilityTimeoutSeconds?: number;
  /** Long-poll wait when the queue is empty (0 = return at once). */
  waitSeconds?: number;
}

export interface WorkQueue {
  /**
   * The largest message whose bytes an ingest job may carry inline (core/ingest/queue-ingest.ts),
   * saving the blob read at ingest; absent or 0: never (a local queue, where the blob is a file).
   */
  readonly inlineBytes?: number;
  send<T>(queue: QueueName, body: T, options?: { delaySeconds?: number }): Promise<string>;
  receive<T>(queue: QueueName, options?: ReceiveOptions): Promise<ReceivedJob<T>[]>;
  /** The job is done: delete it. */
  ack(queue: QueueName, receipt: string): Promise<void>;
  /** Make the job visible again after `delaySeconds` (0 = at once). Counts toward maxReceiveCount on its next receive. */
  release(queue: QueueName, receipt: string, delaySeconds: number): Promise<void>;
  stats(queue: QueueName): Promise<QueueStats>;
  /** Peek at the dead-letter queue without consuming it. */
  deadLetters<T>(queue: QueueName, max?: number): Promise<DeadLetter<T>[]>;
  close?(): Promise<void>;
}
