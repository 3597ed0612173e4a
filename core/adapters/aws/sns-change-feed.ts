/**
 * The AWS change feed (core/ports/change-feed.ts): an SNS topic that fans out to one SQS
 * queue per listener task. docs/deploy.md ("Push between listener tasks") gives the choice
 * against the alternatives and its cost.
 *
 *  - publish(): one SNS Publish of `{"v":1,"user","mailbox","origin"}` (no message content),
 *    with a 5 s timeout. Writers: the ingest and outbound Lambdas, every listener task.
 *  - listen() (a listener task, at start): sweeps the queues of tasks that died without
 *    cleaning up (below), creates the task's own queue `<PUSH_QUEUE_PREFIX><task id>`
 *    (retention 5 min, SSE-SQS, a policy that lets only this topic send to it, over TLS),
 *    subscribes it to the topic with raw message delivery, tags it with the subscription ARN
 *    and a heartbeat, and long-polls it (ReceiveMessage, 20 s waits, up to 10 messages;
 *    then one DeleteMessageBatch). Each notification from another origin goes to the
 *    listener; our own publishes come back too and are dropped (this process already told
 *    its sessions). A queue that vanished (a sweep by mistake, a manual delete) is made again.
 *  - Heartbeat: the tag `cloudmail:heartbeat` is rewritten every hour (TagQueue).
 *  - close() (SIGTERM): stops the poll, unsubscribes, deletes the queue.
 *  - Sweep, at each task's start: for every SQS subscription of the topic whose queue name
 *    has our prefix, the queue's tags are read; a queue whose heartbeat is older than a day
 *    is unsubscribed and deleted, a subscription whose queue no longer exists is removed. A
 *    task that died between CreateQueue and Subscribe leaves a queue that receives nothing
 *    and costs nothing (SQS bills requests, not queues); it is not found by the sweep, which
 *    reads the topic's subscriptions so that the task role needs no sqs:ListQueues on "*".
 *
 * A notification may be lost (a failed publish, a task between its start and its subscribe):
 * the IDLE watcher's slow poll (IDLE_POLL_SECONDS) covers it.
 */
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  TagQueueCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../log.ts';
import { silentLogger } from '../../log.ts';
import type { ChangeFeed, ChangeListener, MailboxChange } from '../../ports/change-feed.ts';
import { PUSH } from '../../resources.ts';
import { createAwsClients, type AwsClientConfig } from './clients.ts';
import { SnsTopics } from './sns-topics.ts';

export interface SnsChangeFeedOptions {
  sns: SnsTopics;
  sqs: SQSClient;
  topicArn: string;
  /** PUSH_QUEUE_PREFIX: the task queue is `<queuePrefix><taskId>`. */
  queuePrefix: string;
  /** Default: random (the queue name must be unique among the running tasks). */
  taskId?: string;
  log?: Logger;
  /** Long-poll wait; default 20 s (the maximum). */
  waitSeconds?: number;
  heartbeatSeconds?: number;
  staleAfterSeconds?: number;
  now?: () => number;
}

interface Notification {
  v: 1;
  user: string;
  mailbox: string;
  origin: string;
}

const errName = (err: unknown) => (err as { name?: string } | null)?.name ?? '';
const isMissingQueue = (err: unknown) => /NonExistentQueue|QueueDoesNotExist/.test(errName(err));
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export class SnsChangeFeed implements ChangeFeed {
  private readonly o: Required<Omit<SnsChangeFeedOptions, 'log' | 'now'>> & { log: Logger; now: () => number };
  /** Tells our own publishes apart when they come back through the topic. */
  private readonly origin = randomUUID();
  private readonly queueName: string;
  private queueUrl: string | null = null;
  private subscriptionArn: string | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly abort = new AbortController();
  private polling: Promise<void> | null = null;
  private closed = false;

  constructor(options: SnsChangeFeedOptions) {
    this.o = {
      ...options,
      taskId: options.taskId ?? `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`,
      waitSeconds: options.waitSeconds ?? 20,
      heartbeatSeconds: options.heartbeatSeconds ?? PUSH.heartbeatSeconds,
      staleAfterSeconds: options.staleAfterSeconds ?? PUSH.staleAfterSeconds,
      log: options.log ?? silentLogger,
      now: options.now ?? Date.now,
    };
    this.queueName = `${this.o.queuePrefix}${this.o.taskId}`.slice(0, 80);
  }

  async publish(change: MailboxChange): Promise<void> {
    const n: Notification = { v: 1, user: change.user, mailbox: change.mailboxId, origin: this.origin };
    await this.o.sns.publish(this.o.topicArn, JSON.stringify(n));
  }

  async listen(listener: ChangeListener): Promise<void> {
    if (this.polling) throw new Error('SnsChangeFeed: already listening');
    try {
      await this.sweep();
    } catch (err) {
      this.o.log.warn('sweep of abandoned push queues failed', { err: err as Error });
    }
    await this.setUp();
    this.heartbeat = setInterval(() => void this.beat(), this.o.heartbeatSeconds * 1000);
    this.heartbeat.unref();
    this.polling = this.poll(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.abort.abort();
    await this.polling;
    await this.tearDown(this.queueUrl, this.subscriptionArn);
    this.queueUrl = null;
    this.subscriptionArn = null;
  }

  /** The queue this task receives on (tests, logs). */
  get queue(): string | null {
    return this.queueUrl;
  }

  private async setUp(): Promise<void> {
    const { sqs, topicArn } = this.o;
    const created = await sqs.send(
      new CreateQueueCommand({
        QueueName: this.queueName,
        Attributes: {
          MessageRetentionPeriod: String(PUSH.messageRetentionSeconds),
          ReceiveMessageWaitTimeSeconds: String(this.o.waitSeconds),
          SqsManagedSseEnabled: 'true',
        },
        tags: { [PUSH.heartbeatTag]: new Date(this.o.now()).toISOString() },
      }),
    );
    const queueUrl = created.QueueUrl!;
    this.queueUrl = queueUrl;
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    const queueArn = attrs.Attributes?.QueueArn ?? '';
    // Only this topic may send, and only over TLS (the topic is the queue's one producer).
    const policy = {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'TopicSends',
          Effect: 'Allow',
          Principal: { Service: 'sns.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: queueArn,
          Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
        },
        { Sid: 'TlsOnly', Effect: 'Deny', Principal: '*', Action: 'sqs:*', Resource: queueArn, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
      ],
    };
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { Policy: JSON.stringify(policy) } }));
    const subscriptionArn = await this.o.sns.subscribeQueue(topicArn, queueArn);
    this.subscriptionArn = subscriptionArn;
    await sqs.send(new TagQueueCommand({ QueueUrl: queueUrl, Tags: { [PUSH.subscriptionTag]: subscriptionArn } }));
    this.o.log.info('push queue subscribed', { queue: this.queueName });
  }

  private async tearDown(queueUrl: string | null, subscriptionArn: string | null, name = this.queueName): Promise<void> {
    if (subscriptionArn) {
      await this.o.sns.unsubscribe(subscriptionArn).catch((err: unknown) => this.o.log.warn('push unsubscribe failed', { err: err as Error }));
    }
    if (queueUrl) {
      await this.o.sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch((err: unknown) => {
        if (!isMissingQueue(err)) this.o.log.warn('push queue not deleted', { queue: name, err: err as Error });
      });
    }
  }

  private async beat(): Promise<void> {
    if (!this.queueUrl) return;
    try {
      await this.o.sqs.send(new TagQueueCommand({ QueueUrl: this.queueUrl, Tags: { [PUSH.heartbeatTag]: new Date(this.o.now()).toISOString() } }));
    } catch (err) {
      this.o.log.warn('push queue heartbeat failed', { err: err as Error });
    }
  }

  private async poll(listener: ChangeListener): Promise<void> {
    const { sqs, log } = this.o;
    const signal = this.abort.signal;
    let backoff = 1000;
    while (!signal.aborted) {
      try {
        if (!this.queueUrl) await this.setUp();
        const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: this.queueUrl!, MaxNumberOfMessages: 10, WaitTimeSeconds: this.o.waitSeconds }), {
          abortSignal: signal,
        });
        backoff = 1000;
        const messages = res.Messages ?? [];
        if (messages.length === 0) continue;
        const seen = new Set<string>();
        for (const m of messages) {
          const n = parse(m.Body);
          if (!n || n.origin === this.origin) continue;
          const key = `${n.user}\0${n.mailbox}`;
          if (seen.has(key)) continue;
          seen.add(key);
          try {
            listener({ user: n.user, mailboxId: n.mailbox });
          } catch (err) {
            log.error('change listener failed', { err: err as Error });
          }
        }
        await sqs
          .send(
            new DeleteMessageBatchCommand({ QueueUrl: this.queueUrl!, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
          )
          .catch((err: unknown) => log.warn('push notifications not deleted; they may come again', { err: err as Error }));
      } catch (err) {
        if (signal.aborted) break;
        if (isMissingQueue(err)) {
          log.warn('push queue vanished; making it again', { queue: this.queueName });
          const old = this.subscriptionArn;
          this.queueUrl = null;
          this.subscriptionArn = null;
          if (old) await this.o.sns.unsubscribe(old).catch(() => undefined);
          continue;
        }
        log.warn('push queue receive failed', { err: err as Error });
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, 20_000);
      }
    }
  }

  /** Removes what dead tasks left: stale queues and subscriptions whose queue is gone. */
  private async sweep(): Promise<void> {
    const { sns, sqs, topicArn, queuePrefix, log } = this.o;
    const subs = await sns.listSubscriptions(topicArn);
    for (const s of subs) {
      if (s.protocol !== 'sqs') continue;
      const name = s.endpoint.split(':').pop() ?? '';
      if (!name.startsWith(queuePrefix) || name === this.queueName) continue;
      let queueUrl: string | null = null;
      try {
        queueUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl ?? null;
      } catch (err) {
        if (!isMissingQueue(err)) throw err;
      }
      if (!queueUrl) {
        log.info('removing the subscription of a deleted push queue', { queue: name });
        await sns.unsubscribe(s.subscriptionArn);
        continue;
      }
      const tags = (await sqs.send(new ListQueueTagsCommand({ QueueUrl: queueUrl }))).Tags ?? {};
      const beat = Date.parse(tags[PUSH.heartbeatTag] ?? '');
      if (Number.isNaN(beat) || this.o.now() - beat <= this.o.staleAfterSeconds * 1000) continue;
      log.info('removing an abandoned push queue', { queue: name, heartbeat: tags[PUSH.heartbeatTag] });
      await this.tearDown(queueUrl, s.subscriptionArn, name);
    }
  }
}

function parse(body: string | undefined): Notification | null {
  try {
    const n = JSON.parse(body ?? '') as Partial<Notification>;
    return n && n.v === 1 && typeof n.user === 'string' && typeof n.mailbox === 'string' && typeof n.origin === 'string' ? (n as Notification) : null;
  } catch {
    return null;
  }
}

export interface AwsChangeFeedOptions {
  /** As for createAwsAdapters; omitted = SDK defaults (AWS_ENDPOINT_URL is honoured). */
  clientConfig?: AwsClientConfig;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  /** Names the task's queue (default random); aws-main passes the ECS task id. */
  taskId?: string;
}

/**
 * The ECS task id (the last part of the task ARN) from the container metadata endpoint, so an
 * operator can tell which task a push queue belongs to; null outside ECS or when it does not
 * answer within a second.
 */
export async function ecsTaskId(env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  const uri = env.ECS_CONTAINER_METADATA_URI_V4;
  if (!uri) return null;
  try {
    const res = await fetch(`${uri}/task`, { signal: AbortSignal.timeout(1000) });
    const arn = ((await res.json()) as { TaskARN?: string }).TaskARN ?? '';
    const id = arn.split('/').pop() ?? '';
    return /^[A-Za-z0-9_-]{1,40}$/.test(id) ? id : null;
  } catch {
    return null;
  }
}

/**
 * The feed the stack configures (PUSH_TOPIC_ARN, PUSH_QUEUE_PREFIX), or null when the
 * environment names no topic (then only the slow poll carries changes between processes).
 * The feed owns its SDK clients and destroys them on close().
 */
export function createAwsChangeFeed(options: AwsChangeFeedOptions = {}): ChangeFeed | null {
  const env = options.env ?? process.env;
  const topicArn = env[PUSH.env.topicArn];
  if (!topicArn) return null;
  const clients = createAwsClients(options.clientConfig, env);
  const sqs = clients.sqs;
  const sns = new SnsTopics(clients.sns);
  const feed = new SnsChangeFeed({ sns, sqs, topicArn, queuePrefix: env[PUSH.env.queuePrefix] || 'cloudmail-push-', log: options.log, taskId: options.taskId });
  return {
    publish: (change) => feed.publish(change),
    listen: (listener) => feed.listen(listener),
    close: async () => {
      await feed.close();
      clients.destroy();
    },
  };
}

/**
 * Creates the push topic for `prefix` on an emulator (what the stack declares, infra/push.ts)
 * and returns the environment that names it for createAwsChangeFeed.
 */
export async function provisionPushTopic(clientConfig: AwsClientConfig | undefined, prefix: string): Promise<Record<string, string>> {
  const clients = createAwsClients(clientConfig);
  try {
    const sns = new SnsTopics(clients.sns);
    const topicArn = await sns.createTopic(PUSH.topicName(prefix));
    return { [PUSH.env.topicArn]: topicArn, [PUSH.env.queuePrefix]: PUSH.queuePrefix(prefix) };
  } finally {
    clients.destroy();
  }
}
