/**
 * JMAP (issue 12): one request of `Email/query` (receivedAt descending, limit 50) and
 * `Email/get` of those 50 by back-reference, with the properties a message list shows (id,
 * threadId, mailboxIds, keywords, from, subject, receivedAt, size, preview), over HTTP on
 * loopback, on an INBOX of many messages (distinct blobs: an Email is a blob, ids.ts).
 *
 *  - local adapters (SQLite, files), 10,000 messages: the first request of a listener process
 *    (it lists the account once: fargate-listeners/src/jmap/account-cache.ts), then the median
 *    of later ones (brought forward from the change log), and the median after one new message;
 *  - aws adapters on the emulator (moto, bench/aws-meter.ts computes the DynamoDB units and
 *    counts S3 requests): the same three figures at BENCH_JMAP_AWS_MESSAGES (default 1,000:
 *    seeding 10,000 on moto takes too long) and at half of it; the cold figure grows with the
 *    mailbox and is extrapolated linearly to 10,000 (the output says so), the warm ones do not
 *    depend on its size beyond the 50 read.
 * Not part of the test suite; `npm run bench` runs it (bench/run.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDefaultMailboxes } from '#core/accounts/accounts.ts';
import { hashPassword } from '#core/accounts/password.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { setAwsClientHook } from '#core/adapters/aws/clients.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { loadConfig, type MailConfig } from '#core/config.ts';
import { silentLogger } from '#core/log.ts';
import { indexMessage } from '#core/mime/index-message.ts';
import { startEmulatedSystem } from '#listeners/emulated-system.ts';
import { accountCacheOf } from '#listeners/jmap/account-cache.ts';
import { startMailSystem, type MailSystem } from '#listeners/mail-system.ts';
import { emulatorClientConfig } from '../test/support/emulator.ts';
import { AwsMeter, totals, type MeterSnapshot } from './aws-meter.ts';

const USER = 'bench@example.test';
const PASSWORD = 'bench password';
const LOCAL_MESSAGES = 10_000;
const TARGET = 10_000;
const RUNS = 21;
const LIST_PROPERTIES = ['id', 'threadId', 'mailboxIds', 'keywords', 'from', 'subject', 'receivedAt', 'size', 'preview'];

function sample(i: number): Buffer {
  return Buffer.from(
    `From: Sender ${i % 97} <sender${i % 97}@example.net>\r\nTo: Bench User <${USER}>\r\n` +
      `Subject: Benchmark message number ${i} about topic ${i % 31}\r\n` +
      `Date: Mon, ${1 + (i % 28)} Feb 2026 10:${String(i % 60).padStart(2, '0')}:00 +0000\r\nMessage-ID: <jmap-bench-${i}@example.net>\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n` +
      `Body of message ${i}, a few lines of text as a preview shows them.\r\n`.repeat(30),
  );
}

function config(dataDir: string): MailConfig {
  const ports = ['SMTP_PORT', 'SUBMISSION_PORT', 'SUBMISSIONS_PORT', 'IMAP_PORT', 'IMAPS_PORT', 'POP3_PORT', 'POP3S_PORT', 'HTTPS_PORT', 'HTTP_PORT'];
  return loadConfig({
    MAIL_RUNTIME: 'local',
    MAIL_DATA_DIR: dataDir,
    MAIL_HOSTNAME: 'bench.test',
    LOG_LEVEL: 'error',
    JMAP_ENABLED: 'true',
    MAIL_ALLOW_PLAINTEXT_LOOPBACK: 'true',
    ...Object.fromEntries(ports.map((k) => [k, '0'])),
  });
}

/** Appends messages `from`..`to`-1 to the user's INBOX, each its own blob; internalDate rises with i, a few out of order. */
async function seed(adapters: Adapters, from: number, to: number): Promise<void> {
  const inbox = (await adapters.index.getMailbox(USER, 'INBOX'))!;
  const base = Date.parse('2026-01-01T00:00:00Z');
  for (let i = from; i < to; i++) {
    const raw = sample(i);
    const blobKey = `messages/jmap-bench/${i}`;
    await adapters.blobs.put(blobKey, raw);
    await adapters.index.appendMessage(USER, inbox.id, {
      blobKey,
      size: raw.length,
      internalDate: base + (i % 10 === 0 ? i - 5 : i) * 60_000,
      flags: i % 3 === 0 ? ['\\Seen'] : [],
      meta: indexMessage(raw),
    });
  }
}

async function setUp(adapters: Adapters): Promise<void> {
  if (!(await adapters.index.getDomain('example.test'))) await adapters.index.addDomain('example.test');
  await adapters.index.addUser({ address: USER, passwordHash: await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 }) });
  await ensureDefaultMailboxes(adapters.index, USER);
}

/** One Email/query + Email/get request; checks the answer is 50 emails, newest first. */
async function listRequest(base: string, accountId: string): Promise<void> {
  const res = await fetch(`${base}/jmap/api`, {
    method: 'POST',
    headers: { Authorization: 'Basic ' + Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), 'Content-Type': 'application/json' },
    body: JSON.stringify({
      using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'],
      methodCalls: [
        ['Email/query', { accountId, sort: [{ property: 'receivedAt', isAscending: false }], limit: 50 }, 'q'],
        ['Email/get', { accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: LIST_PROPERTIES }, 'g'],
      ],
    }),
  });
  const body = (await res.json()) as { methodResponses: Array<[string, { list?: Array<{ receivedAt: string; preview: string }> }]> };
  const list = body.methodResponses[1]?.[1].list;
  if (body.methodResponses[1]?.[0] !== 'Email/get' || list?.length !== 50 || !list[0].preview) {
    throw new Error(`bench: unexpected JMAP answer ${JSON.stringify(body).slice(0, 300)}`);
  }
  for (let i = 1; i < list.length; i++) if (list[i - 1].receivedAt < list[i].receivedAt) throw new Error('bench: not newest first');
}

async function accountIdOf(base: string): Promise<string> {
  const res = await fetch(`${base}/.well-known/jmap`, { headers: { Authorization: 'Basic ' + Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } });
  const s = (await res.json()) as { primaryAccounts: Record<string, string> };
  return s.primaryAccounts['urn:ietf:params:jmap:mail'];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function benchLocal(): Promise<Record<string, number>> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-jmap-'));
  const adapters = await createLocalAdapters({ dataDir });
  let system: MailSystem | undefined;
  try {
    await setUp(adapters);
    await seed(adapters, 0, LOCAL_MESSAGES);
    system = await startMailSystem({ adapters, config: config(dataDir), logger: silentLogger, workers: false });
    const base = `http://127.0.0.1:${system.port('http')}`;
    const accountId = await accountIdOf(base);
    const cold = await timed(() => listRequest(base, accountId));
    const warm: number[] = [];
    for (let i = 0; i < RUNS; i++) warm.push(await timed(() => listRequest(base, accountId)));
    const afterNew: number[] = [];
    for (let i = 0; i < 5; i++) {
      await seed(adapters, LOCAL_MESSAGES + i, LOCAL_MESSAGES + i + 1);
      afterNew.push(await timed(() => listRequest(base, accountId)));
    }
    return {
      'jmap.local_list_10k_first_ms': round(cold),
      'jmap.local_list_10k_median_ms': round(median(warm)),
      'jmap.local_list_10k_after_new_message_median_ms': round(median(afterNew)),
    };
  } finally {
    await system?.stop(500);
    await adapters.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface Units {
  rru: number;
  wru: number;
  dynamodb: number;
  s3: number;
}

function units(s: MeterSnapshot): Units {
  const t = totals(s, (c) => c.operation === 'ReceiveMessage (empty)');
  return { rru: t.rru, wru: t.wru, dynamodb: t.dynamodb, s3: t.s3 };
}

async function benchAws(): Promise<Record<string, number>> {
  const messages = Number(process.env.BENCH_JMAP_AWS_MESSAGES ?? 1000);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-jmap-aws-'));
  process.env.LOG_LEVEL ??= 'error';
  const meter = new AwsMeter();
  meter.enabled = false;
  setAwsClientHook(meter.hook);
  const emulated = await startEmulatedSystem({ config: config(dataDir), logger: silentLogger, prefix: `benchjmap${Date.now().toString(36)}` });
  meter.connect(emulatorClientConfig(emulated.endpoint));
  try {
    const adapters = emulated.adapters;
    await setUp(adapters);
    const base = `http://127.0.0.1:${emulated.system.port('http')}`;
    const accountId = await accountIdOf(base);
    let seeded = 0;
    const measure = async (size: number) => {
      meter.enabled = false;
      await seed(adapters, seeded, size);
      seeded = size;
      // A listener process that has not read this account yet: a new cache (as after a restart).
      accountCacheOf(adapters.index).forget(USER);
      meter.enabled = true;
      meter.reset();
      await listRequest(base, accountId);
      const cold = units(await meter.snapshot());
      meter.reset();
      await listRequest(base, accountId);
      const warm = units(await meter.snapshot());
      meter.enabled = false;
      await seed(adapters, seeded, seeded + 1);
      seeded++;
      meter.enabled = true;
      meter.reset();
      await listRequest(base, accountId);
      const afterNew = units(await meter.snapshot());
      meter.enabled = false;
      return { size, cold, warm, afterNew };
    };
    const small = await measure(Math.floor(messages / 2));
    const large = await measure(Math.max(messages, seeded + 1));
    const slope = (large.cold.rru - small.cold.rru) / (large.size - small.size);
    const cold10k = large.cold.rru + slope * (TARGET - large.size);
    const note = large.size >= TARGET ? '' : ` (cold: measured at ${small.size} and ${large.size} messages, extrapolated to ${TARGET})`;
    process.stderr.write(
      `bench: JMAP Email/query + Email/get of 50 on the emulator${note}: first request ${round(cold10k)} RRU; ` +
        `later ${round(large.warm.rru)} RRU, ${large.warm.dynamodb} DynamoDB and ${large.warm.s3} S3 requests; ` +
        `after a new message ${round(large.afterNew.rru)} RRU\n`,
    );
    return {
      'jmap.aws_list_first_10k_rru': round(cold10k),
      'jmap.aws_list_rru': round(large.warm.rru),
      'jmap.aws_list_dynamodb_requests': large.warm.dynamodb,
      'jmap.aws_list_s3_requests': large.warm.s3,
      'jmap.aws_list_wru': round(large.warm.wru),
      'jmap.aws_list_after_new_message_rru': round(large.afterNew.rru),
    };
  } finally {
    setAwsClientHook(undefined);
    await emulated.stop(1000);
    meter.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function benchJmap(): Promise<Record<string, number>> {
  return { ...(await benchLocal()), ...(await benchAws()) };
}

if (import.meta.main) {
  console.log(await benchJmap());
}
