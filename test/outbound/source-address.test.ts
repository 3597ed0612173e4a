/**
 * Outbound connections leave from the address the server is configured with (MAIL_BIND, or
 * OUTBOUND_BIND), so the receiving MX — and SPF there — sees that address. Two whole systems
 * on loopback as in two-servers.test.ts: A submits to B by MX lookup; B's Received: line
 * records the client address it saw (RFC 5321 §4.4, TCP-info).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceAddressFor } from '#core/outbound/smtp-delivery.ts';
import { run } from '../support/clients.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { freePort } from '../support/emulator.ts';
import { eventually, startTestSystem, type TestSystem } from '../support/mail-system.ts';

async function receivedAtB(B: TestSystem, subject: string): Promise<string> {
  return eventually(async () => {
    const mb = await B.adapters.index.getMailbox('bob@b.test', 'INBOX');
    for (const m of await B.adapters.index.listMessages('bob@b.test', mb!.id)) {
      const raw = (await B.adapters.blobs.get(m.blobKey)).toString('utf8');
      if (raw.includes(`Subject: ${subject}`)) return raw;
    }
    return null;
  }, 25_000);
}

describe('outbound source address', () => {
  let dns: TestDnsServer;
  let B: TestSystem;
  const senders: TestSystem[] = [];

  beforeAll(async () => {
    dns = await startDnsServer({
      'b.test': [{ type: 'MX', preference: 10, exchange: 'mx.b.test' }],
      'mx.b.test': [{ type: 'A', address: '127.0.0.1' }],
    });
    B = await startTestSystem({ env: { MAIL_HOSTNAME: 'mx.b.test', SMTP_PORT: String(await freePort()) } });
    await B.addUser('bob@b.test', 'bob-pw');
  });
  afterAll(async () => {
    await Promise.all([B?.stop(), ...senders.map((s) => s.stop())]);
    await dns?.close();
  });

  async function sendFrom(env: Record<string, string>, listenOn: string, subject: string): Promise<string> {
    const A = await startTestSystem({
      env: {
        MAIL_HOSTNAME: 'mx.a.test',
        DNS_SERVERS: dns.server,
        DNS_TIMEOUT_MS: '1000',
        OUTBOUND_SMTP_PORT: String(B.port('smtp-mx')),
        OUTBOUND_RETRY_BASE: '1',
        ...env,
      },
    });
    senders.push(A);
    await A.addUser('alice@a.test', 'alice-pw');
    const r = await run('swaks', [
      '--server',
      listenOn,
      '--port',
      String(A.port('submission')),
      '--tls',
      '--auth',
      'PLAIN',
      '--auth-user',
      'alice@a.test',
      '--auth-password',
      'alice-pw',
      '--from',
      'alice@a.test',
      '--to',
      'bob@b.test',
      '--header',
      `Subject: ${subject}`,
      '--body',
      'hello',
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    return receivedAtB(B, subject);
  }

  it('a server with MAIL_BIND=127.0.0.2 connects to the remote MX from 127.0.0.2', async () => {
    const got = await sendFrom({ MAIL_BIND: '127.0.0.2' }, '127.0.0.2', 'from two');
    expect(got).toMatch(/^Return-Path: <alice@a\.test>\r\nReceived: from mx\.a\.test \(\[127\.0\.0\.2\]\)\r\n\tby mx\.b\.test /);
  });

  it('OUTBOUND_BIND=127.0.0.4 is the source address whatever MAIL_BIND is', async () => {
    const got = await sendFrom({ MAIL_BIND: '127.0.0.1', OUTBOUND_BIND: '127.0.0.4' }, '127.0.0.1', 'from four');
    expect(got).toMatch(/^Return-Path: <alice@a\.test>\r\nReceived: from mx\.a\.test \(\[127\.0\.0\.4\]\)\r\n\tby mx\.b\.test /);
  });

  it('never binds where the connection could not work: other family, loopback towards a remote host', () => {
    expect(sourceAddressFor('192.0.2.10', '198.51.100.7')).toBe('192.0.2.10');
    expect(sourceAddressFor('192.0.2.10', 'relay.example.net')).toBe('192.0.2.10');
    expect(sourceAddressFor('192.0.2.10', '2001:db8::25')).toBeUndefined();
    expect(sourceAddressFor('127.0.0.2', '198.51.100.7')).toBeUndefined();
    expect(sourceAddressFor('127.0.0.2', '127.0.0.1')).toBe('127.0.0.2');
    expect(sourceAddressFor(null, '198.51.100.7')).toBeUndefined();
  });
});
