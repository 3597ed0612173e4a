/**
 * The AWS change feed (core/ports/change-feed.ts): an SNS topic that fans out to one SQS
 * queue per listener task. docs/deploy.md ("Push between listener tasks") gives the choice
 * against the alternatives and its cost.
 *
 *  - publish(): one SNS Publish of `{"v":2,"changes":[{"user","mailbox"}…],"origin"}` for
 *    up to MAX_CHANGES_PER_PUBLISH mailboxes (no message content), with a 5 s timeout; a
 *    received `{"v":1,"user","mailbox","origin"}` (a task of the previous version) still counts. Writers: the ingest and outbound Lambdas, every listener task.
 *  - listen() (a listener task, at start) starts the poll loop, which creates the task's own
 *    queue `<PUSH_QUEUE_PREFIX><task id>` (retention 60 s, SSE-SQS, a policy that lets only
 *    this topic send to it, over TLS), subscribes it to the topic with raw message delivery,
 *    tags it with the subscription ARN and a heartbeat, and long-polls it (ReceiveMessage,
 *    20 s waits, up to 10 messages). Nothing is deleted: the queue's visibility timeout
 *    (PUSH.visibilityTimeoutSeconds) outlasts its retention, so a received notification expires
 *    hidden, and a DeleteMessageBatch per receive would double what push costs. A set-up that fails at any
 *    step (a throttled CreateQueue, a role not yet propagated) is run again whole, with
 *    backoff (1 s doubling to 20 s), until it succeeds: the queue is received on only once
 *    all of it succeeded. listen() resolves at the first successful set-up or after 10 s
 *    without one (start-up goes on; the slow poll covers the meantime); it never fails
 *    start-up. Each notification from another origin goes to the listener; our own
 *    publishes come back too and are dropped (this process already told its sessions). A
 *    queue that vanished (a sweep by mistake, a manual delete) is made again.
 *  - Heartbeat: the tag `cloudmail:heartbeat` is rewritten every hour (TagQueue).
 *  - close() (SIGTERM): stops the poll and the sweep, unsubscribes, deletes the queue (also
 *    one whose set-up close() interrupted: each set-up step checks for it).
 *  - Sweep, in the background once listen() has resolved (at most 50 queues per start, 4 at
 *    a time, stopped by close()): for every SQS subscription of the topic whose queue name
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
import { MAX_CHANGES_PER_PUBLISH, type ChangeFeed, type ChangeListener, type MailboxChange } from '../../ports/change-feed.ts';
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
  /** How long listen() waits for the first successful set-up before it resolves anyway; default 10 s. */
  startWaitMs?: number;
  /** The longest wait between two failed set-ups or receives; default 20 s. */
  retryMaxMs?: number;
  now?: () => number;
}

/** What a notification carries: v2 (this version) lists changes; v1 (the previous one) names one mailbox. */
type Notification = { v: 2; changes: Array<{ user: string; mailbox: string }>; origin: string } | { v: 1; user: string; mailbox: string; origin: string };

const errName = (err: unknown) => (err as { name?: string } | null)?.name ?? '';
const isMissingQueue = (err: unknown) => /NonExistentQueue|QueueDoesNotExist/.test(errName(err));
/** Waits `ms` or until `signal` aborts; the abort listener is removed when the timer fires (the signal lives as long as the feed). */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => (clearTimeout(t), resolve());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** The start-up sweep examines at most this many queues of other tasks per start, this many at once. */
const SWEEP_LIMIT = 50;
const SWEEP_CONCURRENCY = 4;

/** A set-up step ran after close(): what it made is removed by close(). */
class Closed extends Error {}

export class SnsChangeFeed implements ChangeFeed {
  private readonly o: Required<Omit<SnsChangeFeedOptions, 'log' | 'now'>> & { log: Logger; now: () => number };
  /** Tells our own publishes apart when they come back through the topic. */
  private readonly origin = randomUUID();
  private readonly queueName: string;
  /** What exists of the task queue and its subscription (close() removes it), complete or not. */
  private queueUrl: string | null = null;
  private subscriptionArn: string | null = null;
  /** The whole set-up succeeded: the queue exists, has its policy and is subscribed. The poll loop sets up again until it is. */
  private ready = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly abort = new AbortController();
  private polling: Promise<void> | null = null;
  private sweeping: Promise<void> | null = null;
  private closed = false;

  constructor(options: SnsChangeFeedOptions) {
    this.o = {
      ...options,
      taskId: options.taskId ?? `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`,
      waitSeconds: options.waitSeconds ?? 20,
      heartbeatSeconds: options.heartbeatSeconds ?? PUSH.heartbeatSeconds,
      staleAfterSeconds: options.staleAfterSeconds ?? PUSH.staleAfterSeconds,
      startWaitMs: options.startWaitMs ?? 10_000,
      retryMaxMs: options.retryMaxMs ?? 20_000,
      log: options.log ?? silentLogger,
      now: options.now ?? Date.now,
    };
    this.queueName = `${this.o.queuePrefix}${this.o.taskId}`.slice(0, 80);
  }

  async publish(changes: readonly MailboxChange[]): Promise<void> {
    for (let i = 0; i < changes.length; i += MAX_CHANGES_PER_PUBLISH) {
      const n: Notification = {
        v: 2,
        changes: changes.slice(i, i + MAX_CHANGES_PER_PUBLISH).map((c) => ({ user: c.user, mailbox: c.mailboxId })),
        origin: this.origin,
      };
      await this.o.sns.publish(this.o.topicArn, JSON.stringify(n));
    }
  }

  /**
   * Starts the poll loop, which sets the queue up (again, with backoff, until it succeeds) and
   * then receives. Resolves on the first successful set-up, or after `startWaitMs` without one
   * (start-up goes on; the loop keeps trying and the slow poll covers the meantime). Never
   * rejects for a failed set-up. The sweep of dead tasks' queues then runs in the background.
   */
  async listen(listener: ChangeListener): Promise<void> {
    if (this.polling) throw new Error('SnsChangeFeed: already listening');
    if (this.closed) return;
    let readied = () => {};
    const ready = new Promise<void>((resolve) => (readied = resolve));
    this.polling = this.poll(listener, readied);
    const timer = new AbortController();
    const inTime = await Promise.race([
      ready.then(() => true),
      sleep(this.o.startWaitMs, AbortSignal.any([timer.signal, this.abort.signal])).then(() => false),
    ]);
    timer.abort();
    if (this.closed) return;
    if (!inTime)
      this.o.log.warn('push queue not set up yet; retrying in the background (IDLE sessions see changes from elsewhere at the slow poll meanwhile)', {
        queue: this.queueName,
      });
    this.heartbeat = setInterval(() => void this.beat(), this.o.heartbeatSeconds * 1000);
    this.heartbeat.unref();
    this.sweeping = this.sweep().catch((err: unknown) => this.o.log.warn('sweep of abandoned push queues failed', { err: err as Error }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.abort.abort();
    await this.polling;
    await this.sweeping;
    this.ready = false;
    await this.tearDown(this.queueUrl, this.subscriptionArn);
    this.queueUrl = null;
    this.subscriptionArn = null;
  }

  /** The queue this task receives on once set up (tests, logs). */
  get queue(): string | null {
    return this.ready ? this.queueUrl : null;
  }

  /** Stops a set-up that close() overtook; close() removes what it made (it awaits the poll loop). */
  private checkOpen(): void {
    if (this.closed) throw new Closed('closed during set-up');
  }

  private async setUp(): Promise<void> {
    const { sqs, topicArn } = this.o;
    this.ready = false;
    const created = await sqs.send(
      new CreateQueueCommand({
        QueueName: this.queueName,
        Attributes: {
          MessageRetentionPeriod: String(PUSH.messageRetentionSeconds),
          VisibilityTimeout: String(PUSH.visibilityTimeoutSeconds),
          ReceiveMessageWaitTimeSeconds: String(this.o.waitSeconds),
          SqsManagedSseEnabled: 'true',
        },
        tags: { [PUSH.heartbeatTag]: new Date(this.o.now()).toISOString() },
      }),
    );
    const queueUrl = created.QueueUrl!;
    this.queueUrl = queueUrl;
    this.checkOpen();
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    this.checkOpen();
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
    this.checkOpen();
    const subscriptionArn = await this.o.sns.subscribeQueue(topicArn, queueArn);
    this.subscriptionArn = subscriptionArn;
    this.checkOpen();
    await sqs.send(new TagQueueCommand({ QueueUrl: queueUrl, Tags: { [PUSH.subscriptionTag]: subscriptionArn } }));
    this.checkOpen();
    this.ready = true;
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
    if (!this.ready || !this.queueUrl) return;
    try {
      await this.o.sqs.send(new TagQueueCommand({ QueueUrl: this.queueUrl, Tags: { [PUSH.heartbeatTag]: new Date(this.o.now()).toISOString() } }));
    } catch (err) {
      this.o.log.warn('push queue heartbeat failed', { err: err as Error });
    }
  }

  private async poll(listener: ChangeListener, readied: () => void): Promise<void> {
    const { sqs, log } = this.o;
    const signal = this.abort.signal;
    const firstBackoff = Math.min(1000, this.o.retryMaxMs);
    let backoff = firstBackoff;
    while (!signal.aborted) {
      const settingUp = !this.ready;
      try {
        if (settingUp) {
          await this.setUp();
          readied();
        }
        const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: this.queueUrl!, MaxNumberOfMessages: 10, WaitTimeSeconds: this.o.waitSeconds }), {
          abortSignal: signal,
        });
        backoff = firstBackoff;
        const messages = res.Messages ?? [];
        if (messages.length === 0) continue;
        const seen = new Set<string>();
        for (const m of messages) {
          const n = parse(m.Body);
          if (!n || n.origin === this.origin) continue;
          for (const c of n.v === 2 ? n.changes : [{ user: n.user, mailbox: n.mailbox }]) {
            const key = `${c.user}\0${c.mailbox}`;
            if (seen.has(key)) continue;
            seen.add(key);
            try {
              listener({ user: c.user, mailboxId: c.mailbox });
            } catch (err) {
              log.error('change listener failed', { err: err as Error });
            }
          }
        }
      } catch (err) {
        if (signal.aborted || this.closed) break;
        if (!settingUp && isMissingQueue(err)) {
          log.warn('push queue vanished; making it again', { queue: this.queueName });
          const old = this.subscriptionArn;
          this.ready = false;
          this.queueUrl = null;
          this.subscriptionArn = null;
          if (old) await this.o.sns.unsubscribe(old).catch(() => undefined);
          continue;
        }
        log.warn(settingUp ? 'push queue set-up failed; trying again' : 'push queue receive failed', {
          queue: this.queueName,
          retryInMs: backoff,
          err: err as Error,
        });
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, this.o.retryMaxMs);
      }
    }
  }

  /**
   * Removes what dead tasks left: stale queues and subscriptions whose queue is gone. At most
   * SWEEP_LIMIT queues per start (the next start goes on), SWEEP_CONCURRENCY at a time; stops
   * at close().
   */
  private async sweep(): Promise<void> {
    const { sns, sqs, topicArn, queuePrefix, log } = this.o;
    const subs = (await sns.listSubscriptions(topicArn))
      .filter((s) => s.protocol === 'sqs')
      .map((s) => ({ ...s, name: s.endpoint.split(':').pop() ?? '' }))
      .filter((s) => s.name.startsWith(queuePrefix) && s.name !== this.queueName)
      .slice(0, SWEEP_LIMIT);
    const one = async (s: (typeof subs)[number]) => {
      let queueUrl: string | null = null;
      try {
        queueUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: s.name }))).QueueUrl ?? null;
      } catch (err) {
        if (!isMissingQueue(err)) throw err;
      }
      if (this.closed) return;
      if (!queueUrl) {
        log.info('removing the subscription of a deleted push queue', { queue: s.name });
        await sns.unsubscribe(s.subscriptionArn);
        return;
      }
      const tags = (await sqs.send(new ListQueueTagsCommand({ QueueUrl: queueUrl }))).Tags ?? {};
      if (this.closed) return;
      const beat = Date.parse(tags[PUSH.heartbeatTag] ?? '');
      if (Number.isNaN(beat) || this.o.now() - beat <= this.o.staleAfterSeconds * 1000) return;
      log.info('removing an abandoned push queue', { queue: s.name, heartbeat: tags[PUSH.heartbeatTag] });
      await this.tearDown(queueUrl, s.subscriptionArn, s.name);
    };
    let next = 0;
    const worker = async () => {
      while (next < subs.length && !this.closed) {
        const s = subs[next++];
        await one(s).catch((err: unknown) => log.warn('push queue sweep step failed', { queue: s.name, err: err as Error }));
      }
    };
    await Promise.all(Array.from({ length: Math.min(SWEEP_CONCURRENCY, subs.length) }, worker));
  }
}

function parse(body: string | undefined): Notification | null {
  const text = (v: unknown): v is string => typeof v === 'string';
  try {
    const n = JSON.parse(body ?? '') as Record<string, unknown> | null;
    if (!n || !text(n.origin)) return null;
    if (n.v === 1) return text(n.user) && text(n.mailbox) ? (n as Notification) : null;
    if (n.v !== 2 || !Array.isArray(n.changes)) return null;
    const changes = (n.changes as unknown[]).filter(
      (c): c is { user: string; mailbox: string } =>
        typeof c === 'object' && c !== null && text((c as { user?: unknown }).user) && text((c as { mailbox?: unknown }).mailbox),
    );
    return { v: 2, changes, origin: n.origin };
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
  const feed = new SnsChangeFeed({
    sns,
    sqs,
    topicArn,
    queuePrefix: env[PUSH.env.queuePrefix] || PUSH.queuePrefix('cloudmail'),
    log: options.log,
    taskId: options.taskId,
  });
  return {
    publish: (changes) => feed.publish(changes),
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
