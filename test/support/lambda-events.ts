/** SQS messages received from the emulator, shaped as the Lambda SQS event a handler gets. */
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { LambdaContext } from '#functions/lambda-context.ts';
import type { SqsEvent } from '#functions/sqs-batch.ts';
import type { emulatorClientConfig } from './emulator.ts';

/** Receives `count` messages (15 s at most) and turns them into one Lambda event. */
export async function takeSqsEvent(clientConfig: ReturnType<typeof emulatorClientConfig>, queueUrl: string, count: number): Promise<SqsEvent> {
  const sqs = new SQSClient(clientConfig);
  const messages = [];
  const deadline = Date.now() + 15_000;
  try {
    while (messages.length < count && Date.now() < deadline) {
      const r = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
          WaitTimeSeconds: 1,
        }),
      );
      messages.push(...(r.Messages ?? []));
    }
  } finally {
    sqs.destroy();
  }
  return {
    Records: messages.map((m) => ({
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      body: m.Body!,
      attributes: m.Attributes as Record<string, string>,
      messageAttributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, { stringValue: v.StringValue }])),
    })),
  };
}

let invocation = 0;

/** A Lambda context object as the runtime passes it (only what the handlers read). */
export function lambdaContext(): LambdaContext {
  invocation++;
  return {
    awsRequestId: `00000000-0000-4000-8000-${String(invocation).padStart(12, '0')}`,
    functionName: 'test',
    functionVersion: '$LATEST',
    getRemainingTimeInMillis: () => 60_000,
  };
}
