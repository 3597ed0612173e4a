/**
 * Everything outbound, assembled once per process from the configuration: the ingest hooks
 * (routeRemote, onUnknownLocal) and the outbound job function with its DNS resolver and DKIM
 * keys. The local mail system (fargate-listeners/src/mail-system.ts) and the Lambdas
 * (functions/ingest.ts, functions/outbound.ts) use the same assembly.
 */
import type { Adapters } from '../adapters/adapters.ts';
import type { MailConfig } from '../config.ts';
import { createDkimKeyCache } from '../dkim/keys.ts';
import { createDnsResolver, type DnsResolver } from '../dns/resolver.ts';
import type { Logger } from '../log.ts';
import type { MailboxEvents } from '../mailbox/events.ts';
import { readJsonSecret, type SecretStore } from '../ports/secrets.ts';
import type { OutboundJob } from './job.ts';
import { runOutboundJob, type OutboundDeps, type OutboundResult } from './outbound-job.ts';
import { createOutboundRouting, type OutboundRouting } from './route.ts';

export interface OutboundServices {
  routing: OutboundRouting;
  resolver: DnsResolver;
  /** `logger`: this run's logger (a Lambda invocation's, with its request id); default the services' own. */
  runOutbound(job: OutboundJob, logger?: Logger): Promise<OutboundResult>;
}

export interface OutboundServiceOptions {
  adapters: Adapters;
  config: MailConfig;
  logger: Logger;
  events?: MailboxEvents;
  /** Replaces the configured DNS resolver (tests). */
  resolver?: DnsResolver;
  /** Replaces the SMTP transport (tests). */
  deliver?: OutboundDeps['deliver'];
}

export function createOutboundServices(options: OutboundServiceOptions): OutboundServices {
  const { adapters, config, logger, events } = options;
  const resolver = options.resolver ?? createDnsResolver(config.dns);
  const dkimSecret = config.dkimKeysSecretArn ? { store: adapters.secrets, name: config.dkimKeysSecretArn } : null;
  const dkimKey = createDkimKeyCache(adapters.blobs, 60_000, dkimSecret);
  const routing = createOutboundRouting({ adapters, config, logger, events, dkimKey });
  const deps: OutboundDeps = {
    adapters,
    config,
    logger,
    resolver,
    events,
    sign: routing.sign,
    deliver: options.deliver,
    smartHostAuth: smartHostSecret(config, adapters.secrets),
  };
  return { routing, resolver, runOutbound: (job, log = logger) => runOutboundJob(job, { ...deps, logger: log }) };
}

/** Reads SMART_HOST_SECRET_ARN ({"user","password"}) once; a failed read is tried again next time. */
function smartHostSecret(config: MailConfig, secrets: SecretStore): OutboundDeps['smartHostAuth'] {
  const name = config.smartHost?.secretArn;
  if (!name) return undefined;
  let cached: Promise<{ user: string; pass: string } | undefined> | null = null;
  return async () => {
    cached ??= readJsonSecret<{ user?: string; password?: string }>(secrets, name).then((v) => (v.user ? { user: v.user, pass: v.password ?? '' } : undefined));
    try {
      return await cached;
    } catch (err) {
      cached = null;
      throw err;
    }
  };
}
