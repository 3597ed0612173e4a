/**
 * Getting a DSN to the original sender: into the sender's INBOX when the sender is one of
 * our users, otherwise out by SMTP like any other message — with the null reverse-path, so
 * that a failing DSN is never answered by another DSN (RFC 5321 §4.5.5, RFC 3464 §2).
 *
 * Never called for a message whose own reverse-path was null.
 *
 * Delivered into a local INBOX, the DSN is a final delivery with the null reverse-path, so
 * it begins with `Return-Path: <>` (RFC 5321 §4.4, core/delivery/return-path.ts).
 */
import type { Adapters } from '../adapters/adapters.ts';
import { domainOf, normalizeAddress } from '../accounts/addresses.ts';
import { returnPathField } from '../delivery/return-path.ts';
import { MailboxWrites } from '../mailbox/writes.ts';
import type { Logger } from '../log.ts';
import type { MailboxEvents } from '../mailbox/events.ts';
import { enqueueOutbound } from '../outbound/job.ts';
import { buildDsn, type DsnInput } from './dsn.ts';

export interface DsnDeps {
  adapters: Adapters;
  logger: Logger;
  events?: MailboxEvents;
  /** Signs a message for its From: domain (DKIM) before it goes out; identity when absent. */
  sign?: (raw: Buffer) => Promise<Buffer>;
}

/**
 * Builds and delivers a DSN. `reportId` must be the same on every redelivery of the job
 * that reports (it is the idempotency key of the INBOX delivery and the outbound queue id).
 */
export async function deliverDsn(deps: DsnDeps, reportId: string, input: DsnInput): Promise<void> {
  const { adapters, logger } = deps;
  if (!input.to) {
    logger.warn('no DSN for the null reverse-path', { report: reportId });
    return;
  }
  const raw = buildDsn(input);
  const sender = normalizeAddress(input.to);
  const domain = domainOf(sender);
  if ((await adapters.index.getDomain(domain)) !== null) {
    if (!(await adapters.index.getUser(sender))) {
      logger.warn('DSN for an unknown local sender dropped', { report: reportId, sender });
      return;
    }
    const delivered = Buffer.concat([Buffer.from(returnPathField(''), 'latin1'), raw]);
    const writes = new MailboxWrites(adapters, { events: deps.events, log: logger });
    const appended = await writes.append(sender, 'INBOX', delivered, { deliveryKey: `dsn:${reportId}:${sender}`, internalDate: Date.now() });
    logger.info('DSN delivered', { report: reportId, sender, uid: appended.uid, duplicate: appended.duplicate });
    return;
  }
  const bytes = deps.sign ? await deps.sign(raw) : raw;
  const queued = await enqueueOutbound(adapters, { queueId: `dsn-${reportId}`, domain, mailFrom: '', rcptTo: [input.to], createdAt: Date.now(), bytes });
  logger.info('DSN queued for remote sender', { report: reportId, sender: input.to, queued });
}
