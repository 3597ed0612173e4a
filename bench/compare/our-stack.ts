/**
 * Ours as `npm start` runs it: bin/start.js in a child process, its own MAIL_DATA_DIR and free
 * high ports on loopback (SMTP_PORT, IMAP_PORT, …; core/config.ts), every other setting at its
 * default. The users are made before it starts, as `mailctl user add` makes them (the admin module,
 * real password hashing), and big@'s INBOX is filled through the index as bench/imap.ts does.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createUser } from '#core/accounts/accounts.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { freePort } from '../../test/support/emulator.ts';
import { fill } from '../imap.ts';
import { PASSWORD, USERS, waitForPort, type Stack } from './stack.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface OurStackOptions {
  bigMailbox: number;
  stressUsers: number;
  log: (line: string) => void;
}

export async function startOurStack(options: OurStackOptions): Promise<Stack> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-ours-'));
  const dataDir = path.join(dir, 'data');
  try {
    const adapters = await createLocalAdapters({ dataDir });
    try {
      await adapters.index.addDomain('example.test');
      for (const u of [USERS.sink, USERS.big, ...Array.from({ length: options.stressUsers }, (_, i) => USERS.stress(i))])
        await createUser(adapters.index, u, PASSWORD);
      await fill(adapters, USERS.big, 'INBOX', options.bigMailbox);
    } finally {
      await adapters.close();
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const ports = {
    SMTP_PORT: await freePort(),
    SUBMISSION_PORT: await freePort(),
    SUBMISSIONS_PORT: await freePort(),
    IMAP_PORT: await freePort(),
    IMAPS_PORT: await freePort(),
    POP3_PORT: await freePort(),
    POP3S_PORT: await freePort(),
    HTTPS_PORT: await freePort(),
  };
  const logFile = path.join(dir, 'mail.log');
  const out = openSync(logFile, 'w');
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/start.js')], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      MAIL_DATA_DIR: dataDir,
      MAIL_HOSTNAME: 'ours.bench.test',
      HTTP_PORT: 'off',
      // The webmail is not measured; building it would write into the repository.
      WEBMAIL_DIR: 'off',
    },
    stdio: ['ignore', out, out],
  });
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const dead = () => (child.exitCode === null ? null : `npm start exited (${child.exitCode}): ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    await waitForPort(ports.IMAP_PORT, 60_000, dead);
    await waitForPort(ports.SMTP_PORT, 60_000, dead);
  } catch (err) {
    await stop();
    throw err;
  }
  options.log(`ours (bin/start.js, pid ${child.pid}): SMTP on 127.0.0.1:${ports.SMTP_PORT}, IMAP on 127.0.0.1:${ports.IMAP_PORT} (${dir})`);
  return { name: 'ours', smtpPort: ports.SMTP_PORT, imapPort: ports.IMAP_PORT, pids: () => (child.pid ? [child.pid] : []), stop };
}
