/** mailctl as a user runs it: a process, on the local data directory and on AWS (emulator). */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { verifyPassword } from '#core/accounts/password.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { awsResourceEnv, createAwsAdapters, destroyAwsResources, provisionAwsResources } from '#core/adapters/aws/index.ts';
import { appendToMailbox, MailboxWrites } from '#core/mailbox/writes.ts';
import { junkTrainingSettled } from '#core/junk/training.ts';
import { silentLogger } from '#core/log.ts';
import { GROUPS, groupUsage } from '#core/admin/mailctl.ts';
import { loadConfig } from '#core/config.ts';
import { QUEUES } from '#core/resources.ts';
import { run } from '../support/clients.ts';
import { emulatorClientConfig } from '../support/emulator.ts';
import { uniquePrefix } from '../support/mail-system.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAILCTL = path.join(ROOT, 'bin/mailctl.js');

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

  it('user quota shows usage and limits, sets storage (K/M/G) and message limits, clears one with none', async () => {
    const q = await ctl(['user', 'quota', 'alice@example.test']);
    expect(q.code, q.stderr).toBe(0);
    expect(q.stdout).toMatch(/^quota of alice@example\.test: storage \d+ of no limit octets, messages 1 of no limit\n$/);
    const set = await ctl(['user', 'quota', 'Alice@example.test', '--storage', '2M', '--messages', '500']);
    expect(set.stdout).toMatch(/storage \d+ of 2097152 octets, messages 1 of 500\n$/);
    expect((await ctl(['user', 'quota', 'alice@example.test', '--messages', 'none'])).stdout).toMatch(
      /storage \d+ of 2097152 octets, messages 1 of no limit\n$/,
    );
    const adapters = await createLocalAdapters({ dataDir });
    expect((await adapters.index.getQuota('alice@example.test'))!.limits).toEqual({ storage: 2097152, messages: null });
    await adapters.close();
    for (const bad of [['--storage', '1T'], ['--messages', '2K'], ['--storage'], ['--files', '3']]) {
      const r = await ctl(['user', 'quota', 'alice@example.test', ...bad]);
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.stderr, bad.join(' ')).toMatch(/storage|messages|unexpected/);
    }
  });

  it('junk stats counts what the user trained; message show --auth prints the stored verdicts and the junk score', async () => {
    const adapters = await createLocalAdapters({ dataDir });
    const writes = new MailboxWrites(adapters, { log: silentLogger });
    const raw = Buffer.from(
      'Authentication-Results: mx.test;\r\n\tspf=pass smtp.mailfrom=remote.test;\r\n\tdmarc=pass header.from=remote.test\r\nFrom: offers@remote.test\r\nSubject: casino bonus\r\n\r\nfree casino bonus now\r\n',
    );
    const a = await writes.append('alice@example.test', 'INBOX', raw);
    const junk = (await adapters.index.getMailbox('alice@example.test', 'Junk'))!;
    const { mapping } = await writes.copy('alice@example.test', a.mailboxId, [a.uid], junk.id);
    await junkTrainingSettled();
    await adapters.close();
    const stats = await ctl(['junk', 'stats', 'alice@example.test']);
    expect(stats.stdout).toMatch(/^trained spam messages\t1\ntrained ham messages\t0\ntokens\t\d+\n/);
    const show = await ctl(['message', 'show', '--auth', 'alice@example.test', String(mapping[0].to), 'Junk']);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain('Authentication-Results: mx.test; spf=pass smtp.mailfrom=remote.test; dmarc=pass header.from=remote.test\n');
    // One class trained only: the model cannot tell yet, so 0.5 (not junk).
    expect(show.stdout).toMatch(/^Junk score now: 0\.5000 \(not junk; 0 telling tokens\)$/m);
    expect((await ctl(['junk', 'stats', 'nobody@example.test'])).code).toBe(1);
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

  it('shows queue stats and the jobs that ended in the dead-letter queue (an inline message copy by its size only)', async () => {
    const adapters = await createLocalAdapters({ dataDir });
    await adapters.queue.send('ingest', { id: 'poison', blobKey: 'messages/none', bytes: Buffer.from('Subject: secret\r\n\r\n').toString('base64') });
    for (let i = 0; i < QUEUES.ingest.maxReceiveCount + 1; i++) {
      const [job] = await adapters.queue.receive('ingest', { max: 1 });
      if (!job) break;
      await adapters.queue.release('ingest', job.receipt, 0);
    }
    await adapters.close();
    const stats = (await ctl(['queue', 'stats'])).stdout;
    expect(stats).toMatch(/^ingest\t0\t0\t0\t1$/m);
    const dead = (await ctl(['queue', 'dead-letters'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ queue: 'ingest', body: { id: 'poison', bytes: '(19 bytes inline)' } });
    expect(JSON.stringify(dead[0])).not.toContain(Buffer.from('Subject: secret').toString('base64').slice(0, 12));
  });

  it('explains its usage on unknown commands', async () => {
    const r = await ctl(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage: mailctl');
  });
});

describe('mailctl: where it works, and what it says', () => {
  let dataDir: string;
  let elsewhere: string;
  const ctl = (args: string[], options: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
    run(process.execPath, [MAILCTL, ...args], { input: options.input, cwd: options.cwd, env: options.env ?? { ...process.env, MAIL_DATA_DIR: dataDir } });
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailctl-store-'));
    elsewhere = mkdtempSync(path.join(os.tmpdir(), 'mailctl-cwd-'));
    expect((await ctl(['domain', 'add', 'example.test'])).code).toBe(0);
    expect((await ctl(['user', 'add', 'alice@example.test'], { input: 'pw\n' })).code).toBe(0);
    const adapters = await createLocalAdapters({ dataDir });
    // RFC 2047 §2 encoded-words, as mail clients send non-ASCII subjects.
    await appendToMailbox(
      adapters,
      'alice@example.test',
      'INBOX',
      Buffer.from('From: bob@remote.test\r\nSubject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?= und =?ISO-8859-1?Q?M=FCnchen?=\r\n\r\nhi\r\n'),
    );
    // Enough output to overflow a pipe (64 KiB) for the `| head -1` cases.
    for (let i = 0; i < 100; i++)
      await appendToMailbox(adapters, 'alice@example.test', 'INBOX', Buffer.from(`Subject: ${'long subject '.repeat(80)}${i}\r\n\r\nx\r\n`));
    await appendToMailbox(adapters, 'alice@example.test', 'Archive', Buffer.from('Subject: big\r\n\r\n' + 'b'.repeat(998).concat('\r\n').repeat(1000)));
    await adapters.close();
  });
  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  });

  it("uses the project's data directory by default, wherever it is run from, and never ./data of the current directory", async () => {
    expect(loadConfig({ MAIL_RUNTIME: 'local' }).dataDir).toBe(path.join(ROOT, 'data'));
    const env = { ...process.env };
    delete env.MAIL_DATA_DIR;
    const r = await ctl(['domain', 'list'], { cwd: elsewhere, env });
    expect(existsSync(path.join(elsewhere, 'data'))).toBe(false);
    if (r.code !== 0) expect(r.stderr).toContain(`no mail data in ${path.join(ROOT, 'data')}`);
    // MAIL_DATA_DIR names the store from anywhere.
    expect((await ctl(['user', 'list'], { cwd: elsewhere })).stdout).toBe('alice@example.test\n');
  });

  it('a read command on a directory without a store says so and creates nothing; domain add makes the store on purpose', async () => {
    const fresh = path.join(elsewhere, 'fresh');
    const env = { ...process.env, MAIL_DATA_DIR: fresh };
    for (const args of [
      ['domain', 'list'],
      ['user', 'list'],
      ['message', 'list', 'alice@example.test'],
      ['queue', 'stats'],
    ]) {
      const r = await ctl(args, { env });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toBe(
        `mailctl: no mail data in ${fresh}: start the system there (npm start) or add the first domain (mailctl domain add <domain>); MAIL_DATA_DIR names another directory\n`,
      );
      expect(existsSync(fresh)).toBe(false);
    }
    expect((await ctl(['domain', 'add', 'new.test'], { env })).stdout).toBe('added domain new.test\n');
    expect((await ctl(['domain', 'list'], { env })).stdout).toBe('new.test\n');
  });

  it('says "no such user" for an unknown user', async () => {
    for (const args of [
      ['message', 'list', 'nobody@example.test'],
      ['message', 'show', 'nobody@example.test', '1'],
      ['mailbox', 'list', 'nobody@example.test'],
      ['user', 'remove', 'nobody@example.test'],
      ['user', 'passwd', 'nobody@example.test'],
      ['user', 'quota', 'nobody@example.test'],
    ]) {
      const r = await ctl(args, { input: 'pw\n' });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toBe('mailctl: no such user: nobody@example.test\n');
    }
  });

  it('shows RFC 2047 encoded subjects decoded in message list', async () => {
    const lines = (await ctl(['message', 'list', 'alice@example.test'])).stdout.split('\n');
    expect(lines[1]).toMatch(/\tbob@remote\.test\tGrüße aus Köln und München$/);
  });

  it('`| head -1` ends quietly: no EPIPE, exit status 0', async () => {
    for (const args of [
      ['message', 'list', 'alice@example.test'],
      ['message', 'show', 'alice@example.test', '1', 'Archive'],
    ]) {
      const errFile = path.join(elsewhere, 'stderr');
      const r = await run('bash', ['-c', '"$0" "$1" "${@:2}" 2>"$ERR_FILE" | head -1; echo "status ${PIPESTATUS[0]}"', process.execPath, MAILCTL, ...args], {
        env: { ...process.env, MAIL_DATA_DIR: dataDir, ERR_FILE: errFile },
      });
      expect(r.stdout.split('\n')).toHaveLength(3);
      expect(r.stdout).toMatch(/\nstatus 0\n$/);
      expect(readFileSync(errFile, 'utf8')).toBe('');
    }
  });

  it("a group without its command prints that group's usage (every group)", async () => {
    expect(GROUPS).toEqual(expect.arrayContaining(['domain', 'user', 'mailbox', 'message', 'queue']));
    for (const group of GROUPS) {
      const r = await ctl([group]);
      expect(r.code, group).toBe(2);
      expect(r.stderr).toBe(`mailctl: '${group}' needs a command\n${groupUsage(group)}\n`);
      expect(
        groupUsage(group)
          .split('\n')
          .slice(1)
          .every((l) => l.startsWith(`  ${group} `) || l.startsWith('    ')),
      ).toBe(true);
    }
    const help = await ctl(['message', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toBe(groupUsage('message') + '\n');
    expect(groupUsage('user')).toContain('  user passwd <address>');
    expect(groupUsage('user')).not.toContain('domain add');
  });
});

describe('mailctl --aws (emulator)', () => {
  it('adds a domain and a user to the DynamoDB table named by the environment', async () => {
    const clientConfig = emulatorClientConfig(inject('awsEndpoint'));
    const refs = await provisionAwsResources(clientConfig, uniquePrefix());
    try {
      const env = {
        ...process.env,
        ...awsResourceEnv(refs),
        AWS_ENDPOINT_URL: clientConfig.endpoint,
        AWS_REGION: clientConfig.region,
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
      };
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
