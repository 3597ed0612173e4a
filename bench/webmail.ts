/**
 * The webmail in headless chromium (Debian's, through playwright-core) on a local system with a
 * 10,000-message INBOX (SQLite index, file blobs):
 *  - sign-in to a rendered inbox: from the click on "Sign in" until the first 50 rows are on
 *    screen (session, mailboxes, Email/query + Email/get of 50, render);
 *  - an opened message: from the click on the first row until its body is shown.
 * Each figure is the median of RUNS fresh browser contexts (no cache). Skipped, with a line on
 * stderr, when chromium is not installed. Not part of the test suite; `npm run bench`.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ensureDefaultMailboxes } from '#core/accounts/accounts.ts';
import { hashPassword } from '#core/accounts/password.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { loadConfig } from '#core/config.ts';
import { silentLogger } from '#core/log.ts';
import { indexMessage } from '#core/mime/index-message.ts';
import { startMailSystem } from '#listeners/mail-system.ts';
import { buildWebmail } from '../webmail/build.ts';

const MESSAGES = 10_000;
const RUNS = 5;
const USER = 'bench@example.test';
const PASSWORD = 'bench password';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

function sample(i: number): Buffer {
  return Buffer.from(
    `From: Sender ${i % 97} <sender${i % 97}@example.test>\r\nTo: Bench User <${USER}>\r\n` +
      `Subject: Benchmark message number ${i} about topic ${i % 31}\r\n` +
      `Date: Mon, ${1 + (i % 28)} Feb 2021 10:${String(i % 60).padStart(2, '0')}:00 +0000\r\nMessage-ID: <webmail-bench-${i}@example.test>\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n` +
      `Body of message ${i}.\r\n`.repeat(20),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchWebmail(): Promise<Record<string, number>> {
  if (!existsSync(CHROMIUM)) {
    process.stderr.write(`bench: webmail skipped: chromium is not installed at ${CHROMIUM} (scripts/setup.sh --test installs it)\n`);
    return {};
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-webmail-'));
  const webmailDir = path.join(dataDir, 'webmail');
  const build = await buildWebmail(webmailDir);
  const config = loadConfig({
    MAIL_RUNTIME: 'local',
    MAIL_DATA_DIR: dataDir,
    MAIL_HOSTNAME: 'bench.test',
    MAIL_BIND: '127.0.0.1',
    JMAP_ENABLED: 'true',
    WEBMAIL_DIR: webmailDir,
    ...Object.fromEntries(['SMTP', 'SUBMISSION', 'SUBMISSIONS', 'IMAP', 'IMAPS', 'POP3', 'POP3S', 'HTTPS', 'HTTP'].map((p) => [`${p}_PORT`, '0'])),
  });
  const adapters = await createLocalAdapters({ dataDir });
  await adapters.index.addDomain('example.test');
  await adapters.index.addUser({ address: USER, passwordHash: await hashPassword(PASSWORD) });
  await ensureDefaultMailboxes(adapters.index, USER);
  const inbox = (await adapters.index.getMailbox(USER, 'INBOX'))!;
  for (let i = 0; i < MESSAGES; i++) {
    const raw = sample(i);
    const blobKey = `messages/bench/webmail-${i}`;
    await adapters.blobs.put(blobKey, raw);
    await adapters.index.appendMessage(USER, inbox.id, {
      blobKey,
      size: raw.length,
      internalDate: Date.UTC(2021, 0, 1) + i * 60_000,
      flags: [],
      meta: indexMessage(raw),
    });
  }
  const system = await startMailSystem({ adapters, config, logger: silentLogger, workers: false });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
  const signIn: number[] = [];
  const open: number[] = [];
  try {
    const base = `http://127.0.0.1:${system.port('http')}`;
    for (let run = 0; run < RUNS; run++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.goto(base + '/');
      await page.getByLabel('Email').fill(USER);
      await page.getByLabel('Password').fill(PASSWORD);
      const t0 = performance.now();
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('ul.messages li').nth(49).waitFor();
      signIn.push(performance.now() - t0);
      const first = page.locator('ul.messages li').first();
      const t1 = performance.now();
      await first.getByRole('button').click();
      await page.locator('.reader .text-body', { hasText: 'Body of message' }).waitFor();
      open.push(performance.now() - t1);
      await context.close();
    }
  } finally {
    await browser.close();
    await system.stop(500);
    await adapters.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return {
    'webmail.signin_to_inbox50_10k_ms_p50': Math.round(median(signIn)),
    'webmail.open_message_ms_p50': Math.round(median(open)),
    'webmail.js_gzip_kib': Math.round((build.jsGzipBytes / 1024) * 10) / 10,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await benchWebmail());
