/**
 * PROXY protocol v1/v2 (HAProxy spec) as the AWS NLB sends it: parsed only from trusted peers,
 * and the real client address reaches the protocol server (here: SMTP's Received: header).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProxyHeader, proxyConfigFromEnv } from '#listeners/proxy-protocol.ts';
import { LineClient } from '../support/line-client.ts';
import { eventually, startTestSystem, type TestSystem } from '../support/mail-system.ts';

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function v2ipv4(src: string, srcPort: number, dst = '10.0.0.5', dstPort = 25): Buffer {
  const body = Buffer.alloc(12);
  src.split('.').forEach((o, i) => (body[i] = Number(o)));
  dst.split('.').forEach((o, i) => (body[4 + i] = Number(o)));
  body.writeUInt16BE(srcPort, 8);
  body.writeUInt16BE(dstPort, 10);
  const head = Buffer.alloc(4);
  head[0] = 0x21; // version 2, PROXY
  head[1] = 0x11; // AF_INET, STREAM
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIG, head, body]);
}

describe('parseProxyHeader', () => {
  it('parses v2 IPv4 with bytes after the header left unconsumed', () => {
    const h = v2ipv4('203.0.113.7', 40000);
    const r = parseProxyHeader(Buffer.concat([h, Buffer.from('EHLO x\r\n')]));
    expect(r).toEqual({ state: 'done', consumed: h.length, source: { address: '203.0.113.7', port: 40000 } });
  });
  it('parses v2 IPv6 and TLVs after the addresses', () => {
    const body = Buffer.alloc(36 + 7);
    body.writeUInt16BE(0x2001, 0);
    body.writeUInt16BE(0x0db8, 2);
    body.writeUInt16BE(0x0001, 14);
    body.writeUInt16BE(443, 32);
    const head = Buffer.from([0x21, 0x21, 0, body.length]);
    const r = parseProxyHeader(Buffer.concat([SIG, head, body]));
    expect(r).toMatchObject({ state: 'done', consumed: 16 + body.length, source: { address: '2001:db8::1', port: 443 } });
  });
  it('treats LOCAL commands as no address and reports partial headers as incomplete', () => {
    expect(parseProxyHeader(Buffer.concat([SIG, Buffer.from([0x20, 0x00, 0, 0])]))).toEqual({ state: 'done', consumed: 16 });
    expect(parseProxyHeader(v2ipv4('1.2.3.4', 1).subarray(0, 20))).toEqual({ state: 'incomplete' });
    expect(parseProxyHeader(SIG.subarray(0, 5))).toEqual({ state: 'incomplete' });
  });
  it('parses v1 and refuses garbage', () => {
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 198.51.100.9 10.0.0.1 5555 25\r\nQUIT\r\n'))).toEqual({
      state: 'done',
      consumed: 42,
      source: { address: '198.51.100.9', port: 5555 },
    });
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).toEqual({ state: 'done', consumed: 15 });
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 999.1.1.1 10.0.0.1 1 2\r\n')).state).toBe('invalid');
    expect(parseProxyHeader(Buffer.from('EHLO x\r\n')).state).toBe('invalid');
    expect(parseProxyHeader(Buffer.from('PROXY ' + 'x'.repeat(200))).state).toBe('invalid');
    expect(parseProxyHeader(Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0b])).state).toBe('invalid');
  });
});

describe('listeners behind the load balancer', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem({
      proxy: proxyConfigFromEnv({ PROXY_PROTOCOL: 'v2', PROXY_TRUSTED_CIDRS: '127.0.0.0/8' }),
      // The clients these tests announce are trusted, so no DNS is asked about them (inbound
      // verification of strangers: test/smtp/inbound-trust.e2e.test.ts).
      env: { SMTP_TRUSTED_NETWORKS: '127.0.0.0/8,203.0.113.0/24,2001:db8::/32' },
    });
    await sys.addUser('alice@example.test', 'pw');
  });
  afterAll(() => sys?.stop());

  it('records the client address from the v2 header in the Received: header', async () => {
    const c = await LineClient.connect(sys.port('smtp-mx'));
    c.write(v2ipv4('203.0.113.7', 40000));
    expect(await c.smtpReply()).toMatch(/^220 /);
    await c.send('EHLO client.test');
    await c.send('MAIL FROM:<x@remote.test>');
    await c.send('RCPT TO:<alice@example.test>');
    await c.send('DATA');
    c.write('Subject: proxied\r\n\r\nhi\r\n.\r\n');
    expect(await c.smtpReply()).toMatch(/^250 /);
    c.close();
    const inbox = (await sys.adapters.index.getMailbox('alice@example.test', 'INBOX'))!;
    const [m] = await eventually(async () => {
      const l = await sys.adapters.index.listMessages('alice@example.test', inbox.id);
      return l.length ? l : null;
    });
    expect((await sys.adapters.blobs.get(m.blobKey)).toString()).toMatch(
      /^Return-Path: <x@remote\.test>\r\nReceived: from client\.test \(\[203\.0\.113\.7\]\)/,
    );
  });

  it('closes a trusted connection that sends no valid header', async () => {
    const c = await LineClient.connect(sys.port('smtp-mx'));
    c.write('EHLO no-header\r\n');
    expect(await c.closedByServer()).toBe(true);
  });
});
