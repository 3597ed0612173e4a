/**
 * Listening and graceful shutdown for smtp-server instances (MX and submission). Connections
 * are accepted by our own TCP server so the PROXY protocol header (fargate-listeners/src/
 * proxy-protocol.ts) is read first; smtp-server then sees the real client address.
 */
import type { SMTPServer, SMTPServerSession } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import type { ListenerDeps, RunningListener } from '../listener.ts';
import { addressFromProxyHeader, createProxiedServer } from '../proxy-protocol.ts';

/**
 * Whether `session`'s remoteAddress was named by a PROXY header (proxy-protocol.ts) rather
 * than being the TCP peer's own. smtp-server does not show a session its socket: the
 * connection holding it is found among the server's (its internal `connections`, as close()
 * below uses). Ask before STARTTLS (onConnect), while the socket is still the accepted one.
 */
export function sessionAddressFromProxy(server: SMTPServer, session: SMTPServerSession): boolean {
  const connections: Set<{ session?: SMTPServerSession; _socket?: import('node:net').Socket }> = (server as any)?.connections ?? new Set();
  for (const conn of connections) if (conn.session === session) return conn._socket ? addressFromProxyHeader(conn._socket) : false;
  return false;
}

export async function startSmtpServer(name: string, server: SMTPServer, port: number, deps: ListenerDeps): Promise<RunningListener> {
  const log = deps.logger.child({ listener: name });
  // smtp-server reports each connection's socket and TLS failures here too, with the client's
  // address: garbage after STARTTLS, a reset. That is the client's doing (warn/info), not ours.
  server.on('error', (err: Error & { remoteAddress?: string; code?: string; meta?: { message?: string } }) => {
    if (!err.remoteAddress) return log.error('smtp server error', { err });
    const fields = { client: err.remoteAddress, code: err.code, reason: err.meta?.message ?? err.message };
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.code === 'ETIMEDOUT') log.info('smtp client connection lost', fields);
    else log.warn('smtp client connection failed', fields);
  });
  const tcp = createProxiedServer(deps.proxy, (socket) => server.server.emit('connection', socket));
  tcp.maxConnections = deps.config.maxConnections;
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, deps.config.bind, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  tcp.on('error', (err) => log.error('listener error', { err }));
  const bound = (tcp.address() as AddressInfo).port;
  log.info('listening', { port: bound, bind: deps.config.bind });
  return {
    name,
    port: bound,
    activeConnections: () => (server as any).connections?.size ?? 0,
    async close(graceMs = 10_000) {
      // Stop accepting at once. Connections between transactions get "421 4.3.2" now; one in
      // the middle of a transaction (after MAIL, or in DATA) may finish it first, for up to
      // graceMs, then gets the 421 too (RFC 5321 §3.8).
      const stopped = new Promise<void>((resolve) => tcp.close(() => resolve()));
      const connections: Set<any> = (server as any).connections;
      const shut = (conn: any) => {
        if (conn.__shutdown) return;
        conn.__shutdown = true;
        conn.send(421, '4.3.2 Server shutting down, try again later');
        conn.close();
      };
      const busy = (conn: any) => Boolean(conn._dataStream) || Boolean(conn.session?.envelope?.mailFrom);
      const deadline = Date.now() + graceMs;
      for (;;) {
        for (const conn of connections) if (!busy(conn) || Date.now() >= deadline) shut(conn);
        if (connections.size === 0 || Date.now() >= deadline + 1000) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const conn of connections) conn._socket?.destroy?.();
      await stopped;
    },
  };
}
