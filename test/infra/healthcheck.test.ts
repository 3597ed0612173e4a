/**
 * The container health check (fargate-listeners/src/healthcheck.ts) against fake servers on
 * loopback: healthy only when SMTP, IMAP and POP3 all greet as their RFCs say.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = path.resolve(import.meta.dirname, '../../fargate-listeners/src/healthcheck.ts');

interface Fake {
  port: number;
  received: () => string;
  close: () => Promise<void>;
}

const servers: Fake[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function fake(greeting: string | null): Promise<Fake> {
  let received = '';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('error', () => {});
    if (greeting !== null) socket.write(greeting);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const f: Fake = {
    port: (server.address() as net.AddressInfo).port,
    received: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  servers.push(f);
  return f;
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function run(ports: { smtp: number; imap: number; pop3: number }): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SCRIPT], {
      env: {
        PATH: process.env.PATH,
        HEALTHCHECK_TIMEOUT_MS: '500',
        MAIL_RUNTIME: 'aws',
        SMTP_PORT: String(ports.smtp),
        IMAP_PORT: String(ports.imap),
        POP3_PORT: String(ports.pop3),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('container health check', () => {
  it('is healthy when all three greet, and says goodbye to each', async () => {
    const smtp = await fake('220 mail.example.com ESMTP ready\r\n');
    const imap = await fake('* OK [CAPABILITY IMAP4rev2] ready\r\n');
    const pop3 = await fake('+OK POP3 ready\r\n');
    const result = await run({ smtp: smtp.port, imap: imap.port, pop3: pop3.port });
    expect(result).toEqual({ code: 0, stderr: '' });
    await new Promise((r) => setTimeout(r, 50));
    expect(smtp.received()).toBe('QUIT\r\n');
    expect(imap.received()).toBe('a LOGOUT\r\n');
    expect(pop3.received()).toBe('QUIT\r\n');
  });

  it('accepts a multi-line SMTP greeting (RFC 5321 §4.2: 220-)', async () => {
    const smtp = await fake('220-mail.example.com ESMTP\r\n220 ready\r\n');
    const imap = await fake('* OK ready\r\n');
    const pop3 = await fake('+OK ready\r\n');
    expect((await run({ smtp: smtp.port, imap: imap.port, pop3: pop3.port })).code).toBe(0);
  });

  it('is unhealthy when a server refuses service in its greeting', async () => {
    const smtp = await fake('554 no service\r\n');
    const imap = await fake('* BYE overloaded\r\n');
    const pop3 = await fake('+OK ready\r\n');
    const result = await run({ smtp: smtp.port, imap: imap.port, pop3: pop3.port });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('smtp');
    expect(result.stderr).toContain('imap');
    expect(result.stderr).not.toContain('pop3');
  });

  it('is unhealthy when a port is closed or a server never greets', async () => {
    const smtp = await fake('220 ready\r\n');
    const imap = await fake(null);
    const result = await run({ smtp: smtp.port, imap: imap.port, pop3: await closedPort() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/imap \(port \d+\): no greeting in time/);
    expect(result.stderr).toMatch(/pop3 \(port \d+\): .*ECONNREFUSED/);
  });
});
