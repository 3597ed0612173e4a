/**
 * Submission of a whole message that is already in hand (JMAP EmailSubmission/set, RFC 8621
 * §7.5), through the same checks and the same hand-over as SMTP submission
 * (submission-listener.ts) — nothing here is a second implementation of them:
 *  - the envelope sender must be one of the user's own addresses (ownAddresses, as MAIL FROM);
 *  - every recipient goes through submissionRecipient (as RCPT TO), at most MAX_RECIPIENTS;
 *  - the bytes take SMTP DATA's canonical form (CanonicalData: CRLF, Return-Path fields
 *    removed), get a missing Date:/Message-ID: (SubmissionHeaderFixup) and must be from the
 *    user (checkSenderHeaders: From:/Sender:), within MAX_MESSAGE_SIZE;
 *  - stored with our Return-Path: and Received: above them, and queued by queueIngestJob
 *    (core/ingest/queue-ingest.ts) as an ingest job of source 'submission', held (its bytes
 *    may go out or bounce): ingest delivers local recipients and routes the rest outbound.
 * A refusal is a SubmitRefusal carrying the SMTP reply it would be and what it means in JMAP
 * terms (RFC 8621 §7.5 SetError types).
 */
import { Readable } from 'node:stream';
import { normalizeAddress, unquoteLocalPart } from '#core/accounts/addresses.ts';
import { returnPathField } from '#core/delivery/return-path.ts';
import type { IngestJob } from '#core/ingest/ingest-job.ts';
import { queueIngestJob } from '#core/ingest/queue-ingest.ts';
import { newBlobKey } from '#core/mailbox/writes.ts';
import { withoutHeaderFields } from '#core/mime/header.ts';
import type { ListenerDeps } from '../listener.ts';
import { newQueueId } from './accept-message.ts';
import { CanonicalData } from './canonical-data.ts';
import { MAX_RECIPIENTS } from './mx-listener.ts';
import { receivedHeader } from './received-header.ts';
import { ownAddresses, submissionRecipient } from './submission-listener.ts';
import { checkSenderHeaders, SubmissionHeaderFixup } from './submission-headers.ts';

export type SubmitRefusalType =
  'forbiddenMailFrom' | 'forbiddenFrom' | 'invalidRecipients' | 'noRecipients' | 'tooManyRecipients' | 'tooLarge' | 'invalidEmail' | 'temporary';

export class SubmitRefusal extends Error {
  readonly type: SubmitRefusalType;
  /** For invalidRecipients: the addresses refused. */
  readonly addresses: string[];
  constructor(type: SubmitRefusalType, message: string, addresses: string[] = []) {
    super(message);
    this.name = 'SubmitRefusal';
    this.type = type;
    this.addresses = addresses;
  }
}

export interface WholeSubmission {
  /** The authenticated user. */
  user: string;
  raw: Buffer;
  mailFrom: string;
  rcptTo: string[];
  /** The client, for Received: and the job. */
  clientAddress: string;
  /** The Received: `with` protocol (RFC 3848 style), e.g. HTTPSA for JMAP over HTTPS. */
  protocol: string;
  /** Remove the Bcc: fields from what is sent (RFC 8621 §7.5: the server removes them). */
  removeBcc?: boolean;
}

type SubmitDeps = Pick<ListenerDeps, 'adapters' | 'config' | 'logger'>;

const isSmtpError = (err: unknown): err is Error & { responseCode: number } => typeof (err as { responseCode?: unknown })?.responseCode === 'number';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : (c as Buffer));
  return Buffer.concat(chunks);
}

/** Checks, stores and queues the message; returns the queue id. Throws a SubmitRefusal. */
export async function submitMessage(deps: SubmitDeps, s: WholeSubmission): Promise<{ queueId: string; blobKey: string }> {
  const { adapters, config, logger } = deps;
  const own = ownAddresses(s.user);
  const mailFrom = normalizeAddress(unquoteLocalPart(s.mailFrom));
  if (!own.includes(mailFrom)) throw new SubmitRefusal('forbiddenMailFrom', `Sender address <${mailFrom.slice(0, 200)}> is not yours`);
  if (s.rcptTo.length === 0) throw new SubmitRefusal('noRecipients', 'No recipients');
  if (s.rcptTo.length > MAX_RECIPIENTS) throw new SubmitRefusal('tooManyRecipients', `At most ${MAX_RECIPIENTS} recipients`);
  const rcptTo: string[] = [];
  const refused: string[] = [];
  for (const r of s.rcptTo) {
    try {
      rcptTo.push(await submissionRecipient(deps, r));
    } catch (err) {
      if (!isSmtpError(err)) {
        logger.error('recipient lookup failed', { err });
        throw new SubmitRefusal('temporary', 'Temporary lookup failure, try again later');
      }
      if (err.responseCode >= 500) refused.push(r);
      else throw new SubmitRefusal('temporary', err.message);
    }
  }
  if (refused.length > 0) throw new SubmitRefusal('invalidRecipients', `Recipients refused: ${refused.join(', ').slice(0, 500)}`, refused);

  const raw = s.removeBcc ? withoutHeaderFields(s.raw, (f) => f.key === 'bcc').message : s.raw;
  const canonical = new CanonicalData();
  const fix = new SubmissionHeaderFixup(mailFrom.split('@')[1] || config.hostname);
  const message = await collect(Readable.from([raw]).pipe(canonical).pipe(fix));
  if (canonical.crlf.size > config.maxMessageSize) throw new SubmitRefusal('tooLarge', `The message is over ${config.maxMessageSize} octets`);
  try {
    checkSenderHeaders(fix, own);
  } catch (err) {
    if (!isSmtpError(err)) throw err;
    const type = err.responseCode === 553 ? 'forbiddenFrom' : err.responseCode === 552 ? 'tooLarge' : 'invalidEmail';
    throw new SubmitRefusal(type, err.message.replace(/^\d\.\d+\.\d+ /, ''));
  }

  const queueId = newQueueId();
  const receivedAt = new Date();
  const trace = receivedHeader({
    heloName: undefined,
    clientAddress: s.clientAddress,
    serverName: config.hostname,
    protocol: s.protocol,
    queueId,
    recipient: rcptTo.length === 1 ? rcptTo[0] : undefined,
    date: receivedAt,
  });
  const blobKey = newBlobKey(receivedAt);
  let size: number;
  const stored = Buffer.concat([Buffer.from(returnPathField(mailFrom) + trace, 'latin1'), message]);
  try {
    ({ size } = await adapters.blobs.put(blobKey, stored));
  } catch (err) {
    logger.error('blob store put failed', { queueId, err });
    throw new SubmitRefusal('temporary', 'Temporary storage failure, try again later');
  }
  const job: IngestJob = {
    id: queueId,
    blobKey,
    mailFrom,
    rcptTo,
    receivedAt: receivedAt.getTime(),
    source: 'submission',
    authUser: s.user,
    clientAddress: s.clientAddress,
    size,
    held: true,
  };
  try {
    await queueIngestJob(adapters, job, logger, stored);
  } catch {
    throw new SubmitRefusal('temporary', 'Temporary queue failure, try again later');
  }
  logger.info('message accepted', { queueId, source: 'submission', via: s.protocol, from: mailFrom, rcpt: rcptTo, size, client: s.clientAddress });
  return { queueId, blobKey };
}
