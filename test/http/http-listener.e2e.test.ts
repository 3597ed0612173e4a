/**
 * The HTTPS listener (fargate-listeners/src/http/http-listener.ts) with routes given by the
 * caller: routing, 404/405/413/431, slow clients, security headers, CORS for configured origins
 * only, PROXY protocol v2, graceful close. curl is the client where a real one matters.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpListeners } from '#listeners/http/http-listener.ts';
import { readBody, type HttpRoute } from '#listeners/http/routes.ts';
import type { RunningListener } from '#listeners/listener.ts';
import { proxyConfigFromEnv } from '#listeners/proxy-protocol.ts';
import { run } from '../support/clients.ts';
import { startTestSystem, type TestSystem } from '../support/mail-system.ts';

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
function proxyV2(src: string, srcPort: number): Buffer {
  const body = Buffer.alloc(12);
  src.split('.').forEach((o, i) => (body[i] = Number(o)));
  body.set([10, 0, 0, 5], 4);
  body.writeUInt16BE(srcPort, 8);
  body.writeUInt16BE(443, 10);
  return Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0, body.length]), body]);
}

const routes: HttpRoute[] = [
  {
    path: '/echo',
    methods: ['POST'],
    maxBodyBytes: 1000,
    async handle(req, res, ctx) {
      const body = await readBody(req, ctx);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(body);
    },
  },
  {
    path: '/whoami',
    methods: ['GET'],
    async handle(_req, res, ctx) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ remoteAddress: ctx.remoteAddress, secure: ctx.secure, url: ctx.url.href }));
    },
  },
  {
    path: '/api/',
    prefix: true,
    methods: ['GET', 'POST'],
    async handle(_req, res, ctx) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`prefix ${ctx.url.pathname}`);
    },
  },
];

/** Sends raw bytes and collects the whole answer until the server closes (or the time runs out). */
function raw(
  port: number,
  bytes: Buffer | string,
  options: { secure?: boolean; waitMs?: number; prefix?: Buffer } = {},
): Promise<{ text: string; closedBy: 'server' | 'timeout' }> {
  return new Promise((resolve, reject) => {
    const tcp = net.connect({ host: '127.0.0.1', port });
    let sock: net.Socket = tcp;
    const chunks: Buffer[] = [];
    const done = (closedBy: 'server' | 'timeout') => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closedBy });
    };
    const timer = setTimeout(() => done('timeout'), options.waitMs ?? 5000);
    tcp.once('connect', () => {
      if (options.prefix) tcp.write(options.prefix);
      if (options.secure) {
        sock = tls.connect({ socket: tcp, rejectUnauthorized: false, servername: 'localhost' });
        sock.once('secureConnect', () => sock.write(bytes));
      } else tcp.write(bytes);
      sock.on('data', (d: Buffer) => chunks.push(d));
      sock.once('close', () => done('server'));
      sock.once('error', (e) => (chunks.length ? done('server') : reject(e)));
    });
  });
}

describe('HTTPS listener', () => {
  let sys: TestSystem;
  let listeners: RunningListener[];
  let https: number;
  let plain: number;
  const curl = (...args: string[]) => run('curl', ['-sSk', '--max-time', '10', ...args], { timeoutMs: 15_000 });

  beforeAll(async () => {
    sys = await startTestSystem({ env: { HTTP_CORS_ORIGINS: 'https://webmail.example.test', HTTP_HEADERS_TIMEOUT: '1', HTTP_MAX_HEADER_BYTES: '8192' } });
    listeners = await startHttpListeners(sys.system.deps, routes, { httpsPort: 0, httpPort: 0 });
    https = listeners.find((l) => l.name === 'https')!.port;
    plain = listeners.find((l) => l.name === 'http')!.port;
  });
  afterAll(async () => {
    await Promise.all(listeners.map((l) => l.close(500)));
    await sys.stop();
  });

  it('serves a route over TLS with the mail certificate, with the security headers', async () => {
    const r = await curl('-D', '-', `https://127.0.0.1:${https}/whoami`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(r.stdout).toMatch(/^strict-transport-security: max-age=31536000/im);
    expect(r.stdout).toMatch(/^x-content-type-options: nosniff/im);
    expect(r.stdout).toMatch(/^content-security-policy: default-src 'none'; frame-ancestors 'none'/im);
    const body = JSON.parse(r.stdout.slice(r.stdout.indexOf('\r\n\r\n') + 4));
    expect(body).toEqual({ remoteAddress: '127.0.0.1', secure: true, url: `https://127.0.0.1:${https}/whoami` });
    // The certificate is the one the mail listeners present.
    const cert = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: https, rejectUnauthorized: false }, () => {
        resolve(s.getPeerX509Certificate()!.fingerprint256);
        s.destroy();
      });
    });
    expect(cert).toBe(new (await import('node:crypto')).X509Certificate(sys.system.deps.tls.cert).fingerprint256);
  });

  it('sends no HSTS on the plain development listener, which binds loopback', async () => {
    const r = await curl('-D', '-', `http://127.0.0.1:${plain}/whoami`);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(r.stdout).not.toMatch(/strict-transport-security/i);
    expect(r.stdout).toContain('"secure":false');
  });

  it('answers /healthz', async () => {
    const r = await curl(`https://127.0.0.1:${https}/healthz`);
    expect(r.stdout).toBe('ok\n');
  });

  it('routes a prefix and answers 404 for an unknown path', async () => {
    expect((await curl(`https://127.0.0.1:${https}/api/x/y`)).stdout).toBe('prefix /api/x/y');
    const r = await curl('-o', '/dev/null', '-w', '%{http_code}', `https://127.0.0.1:${https}/nothing-here`);
    expect(r.stdout).toBe('404');
  });

  it('answers 405 with Allow for a method the route does not serve (RFC 9110 §15.5.6)', async () => {
    const r = await curl('-X', 'DELETE', '-D', '-', '-o', '/dev/null', `https://127.0.0.1:${https}/whoami`);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 405/);
    expect(r.stdout).toMatch(/^allow: GET, HEAD, OPTIONS\r$/im);
  });

  it('answers 413 to a body over the limit, by Content-Length and while streaming chunked', async () => {
    const small = await curl('--data-binary', 'hello', `https://127.0.0.1:${https}/echo`);
    expect(small.stdout).toBe('hello');
    const big = await curl('-o', '/dev/null', '-w', '%{http_code}', '--data-binary', 'x'.repeat(5000), `https://127.0.0.1:${https}/echo`);
    expect(big.stdout).toBe('413');
    const chunked = await raw(https, `POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${'800\r\n' + 'y'.repeat(0x800) + '\r\n'}0\r\n\r\n`, {
      secure: true,
    });
    expect(chunked.text).toMatch(/^HTTP\/1\.1 413/);
  });

  it('answers 431 to a header section over HTTP_MAX_HEADER_BYTES', async () => {
    const r = await raw(https, `GET /whoami HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(10_000)}\r\n\r\n`, { secure: true });
    expect(r.text).toMatch(/^HTTP\/1\.1 431/);
  });

  it('closes a client that sends its headers too slowly (slowloris, headersTimeout)', async () => {
    const started = Date.now();
    const r = await raw(plain, 'GET /whoami HTTP/1.1\r\nHost: x\r\n', { waitMs: 8000 });
    expect(r.closedBy).toBe('server');
    expect(Date.now() - started).toBeLessThan(7000);
    expect(r.text).toMatch(/^HTTP\/1\.1 408|^$/);
  });

  it('sends CORS headers to a configured origin only, and answers its preflight', async () => {
    const ok = await curl('-D', '-', '-o', '/dev/null', '-H', 'Origin: https://webmail.example.test', `https://127.0.0.1:${https}/whoami`);
    expect(ok.stdout).toMatch(/^access-control-allow-origin: https:\/\/webmail\.example\.test\r$/im);
    const other = await curl('-D', '-', '-o', '/dev/null', '-H', 'Origin: https://evil.example', `https://127.0.0.1:${https}/whoami`);
    expect(other.stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(other.stdout).not.toMatch(/access-control-allow-origin/i);
    const pre = await curl(
      '-X',
      'OPTIONS',
      '-D',
      '-',
      '-H',
      'Origin: https://webmail.example.test',
      '-H',
      'Access-Control-Request-Method: POST',
      '-H',
      'Access-Control-Request-Headers: Authorization, Content-Type, X-Evil',
      `https://127.0.0.1:${https}/api/session`,
    );
    expect(pre.stdout).toMatch(/^HTTP\/1\.1 204/);
    expect(pre.stdout).toMatch(/^access-control-allow-methods: GET, POST, HEAD, OPTIONS\r$/im);
    expect(pre.stdout).toMatch(/^access-control-allow-headers: authorization, content-type\r$/im);
    const badPre = await curl('-X', 'OPTIONS', '-D', '-', '-H', 'Origin: https://evil.example', `https://127.0.0.1:${https}/api/session`);
    expect(badPre.stdout).not.toMatch(/access-control-allow/i);
  });
});

describe('HTTPS listener behind the load balancer (PROXY protocol v2)', () => {
  let sys: TestSystem;
  let listeners: RunningListener[];

  beforeAll(async () => {
    sys = await startTestSystem({ proxy: proxyConfigFromEnv({ PROXY_PROTOCOL: 'v2', PROXY_TRUSTED_CIDRS: '127.0.0.1/32' }) });
    listeners = await startHttpListeners(sys.system.deps, routes, { httpsPort: 0, httpPort: 0 });
  });
  afterAll(async () => {
    await Promise.all(listeners.map((l) => l.close(500)));
    await sys.stop();
  });

  it('gives the handler the client address from the header, over TLS and plain', async () => {
    const req = 'GET /whoami HTTP/1.1\r\nHost: mail.example.test\r\nConnection: close\r\n\r\n';
    const tlsAnswer = await raw(listeners[0].port, req, { secure: true, prefix: proxyV2('203.0.113.9', 41000) });
    expect(tlsAnswer.text).toContain('"remoteAddress":"203.0.113.9"');
    expect(tlsAnswer.text).toContain('"url":"https://mail.example.test/whoami"');
    const plainAnswer = await raw(listeners[1].port, req, { prefix: proxyV2('198.51.100.4', 41001) });
    expect(plainAnswer.text).toContain('"remoteAddress":"198.51.100.4"');
  });

  it('drops a trusted peer that sends no header', async () => {
    const r = await raw(listeners[1].port, 'GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(r.text).toBe('');
    expect(r.closedBy).toBe('server');
  });
});

describe('HTTPS listener shutdown', () => {
  it('lets a request in progress finish, then stops accepting', async () => {
    const sys = await startTestSystem();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: HttpRoute = {
      path: '/slow',
      methods: ['GET'],
      async handle(_req, res) {
        await gate;
        res.end('finished');
      },
    };
    const [https] = await startHttpListeners(sys.system.deps, [slow], { httpsPort: 0, httpPort: null });
    try {
      const pending = run('curl', ['-sSk', '--max-time', '10', `https://127.0.0.1:${https.port}/slow`], { timeoutMs: 15_000 });
      await new Promise((r) => setTimeout(r, 500));
      expect(https.activeConnections!()).toBe(1);
      const closing = https.close(5000);
      setTimeout(release, 300);
      await closing;
      expect((await pending).stdout).toBe('finished');
      const after = await run('curl', ['-sSk', '--max-time', '3', `https://127.0.0.1:${https.port}/slow`]);
      expect(after.code).not.toBe(0);
    } finally {
      release();
      await sys.stop();
    }
  });
});
