/**
 * The outbound job: one message to the recipients of one domain, carried by the `outbound`
 * queue. Small JSON; the bytes live in a blob the job owns.
 *
 * Blob ownership: the ingest job's blob belongs to the mailboxes that reference it and is
 * deleted when the last of them expunges it (invariant 5), so an outbound job must not read
 * it. Routing copies the bytes (with the DKIM signature prepended) to
 * `outbound/<queue id>/<domain>` — owned by that one outbound job, read on every attempt,
 * deleted when the job ends (delivered, bounced or expired). A job whose blob is gone has
 * already ended (a redelivered duplicate) and is dropped.
 *
 * Idempotency (ingest is at-least-once): after the job is queued a marker blob
 * `outbound/<queue id>/<domain>.queued` records it, and routing skips domains that have one. A
 * crash between the send and the marker can queue a domain twice (a duplicate, never a loss).
 * The markers are a few bytes each; on AWS an S3 lifecycle rule on `outbound/` (e.g. 30 days,
 * beyond the ingest queue's retention) removes them.
 */
import { MESSAGE_BUCKET } from '../resources.ts';
import type { Adapters } from '../adapters/adapters.ts';

export interface OutboundRecipientError {
  /** RFC 3463 status, e.g. 4.4.1. */
  status: string;
  /** The remote reply or our own description. */
  diagnostic: string;
  /** True when `diagnostic` is an SMTP reply from `remoteMta`. */
  smtp: boolean;
  remoteMta?: string;
}

export interface OutboundJob {
  /** Stable across retries: `<queue id>/<domain>`. */
  id: string;
  /** The SMTP queue id of the accepted message (logs, DSN). */
  queueId: string;
  blobKey: string;
  /** Envelope sender; '' is the null reverse-path (DSNs), which is never bounced. */
  mailFrom: string;
  /** Recipient domain (as given, lower case). */
  domain: string;
  /** Recipients still to deliver. */
  rcptTo: string[];
  /** When the message was accepted (epoch ms): the age limit counts from here. */
  createdAt: number;
  /** Delivery attempts made so far. */
  attempts: number;
  /** Do not attempt before this time (epoch ms): backoff longer than the queue's 900 s delay. */
  notBefore?: number;
  /** Envelope needs SMTPUTF8 (RFC 6531). */
  smtputf8: boolean;
  /** Message has 8-bit content (BODY=8BITMIME, RFC 6152). */
  eightBit: boolean;
  size: number;
  /** The last temporary failure per recipient, for the expiry DSN. */
  lastErrors?: Record<string, OutboundRecipientError>;
}

/** SQS caps a message's delay at 900 s (the local queue keeps the same limit). */
export const MAX_QUEUE_DELAY_SECONDS = 900;

function keySafe(domain: string): string {
  return encodeURIComponent(domain.toLowerCase()).replace(/^\.+/, '_');
}

export function outboundBlobKey(queueId: string, domain: string): string {
  return `${MESSAGE_BUCKET.outboundPrefix}${keySafe(queueId)}/${keySafe(domain)}`;
}

export function outboundMarkerKey(queueId: string, domain: string): string {
  return `${outboundBlobKey(queueId, domain)}.queued`;
}

/** True when the message bytes have 8-bit octets. */
export function hasEightBit(raw: Buffer): boolean {
  for (let i = 0; i < raw.length; i++) if (raw[i] > 0x7f) return true;
  return false;
}

export interface NewOutbound {
  queueId: string;
  domain: string;
  mailFrom: string;
  rcptTo: string[];
  createdAt: number;
  /** The bytes to send (already signed). */
  bytes: Buffer;
}

/**
 * Stores the outbound copy and queues the job, unless this (queue id, domain) was queued
 * before. Returns false when it had been.
 */
export async function enqueueOutbound(adapters: Adapters, n: NewOutbound): Promise<boolean> {
  const marker = outboundMarkerKey(n.queueId, n.domain);
  if (await adapters.blobs.exists(marker)) return false;
  const blobKey = outboundBlobKey(n.queueId, n.domain);
  const { size } = await adapters.blobs.put(blobKey, n.bytes);
  const job: OutboundJob = {
    id: `${n.queueId}/${n.domain.toLowerCase()}`,
    queueId: n.queueId,
    blobKey,
    mailFrom: n.mailFrom,
    domain: n.domain.toLowerCase(),
    rcptTo: n.rcptTo,
    createdAt: n.createdAt,
    attempts: 0,
    smtputf8: [n.mailFrom, ...n.rcptTo].some((a) => /[^\p{ASCII}]/u.test(a)),
    eightBit: hasEightBit(n.bytes),
    size,
  };
  await adapters.queue.send('outbound', job);
  await adapters.blobs.put(marker, Buffer.from(new Date().toISOString()));
  return true;
}
