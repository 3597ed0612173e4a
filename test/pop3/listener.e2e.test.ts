/**
 * The POP3 listener on real sockets: line limits, bad input, pipelining, STLS (and command
 * injection across it), the plaintext-login policy, idle timeout, throttling, shutdown, EXPIRE
 * from the environment, and IMAP-side expunges seen by POP3.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyConfigFromEnv } from '#listeners/proxy-protocol.ts';
import { encodePlain } from '#listeners/pop3/protocol/sasl-plain.ts';
import { startPop3Listeners } from '#listeners/pop3/pop3-listener.ts';
import { RawPop3Client } from './support/raw-client.ts';
import { startPop3System, type Pop3TestSystem } from './support/pop3-system.ts';

const MSG = (n: number) => Buffer.from(`From: a@example.test\r\nSubject: ${n}\r\n\r\nbody ${n}\r\n.leading dot\r\n`);

async function loggedIn(sys: Pop3TestSystem, opts: { tls?: boolean } = {}): Promise<RawPop3Client> {
  const c = await RawPop3Client.connect(opts.tls ? sys.tlsPort : sys.port, opts);
  expect(await c.line()).toMatch(/^\+OK/);
  expect(await c.cmd(`USER ${sys.user}`)).toMatch(/^\+OK/);
  expect(await c.cmd(`PASS ${sys.password}`)).toMatch(/^\+OK/);
  return c;
}

describe('POP3 listener (loopback plaintext allowed)', () => {
  let sys: Pop3TestSystem;

  beforeAll(async () => {
    sys = await startPop3System('local', { idleTimeoutMs: 800, failureDelay: { baseMs: 300, maxMs: 300 } });
    await sys.fill([MSG(1), MSG(2), MSG(3)]);
  }, 60_000);
  afterAll(() => sys?.stop());

  it('an overlong line gets -ERR and the connection is closed (RFC 2449 §4)', async () => {
    const c = await RawPop3Client.connect(sys.port);
    await c.line();
    c.write('NOOP ' + 'x'.repeat(600) + '\r\n');
    expect(await c.line()).toBe('-ERR line too long');
    expect(await c.closedByServer()).toBe(true);
  });

  it('an overlong line without any LF is cut off as well', async () => {
    const c = await RawPop3Client.connect(sys.port);
    await c.line();
    c.write('A'.repeat(4000));
    expect(await c.line()).toBe('-ERR line too long');
    expect(await c.closedByServer()).toBe(true);
  });

  it('bad commands get -ERR and the session goes on; binary garbage does not hurt the server', async () => {
    const c = await RawPop3Client.connect(sys.port);
    await c.line();
    expect(await c.cmd('HELO there')).toBe('-ERR unknown command');
    expect(await c.cmd('RETR 1')).toMatch(/^-ERR RETR is not valid before login/);
    c.write(Buffer.from([0xff, 0xfe, 0x00, 0x0d, 0x0a]));
    expect(await c.line()).toMatch(/^-ERR/);
    expect(await c.cmd('CAPA')).toBe('+OK capability list follows');
    expect(await c.body()).toContain('UIDL');
    c.close();
    const d = await loggedIn(sys);
    expect(await d.cmd('STAT')).toMatch(/^\+OK 3 \d+$/);
    await d.cmd('QUIT');
  });

  it('too many bad commands close the connection', async () => {
    const c = await RawPop3Client.connect(sys.port);
    await c.line();
    c.write('BAD\r\n'.repeat(25));
    for (let i = 1; i < 20; i++) expect(await c.line()).toBe('-ERR unknown command');
    expect(await c.line()).toBe('-ERR unknown command; too many bad commands, closing');
    expect(await c.closedByServer()).toBe(true);
    expect(c.closed).toBe(true);
  });

  it('pipelined commands are answered in order (RFC 2449 §6.6)', async () => {
    const c = await RawPop3Client.connect(sys.port);
    await c.line();
    c.write(`USER ${sys.user}\r\nPASS ${sys.password}\r\nSTAT\r\nUIDL 2\r\nRETR 1\r\nNOOP\r\nQUIT\r\n`);
    expect(await c.line()).toMatch(/^\+OK/);
    expect(await c.line()).toMatch(/^\+OK/);
    expect(await c.line()).toMatch(/^\+OK 3 /);
    expect(await c.line()).toMatch(/^\+OK 2 \d+\.\d+$/);
    expect(await c.line()).toBe(`+OK ${MSG(1).length} octets`);
    expect(await c.body()).toEqual(['From: a@example.test', 'Subject: 1', '', 'body 1', '..leading dot']);
    expect(await c.line()).toBe('+OK');
    expect(await c.line()).toMatch(/^\+OK .*\(0 messages deleted\)/);
    expect(await c.closedByServer()).toBe(true);
  });

  it('STLS: commands pipelined after it are discarded (RFC 2595 §4), then login over TLS', async () => {
    const c = await RawPop3Client.connect(sys.port);
    await c.line();
    c.write(`STLS\r\nUSER ${sys.user}\r\nPASS ${sys.password}\r\n`);
    expect(await c.line()).toBe('+OK begin TLS negotiation');
    await c.startTls();
    // The injected USER/PASS were dropped: PASS now needs a USER first.
    expect(await c.cmd(`PASS ${sys.password}`)).toMatch(/^-ERR USER first/);
    expect(await c.cmd('CAPA')).toBe('+OK capability list follows');
    expect(await c.body()).not.toContain('STLS');
    expect(await c.cmd(`AUTH PLAIN ${encodePlain(sys.user, sys.password)}`)).toMatch(/^\+OK/);
    expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
  });

  it('AUTH PLAIN continuation over implicit TLS', async () => {
    const c = await RawPop3Client.connect(sys.tlsPort, { tls: true });
    await c.line();
    expect(await c.cmd('AUTH PLAIN')).toBe('+ ');
    expect(await c.cmd(encodePlain(sys.user, sys.password))).toMatch(/^\+OK/);
    expect(await c.cmd('STAT')).toMatch(/^\+OK 3 /);
    await c.cmd('QUIT');
  });

  it('a failed login waits before -ERR [AUTH] (throttling)', async () => {
    const c = await RawPop3Client.connect(sys.port);
    await c.line();
    await c.cmd(`USER ${sys.user}`);
    const t0 = Date.now();
    expect(await c.cmd('PASS wrong')).toBe('-ERR [AUTH] authentication failed');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    c.close();
  });

  it('idle clients are logged out without UPDATE (RFC 1939 §3)', async () => {
    const c = await loggedIn(sys);
    expect(await c.cmd('DELE 1')).toMatch(/^\+OK/);
    expect(await c.line(3000)).toBe('-ERR autologout: idle for too long');
    expect(await c.closedByServer()).toBe(true);
    expect(await sys.inboxUids()).toHaveLength(3);
  });

  it('an expunge made through the index (IMAP) shows at the next POP3 login', async () => {
    const mb = await sys.ts.adapters.index.getMailbox(sys.user, 'INBOX');
    const [first] = await sys.inboxUids();
    const extra = (await sys.fill([MSG(9)]))[0];
    const { expunged } = await sys.ts.adapters.index.expunge(sys.user, mb!.id, [extra]);
    expect(expunged).toEqual([extra]);
    const c = await loggedIn(sys);
    expect(await c.cmd('STAT')).toMatch(/^\+OK 3 /);
    expect(await c.cmd('UIDL 1')).toBe(`+OK 1 ${mb!.uidValidity}.${first}`);
    await c.cmd('QUIT');
  });
});

describe('POP3 listener without plaintext login (as on a non-loopback address)', () => {
  let sys: Pop3TestSystem;
  beforeAll(async () => {
    sys = await startPop3System('local', { env: { MAIL_ALLOW_PLAINTEXT_LOOPBACK: '0' } });
  }, 60_000);
  afterAll(() => sys?.stop());

  it('refuses USER and AUTH before STLS, offers neither in CAPA, and accepts them after STLS', async () => {
    const c = await RawPop3Client.connect(sys.port);
    await c.line();
    expect(await c.cmd('CAPA')).toMatch(/^\+OK/);
    const caps = await c.body();
    expect(caps).toContain('STLS');
    expect(caps).not.toContain('USER');
    expect(caps).not.toContain('SASL PLAIN');
    expect(await c.cmd(`USER ${sys.user}`)).toMatch(/^-ERR \[AUTH\]/);
    expect(await c.cmd(`AUTH PLAIN ${encodePlain(sys.user, sys.password)}`)).toMatch(/^-ERR \[AUTH\]/);
    expect(await c.cmd('STLS')).toMatch(/^\+OK/);
    await c.startTls();
    expect(await c.cmd(`USER ${sys.user}`)).toMatch(/^\+OK/);
    expect(await c.cmd(`PASS ${sys.password}`)).toMatch(/^\+OK/);
    await c.cmd('QUIT');
  });
});

describe('POP3 listener behind a PROXY protocol load balancer', () => {
  let sys: Pop3TestSystem;
  beforeAll(async () => {
    sys = await startPop3System('local', { proxy: proxyConfigFromEnv({ PROXY_PROTOCOL: 'v2', PROXY_TRUSTED_CIDRS: '127.0.0.1/32' }) });
  }, 60_000);
  afterAll(() => sys?.stop());

  it('the client address from the header decides: a remote client gets no plaintext login', async () => {
    const c = await RawPop3Client.connect(sys.port);
    c.write('PROXY TCP4 203.0.113.7 127.0.0.1 40000 110\r\n');
    expect(await c.line()).toMatch(/^\+OK/);
    expect(await c.cmd(`USER ${sys.user}`)).toMatch(/^-ERR \[AUTH\] plaintext/);
    c.close();
  });

  it('implicit TLS after the header: the handshake and login work', async () => {
    const raw = await new Promise<net.Socket>((resolve) => {
      const s = net.connect(sys.tlsPort, '127.0.0.1', () => resolve(s));
    });
    raw.write('PROXY TCP4 203.0.113.7 127.0.0.1 40001 995\r\n');
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
    const lines: string[] = [];
    let buf = '';
    const next = () =>
      new Promise<string>((resolve) => {
        const take = () => {
          const i = buf.indexOf('\r\n');
          if (i < 0) return false;
          resolve(buf.slice(0, i));
          buf = buf.slice(i + 2);
          return true;
        };
        if (take()) return;
        const on = (d: Buffer) => {
          buf += d.toString('latin1');
          if (take()) secure.off('data', on);
        };
        secure.on('data', on);
      });
    lines.push(await next());
    secure.write(`USER ${sys.user}\r\nPASS ${sys.password}\r\nQUIT\r\n`);
    lines.push(await next(), await next(), await next());
    expect(lines[0]).toMatch(/^\+OK/);
    expect(lines[2]).toMatch(/^\+OK .* has 0 messages/);
    expect(lines[3]).toMatch(/^\+OK/);
    secure.destroy();
  });

  it('a trusted peer without a header is dropped', async () => {
    const c = await RawPop3Client.connect(sys.port);
    c.write('CAPA\r\n');
    expect(await c.closedByServer(7000)).toBe(true);
  }, 10_000);
});

describe('POP3 listener shutdown and EXPIRE from the environment', () => {
  it('close(): a connected session is told the server is going away, then closed', async () => {
    const sys = await startPop3System('local');
    let stopped = false;
    try {
      await sys.fill([MSG(1)]);
      const c = await loggedIn(sys);
      await c.cmd('DELE 1');
      const extra = await startPop3Listeners(sys.ts.system.deps, { port: 0, tlsPort: 0 });
      // Close only the extra listeners: no effect on sessions of the others.
      await Promise.all(extra.map((l) => l.close(500)));
      expect(await c.cmd('NOOP')).toBe('+OK');
      const stopping = sys.stop();
      stopped = true;
      expect(await c.line()).toBe('-ERR [SYS/TEMP] server shutting down; try again later');
      expect(await c.closedByServer()).toBe(true);
      await stopping;
    } finally {
      if (!stopped) await sys.stop();
    }
  });

  it('POP3_EXPIRE_DAYS=0 is advertised and removes retrieved messages at QUIT', async () => {
    process.env.POP3_EXPIRE_DAYS = '0';
    let sys: Pop3TestSystem;
    try {
      sys = await startPop3System('local');
    } finally {
      delete process.env.POP3_EXPIRE_DAYS;
    }
    try {
      await sys.fill([MSG(1), MSG(2)]);
      const c = await loggedIn(sys);
      expect(await c.cmd('CAPA')).toMatch(/^\+OK/);
      expect(await c.body()).toContain('EXPIRE 0');
      expect(await c.cmd('RETR 2')).toMatch(/^\+OK/);
      await c.body();
      expect(await c.cmd('QUIT')).toMatch(/\(1 messages deleted\)/);
      expect(await sys.inboxUids()).toHaveLength(1);
    } finally {
      await sys.stop();
    }
  });
});
