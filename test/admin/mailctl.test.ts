/** mailctl as a user runs it: a process, on the local data directory and on AWS (emulator). */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { verifyPassword } from '../../core/accounts/password.ts';
import { createLocalAdapters } from '../../core/adapters/local/index.ts';
import { awsResourceEnv, createAwsAdapters, destroyAwsResources, provisionAwsResources } from '../../core/adapters/aws/index.ts';
import { appendToMailbox } from '../../core/delivery/store-message.ts';
import { QUEUES } from '../../core/resources.ts';
import { run } from '../support/clients.ts';
import { emulatorClientConfig } from '../support/emulator.ts';
import { uniquePrefix } from '../support/mail-system.ts';

const MAILCTL = path.resolve(import.meta.dirname, '../../bin/mailctl.js');

describe('mailctl (local)', () => {
  let dataDir: string;
  const ctl = (args: string[], input?: string) => run(process.execPath, [MAILCTL, ...args], { input, env: { ...process.env, MAIL_DATA_DIR: dataDir } });
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailctl-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('manages domains and users, with the password read from stdin and stored as a scrypt hash', async () => {
    expect((await ctl(['domain', 'add', 'Example.TEST'])).stdout).toBe('added domain example.test\n');
    expect((await ctl(['domain', 'list'])).stdout).toBe('example.test\n');
    const add = await ctl(['user', 'add', 'Alice@example.test'], 's3cret pass\n');
    expect(add.code, add.stderr).toBe(0);
    const refused = await ctl(['user', 'add', 'bob@elsewhere.test'], 'pw\n');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('not a local domain');
    expect((await ctl(['user', 'list'])).stdout).toBe('alice@example.test\n');
    const boxes = (await ctl(['mailbox', 'list', 'alice@example.test'])).stdout;
    for (const name of ['INBOX', 'Sent', 'Drafts', 'Trash', 'Junk', 'Archive']) expect(boxes).toMatch(new RegExp(`^${name}\\t0\\t1\\t\\d+`, 'm'));
    expect(boxes).toMatch(/^Sent\t.*\\Sent$/m);

    const adapters = await createLocalAdapters({ dataDir });
    const user = (await adapters.index.getUser('alice@example.test'))!;
    expect(user.passwordHash).toMatch(/^scrypt\$/);
    expect(await verifyPassword('s3cret pass', user.passwordHash)).toBe(true);
    expect((await ctl(['user', 'passwd', 'alice@example.test'], 'new-pass\n')).code).toBe(0);
    const changed = (await adapters.index.getUser('alice@example.test'))!;
    expect(await verifyPassword('new-pass', changed.passwordHash)).toBe(true);

    const raw = Buffer.from('From: Carol <carol@remote.test>\r\nSubject: listed\r\n\r\nbody bytes\r\n');
    await appendToMailbox(adapters, 'alice@example.test', 'INBOX', raw, { flags: ['\\Seen'] });
    await adapters.close();
    const list = (await ctl(['message', 'list', 'alice@example.test'])).stdout.split('\n');
    expect(list[1]).toMatch(/^1\t\d+\t\d{4}-\d\d-\d\dT.*\t\\Seen\tcarol@remote\.test\tlisted$/);
    const show = await run(process.execPath, [MAILCTL, 'message', 'show', 'alice@example.test', '1'], { env: { ...process.env, MAIL_DATA_DIR: dataDir } });
    expect(show.stdout).toBe(raw.toString());
    expect((await ctl(['message', 'show', 'alice@example.test', '9'])).code).toBe(1);
  });

  it('sets the postmaster address of a domain at add and changes it (RFC 5321 §4.5.1)', async () => {
    expect((await ctl(['domain', 'add', 'pm.test', '--postmaster', 'Admin@PM.test'])).stdout).toBe('added domain pm.test (postmaster admin@pm.test)\n');
    expect((await ctl(['domain', 'postmaster', 'pm.test'])).stdout).toBe('postmaster of pm.test: admin@pm.test\n');
    expect((await ctl(['domain', 'postmaster', 'pm.test', 'ops@elsewhere.test'])).stdout).toBe('postmaster of pm.test: ops@elsewhere.test\n');
    let adapters = await createLocalAdapters({ dataDir });
    expect((await adapters.index.getDomain('pm.test'))!.postmaster).toBe('ops@elsewhere.test');
    await adapters.close();
    expect((await ctl(['domain', 'postmaster', 'pm.test', '--default'])).stdout).toBe('postmaster of pm.test: default\n');
    adapters = await createLocalAdapters({ dataDir });
    expect((await adapters.index.getDomain('pm.test'))!.postmaster).toBeNull();
    await adapters.close();
    const bad = await ctl(['domain', 'add', 'pm2.test', '--postmaster', 'not an address']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('not an address');
    const missing = await ctl(['domain', 'postmaster', 'nope.test', 'a@pm.test']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no such domain');
    await ctl(['domain', 'remove', 'pm.test']);
  });

  it('shows queue stats and the jobs that ended in the dead-letter queue', async () => {
    const adapters = await createLocalAdapters({ dataDir });
    await adapters.queue.send('ingest', { id: 'poison', blobKey: 'messages/none' });
    for (let i = 0; i < QUEUES.ingest.maxReceiveCount + 1; i++) {
      const [job] = await adapters.queue.receive('ingest', { max: 1 });
      if (!job) break;
      await adapters.queue.release('ingest', job.receipt, 0);
    }
    await adapters.close();
    const stats = (await ctl(['queue', 'stats'])).stdout;
    expect(stats).toMatch(/^ingest\t0\t0\t0\t1$/m);
    const dead = (await ctl(['queue', 'dead-letters'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ queue: 'ingest', body: { id: 'poison' } });
  });

  it('explains its usage on unknown commands', async () => {
    const r = await ctl(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage: mailctl');
  });
});

describe('mailctl --aws (emulator)', () => {
  it('adds a domain and a user to the DynamoDB table named by the environment', async () => {
    const clientConfig = emulatorClientConfig(inject('awsEndpoint'));
    const refs = await provisionAwsResources(clientConfig, uniquePrefix());
    try {
      const env = { ...process.env, ...awsResourceEnv(refs), AWS_ENDPOINT_URL: clientConfig.endpoint, AWS_REGION: clientConfig.region, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };
      expect((await run(process.execPath, [MAILCTL, '--aws', 'domain', 'add', 'cloud.test'], { env })).code).toBe(0);
      const add = await run(process.execPath, [MAILCTL, '--aws', 'user', 'add', 'dana@cloud.test'], { env, input: 'pw\n' });
      expect(add.code, add.stderr).toBe(0);
      const adapters = await createAwsAdapters({ refs, clientConfig });
      expect((await adapters.index.listUsers()).map((u) => u.address)).toEqual(['dana@cloud.test']);
      expect(await adapters.index.getMailbox('dana@cloud.test', 'INBOX')).not.toBeNull();
      await adapters.close();
    } finally {
      await destroyAwsResources(clientConfig, refs).catch(() => {});
    }
  });
});
