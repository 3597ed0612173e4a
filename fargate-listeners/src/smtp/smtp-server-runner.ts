/**
 * Listening and graceful shutdown for smtp-server instances (MX and submission). Connections
 * are accepted by our own TCP server so the PROXY protocol header (fargate-listeners/src/
 * proxy-protocol.ts) is read first; smtp-server then sees the real client address.
 */
import type { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import type { ListenerDeps, RunningListener } from '../listener.ts';
import { createProxiedServer } from '../proxy-protocol.ts';

export async function startSmtpServer(name: string, server: SMTPServer, port: number, deps: ListenerDeps): Promise<RunningListener> {
  const log = deps.logger.child({ listener: name });
  server.on('error', (err) => log.error('smtp server error', { err }));
  const tcp = createProxiedServer(deps.proxy, (socket) => server.server.emit('connection', socket));
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
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      // smtp-server's close() waits for open transactions up to closeTimeout, then sends 421
      // to the rest and ends them.
      (server as any).options.closeTimeout = graceMs;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
