/**
 * `mailctl import imap` against a server none of us wrote: Debian's Dovecot on loopback
 * (test/support/dovecot.ts), with a Maildir written by this test — INBOX, folders with
 * special-use names ("Sent Items" marked \Sent, "Deleted Items" and "Junk E-mail" by name
 * only, "Archief" marked \Archive), a hierarchy ("Work.Clients" with Dovecot's `.`
 * separator), flags and keywords, corpus messages and one 25 MiB message. mailctl runs as a
 * process, as a user runs it; what arrived is compared with what Dovecot serves over IMAP.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { awsResourceEnv, createAwsAdapters, destroyAwsResources, provisionAwsResources } from '#core/adapters/aws/index.ts';
import { createUser } from '#core/accounts/accounts.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { importStateKey } from '#core/import/state.ts';
import { corpusFiles } from '../support/corpus.ts';
import { describeWithDovecot, startDovecot, writeMaildirMessage, type Dovecot } from '../support/dovecot.ts';
import { run } from '../support/clients.ts';
import { emulatorClientConfig } from '../support/emulator.ts';
import { uniquePrefix } from '../support/mail-system.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAILCTL = path.join(ROOT, 'bin/mailctl.js');
const SRC_USER = 'alice@src.test';
const SMALL_USER = 'small@src.test';
/** Six 25 MiB messages (150 MiB), and for comparison one small message. */
const BIG_USER = 'big@src.test';
const ONE_BIG_USER = 'one@src.test';
const MiB = 1024 * 1024;
const PASSWORD = 'source pass';

/** Source folder (Maildir++ name, '' = INBOX) → where it must arrive here. */
const FOLDERS: Record<string, string> = {
  '': 'INBOX',
  'Sent Items': 'Sent',
  'Deleted Items': 'Trash',
  'Junk E-mail': 'Junk',
  Archief: 'Archive',
  Drafts: 'Drafts',
  Work: 'Work',
  'Work.Clients': 'Work/Clients',
};
const IMAP_NAME = (folder: string) => folder || 'INBOX';

interface SourceMessage {
  uid: number;
  flags: string[];
  internalDate: number;
  source: Buffer;
}

/** What Dovecot serves: every message of a folder, in UID order. */
async function sourceFolder(dovecot: Dovecot, name: string, user = SRC_USER): Promise<SourceMessage[]> {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: dovecot.imapsPort,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user, pass: PASSWORD },
    logger: false,
  });
  await c.connect();
  try {
    const box = await c.mailboxOpen(name, { readOnly: true });
    if (box.exists === 0) return [];
    const out: SourceMessage[] = [];
    for await (const m of c.fetch('1:*', { uid: true, flags: true, internalDate: true, source: true }, { uid: true }))
      out.push({
        uid: m.uid,
        flags: [...m.flags!].filter((f) => f !== '\\Recent').sort(),
        internalDate: new Date(m.internalDate!).getTime(),
        source: m.source!,
      });
    return out.sort((a, b) => a.uid - b.uid);
  } finally {
    await c.logout();
  }
}

function mailctl(dataDir: string, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) {
  return run(process.execPath, [MAILCTL, ...args], {
    input: options.input,
    env: { ...process.env, MAIL_DATA_DIR: dataDir, ...options.env },
    timeoutMs: options.timeoutMs ?? 240_000,
  });
}

function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describeWithDovecot('mailctl import imap from Dovecot', () => {
  let dovecot: Dovecot;
  let dataDir: string;
  let url: string;
  let corpusCount = 0;

  beforeAll(async () => {
    dovecot = await startDovecot(
      [
        { user: SRC_USER, password: PASSWORD },
        { user: SMALL_USER, password: PASSWORD },
        { user: BIG_USER, password: PASSWORD },
        { user: ONE_BIG_USER, password: PASSWORD },
      ],
      { 'Sent Items': '\\Sent', Archief: '\\Archive' },
    );
    const maildir = dovecot.maildir(SRC_USER);
    const corpus = corpusFiles();
    const names = Object.keys(FOLDERS);
    let i = 0;
    // Fifteen passes over the corpus (2,925 messages), spread over the folders, each message with its own date and flags.
    for (let pass = 0; pass < 15; pass++) {
      for (const file of corpus) {
        const folder = names[i % names.length];
        const flags = [
          i % 3 === 0 && '\\Seen',
          i % 5 === 0 && '\\Flagged',
          i % 7 === 0 && '\\Answered',
          i % 17 === 0 && '\\Deleted',
          folder === 'Drafts' && '\\Draft',
        ].filter((f): f is string => Boolean(f));
        const keywords = [i % 4 === 0 && '$Forwarded', i % 6 === 0 && 'Project-X'].filter((k): k is string => Boolean(k));
        writeMaildirMessage(maildir, folder, file.raw, { flags, keywords, date: new Date(Date.UTC(2019, 0, 1) + i * 3_600_000 + pass) });
        i++;
      }
    }
    corpusCount = i;
    // One large message (25 MiB of base64 lines) in INBOX.
    const line = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n';
    const big = Buffer.from(
      'From: Big <big@src.test>\r\nTo: alice@src.test\r\nSubject: large\r\nMessage-ID: <large@src.test>\r\nMIME-Version: 1.0\r\n' +
        'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
        line.repeat(Math.ceil((25 * 1024 * 1024) / line.length)),
    );
    writeMaildirMessage(maildir, '', big, { flags: ['\\Seen'], date: new Date('2020-02-02T02:02:02Z') });
    // A small account for the run on AWS (emulator).
    corpus.slice(0, 30).forEach((file, k) =>
      writeMaildirMessage(dovecot.maildir(SMALL_USER), ['', 'Sent Items', 'Work.Clients'][k % 3], file.raw, {
        flags: k % 2 ? ['\\Seen'] : [],
        keywords: k % 5 ? [] : ['Todo'],
        date: new Date(Date.UTC(2021, 5, k + 1)),
      }),
    );
    writeMaildirMessage(dovecot.maildir(SMALL_USER), '', big.subarray(0, 3 * 1024 * 1024), { date: new Date('2021-08-08T08:08:08Z') });
    for (let k = 0; k < 6; k++)
      writeMaildirMessage(dovecot.maildir(BIG_USER), '', Buffer.concat([Buffer.from(`X-Copy: ${k}\r\n`), big]), { date: new Date(Date.UTC(2023, 0, k + 1)) });
    writeMaildirMessage(dovecot.maildir(ONE_BIG_USER), '', Buffer.concat([Buffer.from('X-Copy: one\r\n'), big]), { date: new Date('2023-03-03T03:03:03Z') });
    dovecot.fixOwnership();
    // Subscriptions as a client makes them.
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: dovecot.imapsPort,
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: SRC_USER, pass: PASSWORD },
      logger: false,
    });
    await c.connect();
    for (const f of ['INBOX', 'Sent Items', 'Work.Clients']) await c.mailboxSubscribe(f);
    await c.logout();

    dataDir = mkdtempSync(path.join(os.tmpdir(), 'import-imap-'));
    const adapters = await createLocalAdapters({ dataDir });
    await adapters.index.addDomain('example.test');
    for (const u of ['alice', 'bob', 'carol', 'dave', 'erin']) await createUser(adapters.index, `${u}@example.test`, 'pw');
    await adapters.close();
    url = `imaps://${encodeURIComponent(SRC_USER)}@127.0.0.1:${dovecot.imapsPort}`;
  }, 180_000);

  afterAll(async () => {
    await dovecot?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /**
   * Every source folder against its target mailbox: the same messages (bytes, flags,
   * INTERNALDATE), nothing more, nothing twice. Compared as sorted lists: a folder whose UIDs
   * Dovecot renumbered keeps our order.
   */
  async function expectSameAsSource(adapters: Adapters, user: string): Promise<void> {
    for (const [folder, target] of Object.entries(FOLDERS)) {
      const src = await sourceFolder(dovecot, IMAP_NAME(folder));
      const box = await adapters.index.getMailbox(user, target);
      expect(box, target).not.toBeNull();
      const ours = await adapters.index.listMessages(user, box!.id);
      const fingerprint = (raw: Buffer, flags: string[], date: number) =>
        `${createHash('sha256').update(raw).digest('hex')} ${[...flags].sort().join(' ')} ${date}`;
      const want = src.map((m) => fingerprint(m.source, m.flags, m.internalDate)).sort();
      const got: string[] = [];
      for (const m of ours) got.push(fingerprint(await adapters.blobs.get(m.blobKey), m.flags, m.internalDate));
      expect(got.sort(), `${folder || 'INBOX'} → ${target}`).toEqual(want);
    }
  }

  it('copies every folder byte-exact with flags, keywords and INTERNALDATE, special-use folders onto ours, and subscriptions', async () => {
    const res = await mailctl(dataDir, ['import', 'imap', 'alice@example.test', url, '--insecure', '--json'], { env: { IMPORT_PASSWORD: PASSWORD } });
    expect(res.code, res.stderr + res.stdout.slice(-2000)).toBe(0);
    const events = jsonLines(res.stdout);
    const summary = events.find((e) => e.event === 'summary')!;
    expect(summary.copied).toBe(corpusCount + 1);
    expect(summary.notCopied).toEqual([]);
    // Progress as JSON lines: a plan with the totals, then progress with rate and ETA.
    const plan = events.find((e) => e.event === 'plan')!;
    expect(plan.messages).toBe(corpusCount + 1);
    const progress = events.filter((e) => e.event === 'progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ messages: corpusCount + 1, ofMessages: corpusCount + 1 });
    expect(progress.at(-1)).toHaveProperty('etaSeconds');
    expect(progress.at(-1)).toHaveProperty('bytesPerSecond');

    const adapters = await createLocalAdapters({ dataDir });
    try {
      await expectSameAsSource(adapters, 'alice@example.test');
      // "Sent Items" went into our \Sent mailbox; no folder of that name was made.
      const names = (await adapters.index.listMailboxes('alice@example.test')).map((m) => m.name).sort();
      expect(names).not.toContain('Sent Items');
      expect(names).not.toContain('Deleted Items');
      expect(names).toContain('Work/Clients');
      expect(await adapters.index.listSubscriptions('alice@example.test')).toEqual(expect.arrayContaining(['INBOX', 'Sent', 'Work/Clients']));
      const state = JSON.parse((await adapters.blobs.get(importStateKey('alice@example.test', url))).toString());
      expect(state.folders['Sent Items']).toMatchObject({ target: 'Sent' });
      expect(state.folders.INBOX.lastUid).toBeGreaterThan(0);
    } finally {
      await adapters.close();
    }
  }, 300_000);

  it('a second run copies nothing; a message added at the source between runs is copied by the next run', async () => {
    const again = await mailctl(dataDir, ['import', 'imap', 'alice@example.test', url, '--insecure'], { input: `${PASSWORD}\n` });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^imported 0 messages/m);

    const added = Buffer.from('From: late@src.test\r\nTo: alice@src.test\r\nSubject: arrived later\r\nMessage-ID: <late@src.test>\r\n\r\nlate body\r\n');
    writeMaildirMessage(dovecot.maildir(SRC_USER), 'Work.Clients', added, {
      flags: ['\\Flagged'],
      keywords: ['Later'],
      date: new Date('2024-05-05T05:05:05Z'),
    });
    dovecot.fixOwnership();
    const third = await mailctl(dataDir, ['import', 'imap', 'alice@example.test', url, '--insecure', '--json'], { env: { IMPORT_PASSWORD: PASSWORD } });
    expect(third.code, third.stderr).toBe(0);
    const summary = jsonLines(third.stdout).find((e) => e.event === 'summary')!;
    expect(summary.copied).toBe(1);
    const adapters = await createLocalAdapters({ dataDir });
    try {
      await expectSameAsSource(adapters, 'alice@example.test');
    } finally {
      await adapters.close();
    }
  }, 300_000);

  it('a run killed with SIGKILL in the middle and run again ends with the same result and no duplicates', async () => {
    const child = spawn(process.execPath, [MAILCTL, 'import', 'imap', 'bob@example.test', url, '--insecure', '--json', '--connections', '1'], {
      env: { ...process.env, MAIL_DATA_DIR: dataDir, IMPORT_PASSWORD: PASSWORD },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const killed = await new Promise<boolean>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        // Killed once the first folder is done: the rest is under way.
        if (/"event":"folder-done"/.test(out) && child.exitCode === null) {
          child.kill('SIGKILL');
          resolve(true);
        }
      });
      child.on('exit', () => resolve(false));
    });
    expect(killed, 'the import was still running when killed').toBe(true);
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
    expect(child.signalCode).toBe('SIGKILL');

    const rerun = await mailctl(dataDir, ['import', 'imap', 'bob@example.test', url, '--insecure', '--json'], { env: { IMPORT_PASSWORD: PASSWORD } });
    expect(rerun.code, rerun.stderr).toBe(0);
    const summary = jsonLines(rerun.stdout).find((e) => e.event === 'summary')!;
    expect(summary.copied as number).toBeGreaterThan(0);
    expect(summary.copied as number).toBeLessThan(corpusCount + 2);
    const adapters = await createLocalAdapters({ dataDir });
    try {
      await expectSameAsSource(adapters, 'bob@example.test');
    } finally {
      await adapters.close();
    }
  }, 300_000);

  it('with its position lost, a rerun finds every message by its delivery key and copies none twice (invariant 2)', async () => {
    const adapters = await createLocalAdapters({ dataDir });
    await adapters.blobs.delete(importStateKey('alice@example.test', url));
    await adapters.close();
    const res = await mailctl(dataDir, ['import', 'imap', 'alice@example.test', url, '--insecure', '--json'], { env: { IMPORT_PASSWORD: PASSWORD } });
    expect(res.code, res.stderr).toBe(0);
    const summary = jsonLines(res.stdout).find((e) => e.event === 'summary')!;
    expect(summary.copied).toBe(0);
    expect(summary.present).toBe(corpusCount + 2);
    const again = await createLocalAdapters({ dataDir });
    try {
      await expectSameAsSource(again, 'alice@example.test');
    } finally {
      await again.close();
    }
  }, 300_000);

  it('a folder whose UIDVALIDITY changed is copied again with Message-ID, size and date de-duplication', async () => {
    // Dovecot gives a folder a new UIDVALIDITY when its uidlist and indexes are gone (as after a restore).
    const dir = path.join(dovecot.maildir(SRC_USER), '.Junk E-mail');
    for (const f of readdirSync(dir)) if (f.startsWith('dovecot-uidlist') || f.startsWith('dovecot.index')) rmSync(path.join(dir, f));
    const extra = Buffer.from('From: new@src.test\r\nSubject: after the reset\r\nMessage-ID: <reset@src.test>\r\n\r\nnew\r\n');
    writeMaildirMessage(dovecot.maildir(SRC_USER), 'Junk E-mail', extra, { date: new Date('2025-01-01T00:00:00Z') });
    dovecot.fixOwnership();
    const res = await mailctl(dataDir, ['import', 'imap', 'alice@example.test', url, '--insecure', '--json'], { env: { IMPORT_PASSWORD: PASSWORD } });
    expect(res.code, res.stderr).toBe(0);
    const summary = jsonLines(res.stdout).find((e) => e.event === 'summary') as {
      copied: number;
      folders: Array<{ folder: string; copied: number; present: number }>;
    };
    const junk = summary.folders.find((f) => f.folder === 'Junk E-mail')!;
    expect(junk.copied).toBe(1);
    expect(junk.present).toBeGreaterThan(10);
    expect(summary.copied).toBe(1);
    const adapters = await createLocalAdapters({ dataDir });
    try {
      await expectSameAsSource(adapters, 'alice@example.test');
    } finally {
      await adapters.close();
    }
  }, 300_000);

  it('imports into the AWS stores (DynamoDB, S3 on the emulator) with --aws, resuming from the state kept in S3', async () => {
    const clientConfig = emulatorClientConfig(inject('awsEndpoint'));
    const refs = await provisionAwsResources(clientConfig, uniquePrefix());
    try {
      const env = {
        ...awsResourceEnv(refs),
        AWS_ENDPOINT_URL: clientConfig.endpoint,
        AWS_REGION: clientConfig.region,
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        IMPORT_PASSWORD: PASSWORD,
      };
      const adapters = await createAwsAdapters({ refs, clientConfig });
      try {
        await adapters.index.addDomain('cloud.test');
        await createUser(adapters.index, 'dana@cloud.test', 'pw');
        const smallUrl = `imaps://${encodeURIComponent(SMALL_USER)}@127.0.0.1:${dovecot.imapsPort}`;
        const first = await mailctl(dataDir, ['--aws', 'import', 'imap', 'dana@cloud.test', smallUrl, '--insecure', '--json'], { env });
        expect(first.code, first.stderr).toBe(0);
        expect(jsonLines(first.stdout).find((e) => e.event === 'summary')!.copied).toBe(31);
        const second = await mailctl(dataDir, ['--aws', 'import', 'imap', 'dana@cloud.test', smallUrl, '--insecure', '--json'], { env });
        expect(second.code, second.stderr).toBe(0);
        expect(jsonLines(second.stdout).find((e) => e.event === 'summary')).toMatchObject({ copied: 0, present: 0 });
        expect(await adapters.blobs.exists(importStateKey('dana@cloud.test', smallUrl))).toBe(true);
        for (const [folder, target] of [
          ['INBOX', 'INBOX'],
          ['Sent Items', 'Sent'],
          ['Work.Clients', 'Work/Clients'],
        ]) {
          const src = await sourceFolder(dovecot, folder, SMALL_USER);
          const box = (await adapters.index.getMailbox('dana@cloud.test', target))!;
          const ours = await adapters.index.listMessages('dana@cloud.test', box.id);
          expect(ours.length).toBe(src.length);
          for (let k = 0; k < src.length; k++) {
            expect((await adapters.blobs.get(ours[k].blobKey)).equals(src[k].source)).toBe(true);
            expect([...ours[k].flags].sort()).toEqual(src[k].flags);
            expect(ours[k].internalDate).toBe(src[k].internalDate);
          }
        }
      } finally {
        await adapters.close();
      }
    } finally {
      await destroyAwsResources(clientConfig, refs).catch(() => {});
    }
  }, 300_000);

  it('streams big messages: importing six 25 MiB messages peaks less than four copies above importing one of them (peak RSS)', async () => {
    const peak = async (source: string, user: string) => {
      const res = await mailctl(
        dataDir,
        ['import', 'imap', user, `imaps://${encodeURIComponent(source)}@127.0.0.1:${dovecot.imapsPort}`, '--insecure', '--json', '--connections', '1'],
        {
          env: { IMPORT_PASSWORD: PASSWORD },
        },
      );
      expect(res.code, res.stderr).toBe(0);
      return jsonLines(res.stdout).find((e) => e.event === 'summary') as { copied: number; peakRssBytes: number };
    };
    // The baseline is one 25 MiB message: what a process holds for one message in flight is
    // counted on both sides, so the difference is what more messages add (little, when streamed).
    const one = await peak(ONE_BIG_USER, 'erin@example.test');
    expect(one.copied).toBe(1);
    const bigRun = await peak(BIG_USER, 'dave@example.test');
    expect(bigRun.copied).toBe(6);
    expect(bigRun.peakRssBytes - one.peakRssBytes).toBeLessThan(4 * 25 * MiB);
  }, 300_000);

  it('a wrong password is a one-line error naming the source login, and nothing is written', async () => {
    const res = await mailctl(dataDir, ['import', 'imap', 'carol@example.test', url, '--insecure'], { env: { IMPORT_PASSWORD: 'wrong' } });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`the source refused the login of ${SRC_USER}`);
    const bad = await mailctl(dataDir, ['import', 'imap', 'carol@example.test', 'imaps://user:pw@host'], {});
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('must not hold the password');
    const adapters = await createLocalAdapters({ dataDir });
    try {
      const inbox = (await adapters.index.getMailbox('carol@example.test', 'INBOX'))!;
      expect(inbox.messageCount).toBe(0);
    } finally {
      await adapters.close();
    }
  }, 60_000);
});
