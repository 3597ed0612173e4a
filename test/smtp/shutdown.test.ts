/**
 * Graceful shutdown (README.md, "The two commands": listeners stop accepting, transactions in
 * progress finish): an idle session gets 421 at once, a transaction in DATA may finish and is then told
 * 421, new connections are refused, and the whole process exits 0 on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/emulator.ts';
import { LineClient } from '../support/line-client.ts';
import { startTestSystem } from '../support/mail-system.ts';

describe('SMTP shutdown', () => {
  it('answers 421 to idle sessions, lets a transaction in DATA finish, then closes', async () => {
    const sys = await startTestSystem();
    await sys.addUser('alice@example.test', 'pw');
    const port = sys.port('smtp-mx');
    const idle = await LineClient.connect(port);
    await idle.smtpReply();
    await idle.send('EHLO idle.test');
    const busy = await LineClient.connect(port);
    await busy.smtpReply();
    await busy.send('EHLO busy.test');
    await busy.send('MAIL FROM:<x@remote.test>');
    await busy.send('RCPT TO:<alice@example.test>');
    expect(await busy.send('DATA')).toMatch(/^354 /);
    busy.write('Subject: in flight\r\n\r\nfirst half\r\n');

    const stopping = sys.stop();
    expect(await idle.smtpReply()).toMatch(/^421 4\.3\.2 /);
    expect(await idle.closedByServer()).toBe(true);
    await expect(LineClient.connect(port)).rejects.toThrow();
    busy.write('second half\r\n.\r\n');
    expect(await busy.smtpReply()).toMatch(/^250 2\.0\.0 Ok: queued as /);
    expect(await busy.smtpReply()).toMatch(/^421 /);
    await stopping;
  });

  it('exits 0 on SIGTERM with a client connected', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mail-stop-'));
    const port = await freePort();
    const child = spawn(process.execPath, ['fargate-listeners/src/local-main.ts'], {
      env: {
        ...process.env,
        MAIL_DATA_DIR: dataDir,
        SMTP_PORT: String(port),
        SUBMISSION_PORT: '0',
        SUBMISSIONS_PORT: '0',
        IMAP_PORT: '0',
        IMAPS_PORT: '0',
        POP3_PORT: '0',
        POP3S_PORT: '0',
        HTTPS_PORT: '0',
        HTTP_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      while (!out.includes('mail system started')) await new Promise((r) => setTimeout(r, 50));
      const c = await LineClient.connect(port);
      await c.smtpReply();
      await c.send('EHLO client.test');
      const t0 = Date.now();
      child.kill('SIGTERM');
      const code = await new Promise((r) => child.once('exit', (c) => r(c)));
      expect(code).toBe(0);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(await c.smtpReply()).toMatch(/^421 /);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
