/**
 * Container health check (Dockerfile HEALTHCHECK and the ECS task definition): connects to the
 * plain-text SMTP, IMAP and POP3 ports on loopback and expects each server's greeting —
 * `220` (RFC 5321 §4.2), `* OK` (RFC 9051 §7.1.1), `+OK` (RFC 1939 §4) — then says goodbye.
 * Exit 0 when all three answer, 1 otherwise. Loopback is outside PROXY_TRUSTED_CIDRS, so the
 * listeners expect no proxy protocol header from it.
 */
import net from 'node:net';
import { loadConfig } from '#core/config.ts';

interface Probe {
  name: string;
  port: number;
  greeting: RegExp;
  goodbye: string;
}

/** Per probe; the Docker/ECS health check timeout (5 s) bounds the whole run. */
const TIMEOUT_MS = Number(process.env.HEALTHCHECK_TIMEOUT_MS) || 4_000;

function probe(p: Probe): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: p.port });
    let buffer = '';
    let settled = false;
    const fail = (problem: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(`${p.name} (port ${p.port}): ${problem}`);
    };
    const timer = setTimeout(() => fail('no greeting in time'), TIMEOUT_MS);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      if (settled) return;
      buffer += chunk;
      const eol = buffer.indexOf('\n');
      if (eol === -1) return;
      const line = buffer.slice(0, eol).replace(/\r$/, '');
      if (!p.greeting.test(line)) return fail(`unexpected greeting ${JSON.stringify(line.slice(0, 80))}`);
      settled = true;
      clearTimeout(timer);
      // Resolve once the goodbye is flushed, so the exit below does not cut it off.
      socket.end(p.goodbye, () => resolve(null));
    });
    socket.on('error', (err) => fail(err.message));
    socket.on('close', () => fail('closed before greeting'));
  });
}

const config = loadConfig();
const probes: Probe[] = [
  { name: 'smtp', port: config.ports.smtp, greeting: /^220[ -]/, goodbye: 'QUIT\r\n' },
  { name: 'imap', port: config.ports.imap, greeting: /^\* (OK|PREAUTH)\b/i, goodbye: 'a LOGOUT\r\n' },
  { name: 'pop3', port: config.ports.pop3, greeting: /^\+OK\b/, goodbye: 'QUIT\r\n' },
];
const problems = (await Promise.all(probes.map(probe))).filter((p): p is string => p !== null);
if (problems.length > 0) {
  process.stderr.write(`unhealthy: ${problems.join('; ')}\n`);
  process.exit(1);
}
process.exit(0);
