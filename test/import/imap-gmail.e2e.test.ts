/**
 * `mailctl import imap` from a server laid out like Gmail (Dovecot with `/` as separator and
 * Gmail's folders): labels are folders, `[Gmail]/All Mail` (\All) holds every message again,
 * `[Gmail]/Starred` (\Flagged) is a view. All Mail goes to Archive, de-duplicated by
 * Message-ID, size and date against what the other folders brought; Starred is skipped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createUser } from '#core/accounts/accounts.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { describeWithDovecot, startDovecot, writeMaildirMessage, type Dovecot } from '../support/dovecot.ts';
import { run } from '../support/clients.ts';

const MAILCTL = path.resolve(import.meta.dirname, '../../bin/mailctl.js');
const SRC_USER = 'me@gmail.test';

const message = (id: string) => Buffer.from(`From: x@y.test\r\nSubject: message ${id}\r\nMessage-ID: <${id}@gmail.test>\r\n\r\nbody ${id}\r\n`);

describeWithDovecot('mailctl import imap from a Gmail-like account', () => {
  let dovecot: Dovecot;
  let dataDir: string;

  beforeAll(async () => {
    dovecot = await startDovecot(
      [{ user: SRC_USER, password: 'pw' }],
      { '[Gmail]/All Mail': '\\All', '[Gmail]/Sent Mail': '\\Sent', '[Gmail]/Starred': '\\Flagged' },
      '',
      '/',
    );
    const md = dovecot.maildir(SRC_USER);
    // On disk Maildir++ keeps '.' between levels whatever the IMAP separator.
    const layout: Record<string, string[]> = {
      '': ['a', 'b', 'c', 'd', 'e'],
      Label1: ['f', 'g', 'h'],
      '[Gmail].Sent Mail': ['i', 'j'],
      '[Gmail].Starred': ['a', 'f'],
    };
    const all = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'];
    const date = (id: string) => new Date(Date.UTC(2022, 0, 1 + id.charCodeAt(0) - 97));
    for (const [folder, ids] of Object.entries(layout))
      for (const id of ids) writeMaildirMessage(md, folder, message(id), { date: date(id), flags: ['\\Seen'] });
    for (const id of all) writeMaildirMessage(md, '[Gmail].All Mail', message(id), { date: date(id), flags: ['\\Seen'] });
    dovecot.fixOwnership();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'import-gmail-'));
    const adapters = await createLocalAdapters({ dataDir });
    await adapters.index.addDomain('example.test');
    await createUser(adapters.index, 'ivy@example.test', 'pw');
    await createUser(adapters.index, 'jay@example.test', 'pw');
    await adapters.close();
  }, 120_000);

  afterAll(async () => {
    await dovecot?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('labels become folders, All Mail brings only what no label had into Archive, Starred is skipped', async () => {
    const url = `imaps://${encodeURIComponent(SRC_USER)}@127.0.0.1:${dovecot.imapsPort}`;
    const res = await run(process.execPath, [MAILCTL, 'import', 'imap', 'ivy@example.test', url, '--insecure'], {
      env: { ...process.env, MAIL_DATA_DIR: dataDir, IMPORT_PASSWORD: 'pw' },
      timeoutMs: 120_000,
    });
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.stdout).toMatch(/^\[Gmail\]\/All Mail\tArchive\t2\t10\t0\t/m);
    expect(res.stdout).toMatch(/^skipped folder \[Gmail\]\/Starred: a view of messages kept in other folders/m);
    const adapters = await createLocalAdapters({ dataDir });
    try {
      const subjects = async (name: string) => {
        const box = (await adapters.index.getMailbox('ivy@example.test', name))!;
        return (await adapters.index.listMessages('ivy@example.test', box.id, { withMeta: true })).map((m) => m.meta!.envelope.subject).sort();
      };
      expect(await subjects('INBOX')).toEqual(['a', 'b', 'c', 'd', 'e'].map((i) => `message ${i}`));
      expect(await subjects('Label1')).toEqual(['f', 'g', 'h'].map((i) => `message ${i}`));
      expect(await subjects('Sent')).toEqual(['i', 'j'].map((i) => `message ${i}`));
      expect(await subjects('Archive')).toEqual(['k', 'l'].map((i) => `message ${i}`));
      expect(await adapters.index.getMailbox('ivy@example.test', '[Gmail]/Starred')).toBeNull();
    } finally {
      await adapters.close();
    }
  }, 120_000);

  it('on a terminal shows a live progress line (rewritten in place) and then the summary', async () => {
    const url = `imaps://${encodeURIComponent(SRC_USER)}@127.0.0.1:${dovecot.imapsPort}`;
    // util-linux script(1) gives mailctl a pseudo-terminal.
    const res = await run('script', ['-qec', `${process.execPath} ${MAILCTL} import imap jay@example.test ${url} --insecure`, '/dev/null'], {
      env: { ...process.env, MAIL_DATA_DIR: dataDir, IMPORT_PASSWORD: 'pw' },
      timeoutMs: 120_000,
    });
    expect(res.code, res.stdout).toBe(0);
    // Each line starts with CR and ESC [K (erase the line), then the bar.
    expect(res.stdout).toContain('\r\u001b[K[');
    expect(res.stdout).toMatch(/\[#+\.*\] \d+% \d+\/\d+ msgs, [\d.]+\/[\d.]+ MiB, \d+ msg\/s [\d.]+ MiB\/s, ETA /);
    expect(res.stdout).toMatch(/imported 12 messages/);
  }, 120_000);
});
