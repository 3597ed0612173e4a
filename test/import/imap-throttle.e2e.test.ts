/**
 * `mailctl import imap` and a server that limits connections: Dovecot with
 * `mail_max_userip_connections = 2`, which answers LOGIN over the limit with
 * `NO [LIMIT] Maximum number of connections from user+IP exceeded` (RFC 5530 §3).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createUser } from '#core/accounts/accounts.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { corpusFiles } from '../support/corpus.ts';
import { describeWithDovecot, startDovecot, writeMaildirMessage, type Dovecot } from '../support/dovecot.ts';
import { run } from '../support/clients.ts';

const MAILCTL = path.resolve(import.meta.dirname, '../../bin/mailctl.js');
const SRC_USER = 'limited@src.test';
const PASSWORD = 'pw';
const FOLDERS = ['', 'A', 'B', 'C', 'D'];

function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describeWithDovecot('mailctl import imap from a server that limits connections', () => {
  let dovecot: Dovecot;
  let dataDir: string;
  let url: string;
  const ctl = (args: string[]) =>
    run(process.execPath, [MAILCTL, ...args], { env: { ...process.env, MAIL_DATA_DIR: dataDir, IMPORT_PASSWORD: PASSWORD }, timeoutMs: 120_000 });

  beforeAll(async () => {
    dovecot = await startDovecot([{ user: SRC_USER, password: PASSWORD }], {}, 'mail_max_userip_connections = 2\n');
    corpusFiles()
      .slice(0, 50)
      .forEach((f, i) => writeMaildirMessage(dovecot.maildir(SRC_USER), FOLDERS[i % FOLDERS.length], f.raw, { date: new Date(Date.UTC(2022, 0, 1 + i)) }));
    dovecot.fixOwnership();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'import-limit-'));
    const adapters = await createLocalAdapters({ dataDir });
    await adapters.index.addDomain('example.test');
    for (const u of ['erin', 'frank']) await createUser(adapters.index, `${u}@example.test`, 'pw');
    await adapters.close();
    url = `imaps://${encodeURIComponent(SRC_USER)}@127.0.0.1:${dovecot.imapsPort}`;
  }, 120_000);

  afterAll(async () => {
    await dovecot?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('asked for 4 connections where 2 are allowed and another client holds one, goes on with the one left and copies everything', async () => {
    // The other client's connection is established before the importer's first: every further
    // login of the importer then meets the limit. (Without it, the importer's own logins race in
    // Dovecot's count, and a quick import could finish without ever being refused.)
    const holder = new ImapFlow({
      host: '127.0.0.1',
      port: dovecot.imapsPort,
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: SRC_USER, pass: PASSWORD },
      logger: false,
    });
    await holder.connect();
    try {
      const res = await ctl(['import', 'imap', 'erin@example.test', url, '--insecure', '--json', '--connections', '4']);
      expect(res.code, res.stderr).toBe(0);
      const events = jsonLines(res.stdout);
      // Refused at LOGIN with NO [LIMIT] (then it goes on with fewer connections), or let in and
      // dropped at once (then it retries after a pause): either way the limit was met.
      expect(events.some((e) => (e.event === 'fewer-connections' || e.event === 'retry') && String(e.reason).includes('connections'))).toBe(true);
      expect(events.find((e) => e.event === 'summary')).toMatchObject({ copied: 50, notCopied: [] });
    } finally {
      if (holder.usable) await holder.logout();
    }
  }, 120_000);

  it('a LOGIN refused with NO [LIMIT] is retried with backoff until the server lets it in', async () => {
    // Both allowed connections are taken by another client; one is given back once Dovecot has
    // refused the importer's login (its log says so).
    const holders = [0, 1].map(
      () =>
        new ImapFlow({
          host: '127.0.0.1',
          port: dovecot.imapsPort,
          secure: true,
          tls: { rejectUnauthorized: false },
          auth: { user: SRC_USER, pass: PASSWORD },
          logger: false,
        }),
    );
    for (const h of holders) await h.connect();
    const refusals = () => dovecot.log().split('Maximum number of connections from user+IP exceeded').length - 1;
    const before = refusals();
    const release = setInterval(() => {
      if (refusals() > before && holders[0].usable) void holders[0].logout();
    }, 100);
    try {
      const res = await ctl(['import', 'imap', 'frank@example.test', url, '--insecure', '--json', '--connections', '1']);
      expect(res.code, res.stderr).toBe(0);
      const events = jsonLines(res.stdout);
      const retries = events.filter((e) => e.event === 'retry');
      expect(retries.length).toBeGreaterThan(0);
      expect(String(retries[0].reason)).toContain('[LIMIT]');
      expect(retries[0].delayMs as number).toBeGreaterThanOrEqual(500);
      expect(events.find((e) => e.event === 'summary')).toMatchObject({ copied: 50, notCopied: [] });
    } finally {
      clearInterval(release);
      await Promise.all(holders.map((h) => (h.usable ? h.logout() : undefined)));
    }
  }, 120_000);
});
