/**
 * The web face: `https` on HTTPS_PORT (TLS with the mail listeners' certificate, tls.ts) and,
 * for development, `http` on HTTP_PORT bound to HTTP_BIND (loopback unless configured). Both
 * serve the routes the caller gives (routes.ts): autoconfiguration and MTA-STS (autoconfig.ts,
 * mta-sts.ts), JMAP.
 *
 * Why node:http and no framework: the routes are a handful of fixed paths and one prefix, and
 * what matters here sits below any framework — the PROXY protocol header before TLS, the
 * socket accounting for graceful close, and Node's own parser limits (maxHeaderSize → 431,
 * headersTimeout/requestTimeout → 408, which stop slowloris clients). Express/Fastify/Hono
 * would add a dependency and a layer over the same http.Server without removing any of that.
 *
 * Each TCP connection goes through createProxiedServer() (proxy-protocol.ts, as every mail
 * listener), then for `https` through a TLS handshake, then is handed to an http.Server with
 * `emit('connection')`: the server parses, times out and keeps alive as usual, and the client
 * address a handler sees is the one PROXY protocol named.
 *
 * Every answer carries X-Content-Type-Options: nosniff, a Content-Security-Policy (default
 * `default-src 'none'; frame-ancestors 'none'`, a route may set its own), X-Frame-Options DENY,
 * Referrer-Policy no-referrer, and on HTTPS Strict-Transport-Security. CORS headers are sent
 * only to origins listed in HTTP_CORS_ORIGINS; OPTIONS preflights are answered here.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type net from 'node:net';
import tls from 'node:tls';
import type { HttpConfig } from '#core/config.ts';
import type { ListenerDeps, RunningListener } from '../listener.ts';
import { createProxiedServer } from '../proxy-protocol.ts';
import { BodyTooLargeError, type HttpRequestContext, type HttpRoute } from './routes.ts';

export interface HttpListenerOptions {
  /** Override config.http.httpsPort / httpPort (tests: 0 = a free port; null = no plain listener). */
  httpsPort?: number;
  httpPort?: number | null;
}

const HANDSHAKE_TIMEOUT_MS = 30_000;
const KEEP_ALIVE_MS = 5_000;
const DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'";
const HSTS = 'max-age=31536000';
/** Request headers a cross-origin caller may send (preflight Access-Control-Allow-Headers). */
const CORS_ALLOWED_HEADERS = ['authorization', 'content-type', 'accept', 'last-event-id', 'cache-control'];

/** The liveness probe: answered by the listener itself. */
const HEALTH_ROUTE: HttpRoute = {
  path: '/healthz',
  methods: ['GET'],
  async handle(_req, res) {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end('ok\n');
  },
};

interface Entry {
  name: string;
  secure: boolean;
  tcp: net.Server;
  http: http.Server;
  /** Every accepted TCP socket (handshakes in progress included). */
  sockets: Set<net.Socket>;
  /** Sockets handed to the HTTP server (what activeConnections counts). */
  active: Set<net.Socket>;
  closing: boolean;
}

/** Finds the route for a path: exact routes first, then the longest matching prefix. */
export function matchRoute(routes: HttpRoute[], pathname: string): HttpRoute | undefined {
  const exact = routes.find((r) => !r.prefix && r.path === pathname);
  if (exact) return exact;
  let best: HttpRoute | undefined;
  for (const r of routes) if (r.prefix && pathname.startsWith(r.path) && (!best || r.path.length > best.path.length)) best = r;
  return best;
}

function allowedMethods(route: HttpRoute): string[] {
  const m = new Set(route.methods.map((x) => x.toUpperCase()));
  if (m.has('GET')) m.add('HEAD');
  m.add('OPTIONS');
  return [...m];
}

/** A refused body is read and thrown away up to this much, for at most this long, before the 413. */
const DISCARD_MAX_BYTES = 8 * 1024 * 1024;
const DISCARD_MAX_MS = 5_000;

/**
 * Reads and discards what is left of a refused request body (bounded), so that the 413 which
 * follows, and the close, do not meet unread data: closing a socket with unread bytes sends a TCP
 * reset, and the client may lose the answer with it.
 */
function discardRest(req: IncomingMessage, alreadyRead: number): Promise<void> {
  return new Promise((resolve) => {
    if (req.readableEnded || req.destroyed) return resolve();
    let seen = alreadyRead;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > DISCARD_MAX_BYTES) done();
    };
    const timer = setTimeout(done, DISCARD_MAX_MS);
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
    req.resume();
  });
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(`${text}\n`);
}

export async function startHttpListeners(deps: ListenerDeps, routes: HttpRoute[], options: HttpListenerOptions = {}): Promise<RunningListener[]> {
  const { config, tls: tlsMaterial } = deps;
  const hc: HttpConfig = config.http;
  const logger = deps.logger.child({ listener: 'http' });
  const all = [HEALTH_ROUTE, ...routes];
  /** The client address of each socket, as PROXY protocol gave it (a TLS socket maps to its TCP socket's). */
  const clients = new WeakMap<net.Socket, string>();

  const handle = async (entry: Entry, req: IncomingMessage, res: ServerResponse) => {
    const remoteAddress = clients.get(req.socket) ?? req.socket.remoteAddress ?? '';
    const log = logger.child({ listener: entry.name, client: remoteAddress });
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('content-security-policy', DEFAULT_CSP);
    if (entry.secure) res.setHeader('strict-transport-security', HSTS);
    if (entry.closing) res.setHeader('connection', 'close');

    const scheme = entry.secure ? 'https' : 'http';
    let url: URL;
    try {
      const host = req.headers.host ?? config.hostname;
      if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) throw new Error('bad host');
      url = new URL(req.url ?? '/', `${scheme}://${host}`);
      if (!(req.url ?? '').startsWith('/')) throw new Error('not origin-form');
    } catch {
      return plain(res, 400, 'bad request');
    }

    const origin = typeof req.headers.origin === 'string' ? req.headers.origin : null;
    const corsAllowed = origin !== null && hc.corsOrigins.includes(origin);
    if (origin !== null) res.setHeader('vary', 'Origin');
    if (corsAllowed) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-allow-credentials', 'true');
    }

    const route = matchRoute(all, url.pathname);
    if (!route) return plain(res, 404, 'not found');
    const allow = allowedMethods(route);
    const method = (req.method ?? 'GET').toUpperCase();
    if (method === 'OPTIONS') {
      const headers: Record<string, string> = { ...route.optionsHeaders, allow: allow.join(', ') };
      if (corsAllowed) {
        headers['access-control-allow-methods'] = allow.join(', ');
        const asked = String(req.headers['access-control-request-headers'] ?? '')
          .split(',')
          .map((h) => h.trim().toLowerCase())
          .filter((h) => CORS_ALLOWED_HEADERS.includes(h));
        if (asked.length > 0) headers['access-control-allow-headers'] = asked.join(', ');
        headers['access-control-max-age'] = '600';
      }
      res.writeHead(204, headers);
      res.end();
      return;
    }
    if (!allow.includes(method)) return plain(res, 405, 'method not allowed', { allow: allow.join(', ') });

    const maxBodyBytes = route.maxBodyBytes ?? hc.maxBodyBytes;
    const length = req.headers['content-length'];
    if (length !== undefined && Number(length) > maxBodyBytes) {
      if (Number(length) <= DISCARD_MAX_BYTES) await discardRest(req, 0);
      res.setHeader('connection', 'close');
      return plain(res, 413, `request body larger than ${maxBodyBytes} octets`);
    }
    if (route.contentSecurityPolicy) res.setHeader('content-security-policy', route.contentSecurityPolicy);
    const ctx: HttpRequestContext = { remoteAddress, secure: entry.secure, url, log, maxBodyBytes };
    try {
      await route.handle(req, res, ctx);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        if (!res.headersSent) await discardRest(req, maxBodyBytes);
        res.setHeader('connection', 'close');
        return plain(res, 413, err.message);
      }
      log.error('http handler failed', { path: url.pathname, err: err as Error });
      return plain(res, 500, 'internal error');
    }
  };

  const makeEntry = (name: string, secure: boolean): Entry => {
    const server = http.createServer({
      maxHeaderSize: hc.maxHeaderBytes,
      headersTimeout: hc.headersTimeoutMs,
      requestTimeout: hc.requestTimeoutMs,
      keepAliveTimeout: KEEP_ALIVE_MS,
      // How often Node checks headersTimeout/requestTimeout (default 30 s).
      connectionsCheckingInterval: Math.min(1000, hc.headersTimeoutMs),
      requireHostHeader: true,
    });
    const entry: Entry = { name, secure, tcp: null as unknown as net.Server, http: server, sockets: new Set(), active: new Set(), closing: false };
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      void handle(entry, req, res).catch((err: unknown) => {
        logger.error('http request failed', { err: err as Error });
        res.destroy();
      });
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
      // Node answers 431/408/400 itself when the socket is writable; otherwise drop it.
      logger.debug('http client error', { listener: name, code: err.code });
      if (!socket.writable) socket.destroy();
      else {
        const status =
          err.code === 'HPE_HEADER_OVERFLOW'
            ? '431 Request Header Fields Too Large'
            : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
              ? '408 Request Timeout'
              : '400 Bad Request';
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      }
    });
    const serve = (raw: net.Socket, socket: net.Socket) => {
      if (raw.remoteAddress) clients.set(socket, raw.remoteAddress);
      entry.active.add(socket);
      socket.once('close', () => entry.active.delete(socket));
      server.emit('connection', socket);
    };
    entry.tcp = createProxiedServer(deps.proxy, (raw) => {
      if (entry.closing) {
        raw.destroy();
        return;
      }
      if (!secure) return serve(raw, raw);
      const socket = new tls.TLSSocket(raw, { isServer: true, secureContext: tlsMaterial.context, ALPNProtocols: ['http/1.1'] });
      const timer = setTimeout(() => {
        socket.destroy();
        raw.destroy();
      }, HANDSHAKE_TIMEOUT_MS);
      socket.once('secure', () => {
        clearTimeout(timer);
        serve(raw, socket);
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        logger.debug('https handshake failed', { err: e.message });
        socket.destroy();
        raw.destroy();
      });
    });
    entry.tcp.maxConnections = config.maxConnections;
    entry.tcp.on('connection', (s: net.Socket) => {
      entry.sockets.add(s);
      s.once('close', () => entry.sockets.delete(s));
    });
    entry.tcp.on('error', (e) => logger.error('http listener error', { listener: name, err: e }));
    // The http.Server never listens itself (the proxied TCP server above does), but its
    // connection tracking — the headersTimeout/requestTimeout checks and closeIdleConnections()
    // — starts on its 'listening' event: emit it, so those work for the sockets we hand over.
    server.emit('listening');
    return entry;
  };

  const started: Entry[] = [];
  const listen = async (entry: Entry, port: number, bind: string): Promise<RunningListener> => {
    await new Promise<void>((resolve, reject) => {
      entry.tcp.once('error', reject);
      entry.tcp.listen(port, bind, () => {
        entry.tcp.removeListener('error', reject);
        resolve();
      });
    });
    started.push(entry);
    const addr = entry.tcp.address();
    const bound = typeof addr === 'object' && addr ? addr.port : port;
    logger.info('http listening', { listener: entry.name, port: bound, bind });
    return { name: entry.name, port: bound, close: (graceMs?: number) => closeEntry(entry, graceMs), activeConnections: () => entry.active.size };
  };

  try {
    const result = [await listen(makeEntry('https', true), options.httpsPort ?? hc.httpsPort, config.bind)];
    const httpPort = options.httpPort === undefined ? hc.httpPort : options.httpPort;
    if (httpPort !== null) result.push(await listen(makeEntry('http', false), httpPort, hc.httpBind));
    return result;
  } catch (e) {
    await Promise.all(started.map((s) => closeEntry(s, 0)));
    throw e;
  }
}

/**
 * Stop accepting; idle keep-alive connections close at once, requests in progress finish
 * (their answers carry `Connection: close`) within `graceMs`, then what is left is destroyed.
 */
async function closeEntry(entry: Entry, graceMs = 5_000): Promise<void> {
  entry.closing = true;
  const closed = new Promise<void>((resolve) => entry.tcp.close(() => resolve()));
  const deadline = Date.now() + graceMs;
  while (entry.sockets.size > 0 && Date.now() < deadline) {
    entry.http.closeIdleConnections();
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const s of entry.sockets) s.destroy();
  for (const s of entry.active) s.destroy();
  entry.http.closeAllConnections();
  entry.http.close(); // stops its timeout checks
  await closed;
}
