/**
 * The ingest Lambda handler on the emulator: real SQS messages (as SqsWorkQueue sends them)
 * turned into a Lambda SQS event, delivered; a failing record is reported alone in
 * batchItemFailures (ReportBatchItemFailures) so only it returns to the queue.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createUser } from '../../core/accounts/accounts.ts';
import type { Adapters } from '../../core/adapters/adapters.ts';
import { awsResourceEnv, createAwsAdapters, destroyAwsResources, provisionAwsResources, type AwsResourceRefs } from '../../core/adapters/aws/index.ts';
import type { IngestJob } from '../../core/ingest/ingest-job.ts';
import { emulatorClientConfig } from '../support/emulator.ts';
import { uniquePrefix } from '../support/mail-system.ts';
import { takeSqsEvent } from '../support/lambda-events.ts';

describe('ingest Lambda handler', () => {
  let refs: AwsResourceRefs;
  let adapters: Adapters;
  const clientConfig = () => emulatorClientConfig(inject('awsEndpoint'));

  beforeAll(async () => {
    refs = await provisionAwsResources(clientConfig(), uniquePrefix());
    adapters = await createAwsAdapters({ refs, clientConfig: clientConfig() });
    // What the CDK stack sets on the function, plus the emulator in place of AWS.
    Object.assign(process.env, awsResourceEnv(refs), {
      AWS_ENDPOINT_URL: clientConfig().endpoint,
      AWS_REGION: clientConfig().region,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      LOG_LEVEL: 'error',
    });
    await adapters.index.addDomain('example.test');
    await createUser(adapters.index, 'alice@example.test', 'pw');
  });
  afterAll(async () => {
    await adapters?.close();
    if (refs) await destroyAwsResources(clientConfig(), refs).catch(() => {});
  });

  it('delivers good records and reports only the failing one', async () => {
    const raw = Buffer.from('Subject: via lambda\r\n\r\nhello\r\n');
    await adapters.blobs.put('messages/lambda/ok', raw);
    const base = { mailFrom: 'x@remote.test', rcptTo: ['alice@example.test'], receivedAt: Date.now(), source: 'mx' as const, size: raw.length };
    await adapters.queue.send<IngestJob>('ingest', { ...base, id: 'GOOD1', blobKey: 'messages/lambda/ok' });
    await adapters.blobs.put('messages/lambda/bad', raw);
    // A malformed job (no recipient list) fails in the job function.
    await adapters.queue.send('ingest', { ...base, rcptTo: null, id: 'BAD1', blobKey: 'messages/lambda/bad' });

    const event = await takeSqsEvent(clientConfig(), refs.queueUrls.ingest, 2);
    expect(event.Records).toHaveLength(2);
    const { handler } = await import('../../functions/ingest.ts');
    const response = await handler(event);
    const bad = event.Records.find((r) => r.body.includes('BAD1'))!;
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: bad.messageId }]);

    const inbox = (await adapters.index.getMailbox('alice@example.test', 'INBOX'))!;
    const msgs = await adapters.index.listMessages('alice@example.test', inbox.id, { withMeta: true });
    expect(msgs.map((m) => m.meta!.envelope.subject)).toEqual(['via lambda']);
    // The same event again (SQS redelivery): still one message.
    await handler({ Records: event.Records.filter((r) => r.messageId !== bad.messageId) });
    expect(await adapters.index.listMessages('alice@example.test', inbox.id)).toHaveLength(1);
  });
});
