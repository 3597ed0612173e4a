/**
 * Smart host mode (as needed on AWS, where port 25 egress is restricted; SES SMTP is the
 * usual relay): all outbound mail goes to the configured relay, over STARTTLS or implicit
 * TLS, with AUTH — no MX lookup. A refused login is retried, never bounced.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { loadTls } from '#listeners/tls.ts';
import { smtplibSend } from '../support/smtplib.ts';
import { eventually, startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

interface Relayed {
  from: string;
  to: string[];
  user: string;
  secure: boolean;
  data: string;
}

let relayTls: ReturnType<typeof loadTls> | undefined;
const relayDir = mkdtempSync(path.join(os.tmpdir(), 'relay-'));
afterAll(() => rmSync(relayDir, { recursive: true, force: true }));

async function startRelay(implicitTls: boolean): Promise<{ port: number; got: Relayed[]; close(): Promise<void> }> {
  relayTls ??= loadTls({ dataDir: relayDir, hostname: 'relay.test', tlsCertFile: null, tlsKeyFile: null });
  const tls = await relayTls;
  const got: Relayed[] = [];
  const server = new SMTPServer({
    secure: implicitTls,
    key: tls.key,
    cert: tls.cert,
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: false, // AUTH only over TLS, like SES
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === 'relay-user' && auth.password === 'relay-pass') return cb(null, { user: auth.username });
      cb(Object.assign(new Error('Authentication failed'), { responseCode: 535 }));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        got.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          user: String(session.user),
          secure: session.secure,
          data: Buffer.concat(chunks).toString(),
        });
        cb(null, 'relayed');
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.server.address() as AddressInfo).port,
    got,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** alice@a.test submits to two remote recipients over plaintext loopback, with smtplib. */
function submit(port: number, data: string) {
  return smtplibSend({
    port,
    auth: { user: 'alice@a.test', password: 'alice-pw' },
    from: 'alice@a.test',
    to: ['bob@far.example', 'carol@other.example'],
    data,
  });
}

describe('smart host', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(
    tlsMode: 'starttls' | 'implicit',
    password: string,
    env: Record<string, string> = {},
  ): Promise<{ sys: TestSystem; relay: Awaited<ReturnType<typeof startRelay>> }> {
    const relay = await startRelay(tlsMode === 'implicit');
    cleanups.push(relay.close);
    const sys = await startTestSystem({
      env: {
        MAIL_HOSTNAME: 'mx.a.test',
        SMART_HOST: '127.0.0.1',
        SMART_HOST_PORT: String(relay.port),
        SMART_HOST_TLS: tlsMode,
        SMART_HOST_USER: 'relay-user',
        SMART_HOST_PASSWORD: password,
        SMART_HOST_VERIFY_CERT: 'false',
        // No DNS at all: a lookup would fail the test.
        DNS_SERVERS: '127.0.0.1:9',
        DNS_TIMEOUT_MS: '200',
        OUTBOUND_RETRY_BASE: '60',
        ...env,
      },
    });
    cleanups.push(() => sys.stop());
    await sys.addUser('alice@a.test', 'alice-pw');
    return { sys, relay };
  }

  for (const mode of ['starttls', 'implicit'] as const) {
    it(`relays all remote recipients through the smart host (${mode}, AUTH)`, async () => {
      const { sys, relay } = await setup(mode, 'relay-pass');
      const r = await submit(sys.port('submission'), 'From: alice@a.test\r\nTo: bob@far.example\r\nSubject: via relay\r\n\r\nhi\r\n');
      expect(r.outcome, r.stderr).toEqual({ refused: {} });
      await eventually(async () => relay.got.length >= 2);
      const byRcpt = relay.got.map((g) => [g.to.join(','), g.from, g.user, g.secure]).sort();
      expect(byRcpt).toEqual([
        ['bob@far.example', 'alice@a.test', 'relay-user', true],
        ['carol@other.example', 'alice@a.test', 'relay-user', true],
      ]);
      expect(relay.got[0].data).toContain('Subject: via relay');
    });
  }

  it('logs in with the credentials of the secret SMART_HOST_SECRET_ARN names (the local SecretStore: a JSON file)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'smart-host-secret-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const secretFile = path.join(dir, 'smart-host.json');
    writeFileSync(secretFile, JSON.stringify({ user: 'relay-user', password: 'relay-pass' }));
    const { sys, relay } = await setup('starttls', '', { SMART_HOST_USER: '', SMART_HOST_PASSWORD: '', SMART_HOST_SECRET_ARN: secretFile });
    const r = await submit(sys.port('submission'), 'From: alice@a.test\r\nSubject: secret\r\n\r\nhi\r\n');
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    await eventually(async () => relay.got.length >= 2);
    expect(relay.got.map((g) => [g.user, g.secure])).toEqual([
      ['relay-user', true],
      ['relay-user', true],
    ]);
  });

  it('retries (does not bounce) when the smart host refuses the login', async () => {
    const { sys, relay } = await setup('starttls', 'wrong');
    const r = await submit(sys.port('submission'), 'From: alice@a.test\r\nSubject: nope\r\n\r\nhi\r\n');
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    await eventually(async () => (await sys.adapters.queue.stats('outbound')).delayed === 2);
    expect(relay.got).toHaveLength(0);
    const mb = await sys.adapters.index.getMailbox('alice@a.test', 'INBOX');
    expect(await sys.adapters.index.listMessages('alice@a.test', mb!.id)).toHaveLength(0);
  });
});
