/**
 * A whole local mail system plus the JMAP routes on a node:https server on loopback with the
 * system's certificate (until the HTTPS listener is merged, the routes are served the way it
 * will serve them: match the path, call handle()). `plain` serves them over node:http instead.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { jmapRoutes } from '#listeners/jmap/routes.ts';
import { startTestSystem, type TestSystem, type TestSystemOptions } from '../../support/mail-system.ts';

export interface JmapTestSystem {
  ts: TestSystem;
  server: Server;
  base: string;
  user: string;
  password: string;
  auth: string;
  stop(): Promise<void>;
}

export async function startJmapSystem(options: TestSystemOptions & { plain?: boolean } = {}): Promise<JmapTestSystem> {
  const ts = await startTestSystem(options);
  const user = 'alice@example.test';
  const password = 'correct horse';
  await ts.addUser(user, password);
  const d = ts.system.deps;
  const routes = jmapRoutes({ adapters: d.adapters, config: d.config, logger: d.logger, events: d.events, authThrottle: d.authThrottle });
  const secure = !options.plain;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `${secure ? 'https' : 'http'}://${req.headers.host ?? '127.0.0.1'}`);
    const route = routes.find((r) => (r.prefix ? url.pathname.startsWith(r.path) : url.pathname === r.path));
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    if (!route.methods.includes(req.method ?? '')) {
      res.writeHead(405, { Allow: route.methods.join(', ') }).end();
      return;
    }
    route.handle(req, res, { remoteAddress: req.socket.remoteAddress ?? '', secure, url, log: d.logger }).catch((err: unknown) => {
      d.logger.error('route failed', { err: err as Error });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
  const server: Server = secure ? createHttpsServer({ key: d.tls.key, cert: d.tls.cert }, handler) : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `${secure ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    ts,
    server,
    base,
    user,
    password,
    auth: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64'),
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await ts.stop();
    },
  };
}
