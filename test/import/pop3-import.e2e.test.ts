/**
 * `mailctl import pop3` against Debian's Dovecot (POP3S on loopback, test/support/dovecot.ts):
 * every message of the maildrop into INBOX byte for byte (dot-unstuffing, RFC 1939 §3), the
 * INTERNALDATE from the newest Received: header, resumed by UIDL (RFC 1939 §7), also after
 * SIGKILL; nothing deleted at the source.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createUser } from '#core/accounts/accounts.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { corpusFiles } from '../support/corpus.ts';
import { describeWithDovecot, startDovecot, writeMaildirMessage, type Dovecot } from '../support/dovecot.ts';
import { python, run } from '../support/clients.ts';

const MAILCTL = path.resolve(import.meta.dirname, '../../bin/mailctl.js');
const SRC_USER = 'pop@src.test';
const PASSWORD = 'pop pass';

function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describeWithDovecot('mailctl import pop3 from Dovecot', () => {
  let dovecot: Dovecot;
  let dataDir: string;
  let url: string;
  const ctl = (args: string[], input?: string) =>
    run(process.execPath, [MAILCTL, ...args], { input, env: { ...process.env, MAIL_DATA_DIR: dataDir, IMPORT_PASSWORD: PASSWORD }, timeoutMs: 180_000 });
  const dotted = Buffer.from(
    'Received: from mx.src.test by pop.src.test; Tue, 3 Mar 2020 04:05:06 +0000\r\nFrom: d@src.test\r\nSubject: dots\r\nMessage-ID: <dots@src.test>\r\n\r\n.hidden line\r\n..two dots\r\n.\r\nend\r\n',
  );

  /**
   * What Dovecot's POP3 serves (read with Python's poplib, a client none of us wrote), as sorted
   * SHA-256 digests. (A message that does not end in CRLF gets one from POP3: the terminating
   * "." must start a line, RFC 1939 §3. Dovecot's IMAP also differs in NUL bytes, which it sends
   * as 0x80; so POP3 is the reference here.)
   */
  async function sourceDigests(): Promise<string[]> {
    const res = await python(
      `import poplib, ssl, hashlib, sys
p = poplib.POP3_SSL('127.0.0.1', int(sys.argv[1]), context=ssl._create_unverified_context())
p.user(sys.argv[2]); p.pass_(sys.argv[3])
for n in range(1, len(p.list()[1]) + 1):
    print(hashlib.sha256(b'\\r\\n'.join(p.retr(n)[1]) + b'\\r\\n').hexdigest())
p.quit()`,
      [String(dovecot.pop3sPort), SRC_USER, PASSWORD],
    );
    expect(res.code, res.stderr).toBe(0);
    return res.stdout.trim().split('\n').sort();
  }

  async function ourDigests(user: string): Promise<string[]> {
    const adapters = await createLocalAdapters({ dataDir });
    try {
      const inbox = (await adapters.index.getMailbox(user, 'INBOX'))!;
      const out: string[] = [];
      for (const m of await adapters.index.listMessages(user, inbox.id))
        out.push(
          createHash('sha256')
            .update(await adapters.blobs.get(m.blobKey))
            .digest('hex'),
        );
      return out.sort();
    } finally {
      await adapters.close();
    }
  }

  beforeAll(async () => {
    dovecot = await startDovecot([{ user: SRC_USER, password: PASSWORD }]);
    const corpus = corpusFiles();
    for (let i = 0; i < 150; i++)
      writeMaildirMessage(dovecot.maildir(SRC_USER), '', corpus[i % corpus.length].raw, { date: new Date(Date.UTC(2021, 0, 1) + i * 60_000) });
    writeMaildirMessage(dovecot.maildir(SRC_USER), '', dotted, { date: new Date('2024-01-01T00:00:00Z') });
    dovecot.fixOwnership();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'import-pop3-'));
    const adapters = await createLocalAdapters({ dataDir });
    await adapters.index.addDomain('example.test');
    for (const u of ['gina', 'hank']) await createUser(adapters.index, `${u}@example.test`, 'pw');
    await adapters.close();
    url = `pop3s://${encodeURIComponent(SRC_USER)}@127.0.0.1:${dovecot.pop3sPort}`;
  }, 120_000);

  afterAll(async () => {
    await dovecot?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('copies every message into INBOX byte for byte (dot-unstuffed), dated by its Received: header; a rerun copies nothing, a new message is copied next time', async () => {
    const res = await ctl(['import', 'pop3', 'gina@example.test', url, '--insecure', '--json']);
    expect(res.code, res.stderr).toBe(0);
    expect(jsonLines(res.stdout).find((e) => e.event === 'summary')).toMatchObject({ copied: 151, notCopied: [] });
    expect(await ourDigests('gina@example.test')).toEqual(await sourceDigests());
    const adapters = await createLocalAdapters({ dataDir });
    try {
      const inbox = (await adapters.index.getMailbox('gina@example.test', 'INBOX'))!;
      const all = await adapters.index.listMessages('gina@example.test', inbox.id, { withMeta: true });
      const dots = all.find((m) => m.meta?.envelope.messageId === '<dots@src.test>')!;
      expect((await adapters.blobs.get(dots.blobKey)).toString()).toContain('\r\n\r\n.hidden line\r\n..two dots\r\n.\r\nend\r\n');
      expect(dots.internalDate).toBe(Date.parse('2020-03-03T04:05:06Z'));
    } finally {
      await adapters.close();
    }
    const again = await ctl(['import', 'pop3', 'gina@example.test', url, '--insecure'], `${PASSWORD}\n`);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^imported 0 messages/m);
    writeMaildirMessage(dovecot.maildir(SRC_USER), '', Buffer.from('From: n@src.test\r\nSubject: new\r\n\r\nnew\r\n'), {
      date: new Date('2024-02-02T00:00:00Z'),
    });
    dovecot.fixOwnership();
    const third = await ctl(['import', 'pop3', 'gina@example.test', url, '--insecure', '--json']);
    expect(jsonLines(third.stdout).find((e) => e.event === 'summary')).toMatchObject({ copied: 1 });
    expect(await ourDigests('gina@example.test')).toEqual(await sourceDigests());
  }, 300_000);

  it('a run killed with SIGKILL in the middle and run again ends with every message once', async () => {
    const child = spawn(process.execPath, [MAILCTL, 'import', 'pop3', 'hank@example.test', url, '--insecure', '--json'], {
      env: { ...process.env, MAIL_DATA_DIR: dataDir, IMPORT_PASSWORD: PASSWORD },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const killed = await new Promise<boolean>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/"event":"progress","messages":[1-9]/.test(out) && child.exitCode === null) {
          child.kill('SIGKILL');
          resolve(true);
        }
      });
      child.on('exit', () => resolve(false));
    });
    expect(killed, 'the import was still running when killed').toBe(true);
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
    const rerun = await ctl(['import', 'pop3', 'hank@example.test', url, '--insecure', '--json']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await ourDigests('hank@example.test')).toEqual(await sourceDigests());
  }, 300_000);

  it('a wrong password is a one-line error naming the source login', async () => {
    const res = await run(process.execPath, [MAILCTL, 'import', 'pop3', 'hank@example.test', url, '--insecure'], {
      env: { ...process.env, MAIL_DATA_DIR: dataDir, IMPORT_PASSWORD: 'wrong' },
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`the source refused the login of ${SRC_USER}: -ERR`);
  }, 60_000);
});
