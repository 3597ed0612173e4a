/**
 * The MX listener end to end, with clients we did not write (Python's smtplib, swaks) and a
 * bare socket for exact replies; on both adapter sets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADAPTER_KINDS, eventually, startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { run } from '../support/clients.ts';
import { smtplibSend } from '../support/smtplib.ts';
import { LineClient } from '../support/line-client.ts';
// Delivered bytes = Return-Path: and Received: prepended to exactly what was sent (CRLF).
import { stripTrace } from '../support/message-bytes.ts';

async function inbox(sys: TestSystem, user: string) {
  const mb = await sys.adapters.index.getMailbox(user, 'INBOX');
  return sys.adapters.index.listMessages(user, mb!.id, { withMeta: true });
}

for (const kind of ADAPTER_KINDS) {
  describe(`SMTP MX listener (${kind} adapters)`, () => {
    let sys: TestSystem;
    beforeAll(async () => {
      sys = await startTestSystem({ adapters: kind, env: { MAX_MESSAGE_SIZE: String(64 * 1024) } });
      await sys.addUser('alice@example.test', 'alice-password');
      await sys.addUser('bob@example.test', 'bob-password');
    });
    afterAll(async () => {
      await sys?.stop();
    });

    it('delivers a message sent with smtplib and one sent with swaks, byte-identical apart from the trace header', async () => {
      const port = sys.port('smtp-mx');
      const msg1 =
        'From: Carol <carol@remote.test>\r\nTo: alice@example.test\r\nSubject: hello from smtplib\r\nMessage-ID: <1@remote.test>\r\n\r\nFirst line\r\n.leading dot\r\n';
      const r1 = await smtplibSend({ port, from: 'carol@remote.test', to: ['alice@example.test'], data: msg1, eightBitWhenOffered: true });
      expect(r1.stderr).toBe('');
      expect(r1.outcome).toEqual({ refused: {} });

      const r2 = await run('swaks', [
        '--server',
        '127.0.0.1',
        '--port',
        String(port),
        '--from',
        'dave@remote.test',
        '--to',
        'alice@example.test',
        '--header',
        'Subject: hello from swaks',
        '--body',
        'swaks body',
        '--helo',
        'swaks.test',
      ]);
      expect(r2.code, r2.stdout + r2.stderr).toBe(0);
      expect(r2.stdout).toMatch(/<-\s+250 2\.0\.0 Ok: queued as [A-Z2-9]{16}/);

      const msgs = await eventually(async () => {
        const l = await inbox(sys, 'alice@example.test');
        return l.length >= 2 ? l : null;
      });
      const raw1 = await sys.adapters.blobs.get(msgs[0].blobKey);
      expect(stripTrace(raw1).toString('latin1')).toBe(msg1);
      expect(msgs[0].meta!.envelope.subject).toBe('hello from smtplib');
      const raw2 = await sys.adapters.blobs.get(msgs[1].blobKey);
      const swaksBody = stripTrace(raw2).toString('latin1');
      expect(swaksBody).toMatch(/^Date: .*\r\nTo: alice@example\.test\r\nFrom: dave@remote\.test\r\nSubject: hello from swaks\r\n/);
      // swaks ends its body with blank lines of its own; the dot line is the SMTP terminator, not data.
      expect(swaksBody).toMatch(/\r\n\r\nswaks body\r\n(\r\n)*$/);
      expect(raw2.toString('latin1')).toMatch(
        /^Return-Path: <dave@remote\.test>\r\nReceived: from swaks\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.test with ESMTP id [A-Z2-9]{16}\r\n\tfor <alice@example\.test>; \w{3}, \d\d \w{3} \d{4} /,
      );
      expect(msgs.map((m) => m.uid)).toEqual([1, 2]);
    });

    it('keeps 8-bit bodies and SMTPUTF8 headers byte for byte', async () => {
      const port = sys.port('smtp-mx');
      const body = Buffer.from(
        'From: Jörg <jörg@remote.test>\r\nTo: bob@example.test\r\nSubject: Grüße 🎉\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nÄpfel, Birnen — 日本語\r\n',
        'utf8',
      );
      const r = await smtplibSend({ port, from: 'jörg@remote.test', to: ['bob@example.test'], data: body, eightBitWhenOffered: true });
      expect(r.outcome, r.stderr).toEqual({ refused: {} });
      const [m] = await eventually(async () => {
        const l = await inbox(sys, 'bob@example.test');
        return l.length >= 1 ? l : null;
      });
      const raw = await sys.adapters.blobs.get(m.blobKey);
      expect(stripTrace(raw).equals(body)).toBe(true);
      expect(raw.toString('latin1')).toContain('with UTF8ESMTP');
    });

    it('refuses unknown users and foreign domains at RCPT time, and oversize messages with 552', async () => {
      const c = await LineClient.connect(sys.port('smtp-mx'));
      expect(await c.smtpReply()).toMatch(/^220 mx\.test /);
      const ehlo = await c.send('EHLO client.test');
      for (const ext of ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'STARTTLS', 'SIZE 65536']) expect(ehlo).toContain(ext);
      expect(ehlo).not.toContain('AUTH');
      expect(await c.send('MAIL FROM:<x@remote.test>')).toMatch(/^250 /);
      expect(await c.send('RCPT TO:<nobody@example.test>')).toMatch(/^550 5\.1\.1 /);
      expect(await c.send('RCPT TO:<someone@elsewhere.test>')).toMatch(/^550 5\.7\.1 Relaying denied/);
      expect(await c.send('DATA')).toMatch(/^503 /); // no valid recipients
      expect(await c.send('RSET')).toMatch(/^250 /);
      expect(await c.send('MAIL FROM:<x@remote.test> SIZE=100000')).toMatch(/^552 /);
      expect(await c.send('MAIL FROM:<x@remote.test>')).toMatch(/^250 /);
      expect(await c.send('RCPT TO:<Alice@Example.TEST>')).toMatch(/^250 /);
      expect(await c.send('DATA')).toMatch(/^354 /);
      const line = 'x'.repeat(998) + '\r\n';
      c.write('Subject: big\r\n\r\n' + line.repeat(80) + '.\r\n');
      expect(await c.smtpReply()).toMatch(/^552 5\.3\.4 /);
      expect(await c.send('QUIT')).toMatch(/^221 /);
      c.close();
      // Nothing of the refused message was stored.
      const l = await inbox(sys, 'alice@example.test');
      expect(l.every((m) => m.size < 64 * 1024)).toBe(true);
    });

    it('answers garbage with 500/501 and keeps serving the connection and others', async () => {
      const c = await LineClient.connect(sys.port('smtp-mx'));
      await c.smtpReply();
      expect(await c.send('EHLO client.test')).toMatch(/^250/);
      expect(await c.send('FOO BAR')).toMatch(/^500 /);
      expect(await c.send('MAIL FROM:not-an-address')).toMatch(/^501 /);
      expect(await c.send('RCPT TO:<alice@example.test>')).toMatch(/^503 /);
      c.write(Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x0d, 0x0a]));
      expect(await c.smtpReply()).toMatch(/^5\d\d /);
      // A second client is served meanwhile.
      const d = await LineClient.connect(sys.port('smtp-mx'));
      expect(await d.smtpReply()).toMatch(/^220 /);
      expect(await d.send('NOOP')).toMatch(/^250 /);
      d.close();
      expect(await c.send('NOOP')).toMatch(/^250 /);
      c.close();
    });
  });
}
