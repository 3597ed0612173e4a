/**
 * mbsync (isync, a client we did not write): two-way sync between our server and a local
 * Maildir — messages down, new local messages up (APPEND with UIDPLUS), flags both ways,
 * deletions expunged on both sides.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/clients.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

/** mbsync stores messages locally with LF line ends and its own X-TUID header: compare without those. */
function norm(b: Buffer): string {
  return b
    .toString('latin1')
    .replace(/\r\n/g, '\n')
    .replace(/^X-TUID: .*\n/m, '');
}

function maildirFiles(dir: string): string[] {
  return ['new', 'cur'].flatMap((d) => readdirSync(path.join(dir, d)).map((f) => path.join(dir, d, f)));
}

describe('mbsync two-way sync', () => {
  let sys: ImapTestSystem;
  let dir: string;
  let rc: string;
  beforeAll(async () => {
    sys = await startImapSystem('local');
    dir = mkdtempSync(path.join(os.tmpdir(), 'imap-mbsync-'));
    mkdirSync(path.join(dir, 'mail'));
    rc = path.join(dir, 'mbsyncrc');
    writeFileSync(
      rc,
      [
        'IMAPAccount test',
        'Host 127.0.0.1',
        `Port ${sys.port}`,
        `User ${sys.user}`,
        `Pass "${sys.password}"`,
        'SSLType None',
        'AuthMechs LOGIN',
        '',
        'IMAPStore remote',
        'Account test',
        '',
        'MaildirStore local',
        `Path ${path.join(dir, 'mail')}/`,
        `Inbox ${path.join(dir, 'mail', 'INBOX')}`,
        'SubFolders Verbatim',
        '',
        'Channel sync',
        'Far :remote:',
        'Near :local:',
        'Patterns INBOX Archive',
        'Create Both',
        'Expunge Both',
        'SyncState *',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await sys?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const mbsync = () => run('mbsync', ['-c', rc, '-a'], { timeoutMs: 30_000, env: { ...process.env, HOME: dir } });

  it('pulls, pushes and reconciles flags and deletions', async () => {
    const m1 = sampleMessage('one');
    const m2 = sampleMessage('two');
    const m3 = sampleMessage('three');
    for (const m of [m1, m2, m3]) await sys.deliver(m);
    await sys.deliver(sampleMessage('archived'), 'Archive');

    let r = await mbsync();
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const inbox = path.join(dir, 'mail', 'INBOX');
    let files = maildirFiles(inbox);
    expect(files.map((f) => norm(readFileSync(f))).sort()).toEqual([m1, m2, m3].map(norm).sort());
    expect(maildirFiles(path.join(dir, 'mail', 'Archive'))).toHaveLength(1);

    // Local changes: mark "one" seen, trash "two", write a new message.
    const byBody = (m: Buffer) => files.find((f) => norm(readFileSync(f)) === norm(m))!;
    const one = byBody(m1);
    const two = byBody(m2);
    renameSync(one, path.join(inbox, 'cur', path.basename(one).replace(/(:2,.*)?$/, ':2,S')));
    renameSync(two, path.join(inbox, 'cur', path.basename(two).replace(/(:2,.*)?$/, ':2,T')));
    const local = sampleMessage('written locally');
    writeFileSync(path.join(inbox, 'new', `${Date.now()}.local.test`), local);
    // A server-side change: a new message.
    const m4 = sampleMessage('four');
    await sys.deliver(m4);

    r = await mbsync();
    expect(r.code).toBe(0);
    const { index } = sys.ts.adapters;
    const mb = (await index.getMailbox(sys.user, 'INBOX'))!;
    const recs = await index.listMessages(sys.user, mb.id);
    const blobs = await Promise.all(recs.map((x) => sys.ts.adapters.blobs.get(x.blobKey)));
    const subjects = blobs.map((b) => /Subject: (.*)\r\n/.exec(b.toString())![1]).sort();
    expect(subjects).toEqual(['four', 'one', 'three', 'written locally']);
    const oneRec = recs[blobs.findIndex((b) => b.equals(m1))];
    expect(oneRec.flags).toContain('\\Seen');
    // The locally written message arrived (mbsync always adds its X-TUID header to what it copies).
    expect(blobs.some((b) => norm(b) === norm(local))).toBe(true);
    files = maildirFiles(inbox);
    expect(files.some((f) => norm(readFileSync(f)) === norm(m4))).toBe(true);
    expect(files).toHaveLength(4);

    // A third run has nothing to do and changes nothing.
    r = await mbsync();
    expect(r.code).toBe(0);
    expect(maildirFiles(inbox)).toHaveLength(4);
    expect(await sys.uids('INBOX')).toHaveLength(4);
  });
});
