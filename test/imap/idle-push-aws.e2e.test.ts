/**
 * Push between listener tasks (issue 11 item 3) on the emulator (moto; its SNS → SQS fan-out
 * with raw message delivery works in server mode): the cloud form on one machine
 * (fargate-listeners/src/emulated-system.ts) runs the listeners with their own push queue
 * and the ingest Lambda handler driven from SQS as the event source drives it, with its own
 * adapters and its own publish-only change feed. An imapflow IDLE session (RFC 2177) on the
 * listeners is told `* 1 EXISTS` within 2 s of the ingest handler committing a message sent
 * with smtplib, and `FETCH (FLAGS)` within 2 s of a STORE on a second listener instance (its
 * own adapters and queue), while the safety-net poll is at 60 s. Shutdown removes the task
 * queues; a start-up sweeps the queue of a task that died a day ago.
 */
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ImapFlow } from 'imapflow';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createUser } from '#core/accounts/accounts.ts';
import { createAwsAdapters, destroyAwsResources } from '#core/adapters/aws/index.ts';
import { SNSClient } from '@aws-sdk/client-sns';
import { createAwsChangeFeed } from '#core/adapters/aws/sns-change-feed.ts';
import { SnsTopics } from '#core/adapters/aws/sns-topics.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { loadConfig } from '#core/config.ts';
import { silentLogger } from '#core/log.ts';
import { PUSH } from '#core/resources.ts';
import { startEmulatedSystem, type EmulatedSystem } from '#listeners/emulated-system.ts';
import { startMailSystem, type MailSystem } from '#listeners/mail-system.ts';
import { emulatorClientConfig } from '../support/emulator.ts';
import { EPHEMERAL_PORTS, uniquePrefix } from '../support/mail-system.ts';
import { smtplibSend } from '../support/smtplib.ts';
import { run } from '../support/clients.ts';
import { RawImap } from './support/raw-client.ts';

const USER = 'alice@example.test';
const PASSWORD = 'alice-secret';

describe('IDLE hears the ingest function and other listener tasks through SNS → SQS (emulator)', () => {
  const clientConfig = emulatorClientConfig(inject('awsEndpoint'));
  const prefix = uniquePrefix();
  const dirs: string[] = [];
  let emulated: EmulatedSystem;
  let second: { adapters: Adapters; system: MailSystem } | undefined;
  const sqs = new SQSClient(clientConfig);
  const taskQueues = async () => (await sqs.send(new ListQueuesCommand({ QueueNamePrefix: PUSH.queuePrefix(prefix) }))).QueueUrls ?? [];
  const configFor = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'idle-push-'));
    dirs.push(dir);
    return loadConfig({ MAIL_RUNTIME: 'local', MAIL_DATA_DIR: dir, MAIL_HOSTNAME: 'mx.example.test', MAIL_BIND: '127.0.0.1', ...EPHEMERAL_PORTS });
  };

  beforeAll(async () => {
    process.env.AWS_ENDPOINT_URL = clientConfig.endpoint;
    emulated = await startEmulatedSystem({ config: configFor(), logger: silentLogger, prefix });
    await emulated.adapters.index.addDomain('example.test');
    await createUser(emulated.adapters.index, USER, PASSWORD);
  }, 120_000);
  afterAll(async () => {
    await second?.system.stop(500);
    await second?.adapters.close();
    await emulated?.stop(500);
    await destroyAwsResources(clientConfig, prefix).catch(() => {});
    sqs.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('wakes an imapflow IDLE session within 2 s of the ingest handler delivering, and of a STORE on another listener task', async () => {
    expect(emulated.system.deps.config.idlePollSeconds).toBeGreaterThanOrEqual(60);
    // The second task: its own adapters, its own queue on the same topic.
    const adapters = await createAwsAdapters({ refs: emulated.refs, clientConfig });
    const system = await startMailSystem({
      adapters,
      config: configFor(),
      logger: silentLogger,
      workers: false,
      changeFeed: createAwsChangeFeed({ clientConfig }) ?? undefined,
    });
    second = { adapters, system };
    expect(await taskQueues()).toHaveLength(2);

    const c = new ImapFlow({
      host: '127.0.0.1',
      port: emulated.system.port('imap'),
      secure: false,
      auth: { user: USER, pass: PASSWORD },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await c.connect();
    try {
      await c.mailboxOpen('INBOX');
      expect((c.mailbox as { exists: number }).exists).toBe(0);
      const inbox = (await emulated.adapters.index.getMailbox(USER, 'INBOX'))!;
      const events: Array<{ kind: string; at: number; value: unknown }> = [];
      c.on('exists', (d: { count: number }) => events.push({ kind: 'exists', at: Date.now(), value: d.count }));
      c.on('flags', (d: { uid?: number; flags: Set<string> }) => events.push({ kind: 'flags', at: Date.now(), value: [...d.flags] }));
      const idling = c.idle();
      await new Promise((r) => setTimeout(r, 300));

      // SMTP → S3 + ingest queue → the event source → the ingest handler (another adapter set) → SNS → this task's queue.
      const sent = await smtplibSend({
        port: emulated.system.port('smtp-mx'),
        from: 'bob@remote.test',
        to: [USER],
        data: `From: bob@remote.test\r\nTo: ${USER}\r\nSubject: pushed\r\nMessage-ID: <pushed@remote.test>\r\n\r\nHello.\r\n`,
      });
      expect(sent.outcome).toEqual({ refused: {} });
      // When the handler committed, as a reader of the index sees it.
      let committedAt = 0;
      for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
        if ((await emulated.adapters.index.mailboxState(USER, inbox.id))?.messageCount === 1) {
          committedAt = Date.now();
          break;
        }
      }
      expect(committedAt).toBeGreaterThan(0);
      for (const deadline = committedAt + 2000; Date.now() < deadline && !events.some((e) => e.kind === 'exists');) await new Promise((r) => setTimeout(r, 20));
      const exists = events.find((e) => e.kind === 'exists');
      expect(exists?.value).toBe(1);
      expect(exists!.at - committedAt).toBeLessThan(2000);

      // A flag changed by a session on the second task.
      const other = new ImapFlow({
        host: '127.0.0.1',
        port: system.port('imap'),
        secure: false,
        auth: { user: USER, pass: PASSWORD },
        logger: false,
        tls: { rejectUnauthorized: false },
      });
      await other.connect();
      await other.mailboxOpen('INBOX');
      await other.messageFlagsAdd('1', ['\\Flagged']);
      const storedAt = Date.now();
      await other.logout();
      for (const deadline = storedAt + 2000; Date.now() < deadline && !events.some((e) => e.kind === 'flags');) await new Promise((r) => setTimeout(r, 20));
      const flags = events.find((e) => e.kind === 'flags');
      expect(flags?.value).toContain('\\Flagged');
      expect(flags!.at - storedAt).toBeLessThan(2000);
      await c.logout();
      await idling.catch(() => {});
    } finally {
      c.close();
    }

    // Shutdown unsubscribes and deletes the task's queue.
    await second.system.stop(500);
    await second.adapters.close();
    second = undefined;
    expect(await taskQueues()).toHaveLength(1);
  });

  it('ends the IDLE session of a user that `mailctl --aws user remove` removed, within 2 s, through the topic', async () => {
    await createUser(emulated.adapters.index, 'carol@example.test', 'carol-secret');
    const c = await RawImap.login(emulated.system.port('imap'), 'carol@example.test', 'carol-secret');
    await c.command('SELECT INBOX');
    c.write('I1 IDLE\r\n');
    expect(await c.line()).toBe('+ idling');
    // process.env holds what emulated.env holds (startEmulatedSystem set it): resources, push topic, emulator.
    const removed = await run(process.execPath, ['bin/mailctl.js', '--aws', 'user', 'remove', 'carol@example.test']);
    expect(removed.stderr).toBe('');
    expect(removed.code).toBe(0);
    const doneAt = Date.now();
    expect(await c.line(2000)).toMatch(/^\* BYE /);
    expect(Date.now() - doneAt).toBeLessThan(2000);
    c.close();
  });

  it('sweeps at start-up the queue and subscription of a task whose heartbeat is more than a day old', async () => {
    const alive = await taskQueues();
    const name = `${PUSH.queuePrefix(prefix)}dead-task`;
    const url = (
      await sqs.send(new CreateQueueCommand({ QueueName: name, tags: { [PUSH.heartbeatTag]: new Date(Date.now() - 2 * 86_400_000).toISOString() } }))
    ).QueueUrl!;
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    const sns = new SnsTopics(new SNSClient(clientConfig));
    const topicArn = emulated.pushEnv[PUSH.env.topicArn];
    await sns.subscribeQueue(topicArn, arn);
    expect((await sns.listSubscriptions(topicArn)).map((s) => s.endpoint)).toContain(arn);

    const feed = createAwsChangeFeed({ clientConfig })!;
    await feed.listen(() => {});
    // The sweep runs in the background once listen() has resolved.
    await expect
      .poll(
        () =>
          sqs.send(new GetQueueUrlCommand({ QueueName: name })).then(
            () => 'still there',
            (err: Error) => err.message,
          ),
        { timeout: 10_000 },
      )
      .toMatch(/exist/i);
    await feed.close();
    const left = (await sns.listSubscriptions(topicArn)).map((s) => s.endpoint);
    expect(left).not.toContain(arn);
    // The queues of live tasks (the emulated system's) are left alone.
    expect(await taskQueues()).toEqual(alive);
  });
});
