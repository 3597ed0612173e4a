/**
 * The outbound job function (functions/outbound.ts on AWS; the local worker in
 * fargate-listeners/src/mail-system.ts): deliver one message to the recipients of one domain.
 *
 *  1. Route: the smart host when configured, else the domain's MX hosts (core/dns/mx.ts,
 *     RFC 5321 §5.1) and their addresses, in order.
 *  2. Try hosts in turn until one runs the transaction; a host that cannot be reached or
 *     answers 4xx before the transaction (greeting, EHLO, MAIL FROM) passes the turn to the
 *     next one (§5.1: "try the next"). Each recipient then ends with its own reply.
 *  3. 2xx: delivered. 5xx: failed — a DSN goes to the sender. 4xx or nobody reachable:
 *     retried with exponential backoff (OUTBOUND_RETRY_BASE doubling up to OUTBOUND_RETRY_MAX)
 *     until the message is OUTBOUND_MAX_AGE old (default 5 days, RFC 5321 §4.5.4.1), then
 *     failed with a DSN naming the last error.
 *  4. The null reverse-path is never bounced (RFC 5321 §4.5.5): its failures are logged only.
 *
 * Retries do not use the queue's own redelivery (capped at maxReceiveCount and 900 s): a
 * deferred job is sent again as a new queue message carrying the remaining recipients, the
 * attempt count and `notBefore`, with the queue delay capped at 900 s; a job received before
 * its `notBefore` is re-sent for the rest of the wait. The function throws only for
 * infrastructure failures (blob store, queue), which the queue retries as usual.
 *
 * At-least-once: a crash after the re-send but before the ack can duplicate a delivery
 * (RFC 5321 §6.1 accepts duplicates; losing mail is not accepted).
 */
import type { Adapters } from '../adapters/adapters.ts';
import type { MailConfig } from '../config.ts';
import { lookupMx, type MxRoute } from '../dns/mx.ts';
import { DnsNameNotFound, DnsTemporaryError, type DnsResolver } from '../dns/resolver.ts';
import { deliverDsn } from '../dsn/deliver-dsn.ts';
import type { DsnRecipient } from '../dsn/dsn.ts';
import type { Logger } from '../log.ts';
import type { MailboxEvents } from '../mailbox/events.ts';
import { BlobNotFoundError } from '../ports/blob-store.ts';
import { MAX_QUEUE_DELAY_SECONDS, type OutboundJob, type OutboundRecipientError } from './job.ts';
import { deliverSmtp, enhancedStatus, sourceAddressFor, type SmtpAttempt, type SmtpTarget } from './smtp-delivery.ts';

export interface OutboundDeps {
  adapters: Adapters;
  config: MailConfig;
  logger: Logger;
  resolver: DnsResolver;
  events?: MailboxEvents;
  /** Smart host credentials read at run time (AWS: from Secrets Manager), when not in the config. */
  smartHostAuth?: () => Promise<{ user: string; pass: string } | undefined>;
  /** DKIM-signs DSNs that go out to remote senders. */
  sign?: (raw: Buffer) => Promise<Buffer>;
  /** Clock (tests). */
  now?: () => number;
  /** SMTP transport (tests may replace it). */
  deliver?: typeof deliverSmtp;
}

export interface OutboundResult {
  delivered: string[];
  failed: string[];
  deferred: string[];
  /** When the deferred recipients are tried next (epoch ms). */
  retryAt?: number;
  /** True when the job's blob was already gone (a duplicate of a finished job). */
  alreadyDone?: boolean;
}

/** Maximum addresses tried in one attempt (all MX hosts together). */
const MAX_ADDRESSES_PER_ATTEMPT = 10;
/**
 * No new host is tried after this much time in one attempt, so that an attempt ends well
 * within the outbound function's timeout (a sixth of the queue's visibility timeout in
 * core/resources.ts: 300 s); a host started near the end gets a socket timeout cut to fit.
 */
const ATTEMPT_BUDGET_MS = 180_000;
const LAST_HOST_GRACE_MS = 60_000;
/** Remote replies kept per deferred recipient in the job (SQS caps a job at 256 KiB). */
const MAX_DIAGNOSTIC_CHARS = 512;

/** Seconds to wait before attempt number `attempt + 1`, after `attempt` attempts. */
export function backoffSeconds(config: MailConfig['outbound'], attempt: number): number {
  return Math.min(config.retryMaxSeconds, config.retryBaseSeconds * 2 ** Math.max(0, attempt - 1));
}

interface Target extends SmtpTarget {
  /** Remote-MTA name for DSNs. */
  mta: string;
}

type Routing = { targets: Target[] } | { fail: OutboundRecipientError; permanent: boolean };

async function route(job: OutboundJob, deps: OutboundDeps): Promise<Routing> {
  const { config, resolver } = deps;
  const sh = config.smartHost;
  if (sh) {
    return {
      targets: [
        {
          host: sh.host,
          port: sh.port,
          name: sh.host,
          mta: sh.host,
          tls: sh.tls,
          verifyCertificate: sh.verifyCertificate,
          auth: sh.user ? { user: sh.user, pass: sh.password ?? '' } : await deps.smartHostAuth?.(),
        },
      ],
    };
  }
  let mx: MxRoute;
  try {
    mx = await lookupMx(resolver, job.domain);
  } catch (err) {
    const code = err instanceof DnsTemporaryError ? err.code : String(err);
    return { fail: { status: '4.4.3', diagnostic: `DNS lookup of ${job.domain} failed temporarily (${code})`, smtp: false }, permanent: false };
  }
  if (mx.kind === 'null-mx')
    return { fail: { status: '5.1.10', diagnostic: `Domain ${job.domain} does not accept mail (null MX, RFC 7505)`, smtp: false }, permanent: true };
  if (mx.kind === 'no-domain') return { fail: { status: '5.1.2', diagnostic: `Domain ${job.domain} does not exist`, smtp: false }, permanent: true };
  if (mx.kind === 'no-host')
    return { fail: { status: '5.1.2', diagnostic: `Domain ${job.domain} has no MX and no address record`, smtp: false }, permanent: true };
  const targets: Target[] = [];
  let tempError: string | null = null;
  for (const h of mx.hosts) {
    let addrs: string[];
    try {
      addrs = await resolver.addresses(h.host);
    } catch (err) {
      if (!(err instanceof DnsNameNotFound)) tempError = `DNS lookup of ${h.host} failed temporarily`;
      continue;
    }
    for (const a of addrs) targets.push({ host: a, port: config.outbound.smtpPort, name: h.host, mta: h.host, tls: 'opportunistic', verifyCertificate: false });
  }
  if (targets.length === 0) {
    // RFC 5321 §5.1: MX hosts exist but none is usable → report an error; a DNS hiccup → retry.
    if (tempError) return { fail: { status: '4.4.3', diagnostic: tempError, smtp: false }, permanent: false };
    return { fail: { status: '5.4.4', diagnostic: `No usable address for the MX hosts of ${job.domain}`, smtp: false }, permanent: true };
  }
  return { targets: targets.slice(0, MAX_ADDRESSES_PER_ATTEMPT) };
}

export async function runOutboundJob(job: OutboundJob, deps: OutboundDeps): Promise<OutboundResult> {
  const { adapters, config, logger } = deps;
  const now = deps.now ? deps.now() : Date.now();
  const log = logger.child({ outbound: job.id, attempt: job.attempts + 1 });

  if (job.notBefore && job.notBefore - now > 1000) {
    await requeue(deps, job, job.notBefore, now);
    return { delivered: [], failed: [], deferred: job.rcptTo, retryAt: job.notBefore };
  }
  let raw: Buffer;
  try {
    raw = await adapters.blobs.get(job.blobKey);
  } catch (err) {
    if (err instanceof BlobNotFoundError) {
      log.info('outbound job already finished; dropping duplicate');
      return { delivered: [], failed: [], deferred: [], alreadyDone: true };
    }
    throw err;
  }

  const delivered: string[] = [];
  const failed = new Map<string, OutboundRecipientError>();
  const deferred = new Map<string, OutboundRecipientError>();

  const routing = await route(job, deps);
  if ('fail' in routing) {
    for (const r of job.rcptTo) (routing.permanent ? failed : deferred).set(r, routing.fail);
  } else {
    const deliver = deps.deliver ?? deliverSmtp;
    let outcome: { attempt: SmtpAttempt; target: Target } | null = null;
    let last: OutboundRecipientError = { status: '4.4.1', diagnostic: 'No answer from any host', smtp: false };
    const started = Date.now();
    for (const target of routing.targets) {
      if (Date.now() - started > ATTEMPT_BUDGET_MS) break;
      const attempt = await deliver(target, { from: job.mailFrom, to: job.rcptTo, size: raw.length, eightBit: job.eightBit, smtputf8: job.smtputf8 }, raw, {
        ehloName: config.hostname,
        connectTimeoutMs: config.outbound.connectTimeoutSeconds * 1000,
        localAddress: sourceAddressFor(config.outbound.bindAddress, target.host),
        socketTimeoutMs: Math.max(10_000, Math.min(120_000, ATTEMPT_BUDGET_MS + LAST_HOST_GRACE_MS - (Date.now() - started))),
      });
      log.info('smtp attempt', {
        host: target.mta,
        address: target.host,
        port: target.port,
        result: attempt.kind,
        reply: 'reply' in attempt ? attempt.reply : undefined,
      });
      if (attempt.kind === 'unreachable') {
        last = attempt.code
          ? {
              status: attempt.code >= 500 ? '4.4.1' : enhancedStatus(attempt.code, attempt.reply),
              diagnostic: attempt.reply,
              smtp: true,
              remoteMta: target.mta,
            }
          : { status: '4.4.1', diagnostic: `${target.mta}[${target.host}]:${target.port}: ${attempt.reply}`, smtp: false, remoteMta: target.mta };
        continue;
      }
      if (attempt.kind === 'refused' && attempt.code < 500) {
        last = { status: enhancedStatus(attempt.code, attempt.reply), diagnostic: attempt.reply, smtp: true, remoteMta: target.mta };
        continue;
      }
      outcome = { attempt, target };
      break;
    }
    if (!outcome) {
      for (const r of job.rcptTo) deferred.set(r, last);
    } else if (outcome.attempt.kind === 'refused') {
      const e = {
        status: enhancedStatus(outcome.attempt.code, outcome.attempt.reply),
        diagnostic: outcome.attempt.reply,
        smtp: true,
        remoteMta: outcome.target.mta,
      };
      for (const r of job.rcptTo) failed.set(r, e);
    } else if (outcome.attempt.kind === 'done') {
      for (const rep of outcome.attempt.replies) {
        const e = { status: enhancedStatus(rep.code, rep.reply), diagnostic: rep.reply, smtp: true, remoteMta: outcome.target.mta };
        if (rep.code < 400) delivered.push(rep.recipient);
        else if (rep.code < 500) deferred.set(rep.recipient, e);
        else failed.set(rep.recipient, e);
      }
    }
  }

  // The age limit (RFC 5321 §4.5.4.1): the last try happens at the limit; what is still
  // deferred then fails.
  const attempts = job.attempts + 1;
  const deadline = job.createdAt + config.outbound.maxAgeSeconds * 1000;
  const retryAt = Math.min(now + backoffSeconds(config.outbound, attempts) * 1000, deadline);
  if (deferred.size > 0 && now >= deadline) {
    for (const [r, e] of deferred) failed.set(r, expiredError(e));
    deferred.clear();
  }

  if (delivered.length) log.info('delivered', { recipients: delivered });
  if (failed.size > 0) {
    log.warn('delivery failed', { recipients: [...failed.keys()], errors: [...failed.values()].map((e) => e.diagnostic) });
    if (job.mailFrom === '') {
      log.warn('not bouncing a message with the null reverse-path', { recipients: [...failed.keys()] });
    } else {
      const recipients: DsnRecipient[] = [...failed].map(([r, e]) => ({
        recipient: r,
        action: 'failed',
        status: e.status.startsWith('2') ? '5.0.0' : e.status,
        remoteMta: e.remoteMta,
        diagnostic: e.diagnostic,
        diagnosticIsSmtp: e.smtp,
        lastAttempt: now,
      }));
      await deliverDsn({ adapters, logger: log, events: deps.events, sign: deps.sign }, `${job.id}#${attempts}`, {
        reportingMta: config.hostname,
        to: job.mailFrom,
        arrivalDate: job.createdAt,
        queueId: job.queueId,
        recipients,
        original: raw,
        now: new Date(now),
      });
    }
  }
  if (deferred.size > 0) {
    const next: OutboundJob = {
      ...job,
      rcptTo: [...deferred.keys()],
      attempts,
      notBefore: retryAt,
      lastErrors: Object.fromEntries([...deferred].map(([rcpt, e]) => [rcpt, { ...e, diagnostic: e.diagnostic.slice(0, MAX_DIAGNOSTIC_CHARS) }])),
    };
    await requeue(deps, next, retryAt, now);
    log.info('deferred', { recipients: next.rcptTo, retryInSeconds: Math.round((retryAt - now) / 1000), reason: [...deferred.values()][0]?.diagnostic });
  } else {
    await adapters.blobs.delete(job.blobKey);
  }
  return { delivered, failed: [...failed.keys()], deferred: [...deferred.keys()], retryAt: deferred.size ? retryAt : undefined };
}

function expiredError(last: OutboundRecipientError | undefined): OutboundRecipientError {
  // RFC 3463 4.4.7: delivery time expired; the last error stays as the diagnostic.
  if (!last) return { status: '4.4.7', diagnostic: 'Delivery time expired', smtp: false };
  return { ...last, status: '4.4.7' };
}

async function requeue(deps: OutboundDeps, job: OutboundJob, at: number, now: number): Promise<void> {
  const delay = Math.max(0, Math.min(MAX_QUEUE_DELAY_SECONDS, Math.ceil((at - now) / 1000)));
  await deps.adapters.queue.send('outbound', job, { delaySeconds: delay });
}
