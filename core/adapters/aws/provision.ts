/**
 * Creates (and destroys) the AWS resources of one deployment or test run from the shared
 * definitions in core/resources.ts, the same ones the CDK app declares: the message bucket,
 * the mail-index table (keys, GSIs, TTL) and both work queues with their dead-letter queues
 * and redrive policies. Idempotent: running it again on existing resources changes nothing
 * (queue attributes are brought back to the definitions).
 *
 * Functions and containers do not provision: they find their resources through the
 * RESOURCE_ENV variables (awsResourceRefsFromEnv), set by the CDK stack or the test setup.
 */
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type BucketLocationConstraint,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { QueueName } from '#core/ports/work-queue.ts';
import { MAIL_INDEX_TABLE, QUEUES, RESOURCE_ENV, resourceNames, type KeyAttribute, type QueueDefinition } from '#core/resources.ts';
import { createAwsClients, type AwsClientConfig } from './clients.ts';

export type { AwsClientConfig } from './clients.ts';

/** The physical resources the aws adapters work on. */
export interface AwsResourceRefs {
  bucket: string;
  table: string;
  queueUrls: Record<QueueName, string>;
  deadLetterQueueUrls: Record<QueueName, string>;
}

const QUEUE_NAMES = Object.keys(QUEUES) as QueueName[];

const errName = (err: unknown) => (err as { name?: string } | null)?.name ?? '';

export type AwsResourceKind = 'bucket' | 'table' | 'queues';

/**
 * Creates whatever is missing and returns the references. Waits until the table is ACTIVE.
 * `only` limits the work to some resources (tests of one adapter); the refs of the others
 * are then empty strings.
 */
export async function provisionAwsResources(
  clientConfig: AwsClientConfig | undefined,
  prefix: string,
  options: { only?: AwsResourceKind[] } = {},
): Promise<AwsResourceRefs> {
  const names = resourceNames(prefix);
  const want = (k: AwsResourceKind) => !options.only || options.only.includes(k);
  const clients = createAwsClients(clientConfig);
  try {
    const [, , queues] = await Promise.all([
      want('bucket') ? ensureBucket(clients.s3, names.bucket) : undefined,
      want('table') ? ensureTable(clients.dynamo, names.table) : undefined,
      Promise.all(
        QUEUE_NAMES.map(async (q) => [q, want('queues') ? await ensureQueuePair(clients.sqs, QUEUES[q], names.queues[q]) : { url: '', dlqUrl: '' }] as const),
      ),
    ]);
    const queueUrls = {} as Record<QueueName, string>;
    const deadLetterQueueUrls = {} as Record<QueueName, string>;
    for (const [q, urls] of queues) {
      queueUrls[q] = urls.url;
      deadLetterQueueUrls[q] = urls.dlqUrl;
    }
    return { bucket: want('bucket') ? names.bucket : '', table: want('table') ? names.table : '', queueUrls, deadLetterQueueUrls };
  } finally {
    clients.destroy();
  }
}

/**
 * Deletes the resources (test cleanup): empties and deletes the bucket, deletes the table
 * and the four queues. Takes the refs or the prefix; missing resources are skipped.
 */
export async function destroyAwsResources(clientConfig: AwsClientConfig | undefined, target: AwsResourceRefs | string): Promise<void> {
  const clients = createAwsClients(clientConfig);
  try {
    let refs: { bucket: string; table: string; queueUrls: string[] };
    if (typeof target === 'string') {
      const names = resourceNames(target);
      const urls = await Promise.all(
        QUEUE_NAMES.flatMap((q) => [names.queues[q].name, names.queues[q].deadLetterName]).map((QueueName) =>
          clients.sqs.send(new GetQueueUrlCommand({ QueueName })).then(
            (r) => r.QueueUrl ?? null,
            () => null,
          ),
        ),
      );
      refs = { bucket: names.bucket, table: names.table, queueUrls: urls.filter((u): u is string => u !== null) };
    } else {
      refs = { bucket: target.bucket, table: target.table, queueUrls: [...Object.values(target.queueUrls), ...Object.values(target.deadLetterQueueUrls)] };
    }
    await Promise.all([
      refs.bucket ? destroyBucket(clients.s3, refs.bucket) : undefined,
      refs.table
        ? clients.dynamo.send(new DeleteTableCommand({ TableName: refs.table })).catch((err) => {
            if (errName(err) !== 'ResourceNotFoundException') throw err;
          })
        : undefined,
      ...refs.queueUrls.filter(Boolean).map((QueueUrl) =>
        clients.sqs.send(new DeleteQueueCommand({ QueueUrl })).catch((err) => {
          if (!/NonExistentQueue|QueueDoesNotExist/.test(errName(err))) throw err;
        }),
      ),
    ]);
  } finally {
    clients.destroy();
  }
}

/** Reads the RESOURCE_ENV variables (set by the CDK stack on functions/containers). */
export function awsResourceRefsFromEnv(env: Record<string, string | undefined> = process.env): AwsResourceRefs {
  const missing = Object.values(RESOURCE_ENV).filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`missing environment variables for the AWS resources: ${missing.join(', ')}`);
  const get = (name: string) => env[name] as string;
  return {
    bucket: get(RESOURCE_ENV.bucket),
    table: get(RESOURCE_ENV.table),
    queueUrls: { ingest: get(RESOURCE_ENV.ingestQueueUrl), outbound: get(RESOURCE_ENV.outboundQueueUrl) },
    deadLetterQueueUrls: { ingest: get(RESOURCE_ENV.ingestDeadLetterQueueUrl), outbound: get(RESOURCE_ENV.outboundDeadLetterQueueUrl) },
  };
}

/** The inverse of awsResourceRefsFromEnv: the environment that names these resources. */
export function awsResourceEnv(refs: AwsResourceRefs): Record<string, string> {
  return {
    [RESOURCE_ENV.bucket]: refs.bucket,
    [RESOURCE_ENV.table]: refs.table,
    [RESOURCE_ENV.ingestQueueUrl]: refs.queueUrls.ingest,
    [RESOURCE_ENV.ingestDeadLetterQueueUrl]: refs.deadLetterQueueUrls.ingest,
    [RESOURCE_ENV.outboundQueueUrl]: refs.queueUrls.outbound,
    [RESOURCE_ENV.outboundDeadLetterQueueUrl]: refs.deadLetterQueueUrls.outbound,
  };
}

// --- S3 ---

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return;
  } catch (err) {
    if (errName(err) !== 'NotFound' && errName(err) !== 'NoSuchBucket') throw err;
  }
  const region = await s3.config.region();
  try {
    await s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        // us-east-1 is the default location and must not be named (S3 API).
        ...(region && region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } } : {}),
      }),
    );
  } catch (err) {
    if (errName(err) !== 'BucketAlreadyOwnedByYou') throw err;
  }
}

async function destroyBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      const objects = (page.Contents ?? []).map((o) => ({ Key: o.Key as string }));
      if (objects.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    for (const u of uploads.Uploads ?? []) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key as string, UploadId: u.UploadId as string })).catch(() => undefined);
    }
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (errName(err) !== 'NoSuchBucket' && errName(err) !== 'NotFound') throw err;
  }
}

// --- DynamoDB ---

async function ensureTable(db: DynamoDBClient, table: string): Promise<void> {
  const def = MAIL_INDEX_TABLE;
  const attrs = new Map<string, KeyAttribute['type']>();
  const note = (k: KeyAttribute | undefined) => k && attrs.set(k.name, k.type);
  note(def.partitionKey);
  note(def.sortKey);
  for (const g of def.globalSecondaryIndexes) {
    note(g.partitionKey);
    note(g.sortKey);
  }
  try {
    await db.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [...attrs].map(([AttributeName, AttributeType]): AttributeDefinition => ({ AttributeName, AttributeType })),
        KeySchema: [
          { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: def.sortKey.name, KeyType: 'RANGE' },
        ],
        ...(def.globalSecondaryIndexes.length > 0
          ? {
              GlobalSecondaryIndexes: def.globalSecondaryIndexes.map((g) => ({
                IndexName: g.indexName,
                KeySchema: [
                  { AttributeName: g.partitionKey.name, KeyType: 'HASH' as const },
                  ...(g.sortKey ? [{ AttributeName: g.sortKey.name, KeyType: 'RANGE' as const }] : []),
                ],
                Projection: { ProjectionType: 'ALL' as const },
              })),
            }
          : {}),
      }),
    );
  } catch (err) {
    if (errName(err) !== 'ResourceInUseException') throw err;
  }
  await waitForTableActive(db, table);
  if (def.timeToLiveAttribute) {
    const ttl = await db.send(new DescribeTimeToLiveCommand({ TableName: table }));
    const status = ttl.TimeToLiveDescription?.TimeToLiveStatus;
    if (status !== 'ENABLED' && status !== 'ENABLING') {
      await db.send(new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { AttributeName: def.timeToLiveAttribute, Enabled: true } }));
    }
  }
}

async function waitForTableActive(db: DynamoDBClient, table: string, timeoutMs = 5 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 5000)) {
    const res = await db.send(new DescribeTableCommand({ TableName: table }));
    const t = res.Table;
    if (t?.TableStatus === 'ACTIVE' && (t.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === 'ACTIVE' || g.IndexStatus === undefined)) return;
    if (Date.now() > deadline) throw new Error(`table ${table} is not ACTIVE after ${timeoutMs} ms (status ${t?.TableStatus})`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

// --- SQS ---

async function ensureQueue(sqs: SQSClient, name: string, attributes: Record<string, string>): Promise<string> {
  try {
    const res = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    return res.QueueUrl as string;
  } catch (err) {
    // The queue exists with other attributes: bring them back to the definition.
    if (!/QueueAlreadyExists|QueueNameExists/.test(errName(err))) throw err;
    const url = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl as string;
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
    return url;
  }
}

async function ensureQueuePair(
  sqs: SQSClient,
  def: QueueDefinition,
  names: { name: string; deadLetterName: string },
): Promise<{ url: string; dlqUrl: string }> {
  const dlqUrl = await ensureQueue(sqs, names.deadLetterName, { MessageRetentionPeriod: String(def.deadLetterRetentionSeconds) });
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
  if (!arn) throw new Error(`no ARN for queue ${names.deadLetterName}`);
  const url = await ensureQueue(sqs, names.name, {
    VisibilityTimeout: String(def.visibilityTimeoutSeconds),
    MessageRetentionPeriod: String(def.retentionSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: def.maxReceiveCount }),
  });
  return { url, dlqUrl };
}
