/**
 * The DATA phase shared by the MX listener and submission: stream the message (with our
 * Received: header prepended) into the blob store, enqueue the ingest job, and only then say
 * 250 (invariant 1). Any storage or queue failure → 451 4.3.0 so the client retries.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { IngestJob } from '../../../core/ingest/ingest-job.ts';
import { newBlobKey } from '../../../core/delivery/store-message.ts';
import type { ListenerDeps } from '../listener.ts';
import { receivedHeader } from './received-header.ts';
import { smtpError } from './enhanced-codes.ts';

/** 16 characters of base32: the id in "250 2.0.0 Ok: queued as <id>". */
export function newQueueId(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  return [...randomBytes(16)].map((b) => alphabet[b & 31]).join('');
}

export interface AcceptedMessage {
  queueId: string;
  job: IngestJob;
}

export interface AcceptOptions {
  source: IngestJob['source'];
  authUser?: string;
  /** Extra header lines (CRLF-terminated) to prepend after Received:, e.g. for submission fixes. */
  prepend?: string;
  /** Hook to transform the message bytes before storing (submission adds Message-ID/Date). */
  transform?: (stream: Readable) => Readable;
  /**
   * Runs after the bytes are stored and before the job is queued; throwing (an smtpError)
   * refuses the message with that reply and deletes the blob (submission's From: check).
   */
  beforeQueue?: () => Promise<void> | void;
}

export async function acceptMessage(deps: ListenerDeps, session: SMTPServerSession, data: SMTPServerDataStream, options: AcceptOptions): Promise<AcceptedMessage> {
  const { adapters, config, logger } = deps;
  const queueId = newQueueId();
  const receivedAt = new Date();
  const rcptTo = session.envelope.rcptTo.map((r) => r.address);
  const utf8 = Boolean(session.envelope.mailFrom && session.envelope.mailFrom.args && (session.envelope.mailFrom.args as Record<string, unknown>).SMTPUTF8);
  const protocol = (utf8 ? 'UTF8' : '') + (session.transmissionType || 'ESMTP');
  const trace = receivedHeader({
    heloName: session.hostNameAppearsAs || undefined,
    clientAddress: session.remoteAddress,
    serverName: config.hostname,
    protocol,
    queueId,
    recipient: rcptTo.length === 1 ? rcptTo[0] : undefined,
    date: receivedAt,
    tls: session.tlsOptions ? { protocol: session.tlsOptions.version, cipher: session.tlsOptions.name } : null,
  });

  const body = new PassThrough();
  body.write(trace + (options.prepend ?? ''));
  const source = options.transform ? options.transform(data) : data;
  source.pipe(body);
  const blobKey = newBlobKey(receivedAt);
  let stored: { size: number };
  try {
    stored = await adapters.blobs.put(blobKey, body);
  } catch (err) {
    data.resume(); // smtp-server needs the stream consumed
    await new Promise((r) => (data.readableEnded ? r(null) : data.once('end', r)));
    if (data.sizeExceeded) throw smtpError(552, '5.3.4', 'Message exceeds the fixed maximum message size');
    logger.error('blob store put failed', { queueId, err });
    throw smtpError(451, '4.3.0', 'Temporary storage failure, try again later');
  }
  if (data.sizeExceeded) {
    await adapters.blobs.delete(blobKey).catch(() => {});
    throw smtpError(552, '5.3.4', 'Message exceeds the fixed maximum message size');
  }
  if (options.beforeQueue) {
    try {
      await options.beforeQueue();
    } catch (err) {
      await adapters.blobs.delete(blobKey).catch(() => {});
      throw err;
    }
  }
  const job: IngestJob = {
    id: queueId,
    blobKey,
    mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
    rcptTo,
    receivedAt: receivedAt.getTime(),
    source: options.source,
    authUser: options.authUser,
    clientAddress: session.remoteAddress,
    heloName: session.hostNameAppearsAs || undefined,
    size: stored.size,
  };
  try {
    await adapters.queue.send('ingest', job);
  } catch (err) {
    logger.error('ingest enqueue failed', { queueId, err });
    await adapters.blobs.delete(blobKey).catch(() => {});
    throw smtpError(451, '4.3.0', 'Temporary queue failure, try again later');
  }
  logger.info('message accepted', { queueId, source: options.source, from: job.mailFrom, rcpt: rcptTo, size: stored.size, client: session.remoteAddress });
  return { queueId, job };
}
