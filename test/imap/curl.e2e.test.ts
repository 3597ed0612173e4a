/** curl (a client we did not write): imap:// and imaps:// listing, fetching, searching, appending. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/clients.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

describe('curl against the IMAP server', () => {
  let sys: ImapTestSystem;
  let dir: string;
  const msg = sampleMessage('For curl', 'curl body\r\n');
  beforeAll(async () => {
    sys = await startImapSystem('local');
    await sys.deliver(msg);
    dir = mkdtempSync(path.join(os.tmpdir(), 'imap-curl-'));
  });
  afterAll(async () => {
    await sys?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const curl = (url: string, ...args: string[]) =>
    run('curl', ['-sS', '--max-time', '10', '--user', `${sys.user}:${sys.password}`, ...args, url], { timeoutMs: 15_000 });

  it('lists mailboxes over imap://', async () => {
    const r = await curl(`imap://127.0.0.1:${sys.port}/`);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('* LIST (\\HasNoChildren) "/" "INBOX"');
    expect(r.stdout).toContain('* LIST (\\HasNoChildren \\Trash) "/" "Trash"');
  });

  it('fetches a message by UID byte-exact over imaps:// and after STARTTLS', async () => {
    const r = await run('curl', ['-sSk', '--max-time', '10', '--user', `${sys.user}:${sys.password}`, `imaps://127.0.0.1:${sys.tlsPort}/INBOX;UID=1`], {
      timeoutMs: 15_000,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(msg.toString());
    const s = await run(
      'curl',
      [
        '-sSk',
        '--ssl-reqd',
        '--max-time',
        '10',
        '--user',
        `${sys.user}:${sys.password}`,
        `imap://127.0.0.1:${sys.port}/INBOX;UID=1;SECTION=HEADER.FIELDS%20(SUBJECT)`,
      ],
      { timeoutMs: 15_000 },
    );
    expect(s.code).toBe(0);
    expect(s.stdout).toBe('Subject: For curl\r\n\r\n');
  });

  it('searches and runs custom commands', async () => {
    const r = await curl(`imap://127.0.0.1:${sys.port}/INBOX?SUBJECT%20curl`);
    expect(r.stdout.trim()).toBe('* SEARCH 1');
    const x = await curl(`imap://127.0.0.1:${sys.port}/INBOX`, '-X', 'FETCH 1 (FLAGS RFC822.SIZE)');
    expect(x.stdout.trim()).toBe(`* 1 FETCH (FLAGS (\\Seen) RFC822.SIZE ${msg.length})`);
  });

  it('appends an upload to a mailbox (APPEND)', async () => {
    const file = path.join(dir, 'up.eml');
    const up = sampleMessage('Uploaded by curl', 'uploaded\r\n');
    writeFileSync(file, up);
    const r = await curl(`imap://127.0.0.1:${sys.port}/Drafts`, '-T', file);
    expect(r.code).toBe(0);
    expect(await sys.uids('Drafts')).toEqual([1]);
    const back = await curl(`imap://127.0.0.1:${sys.port}/Drafts;UID=1`);
    expect(back.stdout).toBe(up.toString());
  });

  it('fails cleanly on a wrong password', async () => {
    const r = await run('curl', ['-sS', '--max-time', '10', '--user', `${sys.user}:wrong`, `imap://127.0.0.1:${sys.port}/`], { timeoutMs: 15_000 });
    expect(r.code).toBe(67); // CURLE_LOGIN_DENIED
  });
});
