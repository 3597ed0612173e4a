/**
 * Issue 9, "Message bytes": what is received is stored with CRLF line endings (RFC 5321
 * §2.3.8, RFC 5322 §2.1), and a final delivery begins with `Return-Path:` (RFC 5321 §4.4).
 * Every reader then serves the same bytes: IMAP BODY[] (imaplib), RFC822.SIZE and
 * BODYSTRUCTURE, POP3 RETR and LIST (poplib), `mailctl message show`.
 * Senders are Python's smtplib (from a file on disk, as a script would send it) and a bare
 * socket where exact bytes and replies matter.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { python } from '../support/clients.ts';
import { storedBlobNames } from '../support/local-blobs.ts';
import { smtplibSend } from '../support/smtplib.ts';
import { LineClient } from '../support/line-client.ts';
import { ADAPTER_KINDS, eventually, startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { hasBareNewline, returnPathOf, stripTrace, toCrlf } from '../support/message-bytes.ts';
import { RawImap } from '../imap/support/raw-client.ts';

const MAILCTL = path.resolve(import.meta.dirname, '../../bin/mailctl.js');

/** imaplib: RFC822.SIZE, BODYSTRUCTURE and BODY[] of message 1, and a partial BODY[]<20.100>. */
const IMAPLIB_FETCH = `
import imaplib, sys, json, base64
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
m = imaplib.IMAP4('127.0.0.1', port)
m.login(user, password)
m.select('INBOX', readonly=True)
typ, data = m.fetch('1', '(RFC822.SIZE BODYSTRUCTURE BODY.PEEK[])')
meta = b''.join(x[0] if isinstance(x, tuple) else x for x in data).decode('latin1')
body = next(x[1] for x in data if isinstance(x, tuple))
typ, part = m.fetch('1', '(BODY.PEEK[]<20.100>)')
print(json.dumps({'meta': meta, 'body': base64.b64encode(body).decode(), 'partial': base64.b64encode(part[0][1]).decode()}))
m.logout()
`;

/** poplib: LIST 1 and RETR 1 (poplib removes the byte-stuffing and the line ends). */
const POPLIB_RETR = `
import poplib, sys, json, base64
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
p = poplib.POP3('127.0.0.1', port, timeout=20)
p.user(user)
p.pass_(password)
listed = p.list(1).decode()
resp, lines, octets = p.retr(1)
print(json.dumps({'list': listed, 'retr': resp.decode(), 'body': base64.b64encode(b''.join(l + b'\\r\\n' for l in lines)).decode()}))
p.quit()
`;

/** A message as a script writes it on Unix: LF line ends only. */
const LF_FILE = [
  'From: Carol <carol@remote.test>',
  'To: Alice <alice@example.test>',
  'Subject: sent from an LF-only file',
  'Message-ID: <lf-only-1@remote.test>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  'preamble',
  '--b1',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'first line',
  '.a line that starts with a dot',
  'last line',
  '--b1',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'second part',
  '--b1--',
  '',
].join('\n');
/** Part 1's body in CRLF form (its last CRLF belongs to the delimiter, RFC 2046 §5.1.1). */
const PART1_CRLF = 'first line\r\n.a line that starts with a dot\r\nlast line';

function mailctl(args: string[], dataDir: string): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAILCTL, ...args], { env: { ...process.env, MAIL_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
  });
}

async function stored(sys: TestSystem, user: string): Promise<Buffer[]> {
  const mb = await sys.adapters.index.getMailbox(user, 'INBOX');
  const msgs = await sys.adapters.index.listMessages(user, mb!.id);
  return Promise.all(msgs.map((m) => sys.adapters.blobs.get(m.blobKey)));
}

/** Sends `data` (DATA content, dot-stuffed by the caller) over a bare socket; returns the final reply. */
async function sendRaw(port: number, from: string, to: string, data: Buffer): Promise<string> {
  const c = await LineClient.connect(port);
  try {
    await c.smtpReply();
    await c.send('EHLO raw.test');
    expect(await c.send(`MAIL FROM:<${from}>`)).toMatch(/^250 /);
    expect(await c.send(`RCPT TO:<${to}>`)).toMatch(/^250 /);
    expect(await c.send('DATA')).toMatch(/^354 /);
    const ending = data.subarray(-2).toString('latin1') === '\r\n' ? '.\r\n' : '\r\n.\r\n';
    c.write(Buffer.concat([data, Buffer.from(ending)]));
    return await c.smtpReply(15_000);
  } finally {
    c.close();
  }
}

for (const kind of ADAPTER_KINDS) {
  describe(`canonical CRLF storage and Return-Path (${kind} adapters)`, () => {
    let sys: TestSystem;
    let dir: string;
    beforeAll(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'lf-file-'));
      sys = await startTestSystem({ adapters: kind, env: { MAX_MESSAGE_SIZE: String(64 * 1024) } });
      await sys.addUser('alice@example.test', 'alice-pw');
      await sys.addUser('bob@example.test', 'bob-pw');
      await sys.addUser('erin@example.test', 'erin-pw');
    });
    afterAll(async () => {
      await sys?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('a message sent from an LF-only file with smtplib comes back over IMAP BODY[], POP3 RETR and mailctl message show as the CRLF form of the file after the trace fields, with RFC822.SIZE equal to the bytes served', async () => {
      const file = path.join(dir, 'lf-only.eml');
      writeFileSync(file, LF_FILE);
      expect(LF_FILE.includes('\r')).toBe(false);
      const sent = await smtplibSend({ port: sys.port('smtp-mx'), from: 'carol@remote.test', to: ['alice@example.test'], dataFile: file });
      expect(sent.outcome, sent.stderr).toEqual({ refused: {} });
      const [blob] = await eventually(async () => {
        const l = await stored(sys, 'alice@example.test');
        return l.length ? l : null;
      });
      const want = toCrlf(LF_FILE);
      expect(hasBareNewline(blob)).toBe(false);
      expect(stripTrace(blob).equals(want)).toBe(true);
      expect(returnPathOf(blob)).toBe('carol@remote.test');

      const imap = await python(IMAPLIB_FETCH, [String(sys.port('imap')), 'alice@example.test', 'alice-pw']);
      expect(imap.stderr).toBe('');
      const fetched = JSON.parse(imap.stdout) as { meta: string; body: string; partial: string };
      const body = Buffer.from(fetched.body, 'base64');
      expect(body.equals(blob)).toBe(true);
      expect(stripTrace(body).equals(want)).toBe(true);
      // RFC 9051 §7.5.2: RFC822.SIZE is the number of octets BODY[] returns.
      expect(Number(/RFC822\.SIZE (\d+)/.exec(fetched.meta)![1])).toBe(body.length);
      expect(Buffer.from(fetched.partial, 'base64').equals(body.subarray(20, 120))).toBe(true);
      // BODYSTRUCTURE size and line count of part 1 (RFC 9051 §7.5.2) are those of the CRLF form.
      expect(fetched.meta).toMatch(
        new RegExp(
          `BODYSTRUCTURE \\(\\("text" "plain" \\("charset" "us-ascii"\\) NIL NIL "7bit" ${Buffer.byteLength(PART1_CRLF)} ${PART1_CRLF.split('\r\n').length - 1} `,
          'i',
        ),
      );

      const pop = await python(POPLIB_RETR, [String(sys.port('pop3')), 'alice@example.test', 'alice-pw']);
      expect(pop.stderr).toBe('');
      const popped = JSON.parse(pop.stdout) as { list: string; retr: string; body: string };
      expect(Buffer.from(popped.body, 'base64').equals(body)).toBe(true);
      // RFC 1939 §5: LIST gives the exact size of the message, the one RETR sends.
      expect(popped.list).toBe(`+OK 1 ${body.length}`);
      expect(popped.retr).toMatch(new RegExp(`^\\+OK ${body.length} octets`));

      if (kind === 'local') {
        const show = await mailctl(['message', 'show', 'alice@example.test', '1'], sys.dataDir);
        expect(show.code, show.stderr).toBe(0);
        expect(show.stdout.equals(body)).toBe(true);
      }
    });

    it('stores bare CR as CRLF too, and counts the size limit in CRLF octets (552 although the bytes sent fit)', async () => {
      const port = sys.port('smtp-mx');
      const reply = await sendRaw(port, 'carol@remote.test', 'bob@example.test', Buffer.from('Subject: bare CR\r\n\r\nold Mac\rline ends\rhere\r\n'));
      expect(reply).toMatch(/^250 2\.0\.0 /);
      const [blob] = await eventually(async () => {
        const l = await stored(sys, 'bob@example.test');
        return l.length ? l : null;
      });
      expect(stripTrace(blob).toString('latin1')).toBe('Subject: bare CR\r\n\r\nold Mac\r\nline ends\r\nhere\r\n');

      // 20,000 LF lines of 3 octets: 60,000 octets sent, under the 65,536 limit, but 80,000
      // octets once stored with CRLF. RFC 1870: the limit is on the message as we hold it.
      const big = Buffer.from('Subject: big\n\n' + 'xx\n'.repeat(20_000));
      expect(big.length).toBeLessThan(64 * 1024);
      expect(toCrlf(big).length).toBeGreaterThan(64 * 1024);
      expect(await sendRaw(port, 'carol@remote.test', 'bob@example.test', big)).toMatch(/^552 5\.3\.4 /);
      expect(await stored(sys, 'bob@example.test')).toHaveLength(1);
    });

    it('begins every delivered message with Return-Path: <sender>, <> for the null sender, replacing the sender’s own Return-Path fields (RFC 5321 §4.4)', async () => {
      const port = sys.port('smtp-mx');
      const forged =
        'Return-Path: <forged@evil.test>\r\nSubject: bounce\r\nReturn-Path:\r\n <also@evil.test>\r\n\r\nReturn-Path: <kept@body.test> is body text\r\n';
      expect(await sendRaw(port, '', 'erin@example.test', Buffer.from(forged))).toMatch(/^250 /);
      const [blob] = await eventually(async () => {
        const l = await stored(sys, 'erin@example.test');
        return l.length ? l : null;
      });
      expect(returnPathOf(blob)).toBe('');
      expect(stripTrace(blob).toString('latin1')).toBe('Subject: bounce\r\n\r\nReturn-Path: <kept@body.test> is body text\r\n');
    });

    it('submission to a local user stores an LF-only message as CRLF, beginning with Return-Path: <the user>, with the added Date: and Message-ID:', async () => {
      const msg = 'From: Bob <bob@example.test>\nTo: erin@example.test\nSubject: submitted with LF\n\nline 1\nline 2\n';
      // Over plaintext loopback (MAIL_ALLOW_PLAINTEXT_LOOPBACK), bytes as given.
      const r = await smtplibSend({
        port: sys.port('submission'),
        auth: { user: 'bob@example.test', password: 'bob-pw' },
        from: 'bob@example.test',
        to: ['erin@example.test'],
        data: msg,
      });
      expect(r.outcome, r.stderr).toEqual({ refused: {} });
      const blob = await eventually(async () => (await stored(sys, 'erin@example.test')).find((b) => b.includes('submitted with LF')));
      expect(hasBareNewline(blob)).toBe(false);
      expect(returnPathOf(blob)).toBe('bob@example.test');
      expect(stripTrace(blob).toString('latin1')).toMatch(
        /^Date: [^\r\n]+\r\nMessage-ID: <[^\r\n]+>\r\nFrom: Bob <bob@example\.test>\r\nTo: erin@example\.test\r\nSubject: submitted with LF\r\n\r\nline 1\r\nline 2\r\n$/,
      );
    });

    it('IMAP APPEND stores an LF-only message as CRLF and adds no Return-Path (APPEND is not a delivery)', async () => {
      const c = await RawImap.login(sys.port('imap'), 'erin@example.test', 'erin-pw');
      try {
        const msg = Buffer.from('Subject: appended\n\nline 1\nline 2\n');
        const tag = c.nextTag();
        c.write(Buffer.concat([Buffer.from(`${tag} APPEND Drafts {${msg.length}+}\r\n`), msg, Buffer.from('\r\n')]));
        expect((await c.until(tag)).tagged).toMatch(/ OK \[APPENDUID \d+ 1\]/);
        expect((await c.command('SELECT Drafts')).tagged).toMatch(/ OK /);
        const r = await c.command('FETCH 1 (RFC822.SIZE BODY.PEEK[])');
        expect(r.literals[0].toString('latin1')).toBe('Subject: appended\r\n\r\nline 1\r\nline 2\r\n');
        expect(r.untagged[0]).toContain(`RFC822.SIZE ${r.literals[0].length}`);
        // APPENDLIMIT (RFC 7889) holds for what is stored: 60,000 octets of LF lines are 90,000 as CRLF.
        const big = Buffer.from('x\n'.repeat(30_000));
        const t2 = c.nextTag();
        c.write(Buffer.concat([Buffer.from(`${t2} APPEND Drafts {${big.length}+}\r\n`), big, Buffer.from('\r\n')]));
        expect((await c.until(t2)).tagged).toMatch(/ NO \[TOOBIG\]/);
      } finally {
        c.close();
      }
    });
  });
}

describe('SMTP_FORBID_BARE_NEWLINE=true (like Postfix 3.9 smtpd_forbid_bare_newline)', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem({ env: { SMTP_FORBID_BARE_NEWLINE: 'true' } });
    await sys.addUser('alice@example.test', 'alice-pw');
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('refuses a message with a bare LF or a bare CR with 550 5.5.2 and stores nothing; CRLF mail is accepted', async () => {
    const port = sys.port('smtp-mx');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lf-file-'));
    try {
      const file = path.join(dir, 'lf-only.eml');
      writeFileSync(file, LF_FILE);
      const sent = await smtplibSend({ port, from: 'carol@remote.test', to: ['alice@example.test'], dataFile: file });
      expect(sent.outcome, sent.stderr).toEqual({ error: 'data-error', code: 550, message: expect.stringMatching(/^5\.5\.2 .*bare <LF>/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await sendRaw(port, 'carol@remote.test', 'alice@example.test', Buffer.from('Subject: cr\r\n\r\nbare\rCR\r\n'))).toMatch(/^550 5\.5\.2 /);
    // The session goes on: a CRLF message in the same way is accepted and stored.
    expect(await sendRaw(port, 'carol@remote.test', 'alice@example.test', Buffer.from('Subject: fine\r\n\r\nCRLF only\r\n'))).toMatch(/^250 2\.0\.0 /);
    const msgs = await eventually(async () => {
      const l = await stored(sys, 'alice@example.test');
      return l.length ? l : null;
    });
    expect(msgs.map((b) => stripTrace(b).toString('latin1'))).toEqual(['Subject: fine\r\n\r\nCRLF only\r\n']);
    // Nothing of the refused messages is left in the blob store: one message, the accepted one.
    expect(storedBlobNames(sys.dataDir)).toHaveLength(1);
  });
});
