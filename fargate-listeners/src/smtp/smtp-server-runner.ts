/** Listening and graceful shutdown for smtp-server instances (MX and submission). */
import type { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import type { ListenerDeps, RunningListener } from '../listener.ts';

export async function startSmtpServer(name: string, server: SMTPServer, port: number, deps: ListenerDeps): Promise<RunningListener> {
  const log = deps.logger.child({ listener: name });
  server.on('error', (err) => log.error('smtp server error', { err }));
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.server.once('error', onError);
    server.listen(port, deps.config.bind, () => {
      server.server.off('error', onError);
      resolve();
    });
  });
  const bound = (server.server.address() as AddressInfo).port;
  log.info('listening', { port: bound, bind: deps.config.bind });
  return {
    name,
    port: bound,
    async close(graceMs = 10_000) {
      // smtp-server's close() stops accepting, waits for open transactions up to closeTimeout,
      // then sends 421 to the rest and ends them.
      (server as any).options.closeTimeout = graceMs;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
