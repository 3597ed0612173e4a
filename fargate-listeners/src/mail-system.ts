/**
 * One running mail system: every listener, and (in the local runtime) the queue workers that
 * run the same job functions as the Lambdas. Used by `npm start` (local-main.ts), the Fargate
 * entry point (aws-main.ts, listeners only) and the end-to-end tests.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Adapters } from '#core/adapters/adapters.ts';
import type { MailConfig } from '#core/config.ts';
import { verifiedCredentials } from '#core/accounts/verified-credentials.ts';
import type { Logger } from '#core/log.ts';
import { createMailboxEvents, type MailboxEvents } from '#core/mailbox/events.ts';
import type { ChangeFeed } from '#core/ports/change-feed.ts';
import type { RunningWorker } from '#core/worker.ts';
import { createAuthThrottle } from './auth-throttle.ts';
import type { ListenerDeps, RunningListener } from './listener.ts';
import { startMxListener } from './smtp/mx-listener.ts';
import { startImapListeners } from './imap/imap-listener.ts';
import { startPop3Listeners } from './pop3/pop3-listener.ts';
import type { OutboundServiceOptions } from '#core/outbound/services.ts';
import { startJobWorkers } from './job-workers.ts';
import { startIngestThread } from './ingest-thread.ts';
import { startSubmissionListeners } from './smtp/submission-listener.ts';
import { PROXY_DISABLED, type ProxyConfig } from './proxy-protocol.ts';
import { loadTls } from './tls.ts';
// The web face (HTTPS): autoconfiguration, MTA-STS; JMAP adds its routes here.
import { startHttpListeners } from './http/http-listener.ts';
import type { HttpRoute } from './http/routes.ts';
import { mailWebRoutes } from './http/web-routes.ts';
import { jmapRoutes } from './jmap/routes.ts';
import { webmailRoutes } from './http/webmail-routes.ts';
import { cardDavRoutes } from './dav/carddav-routes.ts';
import { publicEndpoints, type EndpointPort } from '#core/mail-endpoints.ts';

export interface MailSystemOptions {
  adapters: Adapters;
  config: MailConfig;
  logger: Logger;
  /** Run the ingest/outbound workers in this process (local runtime). */
  workers: boolean;
  /**
   * Run them instead on a thread of their own (ingest-thread.ts), on the local adapters of
   * `dataDir` opened there (local runtime: `npm start`), so their CPU and the index commits'
   * fsyncs do not hold up the listeners' event loop.
   */
  ingestThread?: { dataDir: string };
  events?: MailboxEvents;
  /**
   * Carries change notifications to and from other processes (core/ports/change-feed.ts):
   * the SQLite file locally, SNS → a queue of this task's on AWS. Used when `events` is not
   * given; the system starts listening before the listeners open and closes the feed on stop.
   */
  changeFeed?: ChangeFeed;
  /** The first wait before listening is tried again after the feed failed to start; default 30 s (tests). */
  listenRetryMs?: number;
  /** PROXY protocol (AWS NLB); default: off. */
  proxy?: ProxyConfig;
  /** Outbound overrides (tests): DNS resolver, SMTP transport. */
  outbound?: Pick<OutboundServiceOptions, 'resolver' | 'deliver'>;
}

export interface MailSystem {
  deps: ListenerDeps;
  listeners: RunningListener[];
  /** Port of a listener by name ('smtp-mx', 'imap', 'imaps', 'pop3', 'pop3s', ...). */
  port(name: string): number;
  stop(graceMs?: number): Promise<void>;
}

export async function startMailSystem(options: MailSystemOptions): Promise<MailSystem> {
  const { adapters, config, logger } = options;
  const tls = await loadTls(config);
  const ownsEvents = !options.events;
  const events = options.events ?? createMailboxEvents({ feed: options.changeFeed, log: logger.child({ component: 'change-feed' }) });
  // Before any session can IDLE: changes published from now on reach this process. A feed
  // that cannot start (its service is down) leaves the slow poll meanwhile and is tried again
  // in the background (30 s, doubling to 10 min) until it listens or the system stops; mail
  // still flows.
  let listenRetry: NodeJS.Timeout | null = null;
  let stopping = false;
  const startListening = async (retryMs: number): Promise<void> => {
    try {
      await events.listen();
    } catch (err) {
      if (stopping) return;
      logger.error('change feed not listening: IDLE sessions see changes made by other processes only at the slow poll; trying again', {
        retryInMs: retryMs,
        err: err as Error,
      });
      listenRetry = setTimeout(() => void startListening(Math.min(retryMs * 2, 600_000)), retryMs);
      listenRetry.unref();
    }
  };
  await startListening(options.listenRetryMs ?? 30_000);
  // One authentication throttle for the whole process (IMAP, POP3, submission).
  const authThrottle = createAuthThrottle(config.authThrottle);
  verifiedCredentials.setTtl(config.authCacheSeconds);
  const deps: ListenerDeps = { adapters, config, tls, logger, events, proxy: options.proxy ?? PROXY_DISABLED, authThrottle };
  const listeners: RunningListener[] = [];
  const workers: RunningWorker[] = [];
  // One log line per listener a minute: the dashboard's active-connections graph reads them
  // (infra/observability.ts metric filter on msg "connections").
  const metrics = setInterval(() => {
    for (const l of listeners) if (l.activeConnections) logger.info('connections', { listener: l.name, active: l.activeConnections() });
  }, 60_000);
  metrics.unref();
  const stopAll = async (graceMs: number) => {
    stopping = true;
    if (listenRetry) clearTimeout(listenRetry);
    clearInterval(metrics);
    await Promise.all(listeners.map((l) => l.close(graceMs)));
    await Promise.all(workers.map((w) => w.stop()));
    if (ownsEvents) await events.close();
  };
  try {
    listeners.push(await startMxListener(deps));
    listeners.push(...(await startImapListeners(deps)));
    listeners.push(...(await startPop3Listeners(deps)));
    listeners.push(...(await startSubmissionListeners(deps)));
    // What autoconfiguration and `mailctl domain show` publish: on AWS the load balancer's
    // well-known ports, locally the ports bound (0 in tests asks for a free one).
    const bound = (name: EndpointPort) => listeners.find((l) => l.name === (name === 'smtp' ? 'smtp-mx' : name))?.port;
    const endpoints = () => publicEndpoints(config, bound);
    // JMAP is on unless JMAP_ENABLED=false (core/config.ts jmapEnabled).
    // The webmail talks only to JMAP, so it is served only with it, when built (webmail/build.ts).
    const webmail = config.http.jmapEnabled && config.http.webmailDir && existsSync(path.join(config.http.webmailDir, 'index.html'));
    const httpRoutes: HttpRoute[] = [
      ...mailWebRoutes(deps, endpoints),
      ...(config.http.jmapEnabled ? jmapRoutes(deps) : []),
      ...(webmail ? webmailRoutes(config.http.webmailDir!) : []),
    ];
    // CardDAV (RFC 6352): address books for phones and desktop clients (dav/carddav-routes.ts).
    httpRoutes.push(
      ...cardDavRoutes({
        index: adapters.index,
        contacts: adapters.contacts,
        throttle: authThrottle,
        allowPlaintextAuthOnLoopback: config.allowPlaintextAuthOnLoopback,
        events: deps.events,
      }),
    );
    listeners.push(...(await startHttpListeners(deps, httpRoutes)));
    if (options.workers && options.ingestThread) {
      workers.push(await startIngestThread({ dataDir: options.ingestThread.dataDir, config, logger, events }));
    } else if (options.workers) {
      workers.push(...startJobWorkers({ adapters, config, logger, events, outbound: options.outbound }));
    }
  } catch (err) {
    await stopAll(0);
    throw err;
  }
  return {
    deps,
    listeners,
    port(name) {
      const l = listeners.find((x) => x.name === name);
      if (!l) throw new Error(`no listener named ${name}`);
      return l.port;
    },
    stop: (graceMs = 5_000) => stopAll(graceMs),
  };
}
