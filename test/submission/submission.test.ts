/**
 * The submission listeners (RFC 6409, RFC 8314, RFC 4954): TLS before AUTH, AUTH PLAIN and
 * LOGIN, sending only as yourself (envelope and From:), Message-ID/Date fix-ups, size limit,
 * auth throttling per client and per account, and no relay without AUTH (invariant 4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/clients.ts';
import { smtplibSend } from '../support/smtplib.ts';
import { LineClient } from '../support/line-client.ts';
import { eventually, startTestSystem, type TestSystem } from '../support/mail-system.ts';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

async function inbox(sys: TestSystem, user: string): Promise<string[]> {
  const mb = await sys.adapters.index.getMailbox(user, 'INBOX');
  const msgs = await sys.adapters.index.listMessages(user, mb!.id);
  return Promise.all(msgs.map(async (m) => (await sys.adapters.blobs.get(m.blobKey)).toString('utf8')));
}

/** alice@a.test submits over plaintext on loopback (allowed by MAIL_ALLOW_PLAINTEXT_LOOPBACK), or implicit TLS (SMTP_SSL). */
function submitAsAlice(port: number, from: string, to: string, data: string, tls?: 'implicit') {
  return smtplibSend({ port, tls, auth: { user: 'alice@a.test', password: 'alice-pw' }, from, to: [to], data });
}

describe('submission: TLS is required before AUTH (RFC 3207, RFC 8314)', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem({ env: { MAIL_ALLOW_PLAINTEXT_LOOPBACK: 'false', MAIL_HOSTNAME: 'mx.a.test' } });
    await sys.addUser('alice@a.test', 'alice-pw');
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('refuses AUTH before STARTTLS and mail before AUTH (530 5.7.0)', async () => {
    const c = await LineClient.connect(sys.port('submission'));
    expect(await c.smtpReply()).toMatch(/^220 mx\.a\.test /);
    const ehlo = await c.send('EHLO client.test');
    expect(ehlo).toContain('STARTTLS');
    // RFC 4954 §4: AUTH is not offered where it would be refused, so no client sends a password in clear.
    expect(ehlo).not.toMatch(/AUTH/);
    expect(await c.send(`AUTH PLAIN ${b64('\0alice@a.test\0alice-pw')}`)).toBe('530 5.7.0 Must issue a STARTTLS command first');
    expect(await c.send('AUTH LOGIN')).toBe('530 5.7.0 Must issue a STARTTLS command first');
    expect(await c.send('MAIL FROM:<alice@a.test>')).toMatch(/^530 5\.7\.0 Authentication required/);
    expect(await c.send('RCPT TO:<bob@b.test>')).toMatch(/^5\d\d /);
    expect(await c.send('QUIT')).toMatch(/^221 /);
    c.close();
  });

  it('gives smtplib no chance to send the password before TLS', async () => {
    const r = await smtplibSend({ port: sys.port('submission'), auth: { user: 'alice@a.test', password: 'alice-pw' } });
    expect(r.outcome, r.stderr).toEqual({ error: 'not-supported', message: 'SMTP AUTH extension not supported by server.' });
  });

  it('accepts AUTH after STARTTLS (smtplib) and on the implicit-TLS port (SMTP_SSL)', async () => {
    const r = await smtplibSend({ port: sys.port('submission'), tls: 'starttls', auth: { user: 'alice@a.test', password: 'alice-pw' } });
    expect(r.outcome, r.stderr).toEqual({ loggedIn: [235, '2.7.0 Authentication successful'] });
    const msg = 'From: alice@a.test\r\nTo: alice@a.test\r\nSubject: note to self\r\n\r\nvia 465\r\n';
    const r2 = await submitAsAlice(sys.port('submissions'), 'alice@a.test', 'alice@a.test', msg, 'implicit');
    expect(r2.outcome, r2.stderr).toEqual({ refused: {} });
    const got = await eventually(async () => (await inbox(sys, 'alice@a.test')).find((m) => m.includes('note to self')));
    expect(got).toMatch(/with ESMTPSA id /);
  });

  it('keeps the MX port closed to relaying without authentication (550 5.7.1)', async () => {
    const c = await LineClient.connect(sys.port('smtp-mx'));
    await c.smtpReply();
    await c.send('EHLO client.test');
    expect(await c.send('MAIL FROM:<alice@a.test>')).toMatch(/^250 /);
    expect(await c.send('RCPT TO:<bob@b.test>')).toMatch(/^550 5\.7\.1 /);
    c.close();
  });
});

describe('submission: sending as yourself, fix-ups, limits (plaintext on loopback allowed)', () => {
  let sys: TestSystem;
  const port = () => sys.port('submission');
  beforeAll(async () => {
    sys = await startTestSystem({
      env: {
        MAIL_HOSTNAME: 'mx.a.test',
        MAX_MESSAGE_SIZE: String(64 * 1024),
        AUTH_MAX_FAILURES_PER_CLIENT: '3',
        AUTH_MAX_FAILURES_PER_ACCOUNT: '4',
        AUTH_FAILURE_WINDOW: '600',
      },
    });
    for (const u of ['alice', 'carol', 'dave', 'erin']) await sys.addUser(`${u}@a.test`, `${u}-pw`);
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('delivers to a local user byte for byte (plus Return-Path: and Received:) when Message-ID and Date are present; AUTH LOGIN with swaks', async () => {
    const msg =
      'From: Alice <alice@a.test>\r\nTo: carol@a.test\r\nSubject: complete\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <complete-1@a.test>\r\n\r\nbody\r\n';
    const r = await submitAsAlice(port(), 'alice@a.test', 'carol@a.test', msg);
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    const got = await eventually(async () => (await inbox(sys, 'carol@a.test')).find((m) => m.includes('<complete-1@a.test>')));
    // RFC 5321 §4.4: the local (final) delivery begins with the envelope sender as Return-Path.
    expect(got.replace(/^Return-Path: <alice@a\.test>\r\nReceived: [^\r\n]*(\r\n\t[^\r\n]*)*\r\n/, '')).toBe(msg);

    const s = await run('swaks', [
      '--server',
      '127.0.0.1',
      '--port',
      String(port()),
      '--auth',
      'LOGIN',
      '--auth-user',
      'carol@a.test',
      '--auth-password',
      'carol-pw',
      '--from',
      'carol@a.test',
      '--to',
      'alice@a.test',
      '--header',
      'Subject: from swaks',
      '--body',
      'x',
    ]);
    expect(s.code, s.stdout).toBe(0);
    expect(s.stdout).toContain('<-  235 2.7.0 Authentication successful');
    await eventually(async () => (await inbox(sys, 'alice@a.test')).find((m) => m.includes('from swaks')));
  });

  it('adds Message-ID and Date when the client did not (RFC 6409 §8.2, §8.3)', async () => {
    const msg = 'From: alice@a.test\r\nTo: carol@a.test\r\nSubject: bare\r\n\r\nno id, no date\r\n';
    const r = await submitAsAlice(port(), 'alice@a.test', 'carol@a.test', msg);
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    const got = await eventually(async () => (await inbox(sys, 'carol@a.test')).find((m) => m.includes('Subject: bare')));
    expect(got).toMatch(/\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\nMessage-ID: <[0-9a-f-]{36}@a\.test>\r\nFrom: alice@a\.test\r\n/);
  });

  it('refuses an envelope sender or a From:/Sender: that is not the user’s own (553 5.7.1), and a missing From: (550 5.6.0)', async () => {
    const send = async (sender: string, msg: string) => (await submitAsAlice(port(), sender, 'carol@a.test', msg)).outcome;
    const before = (await inbox(sys, 'carol@a.test')).length;
    const r1 = await send('carol@a.test', 'From: alice@a.test\r\nSubject: x\r\n\r\nx\r\n');
    expect(r1).toMatchObject({ error: 'sender-refused', code: 553, message: expect.stringContaining('5.7.1 Sender address <carol@a.test> is not yours') });
    const r2 = await send('alice@a.test', 'From: Carol <carol@a.test>\r\nSubject: forged\r\n\r\nx\r\n');
    expect(r2).toMatchObject({ error: 'data-error', code: 553, message: expect.stringContaining('5.7.1 From: header address <carol@a.test> is not yours') });
    const r3 = await send('alice@a.test', 'From: alice@a.test, carol@a.test\r\nSender: alice@a.test\r\nSubject: two\r\n\r\nx\r\n');
    expect(r3).toMatchObject({ error: 'data-error', code: 553, message: expect.stringContaining('5.7.1 From: header address <carol@a.test> is not yours') });
    const r4 = await send('alice@a.test', 'From: alice@a.test\r\nSender: carol@a.test\r\nSubject: sender\r\n\r\nx\r\n');
    expect(r4).toMatchObject({ error: 'data-error', code: 553, message: expect.stringContaining('5.7.1 Sender: header address <carol@a.test> is not yours') });
    const r5 = await send('alice@a.test', 'Subject: anonymous\r\n\r\nx\r\n');
    expect(r5).toMatchObject({ error: 'data-error', code: 550, message: expect.stringContaining('5.6.0 The message has no From: header field') });
    const r6 = await send('alice@a.test', 'From: alice@a.test\r\nFrom: carol@a.test\r\nSubject: twice\r\n\r\nx\r\n');
    expect(r6).toMatchObject({ error: 'data-error', code: 550, message: expect.stringContaining('5.6.0') });
    // Nothing of the refused messages was delivered or queued.
    await new Promise((r) => setTimeout(r, 300));
    expect((await inbox(sys, 'carol@a.test')).length).toBe(before);
    const q = await sys.adapters.queue.stats('ingest');
    expect(q.visible + q.inFlight + q.delayed).toBe(0);
  });

  it('refuses unknown local users at RCPT, oversize messages with 552, and bad AUTH input with 5xx', async () => {
    const r = await submitAsAlice(port(), 'alice@a.test', 'nobody@a.test', 'From: alice@a.test\r\n\r\nx\r\n');
    expect(r.outcome, r.stderr).toEqual({ error: 'rcpt-refused', recipients: { 'nobody@a.test': [550, '5.1.1 No such user here'] } });

    const c = await LineClient.connect(port());
    await c.smtpReply();
    expect(await c.send('EHLO client.test')).toMatch(/250[ -]SIZE 65536/);
    expect(await c.send('AUTH PLAIN !!!notbase64')).toMatch(/^5\d\d /);
    expect(await c.send('AUTH FOO')).toMatch(/^504 /);
    expect(await c.send(`AUTH PLAIN ${b64('\0erin@a.test\0erin-pw')}`)).toBe('235 2.7.0 Authentication successful');
    expect(await c.send('MAIL FROM:<erin@a.test> SIZE=100000')).toMatch(/^552 /);
    expect(await c.send('MAIL FROM:<erin@a.test>')).toMatch(/^250 /);
    expect(await c.send('RCPT TO:<alice@a.test>')).toMatch(/^250 /);
    expect(await c.send('DATA')).toMatch(/^354 /);
    c.write('From: erin@a.test\r\n\r\n' + ('y'.repeat(998) + '\r\n').repeat(80) + '.\r\n');
    expect(await c.smtpReply()).toMatch(/^552 5\.3\.4 /);
    expect(await c.send('NOOP')).toMatch(/^250 /);
    c.close();
  });

  it('refuses PLAIN with an authorization identity of someone else (RFC 4616 §2)', async () => {
    const c = await LineClient.connect(port(), '127.0.0.1', '127.0.0.20');
    await c.smtpReply();
    await c.send('EHLO client.test');
    expect(await c.send(`AUTH PLAIN ${b64('carol@a.test\0erin@a.test\0erin-pw')}`)).toMatch(/^535 5\.7\.8 /);
    c.close();
  });

  it('throttles failed logins per client address and per account (454 4.7.0)', async () => {
    const auth = async (from: string, user: string, password: string) => {
      const c = await LineClient.connect(port(), '127.0.0.1', from);
      await c.smtpReply();
      await c.send('EHLO client.test');
      const reply = await c.send(`AUTH PLAIN ${b64(`\0${user}\0${password}`)}`);
      c.close();
      return reply;
    };
    // Per client: 3 failures from 127.0.0.2, then even the right password is refused there…
    for (let i = 0; i < 3; i++) expect(await auth('127.0.0.2', 'alice@a.test', 'wrong')).toBe('535 5.7.8 Authentication credentials invalid');
    expect(await auth('127.0.0.2', 'alice@a.test', 'alice-pw')).toBe('454 4.7.0 Too many failed authentication attempts; try again later');
    // …while another client may log in as the same user.
    expect(await auth('127.0.0.3', 'alice@a.test', 'alice-pw')).toBe('235 2.7.0 Authentication successful');

    // Per account: failures for dave spread over four addresses lock dave everywhere.
    for (const from of ['127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7']) expect(await auth(from, 'dave@a.test', 'guess')).toMatch(/^535 /);
    expect(await auth('127.0.0.8', 'dave@a.test', 'dave-pw')).toBe('454 4.7.0 Too many failed authentication attempts; try again later');
    expect(await auth('127.0.0.8', 'carol@a.test', 'carol-pw')).toBe('235 2.7.0 Authentication successful');
  });
});
