/**
 * The SNS → SQS change feed (core/adapters/aws/sns-change-feed.ts) against SQS and SNS clients
 * that play the services and fail when told to: how it sets its queue up, retries, sweeps and
 * shuts down. The emulator test (test/imap/idle-push-aws.e2e.test.ts) covers the real services.
 */
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { SnsChangeFeed } from '#core/adapters/aws/sns-change-feed.ts';
import { SnsTopics } from '#core/adapters/aws/sns-topics.ts';
import { PUSH } from '#core/resources.ts';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:test-push';
const PREFIX = 'test_push_';
const ARN = (name: string) => `arn:aws:sqs:us-east-1:123456789012:${name}`;
const URL_OF = (name: string) => `https://sqs.test/123456789012/${name}`;

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const failure = (name: string) => Object.assign(new Error(name), { name });

/** Plays SQS and SNS: `fail[command] = n` fails the next n calls of that command (throttled). */
class FakeAws {
  calls: string[] = [];
  fail: Record<string, number> = {};
  failWith: Record<string, string> = {};
  /** Extra latency per command (ms). */
  delay: Record<string, number> = {};
  queues = new Map<string, Record<string, string>>();
  subscriptions = new Map<string, string>(); // arn → queue ARN
  inFlight: Record<string, number> = {};
  maxInFlight: Record<string, number> = {};
  /** Bodies the next ReceiveMessage returns; the inputs of every call, by command. */
  toReceive: string[] = [];
  inputs: Record<string, any[]> = {};
  private n = 0;

  private async run(name: string, input: any): Promise<any> {
    this.calls.push(name);
    (this.inputs[name] ??= []).push(input);
    this.inFlight[name] = (this.inFlight[name] ?? 0) + 1;
    this.maxInFlight[name] = Math.max(this.maxInFlight[name] ?? 0, this.inFlight[name]);
    try {
      await tick(this.delay[name] ?? 0);
      if ((this.fail[name] ?? 0) > 0) {
        this.fail[name]--;
        throw failure(this.failWith[name] ?? 'ThrottlingException');
      }
      return this.answer(name, input);
    } finally {
      this.inFlight[name]--;
    }
  }

  private answer(name: string, input: any): any {
    const nameOf = (url: string) => url.split('/').pop()!;
    const needQueue = (url: string) => {
      if (!this.queues.has(nameOf(url))) throw failure('QueueDoesNotExist');
      return nameOf(url);
    };
    switch (name) {
      case 'CreateQueueCommand':
        if (!this.queues.has(input.QueueName)) this.queues.set(input.QueueName, { ...input.tags });
        return { QueueUrl: URL_OF(input.QueueName) };
      case 'GetQueueAttributesCommand':
        return { Attributes: { QueueArn: ARN(needQueue(input.QueueUrl)) } };
      case 'SetQueueAttributesCommand':
        needQueue(input.QueueUrl);
        return {};
      case 'TagQueueCommand':
        Object.assign(this.queues.get(needQueue(input.QueueUrl))!, input.Tags);
        return {};
      case 'ListQueueTagsCommand':
        return { Tags: this.queues.get(needQueue(input.QueueUrl)) };
      case 'GetQueueUrlCommand':
        if (!this.queues.has(input.QueueName)) throw failure('QueueDoesNotExist');
        return { QueueUrl: URL_OF(input.QueueName) };
      case 'DeleteQueueCommand':
        this.queues.delete(needQueue(input.QueueUrl));
        return {};
      case 'ReceiveMessageCommand':
        needQueue(input.QueueUrl);
        return tick(5).then(() => ({ Messages: this.toReceive.splice(0).map((Body, i) => ({ Body, ReceiptHandle: `r${i}` })) }));
      case 'DeleteMessageBatchCommand':
        return {};
      case 'SubscribeCommand': {
        const arn = `${TOPIC}:sub-${++this.n}`;
        this.subscriptions.set(arn, input.Endpoint);
        return { SubscriptionArn: arn };
      }
      case 'UnsubscribeCommand':
        this.subscriptions.delete(input.SubscriptionArn);
        return {};
      case 'ListSubscriptionsByTopicCommand':
        return { Subscriptions: [...this.subscriptions].map(([arn, endpoint]) => ({ SubscriptionArn: arn, Protocol: 'sqs', Endpoint: endpoint })) };
      case 'PublishCommand':
        return {};
      default:
        throw new Error(`unexpected ${name}`);
    }
  }

  client(): { send: (cmd: { constructor: { name: string }; input: unknown }) => Promise<any> } {
    return { send: (cmd) => this.run(cmd.constructor.name, cmd.input) };
  }

  feed(options: { startWaitMs?: number; taskId?: string } = {}): SnsChangeFeed {
    return new SnsChangeFeed({
      sns: new SnsTopics(this.client() as unknown as SNSClient),
      sqs: this.client() as unknown as SQSClient,
      topicArn: TOPIC,
      queuePrefix: PREFIX,
      taskId: options.taskId ?? 'task-1',
      waitSeconds: 1,
      retryMaxMs: 20,
      startWaitMs: options.startWaitMs ?? 2000,
    });
  }

  count(name: string): number {
    return this.calls.filter((c) => c === name).length;
  }
}

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await tick(5);
  }
};

describe('SnsChangeFeed notifications (fake SQS/SNS)', () => {
  it('one publish carries several mailboxes; a received one reaches the listener once per mailbox, a v1 one still counts, and nothing is deleted', async () => {
    const aws = new FakeAws();
    const feed = aws.feed();
    await feed.publish([
      { user: 'alice', mailboxId: 'm1' },
      { user: 'bob', mailboxId: 'm2' },
    ]);
    expect(aws.count('PublishCommand')).toBe(1);
    expect(JSON.parse(aws.inputs.PublishCommand[0].Message)).toMatchObject({
      v: 2,
      changes: [
        { user: 'alice', mailbox: 'm1' },
        { user: 'bob', mailbox: 'm2' },
      ],
    });

    const heard: string[] = [];
    aws.toReceive.push(
      JSON.stringify({
        v: 2,
        changes: [
          { user: 'carol', mailbox: 'c1' },
          { user: 'dave', mailbox: 'd1' },
          { user: 'carol', mailbox: 'c1' },
        ],
        origin: 'other-task',
      }),
      JSON.stringify({ v: 1, user: 'erin', mailbox: 'e1', origin: 'old-task' }),
      JSON.stringify({ v: 2, changes: [{ user: 'frank' }], origin: 'other-task' }),
      'not json',
    );
    await feed.listen((c) => heard.push(`${c!.user}/${c!.mailboxId}`));
    await until(() => heard.length >= 3);
    await tick(20);
    expect(heard).toEqual(['carol/c1', 'dave/d1', 'erin/e1']);
    // A received notification is never deleted: it expires hidden (visibility timeout > retention).
    expect(aws.count('DeleteMessageBatchCommand') + aws.count('DeleteMessageCommand')).toBe(0);
    const attrs = aws.inputs.CreateQueueCommand[0].Attributes;
    expect(Number(attrs.VisibilityTimeout)).toBeGreaterThan(Number(attrs.MessageRetentionPeriod));
    await feed.close();
  });
});

describe('SnsChangeFeed set-up and retries (fake SQS/SNS)', () => {
  it('a start-up whose CreateQueue is throttled twice and whose Subscribe fails once still listens: listen() resolves once set up, never rejects', async () => {
    const aws = new FakeAws();
    aws.fail = { CreateQueueCommand: 2, SubscribeCommand: 1 };
    const feed = aws.feed();
    await expect(feed.listen(() => {})).resolves.toBeUndefined();
    expect(feed.queue).toBe(URL_OF(`${PREFIX}task-1`));
    expect([...aws.subscriptions.values()]).toEqual([ARN(`${PREFIX}task-1`)]);
    await feed.close();
    expect(aws.queues.size).toBe(0);
    expect(aws.subscriptions.size).toBe(0);
  });

  it('when the set-up keeps failing, listen() resolves after the bounded wait and the loop sets up once the service answers', async () => {
    const aws = new FakeAws();
    aws.fail = { GetQueueAttributesCommand: 1_000_000 };
    const feed = aws.feed({ startWaitMs: 100 });
    const t0 = Date.now();
    await feed.listen(() => {});
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(feed.queue).toBeNull();
    expect(aws.count('ReceiveMessageCommand')).toBe(0);
    expect(aws.count('GetQueueAttributesCommand')).toBeGreaterThan(1);
    aws.fail = {};
    await until(() => feed.queue !== null && aws.count('ReceiveMessageCommand') > 0);
    expect(aws.subscriptions.size).toBe(1);
    await feed.close();
  });

  it('a queue that vanished and whose re-creation failed half-way (GetQueueAttributes) is set up again whole, never polled unsubscribed', async () => {
    const aws = new FakeAws();
    const feed = aws.feed();
    const heard: unknown[] = [];
    await feed.listen((c) => heard.push(c));
    expect(aws.subscriptions.size).toBe(1);
    aws.queues.delete(`${PREFIX}task-1`); // a manual delete
    aws.fail = { GetQueueAttributesCommand: 1 };
    await until(() => aws.count('SubscribeCommand') === 2);
    await until(() => feed.queue !== null);
    expect([...aws.subscriptions.values()]).toEqual([ARN(`${PREFIX}task-1`)]);
    // The receives after the re-creation come after its Subscribe.
    const lastSubscribe = aws.calls.lastIndexOf('SubscribeCommand');
    const firstFailedAttrs = aws.calls.indexOf('GetQueueAttributesCommand', aws.calls.indexOf('CreateQueueCommand', 1));
    expect(aws.calls.slice(firstFailedAttrs, lastSubscribe)).not.toContain('ReceiveMessageCommand');
    await feed.close();
  });

  it('a failed receive leaves no abort listener behind on the feed signal once its backoff has passed', async () => {
    const aws = new FakeAws();
    const feed = aws.feed();
    await feed.listen(() => {});
    const signal = (feed as unknown as { abort: AbortController }).abort.signal;
    const before = getEventListeners(signal, 'abort').length;
    aws.fail = { ReceiveMessageCommand: 20 };
    await until(() => aws.count('ReceiveMessageCommand') > 20);
    expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(before + 1);
    await feed.close();
  });

  it('close() during the set-up (SIGTERM at start) leaves no queue and no subscription behind', async () => {
    const aws = new FakeAws();
    aws.delay = { CreateQueueCommand: 50 };
    const feed = aws.feed();
    const listening = feed.listen(() => {});
    await tick(10); // CreateQueue under way
    await feed.close();
    await listening;
    await tick(100);
    expect(aws.queues.size).toBe(0);
    expect(aws.subscriptions.size).toBe(0);
    expect(aws.count('SubscribeCommand')).toBe(0);
  });

  it('the sweep of dead tasks runs after listen() resolved, at most 50 queues per start and 4 at a time', async () => {
    const aws = new FakeAws();
    const stale = new Date(Date.now() - 2 * 86_400_000).toISOString();
    for (let i = 0; i < 60; i++) {
      const name = `${PREFIX}dead-${i}`;
      aws.queues.set(name, { [PUSH.heartbeatTag]: stale });
      aws.subscriptions.set(`${TOPIC}:dead-${i}`, ARN(name));
    }
    aws.delay = { GetQueueUrlCommand: 20 };
    const feed = aws.feed();
    await feed.listen(() => {});
    expect(feed.queue).not.toBeNull();
    expect(aws.count('DeleteQueueCommand')).toBe(0); // listen() did not wait for the sweep
    await until(() => aws.count('DeleteQueueCommand') === 50);
    await tick(100);
    expect(aws.count('GetQueueUrlCommand')).toBe(50);
    expect(aws.maxInFlight.GetQueueUrlCommand).toBeLessThanOrEqual(4);
    expect(aws.maxInFlight.GetQueueUrlCommand).toBeGreaterThan(1);
    expect(aws.queues.has(`${PREFIX}task-1`)).toBe(true);
    await feed.close();
    expect(aws.queues.size).toBe(10); // the rest is the next start's
  });
});
