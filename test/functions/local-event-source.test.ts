/**
 * The local stand-in for the Lambda SQS event source (functions/local-event-source.ts) on the
 * emulator's queues: batches of up to batchSize records, ReportBatchItemFailures (only the
 * failed records stay), a thrown handler or an invalid identifier fails the whole batch, the
 * queue's visibility timeout brings failed records back, and the redrive policy moves a
 * record received maxReceiveCount times to the dead-letter queue.
 */
import { GetQueueAttributesCommand, SendMessageCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { destroyAwsResources, provisionAwsResources, type AwsResourceRefs } from '#core/adapters/aws/index.ts';
import { silentLogger } from '#core/log.ts';
import { recordsToDelete, startSqsEventSource, type RunningEventSource } from '#functions/local-event-source.ts';
import type { SqsBatchResponse, SqsEvent, SqsRecord } from '#functions/sqs-batch.ts';
import { emulatorClientConfig } from '../support/emulator.ts';
import { eventually, uniquePrefix } from '../support/mail-system.ts';

const record = (id: string): SqsRecord => ({ messageId: id, receiptHandle: `r-${id}`, body: '{}' });

describe('recordsToDelete (ReportBatchItemFailures)', () => {
  const batch = [record('a'), record('b'), record('c')];
  it('deletes every record but the reported failures', () => {
    expect(recordsToDelete(batch, { batchItemFailures: [{ itemIdentifier: 'b' }] }).map((r) => r.messageId)).toEqual(['a', 'c']);
  });
  it('deletes all records when the response is empty or has no failures', () => {
    expect(recordsToDelete(batch, undefined)).toHaveLength(3);
    expect(recordsToDelete(batch, { batchItemFailures: [] })).toHaveLength(3);
  });
  it('deletes nothing when a failure names no record of the batch or is empty', () => {
    expect(recordsToDelete(batch, { batchItemFailures: [{ itemIdentifier: 'zzz' }] })).toEqual([]);
    expect(recordsToDelete(batch, { batchItemFailures: [{ itemIdentifier: '' }] })).toEqual([]);
  });
});

describe('local SQS event source on the emulator', () => {
  const clientConfig = () => emulatorClientConfig(inject('awsEndpoint'));
  let refs: AwsResourceRefs;
  let sqs: SQSClient;
  let source: RunningEventSource | undefined;
  let dlqArn: string;

  beforeAll(async () => {
    refs = await provisionAwsResources(clientConfig(), uniquePrefix(), { only: ['queues'] });
    sqs = new SQSClient(clientConfig());
    dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: refs.deadLetterQueueUrls.ingest, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    // Short timings so that redelivery and redrive happen within the test.
    await sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: refs.queueUrls.ingest,
        Attributes: { VisibilityTimeout: '2', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }) },
      }),
    );
  });
  afterAll(async () => {
    await source?.stop();
    sqs?.destroy();
    if (refs) await destroyAwsResources(clientConfig(), refs).catch(() => {});
  });

  const depth = async (url: string) => {
    const a = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))
    ).Attributes!;
    return Number(a.ApproximateNumberOfMessages) + Number(a.ApproximateNumberOfMessagesNotVisible);
  };

  it('runs one batch, deletes the good records, redelivers the failed one after the visibility timeout, then dead-letters it', async () => {
    for (const body of ['good-1', 'bad', 'good-2'])
      await sqs.send(new SendMessageCommand({ QueueUrl: refs.queueUrls.ingest, MessageBody: JSON.stringify({ body }) }));
    const batches: Array<Array<{ body: string; receiveCount: number; at: number }>> = [];
    const handler = async (event: SqsEvent): Promise<SqsBatchResponse> => {
      batches.push(event.Records.map((r) => ({ body: JSON.parse(r.body).body, receiveCount: Number(r.attributes?.ApproximateReceiveCount), at: Date.now() })));
      return { batchItemFailures: event.Records.filter((r) => r.body.includes('bad')).map((r) => ({ itemIdentifier: r.messageId })) };
    };
    source = startSqsEventSource({
      sqs,
      queueUrl: refs.queueUrls.ingest,
      handler,
      batchSize: 10,
      maxConcurrency: 1,
      functionTimeoutSeconds: 5,
      waitSeconds: 1,
      logger: silentLogger,
    });

    await eventually(async () => batches.length >= 2);
    expect(batches[0].map((r) => r.body).sort()).toEqual(['bad', 'good-1', 'good-2']);
    // Only the failed record comes back, on its second receive, after the 2 s visibility timeout.
    expect(batches[1]).toEqual([expect.objectContaining({ body: 'bad', receiveCount: 2 })]);
    expect(batches[1][0].at - batches[0][0].at).toBeGreaterThanOrEqual(1500);
    // Received maxReceiveCount (2) times and failed: the queue moves it to the dead-letter queue.
    await eventually(async () => (await depth(refs.deadLetterQueueUrls.ingest)) === 1, 15_000);
    expect(await depth(refs.queueUrls.ingest)).toBe(0);
    expect(batches).toHaveLength(2);
    await source.stop();
    source = undefined;
  });

  it('keeps the whole batch when the handler throws, and delivers it again', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: refs.queueUrls.ingest, MessageBody: JSON.stringify({ body: 'x' }) }));
    let calls = 0;
    const handler = async (): Promise<SqsBatchResponse> => {
      calls++;
      if (calls === 1) throw new Error('function error');
      return { batchItemFailures: [] };
    };
    source = startSqsEventSource({
      sqs,
      queueUrl: refs.queueUrls.ingest,
      handler,
      batchSize: 10,
      maxConcurrency: 1,
      functionTimeoutSeconds: 5,
      waitSeconds: 1,
      logger: silentLogger,
    });
    await eventually(async () => calls >= 2 && (await depth(refs.queueUrls.ingest)) === 0, 15_000);
    expect(calls).toBe(2);
    await source.stop();
    source = undefined;
  });
});
