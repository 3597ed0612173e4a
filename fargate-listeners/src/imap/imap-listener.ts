/**
 * The IMAP listeners: plain TCP with STARTTLS on config.ports.imap, implicit TLS (RFC 8314)
 * on config.ports.imaps. Connections are accepted through the PROXY protocol reader
 * (../proxy-protocol.ts) so sessions see the real client address. Each connection gets an
 * ImapSession (session/session.ts); sessions of this process share the \Recent tracker, the
 * IDLE watcher; the authentication-failure throttle is the process's one (deps.authThrottle),
 * shared with POP3 and submission.
 */
import type net from 'node:net';
import type { ListenerDeps, RunningListener } from '../listener.ts';
import { createProxiedServer } from '../proxy-protocol.ts';
import { MailboxWatcher } from './session/commands/idle.ts';
import { RecentTracker } from './session/recent.ts';
import { MailboxViews } from './session/mailbox-views.ts';
import { serverHandshake } from './tls-handshake.ts';
import { ImapSession, type ImapContext, type ImapLimits } from './session/session.ts';

export interface ImapListenerOptions {
  /** Plain/STARTTLS port (default config.ports.imap; 0 = a free port). */
  port?: number;
  /** Implicit TLS port (default config.ports.imaps; 0 = a free port). */
  tlsPort?: number;
  limits?: Partial<ImapLimits>;
}

export function defaultImapLimits(deps: ListenerDeps): ImapLimits {
  return {
    maxLineLength: 64 * 1024,
    maxCommandText: 1024 * 1024,
    maxLiteral: 1024 * 1024,
    maxPreAuthLiteral: 8 * 1024,
    maxAppendSize: deps.config.maxMessageSize,
    maxBadCommands: 10,
    maxAuthFailures: 5,
    commandsPerSecond: 1000,
    preAuthTimeoutMs: deps.config.idleTimeoutSeconds * 1000,
    authTimeoutMs: Math.max(deps.config.idleTimeoutSeconds * 1000, 30 * 60_000),
    idlePollMs: deps.config.idlePollSeconds * 1000,
  };
}

export async function startImapListeners(deps: ListenerDeps, options: ImapListenerOptions = {}): Promise<RunningListener[]> {
  const limits = { ...defaultImapLimits(deps), ...options.limits };
  const log = deps.logger.child({ proto: 'imap' });
  const ctx: ImapContext = {
    deps,
    limits,
    recent: new RecentTracker(),
    views: new MailboxViews(),
    watcher: new MailboxWatcher(deps.adapters.index, deps.events, limits.idlePollMs, log),
    throttle: deps.authThrottle,
  };
  let open = 0;

  const serve = (name: string, secure: boolean, port: number): Promise<RunningListener> => {
    const sessions = new Set<ImapSession>();
    /** Implicit-TLS connections still in their handshake (not sessions yet). */
    const handshaking = new Set<net.Socket>();
    const accept = (socket: net.Socket, isTls: boolean) => {
      const session = new ImapSession(ctx, socket, isTls);
      sessions.add(session);
      void session.whenClosed().then(() => sessions.delete(session));
      void session.run();
    };
    let tcp: net.Server;
    if (secure) {
      // Implicit TLS (RFC 8314): each proxied TCP connection does its handshake with a deadline
      // (tls-handshake.ts), then becomes a session.
      tcp = createProxiedServer(deps.proxy, (socket) => {
        socket.on('error', () => {});
        handshaking.add(socket);
        serverHandshake(socket, deps.tls.context, limits.preAuthTimeoutMs)
          .then(
            (s) => accept(s, true),
            (err: Error) => log.debug('TLS client error', { err: err.message }),
          )
          .finally(() => handshaking.delete(socket));
      });
    } else {
      tcp = createProxiedServer(deps.proxy, (socket) => accept(socket, false));
    }
    tcp.maxConnections = deps.config.maxConnections;
    return new Promise((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, deps.config.bind, () => {
        tcp.off('error', reject);
        tcp.on('error', (err) => log.error('listener error', { listener: name, err }));
        open++;
        const addr = tcp.address();
        const bound = typeof addr === 'object' && addr ? addr.port : port;
        log.info('listening', { listener: name, port: bound, bind: deps.config.bind });
        resolve({
          name,
          port: bound,
          activeConnections: () => sessions.size,
          close: async (graceMs = 5000) => {
            // Stop accepting (the close callback would wait for every connection: not awaited).
            tcp.close();
            for (const s of handshaking) s.destroy();
            for (const s of sessions) s.shutdown();
            let timer: NodeJS.Timeout | undefined;
            await Promise.race([Promise.all([...sessions].map((s) => s.whenClosed())), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
            if (timer) clearTimeout(timer);
            for (const s of sessions) s.destroy();
            if (--open === 0) ctx.watcher.stop();
          },
        });
      });
    });
  };

  const listeners: RunningListener[] = [];
  try {
    listeners.push(await serve('imap', false, options.port ?? deps.config.ports.imap));
    listeners.push(await serve('imaps', true, options.tlsPort ?? deps.config.ports.imaps));
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close(0)));
    throw err;
  }
  return listeners;
}
