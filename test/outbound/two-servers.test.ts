/**
 * The seeds' central picture, on loopback: a user's client submits to mail server A, A asks
 * DNS where the recipient's server is (MX) and hands the message over SMTP to mail server B,
 * where the recipient reads it — and back. Two whole systems (A for a.test, B for b.test) and
 * a DNS server of the test's own; clients we did not write (Python's smtplib, swaks).
 * On both adapter sets (aws: the emulator).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dkimVerify } from 'mailauth';
import { runMailctl } from '#core/admin/mailctl.ts';
import { createDnsResolver } from '#core/dns/resolver.ts';
import { run } from '../support/clients.ts';
import { smtplibSend } from '../support/smtplib.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { freePort } from '../support/emulator.ts';
import { ADAPTER_KINDS, eventually, startTestSystem, type TestSystem } from '../support/mail-system.ts';

/** alice@a.test submits to A with STARTTLS + AUTH, as a mail client does it (smtplib). */
function submitAsAlice(A: TestSystem, to: string[], data: string) {
  return smtplibSend({ port: A.port('submission'), tls: 'starttls', auth: { user: 'alice@a.test', password: 'alice-pw' }, from: 'alice@a.test', to, data });
}

async function inbox(sys: TestSystem, user: string): Promise<string[]> {
  const mb = await sys.adapters.index.getMailbox(user, 'INBOX');
  const msgs = await sys.adapters.index.listMessages(user, mb!.id);
  return Promise.all(msgs.map(async (m) => (await sys.adapters.blobs.get(m.blobKey)).toString('utf8')));
}

async function waitForMessage(sys: TestSystem, user: string, match: RegExp | string, timeoutMs = 25_000): Promise<string> {
  return eventually(async () => (await inbox(sys, user)).find((m) => (typeof match === 'string' ? m.includes(match) : match.test(m))), timeoutMs);
}

/** Creates the domain's DKIM key with mailctl and publishes the printed record in the test DNS. */
async function publishDkim(sys: TestSystem, dns: TestDnsServer, domain: string, algorithm: 'rsa' | 'ed25519'): Promise<void> {
  const out: string[] = [];
  const code = await runMailctl(['domain', 'dkim', domain, '--algorithm', algorithm], sys.adapters, {
    out: (l) => out.push(l),
    err: (l) => out.push(l),
    readPassword: async () => '',
    writeRaw: () => {},
  });
  expect(code, out.join('\n')).toBe(0);
  const line = out.find((l) => l.includes(' IN TXT '))!;
  const name = line.split(' ')[0].replace(/\.$/, '');
  const value = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('');
  expect(value).toMatch(new RegExp(`^v=DKIM1; k=${algorithm}; p=`));
  dns.set(name, [{ type: 'TXT', text: value }]);
}

for (const kind of ADAPTER_KINDS) {
  describe(`mail server A → DNS → mail server B and back (${kind} adapters)`, () => {
    let dns: TestDnsServer;
    let A: TestSystem;
    let B: TestSystem;

    beforeAll(async () => {
      dns = await startDnsServer({
        'a.test': [{ type: 'MX', preference: 10, exchange: 'mx.a.test' }],
        'mx.a.test': [{ type: 'A', address: '127.0.0.1' }],
        'b.test': [{ type: 'MX', preference: 10, exchange: 'mx.b.test' }],
        'mx.b.test': [{ type: 'A', address: '127.0.0.1' }],
        'null.test': [{ type: 'MX', preference: 0, exchange: '.' }],
      });
      const [portA, portB] = [await freePort(), await freePort()];
      const common = {
        DNS_SERVERS: dns.server,
        DNS_TIMEOUT_MS: '1000',
        OUTBOUND_RETRY_BASE: '1',
        OUTBOUND_RETRY_MAX: '2',
        OUTBOUND_CONNECT_TIMEOUT: '5',
        MAIL_ALLOW_PLAINTEXT_LOOPBACK: 'false',
      };
      // Both MX hosts are 127.0.0.1: each server's outbound port is the other's MX port.
      [A, B] = await Promise.all([
        startTestSystem({ adapters: kind, env: { ...common, MAIL_HOSTNAME: 'mx.a.test', SMTP_PORT: String(portA), OUTBOUND_SMTP_PORT: String(portB) } }),
        startTestSystem({ adapters: kind, env: { ...common, MAIL_HOSTNAME: 'mx.b.test', SMTP_PORT: String(portB), OUTBOUND_SMTP_PORT: String(portA) } }),
      ]);
      await A.addUser('alice@a.test', 'alice-pw');
      await B.addUser('bob@b.test', 'bob-pw');
      await publishDkim(A, dns, 'a.test', 'rsa');
      await publishDkim(B, dns, 'b.test', 'ed25519');
    });
    afterAll(async () => {
      await Promise.all([A?.stop(), B?.stop()]);
      await dns?.close();
    });

    it('alice@a.test submits with STARTTLS + AUTH (smtplib); bob@b.test gets it by MX lookup, DKIM-signed; bob replies (swaks) and alice gets the reply', async () => {
      const msg = 'From: Alice <alice@a.test>\r\nTo: Bob <bob@b.test>\r\nSubject: hello across servers\r\n\r\nHi Bob!\r\n';
      const r = await submitAsAlice(A, ['bob@b.test'], msg);
      expect(r.outcome, r.stderr).toEqual({ refused: {} });

      const atB = await waitForMessage(B, 'bob@b.test', 'hello across servers');
      // Trace: B's Return-Path (RFC 5321 §4.4: the final delivery names the envelope sender;
      // A's own Return-Path line for its local recipients does not travel), B's MX hop, A's
      // DKIM signature, then A's submission hop.
      // A used STARTTLS at B (opportunistic, RFC 3207): ESMTPS and the TLS version in the trace.
      expect(atB.match(/^Return-Path:/gim)).toEqual(['Return-Path:']);
      expect(atB).toMatch(
        /^Return-Path: <alice@a\.test>\r\nReceived: from mx\.a\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.b\.test with ESMTPS id [A-Z2-9]{16}\r\n\t\(version=TLSv1\.[23] /,
      );
      expect(atB).toMatch(/\r\nDKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=a\.test;/);
      expect(atB).toMatch(/\r\nReceived: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.a\.test with ESMTPSA /);
      // The MSA added what the client left out (RFC 6409 §8).
      expect(atB).toMatch(/\r\nMessage-ID: <[0-9a-f-]+@a\.test>\r\n/);
      expect(atB).toMatch(/\r\nDate: \w{3}, \d\d \w{3} \d{4} /);
      expect(atB.endsWith('\r\n\r\nHi Bob!\r\n')).toBe(true);
      expect(dns.queries).toContain('b.test MX');

      // The signature verifies against the record `mailctl domain dkim` printed.
      const resolver = createDnsResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1 });
      const verified = await dkimVerify(Buffer.from(atB), { resolver: (name: string) => resolver.txt(name) });
      expect(verified.results.map((x: any) => [x.signingDomain, x.status.result])).toEqual([['a.test', 'pass']]);

      const messageId = /\r\nMessage-ID: (<[^>]+>)/.exec(atB)![1];
      const reply = await run('swaks', [
        '--server',
        '127.0.0.1',
        '--port',
        String(B.port('submission')),
        '--tls',
        '--auth',
        'LOGIN',
        '--auth-user',
        'bob@b.test',
        '--auth-password',
        'bob-pw',
        '--from',
        'bob@b.test',
        '--to',
        'alice@a.test',
        '--helo',
        'bobs-laptop.test',
        '--header',
        'Subject: Re: hello across servers',
        '--header',
        `In-Reply-To: ${messageId}`,
        '--body',
        'Hi Alice!',
      ]);
      expect(reply.code, reply.stdout + reply.stderr).toBe(0);
      const atA = await waitForMessage(A, 'alice@a.test', 'Re: hello across servers');
      expect(atA).toContain(`In-Reply-To: ${messageId}`);
      expect(atA).toMatch(/^Return-Path: <bob@b\.test>\r\nReceived: from mx\.b\.test /);
      const verifiedReply = await dkimVerify(Buffer.from(atA), { resolver: (name: string) => resolver.txt(name) });
      expect(verifiedReply.results.map((x: any) => [x.signingDomain, x.status.result])).toEqual([['b.test', 'pass']]);
      expect(verifiedReply.results[0].algo).toBe('ed25519-sha256');
    });

    it('retries while B is down and delivers exactly once when B is back', async () => {
      const msg = 'From: alice@a.test\r\nTo: bob@b.test\r\nSubject: while you were down\r\nMessage-ID: <down-1@a.test>\r\n\r\nretry me\r\n';
      await B.restart(async () => {
        const r = await submitAsAlice(A, ['bob@b.test'], msg);
        expect(r.outcome, r.stderr).toEqual({ refused: {} });
        // A has tried, failed to connect, and put the job back with a delay.
        await eventually(async () => (await A.adapters.queue.stats('outbound')).delayed > 0, 15_000);
      });
      const got = await waitForMessage(B, 'bob@b.test', 'while you were down');
      expect(got).toContain('retry me');
      // No bounce for alice, and no second copy for bob later.
      await new Promise((r) => setTimeout(r, 1500));
      expect((await inbox(B, 'bob@b.test')).filter((m) => m.includes('while you were down'))).toHaveLength(1);
      expect((await inbox(A, 'alice@a.test')).some((m) => m.includes('<down-1@a.test>') && m.includes('multipart/report'))).toBe(false);
    });

    it('an unknown user at B gets alice a DSN naming the recipient and B’s reply; the known recipient still gets the message', async () => {
      const msg = 'From: alice@a.test\r\nTo: nobody@b.test, bob@b.test\r\nSubject: partly wrong\r\nMessage-ID: <unknown-1@a.test>\r\n\r\nhello?\r\n';
      const r = await submitAsAlice(A, ['nobody@b.test', 'bob@b.test'], msg);
      expect(r.outcome, r.stderr).toEqual({ refused: {} });
      const dsn = await waitForMessage(A, 'alice@a.test', 'References: <unknown-1@a.test>');
      // A DSN has the null reverse-path (RFC 3464 §2, RFC 5321 §4.5.5); delivered here, it says so.
      expect(dsn).toMatch(/^Return-Path: <>\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx\.a\.test>\r\n/);
      expect(dsn).toContain('Content-Type: multipart/report; report-type=delivery-status;');
      expect(dsn).toContain(
        'Final-Recipient: rfc822; nobody@b.test\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.b.test\r\nDiagnostic-Code: smtp; 550 5.1.1 No such user here',
      );
      expect(dsn).not.toContain('Final-Recipient: rfc822; bob@b.test');
      expect(dsn).toContain('Subject: partly wrong');
      await waitForMessage(B, 'bob@b.test', 'partly wrong');
    });

    it('a null-MX domain bounces at once (RFC 7505), without a retry', async () => {
      const msg = 'From: alice@a.test\r\nTo: x@null.test\r\nSubject: to the void\r\nMessage-ID: <null-1@a.test>\r\n\r\n.\r\n';
      const r = await submitAsAlice(A, ['x@null.test'], msg);
      expect(r.outcome, r.stderr).toEqual({ refused: {} });
      const dsn = await waitForMessage(A, 'alice@a.test', 'References: <null-1@a.test>');
      expect(dsn).toContain('Final-Recipient: rfc822; x@null.test\r\nAction: failed\r\nStatus: 5.1.10\r\n');
      expect(dsn).toContain('null MX');
      expect((await A.adapters.queue.stats('outbound')).delayed).toBe(0);
    });
  });
}
