/**
 * The single source of truth for the AWS resources the mail system uses: the CDK app
 * (`infra/`) declares them from here, and the test setup creates the same ones on the
 * emulator (`test/support/emulator.ts`). Names get a prefix per deployment/test run.
 */
import type { QueueName } from './ports/work-queue.ts';

export interface KeyAttribute {
  name: string;
  type: 'S' | 'N';
}

export interface TableDefinition {
  /** Logical id (CDK) and name suffix. */
  id: string;
  partitionKey: KeyAttribute;
  sortKey: KeyAttribute;
  globalSecondaryIndexes: Array<{ indexName: string; partitionKey: KeyAttribute; sortKey?: KeyAttribute }>;
  /** Attribute DynamoDB TTL deletes items by (epoch seconds), if any. */
  timeToLiveAttribute?: string;
}

export interface QueueDefinition {
  id: QueueName;
  /** Seconds a received job stays hidden; must exceed the consuming function's timeout. */
  visibilityTimeoutSeconds: number;
  /** Receives before a job moves to the dead-letter queue. */
  maxReceiveCount: number;
  retentionSeconds: number;
  deadLetterRetentionSeconds: number;
}

export interface BucketDefinition {
  id: string;
  /** Key prefix of raw messages. */
  messagePrefix: string;
  /**
   * Key prefix of outbound copies (DKIM-signed, owned by one outbound job and deleted when it
   * ends) and their `.queued` markers (core/outbound/job.ts); expired by a lifecycle rule
   * after `outboundRetentionDays`, well past the outbound give-up age.
   */
  outboundPrefix: string;
  outboundRetentionDays: number;
  /**
   * Key prefix of JMAP uploads (RFC 8620 §6.1; fargate-listeners/src/jmap/blob-routes.ts): nothing
   * references an upload once Email/import or Email/set has copied its bytes into a message, so a
   * lifecycle rule expires them after `uploadRetentionDays` (§6.1 allows at least an hour).
   */
  uploadPrefix: string;
  uploadRetentionDays: number;
}

/** Single-table design of the mail index; item layout in core/adapters/aws/dynamo-keys.ts. */
export const MAIL_INDEX_TABLE: TableDefinition = {
  id: 'MailIndex',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  globalSecondaryIndexes: [],
  timeToLiveAttribute: 'ttl',
};

export const MESSAGE_BUCKET: BucketDefinition = {
  id: 'Messages',
  messagePrefix: 'messages/',
  outboundPrefix: 'outbound/',
  outboundRetentionDays: 30,
  uploadPrefix: 'jmap-uploads/',
  uploadRetentionDays: 1,
};

export const QUEUES: Record<QueueName, QueueDefinition> = {
  ingest: {
    id: 'ingest',
    visibilityTimeoutSeconds: 180,
    maxReceiveCount: 5,
    retentionSeconds: 14 * 24 * 3600,
    deadLetterRetentionSeconds: 14 * 24 * 3600,
  },
  outbound: {
    id: 'outbound',
    // One delivery attempt may take minutes (several MX hosts, slow servers): the function
    // timeout is a sixth of this (300 s), above the attempt budget of core/outbound.
    visibilityTimeoutSeconds: 1800,
    maxReceiveCount: 8,
    retentionSeconds: 14 * 24 * 3600,
    deadLetterRetentionSeconds: 14 * 24 * 3600,
  },
};

/** Physical names for one deployment or test run. */
export interface ResourceNames {
  bucket: string;
  table: string;
  queues: Record<QueueName, { name: string; deadLetterName: string }>;
}

export function resourceNames(prefix: string): ResourceNames {
  const p = prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  return {
    bucket: `${p}-messages`,
    table: `${p}-mail-index`,
    queues: {
      ingest: { name: `${p}-ingest`, deadLetterName: `${p}-ingest-dlq` },
      outbound: { name: `${p}-outbound`, deadLetterName: `${p}-outbound-dlq` },
    },
  };
}

/**
 * Environment variables through which the aws adapters learn the physical resources
 * (set by the CDK stack on functions/containers, and by the test setup on the emulator).
 */
export const RESOURCE_ENV = {
  bucket: 'MAIL_BUCKET',
  table: 'MAIL_TABLE',
  ingestQueueUrl: 'INGEST_QUEUE_URL',
  ingestDeadLetterQueueUrl: 'INGEST_DLQ_URL',
  outboundQueueUrl: 'OUTBOUND_QUEUE_URL',
  outboundDeadLetterQueueUrl: 'OUTBOUND_DLQ_URL',
} as const;

/**
 * Push between listener tasks (core/adapters/aws/sns-change-feed.ts): one SNS topic per stack;
 * each listener task makes its own SQS queue named `<queuePrefix><task id>`, subscribed to the
 * topic, and deletes it on shutdown. The stack's grants for queue management are limited to
 * names under the prefix (infra/push.ts). The prefix is `<slug>_push_`: a stack name cannot
 * hold `_` (infra/context.ts) and the slug replaces it, so no queue another stack derives from
 * its name (`<stack>-ingest`, ...; e.g. of a stack named `<stack>-push-eu`) starts with it.
 */
export const PUSH = {
  env: { topicArn: 'PUSH_TOPIC_ARN', queuePrefix: 'PUSH_QUEUE_PREFIX' },
  topicName: (prefix: string) => `${pushSlug(prefix)}-push`,
  queuePrefix: (prefix: string) => `${pushSlug(prefix)}_push_`,
  /** Notifications are worth nothing after a minute (the slow poll covers them); SQS keeps a message at least 60 s. */
  messageRetentionSeconds: 60,
  /**
   * Longer than the retention: a received notification is never received again and expires
   * hidden, so the listener deletes nothing (core/adapters/aws/sns-change-feed.ts).
   */
  visibilityTimeoutSeconds: 120,
  /** Tags on each task queue: when its task last said it was alive, and its subscription. */
  heartbeatTag: 'cloudmail:heartbeat',
  subscriptionTag: 'cloudmail:subscription',
  heartbeatSeconds: 3600,
  /** A queue whose heartbeat is older than this belongs to a task that died without cleaning up. */
  staleAfterSeconds: 86_400,
} as const;

function pushSlug(prefix: string): string {
  return prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-');
}
