/**
 * `npm run start:emulated` (fargate-listeners/src/emulated-main.ts) as a process on the test
 * emulator: the listeners on the aws adapters, the ingest Lambda handler driven from SQS by the
 * local event source. A domain and user made with `mailctl --aws` from the environment file it
 * writes; a message sent with smtplib reaches the INBOX and is read back with imaplib.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { destroyAwsResources } from '#core/adapters/aws/index.ts';
import { python, run } from '../support/clients.ts';
import { smtplibSend } from '../support/smtplib.ts';
import { emulatorClientConfig } from '../support/emulator.ts';
import { cleanupsAfterAll } from '../support/cleanups.ts';
import { EPHEMERAL_PORTS, uniquePrefix } from '../support/mail-system.ts';

const IMAP_READ = `
import imaplib, sys, time
port = int(sys.argv[1])
deadline = time.time() + 30
while True:
    m = imaplib.IMAP4('127.0.0.1', port)
    m.login('alice@example.test', 'alice-secret')
    typ, data = m.select('INBOX')
    if int(data[0]) > 0 or time.time() > deadline:
        break
    m.logout()
    time.sleep(0.5)
typ, data = m.fetch('1', '(BODY.PEEK[])')
sys.stdout.write(data[0][1].decode())
m.logout()
`;

describe('npm run start:emulated', () => {
  const cleanups = cleanupsAfterAll();

  it('delivers a message sent with smtplib through SQS and the ingest handler, read back with imaplib', async () => {
    const clientConfig = emulatorClientConfig(inject('awsEndpoint'));
    const prefix = uniquePrefix();
    cleanups.push(() => destroyAwsResources(clientConfig, prefix).catch(() => {}));
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'emulated-main-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const env = {
      ...process.env,
      AWS_ENDPOINT_URL: clientConfig.endpoint,
      MAIL_EMULATED_PREFIX: prefix,
      MAIL_DATA_DIR: dataDir,
      MAIL_HOSTNAME: 'mx.example.test',
      LOG_LEVEL: 'info',
      ...EPHEMERAL_PORTS,
    };
    const child: ChildProcess = spawn(process.execPath, ['fargate-listeners/src/emulated-main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stderr!.on('data', (d) => (out += d));
    const started = await new Promise<{ listeners: Record<string, number> }>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        out += d;
        const line = out.split('\n').find((l) => l.includes('"emulator environment written"'));
        const startedLine = out.split('\n').find((l) => l.includes('"mail system started"'));
        if (line && startedLine) resolve(JSON.parse(startedLine));
      });
      void exited.then((code) => reject(new Error(`start:emulated exited ${code}: ${out}`)));
    });
    expect(started).toMatchObject({ table: `${prefix}-mail-index`, emulator: clientConfig.endpoint });

    // The README's way to administer it: the environment file, then mailctl --aws.
    const vars = Object.fromEntries(
      [...readFileSync(path.join(dataDir, 'emulated.env'), 'utf8').matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]),
    );
    const mailctlEnv = { ...process.env, ...vars };
    expect((await run(process.execPath, ['bin/mailctl.js', '--aws', 'domain', 'add', 'example.test'], { env: mailctlEnv })).code).toBe(0);
    expect(
      (await run(process.execPath, ['bin/mailctl.js', '--aws', 'user', 'add', 'alice@example.test'], { env: mailctlEnv, input: 'alice-secret\n' })).code,
    ).toBe(0);

    const sent = await smtplibSend({
      port: started.listeners['smtp-mx'],
      from: 'carol@elsewhere.test',
      to: ['alice@example.test'],
      data: 'From: carol@elsewhere.test\r\nSubject: through the emulated cloud\r\n\r\nhello from smtplib\r\n',
    });
    expect(sent.outcome, sent.stderr).toEqual({ refused: {} });

    const read = await python(IMAP_READ, [String(started.listeners.imap)], { timeoutMs: 45_000 });
    expect(read.stdout, read.stderr).toContain('Subject: through the emulated cloud');
    expect(read.stdout).toContain('hello from smtplib');
    // Delivered by the ingest handler on the SQS path, not by in-process workers.
    expect(out).toMatch(/"msg":"delivered","function":"ingest"/);
    expect(out).not.toContain('"worker":"ingest"');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 90_000);
});
