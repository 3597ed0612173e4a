/**
 * `mailctl export mbox|maildir` then `mailctl import mbox|maildir` into another user: the same
 * messages, byte for byte, with the same flags, keywords and INTERNALDATE (to the second), in
 * the same mailboxes; mboxrd/mboxo `From ` escaping (RFC 4155 and mbox(5)); reruns add nothing.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '#core/accounts/accounts.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { readMbox } from '#core/import/mbox-format.ts';
import { appendToMailbox } from '#core/mailbox/writes.ts';
import { toCanonicalCrlf } from '#core/mime/crlf.ts';
import { corpusFiles } from '../support/corpus.ts';
import { run } from '../support/clients.ts';

const MAILCTL = path.resolve(import.meta.dirname, '../../bin/mailctl.js');

/** Messages whose body lines look like mbox separators, and one without a final line break. */
const TRICKY = [
  'From: a@x.test\r\nSubject: from lines\r\n\r\nFrom here on\r\n>From there\r\n>>From far away\r\nFrom\r\n',
  'From: b@x.test\r\nSubject: no final line break\r\n\r\nlast line',
  'From: c@x.test\r\nSubject: empty lines at the end\r\n\r\nbody\r\n\r\n\r\n',
].map((s) => Buffer.from(s));

async function snapshot(adapters: Adapters, user: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const box of await adapters.index.listMailboxes(user)) {
    const rows: string[] = [];
    for (const m of await adapters.index.listMessages(user, box.id)) {
      const raw = await adapters.blobs.get(m.blobKey);
      rows.push(`${raw.toString('base64')} ${[...m.flags].sort().join(' ')} ${Math.floor(m.internalDate / 1000)}`);
    }
    if (rows.length) out[box.name] = rows;
  }
  return out;
}

describe('mailctl export and import of mbox and Maildir', () => {
  let dataDir: string;
  let work: string;
  const ctl = (args: string[]) => run(process.execPath, [MAILCTL, ...args], { env: { ...process.env, MAIL_DATA_DIR: dataDir }, timeoutMs: 120_000 });
  let expected: Record<string, string[]>;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'export-'));
    work = mkdtempSync(path.join(os.tmpdir(), 'export-files-'));
    const adapters = await createLocalAdapters({ dataDir });
    await adapters.index.addDomain('example.test');
    for (const u of ['alice', 'bob', 'carol', 'dave']) await createUser(adapters.index, `${u}@example.test`, 'pw');
    await adapters.index.createMailbox('alice@example.test', 'Work');
    await adapters.index.createMailbox('alice@example.test', 'Work/Clients');
    const boxes = ['INBOX', 'Sent', 'Work/Clients', 'Trash', 'Work'];
    const messages = [...TRICKY, ...corpusFiles().map((f) => toCanonicalCrlf(f.raw))].slice(0, 80);
    for (const [i, raw] of messages.entries()) {
      const flags = [
        i % 2 === 0 && '\\Seen',
        i % 3 === 0 && '\\Flagged',
        i % 5 === 0 && '\\Answered',
        i % 7 === 0 && '\\Deleted',
        i % 4 === 0 && '$Forwarded',
        i % 6 === 0 && 'Project-X',
      ].filter((f): f is string => Boolean(f));
      await appendToMailbox(adapters, 'alice@example.test', boxes[i % boxes.length], raw, { flags, internalDate: Date.UTC(2020, 1, 1) + i * 61_000 });
    }
    expected = await snapshot(adapters, 'alice@example.test');
    await adapters.close();
  });

  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('a Maildir export imported into another user is byte-exact, with flags, keywords, dates and folders; a rerun adds nothing', async () => {
    const dir = path.join(work, 'maildir');
    const exp = await ctl(['export', 'maildir', 'alice@example.test', dir]);
    expect(exp.code, exp.stderr).toBe(0);
    expect(exp.stdout).toMatch(/^exported 80 messages of alice@example.test/m);
    const imp = await ctl(['import', 'maildir', 'bob@example.test', dir, '--json']);
    expect(imp.code, imp.stderr).toBe(0);
    const adapters = await createLocalAdapters({ dataDir });
    try {
      expect(await snapshot(adapters, 'bob@example.test')).toEqual(expected);
    } finally {
      await adapters.close();
    }
    const again = await ctl(['import', 'maildir', 'bob@example.test', dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^imported 0 messages .*: 80 already present/m);
  });

  it('an mbox export (mboxrd) imported into another user is byte-exact, with flags and dates, per mailbox and for one mailbox', async () => {
    const dir = path.join(work, 'mbox');
    const exp = await ctl(['export', 'mbox', 'alice@example.test', dir]);
    expect(exp.code, exp.stderr).toBe(0);
    const written = readFileSync(path.join(dir, 'INBOX.mbox'), 'latin1');
    // The body line "From here on" is escaped; ">From there" gets one more ">" (mboxrd).
    expect(written).toContain('\n>From here on\r\n>>From there\r\n>>>From far away\r\n');
    expect(written).toMatch(/^From a@x\.test Sat Feb {2}1 00:00:00 2020\nStatus: RO\nX-Status: AFD\nX-Keywords: \$Forwarded Project-X\n/);
    for (const name of Object.keys(expected)) {
      const file = path.join(dir, ...name.split('/')) + '.mbox';
      const imp = await ctl(['import', 'mbox', 'carol@example.test', file, '--mailbox', name]);
      expect(imp.code, imp.stderr).toBe(0);
    }
    const one = path.join(work, 'clients.mbox');
    expect((await ctl(['export', 'mbox', 'alice@example.test', one, '--mailbox', 'Work/Clients'])).code).toBe(0);
    expect((await ctl(['import', 'mbox', 'dave@example.test', one, '--mailbox', 'Imported/Clients'])).code).toBe(0);
    const adapters = await createLocalAdapters({ dataDir });
    try {
      expect(await snapshot(adapters, 'carol@example.test')).toEqual(expected);
      expect((await snapshot(adapters, 'dave@example.test'))['Imported/Clients']).toEqual(expected['Work/Clients']);
    } finally {
      await adapters.close();
    }
    const again = await ctl(['import', 'mbox', 'dave@example.test', one, '--mailbox', 'Imported/Clients']);
    expect(again.stdout).toMatch(/^imported 0 messages/m);
  });

  it('bad input is a clear error: a missing file, a directory that is not a Maildir, an unknown mailbox', async () => {
    const missing = await ctl(['import', 'mbox', 'bob@example.test', path.join(work, 'nope.mbox')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no such file');
    const notMaildir = await ctl(['import', 'maildir', 'bob@example.test', work]);
    expect(notMaildir.code).toBe(1);
    expect(notMaildir.stderr).toContain('not a Maildir');
    const noBox = await ctl(['export', 'mbox', 'alice@example.test', path.join(work, 'x.mbox'), '--mailbox', 'Nope']);
    expect(noBox.code).toBe(1);
    expect(noBox.stderr).toContain('no mailbox Nope');
    const format = await ctl(['import', 'mbox', 'bob@example.test', path.join(work, 'clients.mbox'), '--format', 'mbox9']);
    expect(format.code).toBe(2);
  });
});

/** The bytes in small chunks, so lines cross chunk boundaries. */
async function* chunks(buf: Buffer): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += 7) yield buf.subarray(i, i + 7);
}

describe('mbox reading', () => {
  const messages = async (text: string, format: 'mboxrd' | 'mboxo') => {
    const out: Array<{ raw: string; flags: string[]; date: number | null }> = [];
    for await (const m of readMbox(chunks(Buffer.from(text, 'latin1')), format))
      out.push({ raw: m.raw.toString('latin1'), flags: m.flags, date: m.internalDate });
    return out;
  };
  const file =
    'From x@y Mon Jan  6 10:00:00 2020\nSubject: one\nStatus: RO\nX-Status: A\n\n>From a\n>>From b\n\nFrom z@y Tue Jan  7 11:12:13 2020\nSubject: two\n\nend\n\n';

  it('mboxrd takes one ">" off every ">*From " line; mboxo only off ">From "; the separating empty line is dropped', async () => {
    const rd = await messages(file, 'mboxrd');
    expect(rd.map((m) => m.raw)).toEqual(['Subject: one\nStatus: RO\nX-Status: A\n\nFrom a\n>From b\n', 'Subject: two\n\nend\n']);
    const o = await messages(file, 'mboxo');
    expect(o[0].raw).toBe('Subject: one\nStatus: RO\nX-Status: A\n\nFrom a\n>>From b\n');
  });

  it('takes flags from Status/X-Status/X-Keywords anywhere in the header (kept in the bytes there) and the date from the From line', async () => {
    const [one, two] = await messages(file, 'mboxrd');
    expect(one.flags.sort()).toEqual(['\\Answered', '\\Seen']);
    expect(one.date).toBe(Date.UTC(2020, 0, 6, 10, 0, 0));
    expect(two.date).toBe(Date.UTC(2020, 0, 7, 11, 12, 13));
    expect(two.flags).toEqual([]);
  });

  it('an LF-only Maildir file is stored with CRLF line ends, like every message here', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'maildir-lf-'));
    const md = path.join(dataDir, 'md');
    try {
      for (const sub of ['cur', 'new', 'tmp']) (await import('node:fs')).mkdirSync(path.join(md, sub), { recursive: true });
      writeFileSync(path.join(md, 'new', '1700000000.M1.host'), 'Subject: lf\n\nbody\n');
      const adapters = await createLocalAdapters({ dataDir: path.join(dataDir, 'store') });
      await adapters.index.addDomain('example.test');
      await createUser(adapters.index, 'eve@example.test', 'pw');
      const { importMaildir } = await import('#core/import/file-import.ts');
      expect((await importMaildir(adapters, 'eve@example.test', md)).copied).toBe(1);
      const inbox = (await adapters.index.getMailbox('eve@example.test', 'INBOX'))!;
      const [m] = await adapters.index.listMessages('eve@example.test', inbox.id);
      expect((await adapters.blobs.get(m.blobKey)).toString()).toBe('Subject: lf\r\n\r\nbody\r\n');
      expect(m.flags).toEqual([]);
      await adapters.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
