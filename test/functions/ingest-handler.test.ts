/**
 * The ingest Lambda handler on the emulator: real SQS messages (as SqsWorkQueue sends them)
 * turned into a Lambda SQS event, delivered; a failing record is reported alone in
 * batchItemFailures (ReportBatchItemFailures) so only it returns to the queue; a body that is
 * not an ingest job fails its record on every receive until the redrive policy moves it to the
 * dead-letter queue; a batch whose every record failed is thrown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createUser } from '#core/accounts/accounts.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { awsResourceEnv, createAwsAdapters, destroyAwsResources, provisionAwsResources, type AwsResourceRefs } from '#core/adapters/aws/index.ts';
import type { IngestJob } from '#core/ingest/ingest-job.ts';
import { emulatorClientConfig, emulatorEnv } from '../support/emulator.ts';
import { uniquePrefix } from '../support/mail-system.ts';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { QUEUES } from '#core/resources.ts';
import { FullBatchFailureError } from '#functions/sqs-batch.ts';
import { lambdaContext, takeSqsEvent } from '../support/lambda-events.ts';

describe('ingest Lambda handler', () => {
  let refs: AwsResourceRefs;
  let adapters: Adapters;
  const clientConfig = () => emulatorClientConfig(inject('awsEndpoint'));

  beforeAll(async () => {
    refs = await provisionAwsResources(clientConfig(), uniquePrefix());
    adapters = await createAwsAdapters({ refs, clientConfig: clientConfig() });
    // What the CDK stack sets on the function, plus the emulator in place of AWS.
    Object.assign(process.env, awsResourceEnv(refs), emulatorEnv(clientConfig()), { LOG_LEVEL: 'error' });
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
    // A malformed job (no recipient list) is refused at the edge, before the job function.
    await adapters.queue.send('ingest', { ...base, rcptTo: null, id: 'BAD1', blobKey: 'messages/lambda/bad' });

    const event = await takeSqsEvent(clientConfig(), refs.queueUrls.ingest, 2);
    expect(event.Records).toHaveLength(2);
    const { handler } = await import('#functions/ingest.ts');
    const response = await handler(event, lambdaContext());
    const bad = event.Records.find((r) => r.body.includes('BAD1'))!;
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: bad.messageId }]);

    const inbox = (await adapters.index.getMailbox('alice@example.test', 'INBOX'))!;
    const msgs = await adapters.index.listMessages('alice@example.test', inbox.id, { withMeta: true });
    expect(msgs.map((m) => m.meta!.envelope.subject)).toEqual(['via lambda']);
    // The same event again (SQS redelivery): still one message.
    await handler({ Records: event.Records.filter((r) => r.messageId !== bad.messageId) }, lambdaContext());
    expect(await adapters.index.listMessages('alice@example.test', inbox.id)).toHaveLength(1);
  });

  it('a body that is not a job fails its record on every receive and ends in the dead-letter queue; the batch is thrown when all its records failed', async () => {
    const sqs = new SQSClient(clientConfig());
    await sqs.send(new SendMessageCommand({ QueueUrl: refs.queueUrls.ingest, MessageBody: '{"id": "TRUNC1", "blobKey": "messages/x' }));
    const { handler } = await import('#functions/ingest.ts');
    for (let receive = 1; receive <= QUEUES.ingest.maxReceiveCount; receive++) {
      const event = await takeSqsEvent(clientConfig(), refs.queueUrls.ingest, 1);
      expect(event.Records).toHaveLength(1);
      expect(event.Records[0].attributes?.ApproximateReceiveCount).toBe(String(receive));
      await expect(handler(event, lambdaContext())).rejects.toBeInstanceOf(FullBatchFailureError);
      // What the end of the visibility timeout does in Lambda, at once.
      await adapters.queue.release('ingest', event.Records[0].receiptHandle, 0);
    }
    // The next receive finds the redrive policy's limit reached: the message moves to the DLQ.
    const after = await sqs.send(new ReceiveMessageCommand({ QueueUrl: refs.queueUrls.ingest, WaitTimeSeconds: 1 }));
    sqs.destroy();
    expect(after.Messages ?? []).toHaveLength(0);
    const dead = await adapters.queue.deadLetters('ingest');
    expect(dead.map((d) => d.body)).toEqual(['{"id": "TRUNC1", "blobKey": "messages/x']);
  });
});
