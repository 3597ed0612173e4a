/**
 * RFC 5321 §4.5.1: mail to `postmaster` (bare, and at each local domain) is accepted and
 * delivered to the domain's postmaster address; RFC 5321 §4.1.2: a quoted local part that
 * names a user is that user. MX and submission, with Python's smtplib, on both adapter sets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '#core/accounts/accounts.ts';
import { resolvePostmaster } from '#core/accounts/postmaster.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { python } from '../support/clients.ts';
import { LineClient } from '../support/line-client.ts';
import { ADAPTER_KINDS, eventually, startTestSystem, type TestSystem } from '../support/mail-system.ts';

/** Sends one message with raw MAIL/RCPT commands (smtplib would unquote addresses itself). */
const SMTPLIB_RAW = `
import smtplib, sys, json
port, user, password, sender = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
rcpts = json.loads(sys.argv[5])
data = sys.stdin.buffer.read()
with smtplib.SMTP('127.0.0.1', port, timeout=20) as s:
    s.ehlo('client.test')
    if user: s.login(user, password)
    print('mail', *s.docmd('MAIL FROM:<%s>' % sender))
    for r in rcpts: print('rcpt', r, *s.docmd('RCPT TO:<%s>' % r))
    print('data', *s.data(data))
`;

async function send(port: number, sender: string, rcpts: string[], subject: string, auth: [string, string] = ['', '']): Promise<string> {
  const msg = `From: ${sender.replaceAll('"', '')}\r\nTo: postmaster\r\nSubject: ${subject}\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@client.test>\r\n\r\nhello postmaster\r\n`;
  const r = await python(SMTPLIB_RAW, [String(port), auth[0], auth[1], sender, JSON.stringify(rcpts)], { input: msg });
  return r.stdout + r.stderr;
}

async function subjects(ts: TestSystem, user: string): Promise<string[]> {
  const mb = await ts.adapters.index.getMailbox(user, 'INBOX');
  return (await ts.adapters.index.listMessages(user, mb!.id, { withMeta: true })).map((m) => m.meta!.envelope.subject ?? '');
}

for (const kind of ADAPTER_KINDS) {
  describe(`postmaster and quoted local parts (${kind} adapters)`, () => {
    let ts: TestSystem;
    beforeAll(async () => {
      // Bare postmaster belongs to the local domain MAIL_HOSTNAME is in: other.test here.
      ts = await startTestSystem({ adapters: kind, env: { MAIL_HOSTNAME: 'mx.other.test' } });
      await ts.addUser('alice@example.test', 'alice-pw'); // example.test's first user
      await ts.addUser('bob@example.test', 'bob-pw');
      await ts.adapters.index.addDomain('other.test', { postmaster: 'bob@example.test' });
      await ts.adapters.index.addDomain('empty.test');
    }, 60_000);
    afterAll(() => ts?.stop());

    it('MX: RCPT TO:<postmaster> and <postmaster@each local domain> are accepted and delivered to the postmaster address (RFC 5321 §4.5.1)', async () => {
      const out = await send(
        ts.port('smtp-mx'),
        'sender@remote.test',
        ['postmaster', 'postmaster@example.test', 'PostMaster@Other.Test'],
        'to the postmasters',
      );
      expect(out).toContain('rcpt postmaster 250');
      expect(out).toContain('rcpt postmaster@example.test 250');
      expect(out).toContain('rcpt PostMaster@Other.Test 250');
      expect(out).toMatch(/data 250/);
      // example.test has no postmaster set: its first user gets it; other.test's is bob, and so
      // is bare postmaster's (MAIL_HOSTNAME mx.other.test). One copy per mailbox.
      expect(
        await eventually(async () =>
          (await subjects(ts, 'alice@example.test')).includes('to the postmasters') ? await subjects(ts, 'alice@example.test') : null,
        ),
      ).toEqual(['to the postmasters']);
      expect(
        await eventually(async () => ((await subjects(ts, 'bob@example.test')).includes('to the postmasters') ? await subjects(ts, 'bob@example.test') : null)),
      ).toEqual(['to the postmasters']);
    });

    it('MX: a changed postmaster address takes effect; postmaster of a foreign domain is relaying; a domain with no mailbox at all refuses it', async () => {
      await ts.adapters.index.setDomainPostmaster('example.test', 'bob@example.test');
      const out = await send(ts.port('smtp-mx'), 'sender@remote.test', ['postmaster@example.test'], 'changed postmaster');
      expect(out).toContain('rcpt postmaster@example.test 250');
      await eventually(async () => (await subjects(ts, 'bob@example.test')).includes('changed postmaster'));
      expect(await subjects(ts, 'alice@example.test')).not.toContain('changed postmaster');
      await ts.adapters.index.setDomainPostmaster('example.test', null);

      const c = await LineClient.connect(ts.port('smtp-mx'));
      await c.smtpReply();
      await c.send('EHLO client.test');
      expect(await c.send('MAIL FROM:<sender@remote.test>')).toMatch(/^250/);
      expect(await c.send('RCPT TO:<postmaster@elsewhere.test>')).toMatch(/^550 5\.7\.1 /);
      expect(await c.send('RCPT TO:<postmaster@empty.test>')).toBe('550 5.1.1 No postmaster mailbox here');
      c.close();
    });

    it('MX: a quoted local part is the same mailbox, "alice"@example.test is alice@example.test (RFC 5321 §4.1.2)', async () => {
      const out = await send(ts.port('smtp-mx'), '"sender"@remote.test', ['"alice"@example.test', '"al\\ice"@example.test', '"nobody"@example.test'], 'quoted');
      expect(out).toContain('mail 250');
      expect(out).toContain('rcpt "alice"@example.test 250');
      expect(out).toContain('rcpt "al\\ice"@example.test 250');
      expect(out).toMatch(/rcpt "nobody"@example\.test 550 b?'?5\.1\.1/);
      const got = await eventually(async () =>
        (await subjects(ts, 'alice@example.test')).includes('quoted') ? await subjects(ts, 'alice@example.test') : null,
      );
      expect(got.filter((s) => s === 'quoted')).toHaveLength(1);
    });

    it('submission: postmaster of a local domain and quoted local parts reach their mailboxes; MAIL FROM may be quoted', async () => {
      const out = await send(ts.port('submission'), '"alice"@example.test', ['postmaster@other.test', '"bob"@example.test'], 'submitted to postmaster', [
        'alice@example.test',
        'alice-pw',
      ]);
      expect(out).toContain('mail 250');
      expect(out).toContain('rcpt postmaster@other.test 250');
      expect(out).toContain('rcpt "bob"@example.test 250');
      expect(out).toMatch(/data 250/);
      const got = await eventually(async () =>
        (await subjects(ts, 'bob@example.test')).includes('submitted to postmaster') ? await subjects(ts, 'bob@example.test') : null,
      );
      expect(got.filter((s) => s === 'submitted to postmaster')).toHaveLength(1);
    });
  });
}

describe('where postmaster mail goes (core/accounts/postmaster.ts)', () => {
  let dir: string;
  let adapters: Adapters;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'postmaster-'));
    adapters = await createLocalAdapters({ dataDir: dir });
  });
  afterAll(async () => {
    await adapters.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a postmaster user, else the domain setting, else POSTMASTER_ADDRESS, else the first user; a setting that cannot be delivered is skipped', async () => {
    const ix = adapters.index;
    await ix.addDomain('a.test');
    expect(await resolvePostmaster(ix, 'a.test', null)).toBeNull(); // no user, nothing set
    expect(await resolvePostmaster(ix, 'nope.test', 'x@a.test')).toBeNull(); // not a local domain
    await createUser(ix, 'zed@a.test', 'pw');
    await new Promise((r) => setTimeout(r, 5));
    await createUser(ix, 'amy@a.test', 'pw');
    expect(await resolvePostmaster(ix, 'a.test', null)).toBe('zed@a.test'); // created first
    expect(await resolvePostmaster(ix, 'a.test', 'amy@a.test')).toBe('amy@a.test');
    expect(await resolvePostmaster(ix, 'a.test', 'ghost@a.test')).toBe('zed@a.test'); // no such user: skipped
    expect(await resolvePostmaster(ix, 'a.test', 'admin@remote.test')).toBe('admin@remote.test'); // forwarded
    await ix.setDomainPostmaster('a.test', 'amy@a.test');
    expect(await resolvePostmaster(ix, 'a.test', 'zed@a.test')).toBe('amy@a.test');
    await createUser(ix, 'postmaster@a.test', 'pw');
    expect(await resolvePostmaster(ix, 'a.test', null)).toBe('postmaster@a.test');
  });
});
