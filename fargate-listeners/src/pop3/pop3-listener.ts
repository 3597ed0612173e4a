/**
 * The POP3 listeners: `pop3` (plaintext with STLS, RFC 2595) on config.ports.pop3 and `pop3s`
 * (implicit TLS, RFC 8314) on config.ports.pop3s. Port 0 asks for a free port.
 *
 * Settings read here (besides MailConfig):
 *  - POP3_EXPIRE_DAYS: `NEVER` (default) or N — retrieved messages are removed at a QUIT at
 *    least N days after their first retrieval (advertised as `EXPIRE N`, RFC 2449 §6.7;
 *    0 = removed at the QUIT of the session that retrieved them).
 *  - POP3_LEASE_TTL: seconds of the maildrop lock before a crashed container's lock lapses
 *    (default 300; refreshed every TTL/3 during a session).
 *
 * Idle timeout: config.idleTimeoutSeconds (MAIL_IDLE_TIMEOUT, default 300 s). RFC 1939 §3 asks
 * for an autologout timer of at least 10 minutes; the default here is shorter, to free
 * connections and maildrop locks sooner behind a load balancer. Set MAIL_IDLE_TIMEOUT=600 for
 * the RFC value.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { ListenerDeps, RunningListener } from '../listener.ts';
import { createProxiedServer } from '../proxy-protocol.ts';
import { Pop3Connection, type ConnectionLimits } from './connection.ts';
import { parseExpirePolicy, type ExpirePolicy } from './protocol/capabilities.ts';
import { Pop3Session, type Pop3SessionDeps, type Pop3SessionSettings } from './session.ts';

export interface Pop3ListenerOptions {
  port?: number;
  tlsPort?: number;
  /** Overrides POP3_EXPIRE_DAYS. */
  expire?: ExpirePolicy;
  /** Overrides POP3_LEASE_TTL. */
  leaseTtlSeconds?: number;
  /** Overrides config.idleTimeoutSeconds. */
  idleTimeoutMs?: number;
  /** Overrides the per-session wait before a failed login is answered (default 500 ms doubling, at most 15 s). */
  failureDelay?: { baseMs: number; maxMs: number };
  maxBadCommands?: number;
  maxAuthFailures?: number;
  maxConnections?: number;
}

const HANDSHAKE_TIMEOUT_MS = 30_000;

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

interface Server {
  name: string;
  server: net.Server;
  connections: Set<Pop3Connection>;
  /** Every accepted socket, including TLS handshakes still in progress. */
  sockets: Set<net.Socket>;
}

export async function startPop3Listeners(deps: ListenerDeps, options: Pop3ListenerOptions = {}): Promise<RunningListener[]> {
  const { config, adapters, tls: tlsMaterial } = deps;
  const logger = deps.logger.child({ listener: 'pop3' });
  const settings: Pop3SessionSettings = {
    hostname: config.hostname,
    implementation: 'cloudmail',
    allowPlaintextAuthOnLoopback: config.allowPlaintextAuthOnLoopback,
    tlsAvailable: true,
    expire: options.expire ?? parseExpirePolicy(process.env.POP3_EXPIRE_DAYS),
    leaseTtlSeconds: options.leaseTtlSeconds ?? envInt('POP3_LEASE_TTL', 300),
    maxBadCommands: options.maxBadCommands ?? 20,
    maxAuthFailures: options.maxAuthFailures ?? 3,
    failureDelay: options.failureDelay ?? { baseMs: 500, maxMs: 15_000 },
  };
  const limits: ConnectionLimits = {
    commandLineLimit: 512,
    saslLineLimit: 8192,
    idleTimeoutMs: options.idleTimeoutMs ?? config.idleTimeoutSeconds * 1000,
    maxQueuedLines: 64,
  };
  const sessionDeps: Pop3SessionDeps = {
    ports: { index: adapters.index, blobs: adapters.blobs },
    events: deps.events,
    logger,
    // The process's one throttle (both ports, IMAP and submission too): per client address
    // (AUTH_MAX_FAILURES_PER_CLIENT, IPv6 per /64) and per account (AUTH_MAX_FAILURES_PER_ACCOUNT)
    // within AUTH_FAILURE_WINDOW.
    throttle: deps.authThrottle,
    settings,
  };

  const accept = (entry: Server, raw: net.Socket, socket: net.Socket, secure: boolean) => {
    const conn = new Pop3Connection({ raw, socket, secure }, tlsMaterial, limits, logger);
    entry.connections.add(conn);
    void conn.done.then(() => entry.connections.delete(conn));
    conn.start(new Pop3Session(sessionDeps, conn));
  };

  // Both listeners read the PROXY protocol header first (proxy-protocol.ts), so the session
  // sees the client's address (loopback check, throttling, logs), not the load balancer's.
  const plain: Server = {
    name: 'pop3',
    server: createProxiedServer(deps.proxy, (socket) => accept(plain, socket, socket, false)),
    connections: new Set(),
    sockets: new Set(),
  };
  const implicit: Server = { name: 'pop3s', server: createProxiedServer(deps.proxy, (raw) => implicitTls(raw)), connections: new Set(), sockets: new Set() };
  const implicitTls = (raw: net.Socket) => {
    // RFC 8314 implicit TLS: the handshake comes first. The TLS socket wraps the proxied TCP
    // socket (whose remoteAddress is the client's).
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: tlsMaterial.context });
    const timer = setTimeout(() => {
      secure.destroy();
      raw.destroy();
    }, HANDSHAKE_TIMEOUT_MS);
    secure.once('secure', () => {
      clearTimeout(timer);
      accept(implicit, raw, secure, true);
    });
    secure.once('error', (e) => {
      clearTimeout(timer);
      logger.debug('pop3s handshake failed', { err: e.message });
      secure.destroy();
      raw.destroy();
    });
  };

  const started: Server[] = [];
  const listen = async (entry: Server, port: number): Promise<RunningListener> => {
    entry.server.maxConnections = options.maxConnections ?? config.maxConnections;
    entry.server.on('connection', (socket: net.Socket) => {
      entry.sockets.add(socket);
      socket.once('close', () => entry.sockets.delete(socket));
    });
    entry.server.on('error', (e) => logger.error('pop3 listener error', { listener: entry.name, err: e }));
    await new Promise<void>((resolve, reject) => {
      entry.server.once('error', reject);
      entry.server.listen(port, config.bind, () => {
        entry.server.removeListener('error', reject);
        resolve();
      });
    });
    started.push(entry);
    const addr = entry.server.address();
    const bound = typeof addr === 'object' && addr ? addr.port : port;
    logger.info('pop3 listening', { listener: entry.name, port: bound, bind: config.bind });
    return { name: entry.name, port: bound, close: (graceMs?: number) => closeServer(entry, graceMs), activeConnections: () => entry.connections.size };
  };

  try {
    return [await listen(plain, options.port ?? config.ports.pop3), await listen(implicit, options.tlsPort ?? config.ports.pop3s)];
  } catch (e) {
    await Promise.all(started.map((s) => closeServer(s, 0)));
    throw e;
  }
}

/** Stop accepting; let each session finish its command, say goodbye, close; destroy stragglers. */
async function closeServer(entry: Server, graceMs = 5_000): Promise<void> {
  const closed = new Promise<void>((resolve) => entry.server.close(() => resolve()));
  const conns = [...entry.connections];
  await Promise.all(conns.map((c) => c.shutdown()));
  const all = Promise.all(conns.map((c) => c.done));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  if ((await Promise.race([all, timeout])) === 'timeout') for (const c of conns) c.destroy();
  clearTimeout(timer);
  for (const s of entry.sockets) s.destroy();
  await closed;
}
