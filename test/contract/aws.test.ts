/**
 * The three port contracts on the `aws` adapters (S3, DynamoDB, SQS) against the emulator
 * the vitest global setup provides (moto, or whatever AWS_ENDPOINT_URL points at, e.g.
 * LocalStack). Every fixture provisions the resources its adapter uses, from
 * core/resources.ts under a unique prefix, and destroys them afterwards.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createAwsClients } from '#core/adapters/aws/clients.ts';
import { DynamoMailIndex } from '#core/adapters/aws/dynamo-mail-index.ts';
import { destroyAwsResources, provisionAwsResources } from '#core/adapters/aws/provision.ts';
import { S3BlobStore } from '#core/adapters/aws/s3-blob-store.ts';
import { SqsWorkQueue } from '#core/adapters/aws/sqs-work-queue.ts';
import { emulatorClientConfig } from '../support/emulator.ts';
import { blobStoreContract } from './blob-store.contract.ts';
import { mailIndexContract } from './mail-index.contract.ts';
import { workQueueContract } from './work-queue.contract.ts';

const clientConfig = emulatorClientConfig(inject('awsEndpoint'));

/** A unique, name-safe prefix per fixture. */
function uniquePrefix(): string {
  return `t${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
}

blobStoreContract('aws S3', async () => {
  const refs = await provisionAwsResources(clientConfig, uniquePrefix(), { only: ['bucket'] });
  const clients = createAwsClients(clientConfig);
  const blobs = new S3BlobStore({ client: clients.s3, bucket: refs.bucket });
  return {
    blobs,
    cleanup: async () => {
      clients.destroy();
      await destroyAwsResources(clientConfig, refs);
    },
  };
});

mailIndexContract('aws DynamoDB', async () => {
  const refs = await provisionAwsResources(clientConfig, uniquePrefix(), { only: ['table'] });
  const opened: Array<{ destroy(): void }> = [];
  // Each instance has its own SDK client (its own connections), like another container.
  const open = (changeLogRetentionMs?: number) => {
    const clients = createAwsClients(clientConfig);
    opened.push(clients);
    return new DynamoMailIndex({ client: clients.dynamo, table: refs.table, changeLogRetentionMs });
  };
  return {
    index: open(),
    openAnother: async () => open(),
    openWithChangeLogRetention: async (ms) => open(ms),
    cleanup: async () => {
      for (const c of opened) c.destroy();
      await destroyAwsResources(clientConfig, refs);
    },
  };
});

workQueueContract('aws SQS', async () => {
  const refs = await provisionAwsResources(clientConfig, uniquePrefix(), { only: ['queues'] });
  const clients = createAwsClients(clientConfig);
  const queue = new SqsWorkQueue({ client: clients.sqs, queueUrls: refs.queueUrls, deadLetterQueueUrls: refs.deadLetterQueueUrls });
  return {
    queue,
    cleanup: async () => {
      clients.destroy();
      await destroyAwsResources(clientConfig, refs);
    },
  };
});
