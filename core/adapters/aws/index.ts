/**
 * The `aws` adapter set: S3 blob store, DynamoDB mail index, SQS work queue, Secrets Manager.
 *
 *   const refs = awsResourceRefsFromEnv(process.env);          // Lambda / Fargate
 *   const adapters = await createAwsAdapters({ refs });         // real AWS, default credentials
 *   const adapters = await createAwsAdapters({ refs, clientConfig: { endpoint, region, credentials, forcePathStyle } });
 *
 * The protocol engines never import this module; they get the ports.
 */
import type { Adapters } from '../adapters.ts';
import { createAwsClients, type AwsClientConfig } from './clients.ts';
import { DynamoContactStore } from './dynamo-contact-store.ts';
import { PhotoBlobContactStore } from '../../contacts/photo-blobs.ts';
import { DynamoMailIndex } from './dynamo-mail-index.ts';
import type { AwsResourceRefs } from './provision.ts';
import { S3BlobStore } from './s3-blob-store.ts';
import { SecretsManagerStore } from './secrets-manager-store.ts';
import { SqsWorkQueue } from './sqs-work-queue.ts';

export type { AwsClientConfig } from './clients.ts';
export { awsResourceEnv, awsResourceRefsFromEnv, destroyAwsResources, provisionAwsResources, type AwsResourceKind, type AwsResourceRefs } from './provision.ts';
export { DynamoMailIndex } from './dynamo-mail-index.ts';
export { S3BlobStore } from './s3-blob-store.ts';
export { SecretsManagerStore } from './secrets-manager-store.ts';
export { SqsWorkQueue } from './sqs-work-queue.ts';

export interface AwsAdaptersOptions {
  refs: AwsResourceRefs;
  /** Passed to every SDK client; omitted = SDK defaults (AWS_ENDPOINT_URL is honoured). */
  clientConfig?: AwsClientConfig;
  /**
   * Prepended to blob keys to make S3 object keys; default none: callers already build keys
   * under MESSAGE_BUCKET.messagePrefix (core/mailbox/writes.ts, newBlobKey), the prefix the IAM
   * grants and lifecycle rules of the stack are scoped to.
   */
  blobKeyPrefix?: string;
}

export async function createAwsAdapters(options: AwsAdaptersOptions): Promise<Adapters> {
  const clients = createAwsClients(options.clientConfig);
  const blobs = new S3BlobStore({ client: clients.s3, bucket: options.refs.bucket, keyPrefix: options.blobKeyPrefix ?? '' });
  const index = new DynamoMailIndex({ client: clients.dynamo, table: options.refs.table });
  const queue = new SqsWorkQueue({ client: clients.sqs, queueUrls: options.refs.queueUrls, deadLetterQueueUrls: options.refs.deadLetterQueueUrls });
  const secrets = new SecretsManagerStore({ client: clients.secrets });
  let closed = false;
  return {
    kind: 'aws',
    blobs,
    index,
    queue,
    secrets,
    contacts: new PhotoBlobContactStore(new DynamoContactStore({ client: clients.dynamo, table: options.refs.table }), blobs),
    async close() {
      if (closed) return;
      closed = true;
      clients.destroy();
    },
  };
}
