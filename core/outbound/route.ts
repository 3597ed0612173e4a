/**
 * The ingest job's hooks for mail that does not stay here (core/ingest/ingest-job.ts):
 *  - `routeRemote`: recipients of other domains become outbound jobs, one per domain, each
 *    with its own DKIM-signed copy of the message (core/outbound/job.ts explains the blob
 *    ownership and the idempotency per ingest job id). Only authenticated submissions are
 *    relayed (invariant 4); a message that has passed too many hosts is bounced as a loop.
 *  - `onUnknownLocal`: a submission to a user of one of our domains that does not exist
 *    gets a DSN (the MX listener refuses such recipients at RCPT time instead).
 */
import type { Adapters } from '../adapters/adapters.ts';
import { domainOf } from '../accounts/addresses.ts';
import type { MailConfig } from '../config.ts';
import type { DkimKey } from '../dkim/keys.ts';
import { createDkimKeyCache } from '../dkim/keys.ts';
import { dkimSignature } from '../dkim/sign.ts';
import { withoutReturnPath } from '../delivery/return-path.ts';
import { deliverDsn } from '../dsn/deliver-dsn.ts';
import type { DsnRecipient } from '../dsn/dsn.ts';
import type { IngestJob, RemoteRecipients } from '../ingest/ingest-job.ts';
import type { Logger } from '../log.ts';
import type { MailboxEvents } from '../mailbox/events.ts';
import { headerAddresses } from '../mime/header-addresses.ts';
import { parseHeaderFields } from '../mime/header.ts';
import { enqueueOutbound } from './job.ts';

export interface RoutingDeps {
  adapters: Adapters;
  config: MailConfig;
  logger: Logger;
  events?: MailboxEvents;
  /** DKIM key lookup by domain; default: the blob store (keys/dkim/<domain>) with a short cache. */
  dkimKey?: (domain: string) => Promise<DkimKey | null>;
}

export interface OutboundRouting {
  routeRemote(remote: RemoteRecipients): Promise<void>;
  onUnknownLocal(job: IngestJob, recipients: string[], raw: Buffer): Promise<void>;
  /** Prepends a DKIM signature for the message's From: domain when we hold its key. */
  sign(raw: Buffer): Promise<Buffer>;
}

/** Number of Received: fields in the message header (RFC 5321 §6.3 loop detection). */
export function countReceived(raw: Buffer): number {
  return parseHeaderFields(raw).filter((f) => f.key === 'received').length;
}

export function createOutboundRouting(deps: RoutingDeps): OutboundRouting {
  const { adapters, config, logger } = deps;
  const dkimKey = deps.dkimKey ?? createDkimKeyCache(adapters.blobs);

  const sign = async (raw: Buffer): Promise<Buffer> => {
    const from = headerAddresses(raw, 'from').addresses[0];
    if (!from) return raw;
    const key = await dkimKey(domainOf(from));
    if (!key) return raw;
    try {
      return Buffer.concat([Buffer.from(await dkimSignature(raw, key), 'latin1'), raw]);
    } catch (err) {
      // An unsigned message is better than none; the log says why.
      logger.error('DKIM signing failed; sending unsigned', { domain: key.domain, err });
      return raw;
    }
  };

  const bounce = async (job: IngestJob, reportId: string, recipients: DsnRecipient[], raw: Buffer) => {
    if (!job.mailFrom) {
      logger.warn('not bouncing a message with the null reverse-path', { job: job.id, recipients: recipients.map((r) => r.recipient) });
      return;
    }
    await deliverDsn({ adapters, logger, events: deps.events, sign }, reportId, {
      reportingMta: config.hostname,
      to: job.mailFrom,
      arrivalDate: job.receivedAt,
      queueId: job.id,
      recipients,
      original: raw,
    });
  };

  return {
    sign,
    async routeRemote({ job, byDomain, raw }) {
      if (job.source !== 'submission') {
        // Invariant 4: the MX listener accepts only local recipients; a remote one here means a
        // domain was removed after RCPT. Never relay: fail the job so it lands in the DLQ.
        throw new Error(`job ${job.id} from ${job.source} has non-local recipients ${[...byDomain.keys()].join(', ')}; refusing to relay`);
      }
      const hops = countReceived(raw);
      if (hops > config.outbound.maxReceivedHeaders) {
        const recipients = [...byDomain.values()].flat().map((r): DsnRecipient => ({
          recipient: r,
          action: 'failed',
          status: '5.4.6',
          diagnostic: `Routing loop detected: the message has ${hops} Received: header fields (limit ${config.outbound.maxReceivedHeaders})`,
        }));
        logger.warn('mail loop: bouncing', { job: job.id, hops });
        await bounce(job, `${job.id}/loop`, recipients, raw);
        return;
      }
      // Relaying is not final delivery: the Return-Path written at accept time for our local
      // recipients does not travel (RFC 5321 §4.4: the delivering server adds its own).
      const bytes = await sign(withoutReturnPath(raw));
      for (const [domain, rcptTo] of byDomain) {
        const queued = await enqueueOutbound(adapters, { queueId: job.id, domain, mailFrom: job.mailFrom, rcptTo, createdAt: job.receivedAt, bytes });
        logger.info(queued ? 'outbound queued' : 'outbound already queued', { job: job.id, domain, recipients: rcptTo });
      }
    },
    async onUnknownLocal(job, recipients, raw) {
      if (job.source !== 'submission') {
        logger.warn('unknown local recipients dropped', { job: job.id, recipients });
        return;
      }
      await bounce(
        job,
        `${job.id}/unknown`,
        recipients.map((r): DsnRecipient => ({ recipient: r, action: 'failed', status: '5.1.1', diagnostic: 'No such user here', remoteMta: config.hostname })),
        raw,
      );
    },
  };
}
