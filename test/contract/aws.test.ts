/**
 * The three port contracts on the `aws` adapters (S3, DynamoDB, SQS) against the emulator
 * the vitest global setup provides (moto, or whatever AWS_ENDPOINT_URL points at, e.g.
 * LocalStack). Every fixture provisions the resources its adapter uses, from
 * core/resources.ts under a unique prefix, and destroys them afterwards.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAwsClients } from '#core/adapters/aws/clients.ts';
import { DynamoContactStore } from '#core/adapters/aws/dynamo-contact-store.ts';
import { DynamoMailIndex } from '#core/adapters/aws/dynamo-mail-index.ts';
import { destroyAwsResources, provisionAwsResources } from '#core/adapters/aws/provision.ts';
import { S3BlobStore } from '#core/adapters/aws/s3-blob-store.ts';
import { SqsWorkQueue } from '#core/adapters/aws/sqs-work-queue.ts';
import { emulatorClientConfig } from '../support/emulator.ts';
import { accountObjectsContract } from './account-objects.contract.ts';
import { blobStoreContract } from './blob-store.contract.ts';
import { contactPhotosContract } from './contact-photos.contract.ts';
import { contactStoreContract } from './contact-store.contract.ts';
import { mailIndexContract, sampleMeta, type MailIndexFixture } from './mail-index.contract.ts';
import { envelopesContract } from './envelopes.contract.ts';
import { saveDateContract } from './save-date.contract.ts';
import { threadsContract } from './threads.contract.ts';
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

/** A fresh, empty index for each test (the MailIndex contracts below). */
const dynamoIndexFixture = async (): Promise<MailIndexFixture> => {
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
};

mailIndexContract('aws DynamoDB', dynamoIndexFixture);
saveDateContract('aws DynamoDB', dynamoIndexFixture);
envelopesContract('aws DynamoDB', dynamoIndexFixture);

contactStoreContract('aws DynamoDB', async () => {
  const refs = await provisionAwsResources(clientConfig, uniquePrefix(), { only: ['table'] });
  const opened: Array<{ destroy(): void }> = [];
  const open = () => {
    const clients = createAwsClients(clientConfig);
    opened.push(clients);
    return new DynamoContactStore({ client: clients.dynamo, table: refs.table });
  };
  return {
    store: open(),
    openAnother: async () => open(),
    cleanup: async () => {
      for (const c of opened) c.destroy();
      await destroyAwsResources(clientConfig, refs);
    },
  };
});

contactPhotosContract('aws DynamoDB + S3', async () => {
  const refs = await provisionAwsResources(clientConfig, uniquePrefix(), { only: ['table', 'bucket'] });
  const clients = createAwsClients(clientConfig);
  return {
    inner: new DynamoContactStore({ client: clients.dynamo, table: refs.table }),
    blobs: new S3BlobStore({ client: clients.s3, bucket: refs.bucket }),
    cleanup: async () => {
      clients.destroy();
      await destroyAwsResources(clientConfig, refs);
    },
  };
});

threadsContract('aws DynamoDB', async () => {
  const refs = await provisionAwsResources(clientConfig, uniquePrefix(), { only: ['table'] });
  const clients = createAwsClients(clientConfig);
  const index = new DynamoMailIndex({ client: clients.dynamo, table: refs.table });
  return {
    index,
    openAnother: async () => index,
    openWithChangeLogRetention: async () => index,
    cleanup: async () => {
      clients.destroy();
      await destroyAwsResources(clientConfig, refs);
    },
  };
});

accountObjectsContract('aws DynamoDB', async () => {
  const refs = await provisionAwsResources(clientConfig, uniquePrefix(), { only: ['table'] });
  const opened = [createAwsClients(clientConfig), createAwsClients(clientConfig)];
  const [one, two] = opened.map((c) => new DynamoMailIndex({ client: c.dynamo, table: refs.table }));
  return {
    index: one,
    openAnother: async () => two,
    openWithChangeLogRetention: async () => one,
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

describe('DynamoDB changesSince: the uidNext hint (core/ports/mail-index.ts, "the uidNext hint")', () => {
  let refs: Awaited<ReturnType<typeof provisionAwsResources>>;
  let clients: ReturnType<typeof createAwsClients>;
  let ix: DynamoMailIndex;
  const user = 'hint@example.test';
  const message = (n: number) => ({ blobKey: `messages/hint/${n}`, size: 120, internalDate: 1_700_000_000_000 + n, flags: [], meta: sampleMeta(`hint ${n}`) });
  beforeAll(async () => {
    refs = await provisionAwsResources(clientConfig, uniquePrefix(), { only: ['table'] });
    clients = createAwsClients(clientConfig);
    ix = new DynamoMailIndex({ client: clients.dynamo, table: refs.table });
    await ix.addUser({ address: user, passwordHash: 'scrypt$hash' });
  });
  afterAll(async () => {
    clients?.destroy();
    if (refs) await destroyAwsResources(clientConfig, refs);
  });

  it('reads appends from the hint on: the uidNext read with `since` (or lower) finds them all; a later, higher one would hide them, which is why callers must not pass it', async () => {
    const mb = await ix.createMailbox(user, 'INBOX');
    for (let n = 1; n <= 2; n++) await ix.appendMessage(user, mb.id, message(n));
    const read = (await ix.mailboxState(user, mb.id))!; // one state read: since and its uidNext
    await ix.appendMessage(user, mb.id, message(3)); // UID 3, after `since`
    const later = (await ix.mailboxState(user, mb.id))!;
    for (const uidNext of [read.uidNext, read.uidNext - 1, 1]) {
      const c = await ix.changesSince(user, mb.id, read.highestModseq, { uidNext });
      expect(c, `hint ${uidNext}`).toMatchObject({ state: later, complete: true, expunged: [] });
      expect(c!.changed.map((m) => m.uid)).toEqual([3]);
    }
    // The contract's reason: a hint from a later read (uidNext 4, paired with the older
    // `since`) leaves UID 3 out, and the adapter cannot tell.
    const tooHigh = await ix.changesSince(user, mb.id, read.highestModseq, { uidNext: later.uidNext });
    expect(tooHigh).toMatchObject({ complete: true, changed: [] });
  });
});
