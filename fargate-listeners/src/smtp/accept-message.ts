/**
 * The DATA phase shared by the MX listener and submission: stream the message into the blob
 * store (the MX gathers and verifies it first: `inspect`), enqueue the ingest job, and only then say 250 (invariant 1). Any storage or queue
 * failure → 451 4.3.0 so the client retries.
 *
 * What is stored: `Return-Path: <envelope sender>` (RFC 5321 §4.4, core/delivery/
 * return-path.ts), on the MX our Authentication-Results: (RFC 8601 §5: above the trace
 * fields; smtp/trust/), our Received: field, then the message in canonical form — CRLF line
 * endings, the sender's own Return-Path fields removed (canonical-data.ts). The size limit
 * counts the canonical octets of the message. With SMTP_FORBID_BARE_NEWLINE a message with
 * a bare LF or bare CR is refused (550 5.5.2) instead of repaired.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { IngestJob } from '#core/ingest/ingest-job.ts';
import { queueIngestJob } from '#core/ingest/queue-ingest.ts';
import { newBlobKey } from '#core/mailbox/writes.ts';
import type { ListenerDeps } from '../listener.ts';
import { returnPathField } from '#core/delivery/return-path.ts';
import { CanonicalData } from './canonical-data.ts';
import { receivedHeader } from './received-header.ts';
import { smtpError } from './enhanced-codes.ts';
import { VERIFY_COPIES_PER_MESSAGE } from '#core/config.ts';
import { clientKey } from '../auth-throttle.ts';

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
  /**
   * The MX's inbound checks (smtp/trust/): given the whole message in canonical form, returns
   * header lines to store above our Received: (Authentication-Results), the message to store
   * (forged Authentication-Results removed) and the verdict for the job; throwing (an
   * smtpError) refuses or defers the message with that reply, and nothing is stored. With it
   * the message is gathered in memory (at most MAX_MESSAGE_SIZE octets) before it is stored:
   * the verdict goes above the message, and it needs the whole message (DKIM body hashes).
   */
  inspect?: (message: Buffer, queueId: string) => Promise<Inspection>;
  /**
   * The memory all messages being gathered for `inspect` may hold together (one per process):
   * a message that would exceed it, or its client's share of it, is not taken now (451
   * 4.3.1), so many large messages at once cannot exhaust the listener's memory (invariant 6)
   * and one client's cannot keep everyone else's out. Each octet gathered is charged
   * VERIFY_COPIES_PER_MESSAGE times (core/config.ts: the copies held until it is stored).
   */
  memory?: MemoryBudget;
}

/** Octets that messages in memory may hold together, and each client (address, IPv6 /64) of them. */
export class MemoryBudget {
  used = 0;
  readonly limit: number;
  readonly perClient: number;
  private readonly clients = new Map<string, number>();
  constructor(limit: number, perClient = limit) {
    this.limit = limit;
    this.perClient = Math.min(perClient, limit);
  }
  take(n: number, client = ''): boolean {
    const key = clientKey(client);
    const mine = this.clients.get(key) ?? 0;
    if (this.used + n > this.limit || mine + n > this.perClient) return false;
    this.used += n;
    this.clients.set(key, mine + n);
    return true;
  }
  release(n: number, client = ''): void {
    this.used = Math.max(0, this.used - n);
    const key = clientKey(client);
    const left = (this.clients.get(key) ?? 0) - n;
    if (left > 0) this.clients.set(key, left);
    else this.clients.delete(key);
  }
}

export interface Inspection {
  /** CRLF-terminated header lines stored after Return-Path:, before Received:. */
  prepend: string;
  message: Buffer;
  verdict?: IngestJob['verdict'];
}

export async function acceptMessage(
  deps: ListenerDeps,
  session: SMTPServerSession,
  data: SMTPServerDataStream,
  options: AcceptOptions,
): Promise<AcceptedMessage> {
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

  const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  const canonical = new CanonicalData();
  data.pipe(canonical);
  const source = options.transform ? options.transform(canonical) : canonical;
  const violation = (): Violation => {
    if (data.sizeExceeded || canonical.crlf.size > config.maxMessageSize) return 'size';
    if (config.smtpForbidBareNewline && (canonical.crlf.bareLf > 0 || canonical.crlf.bareCr > 0)) return 'bare-newline';
    return null;
  };
  const body = streamWithTrace(
    data,
    source,
    options.inspect ? '' : returnPathField(mailFrom) + trace + (options.prepend ?? ''),
    violation,
    options.inspect ? 0 : (adapters.queue.inlineBytes ?? 0),
  );
  const blobKey = newBlobKey(receivedAt);
  let stored: { size: number };
  // The stored bytes, when small enough to ride along in the job (core/ingest/queue-ingest.ts).
  let storedBytes: Buffer | null;
  let inspection: Inspection | null = null;
  let held = 0;
  let overBudget = false;
  try {
    if (options.inspect) {
      const message = await gather(body.stream, (n) => {
        const cost = n * VERIFY_COPIES_PER_MESSAGE;
        if (!options.memory || options.memory.take(cost, session.remoteAddress)) {
          held += cost;
          return true;
        }
        overBudget = true;
        body.abort(new Error('message memory budget exhausted'));
        return false;
      });
      try {
        inspection = await options.inspect(message, queueId);
      } catch (err) {
        if (typeof (err as { responseCode?: unknown }).responseCode === 'number') {
          logger.info('message refused by inbound checks', { queueId, client: session.remoteAddress, from: mailFrom, reply: (err as Error).message });
          throw Object.assign(err as Error, { inspected: true });
        }
        logger.error('inbound checks failed', { queueId, err });
        throw Object.assign(smtpError(451, '4.7.0', 'Temporary failure during sender verification; try again later'), { inspected: true });
      }
      storedBytes = Buffer.concat([
        Buffer.from(returnPathField(mailFrom) + inspection.prepend + trace + (options.prepend ?? ''), 'latin1'),
        inspection.message,
      ]);
      stored = await adapters.blobs.put(blobKey, storedBytes);
    } else {
      stored = await adapters.blobs.put(blobKey, body.stream);
      storedBytes = body.kept();
    }
  } catch (err) {
    options.memory?.release(held, session.remoteAddress); // nothing of it is kept
    if ((err as { inspected?: boolean }).inspected) throw err;
    if (overBudget) {
      await body.drained;
      logger.warn('message deferred: messages in memory at their limit', { queueId, client: session.remoteAddress, limit: options.memory?.limit });
      throw smtpError(451, '4.3.1', 'Insufficient system resources, try again later');
    }
    body.abort(err as Error); // the store stopped reading: throw the rest of DATA away
    await body.drained; // smtp-server answers only once the DATA stream has been consumed
    if (body.failure === 'size') throw smtpError(552, '5.3.4', 'Message exceeds the fixed maximum message size');
    if (body.failure === 'bare-newline') {
      logger.info('message refused: bare newline', { queueId, client: session.remoteAddress });
      // Postfix 3.9's smtpd_forbid_bare_newline answers the same code (RFC 5321 §2.3.8).
      throw smtpError(550, '5.5.2', 'Message refused: bare <LF> or <CR> received; lines must end with <CR><LF> (RFC 5321 section 2.3.8)');
    }
    // The client went away mid-DATA (whichever event came first, the DATA stream never ended):
    // its doing, not a storage fault.
    if (body.failure === 'disconnected' || !data.readableEnded) logger.info('client disconnected during DATA', { queueId, client: session.remoteAddress });
    else logger.error('blob store put failed', { queueId, err });
    throw smtpError(451, '4.3.0', 'Temporary storage failure, try again later');
  }
  options.memory?.release(held, session.remoteAddress); // the message is stored (or refused): its buffer is garbage now
  const late = violation();
  if (late) {
    await adapters.blobs.delete(blobKey).catch(() => {});
    if (late === 'size') throw smtpError(552, '5.3.4', 'Message exceeds the fixed maximum message size');
    throw smtpError(550, '5.5.2', 'Message refused: bare <LF> or <CR> received; lines must end with <CR><LF> (RFC 5321 section 2.3.8)');
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
    mailFrom,
    rcptTo,
    receivedAt: receivedAt.getTime(),
    source: options.source,
    authUser: options.authUser,
    clientAddress: session.remoteAddress,
    heloName: session.hostNameAppearsAs || undefined,
    size: stored.size,
    ...(inspection?.verdict ? { verdict: inspection.verdict } : {}),
    // Unheld only for the one verified local recipient of an MX message (its delivery becomes the
    // sole reference); submissions may go out or bounce and keep the bytes on a hold.
    held: rcptTo.length > 1 || options.source !== 'mx',
  };
  // With several recipients, the job's own reference on the blob, taken before the job exists:
  // delivered copies may be expunged (and the blob orphaned) while this job still has
  // recipients to retry. The ingest job's last delivery takes it over, or the job releases it
  // (core/ingest/ingest-job.ts; invariant 1). One MX recipient: no hold, its delivery is the
  // blob's sole reference (nothing can be expunged before it).
  try {
    await queueIngestJob(adapters, job, logger, storedBytes ?? undefined);
  } catch {
    // queueIngestJob logged it and undid the hold and the blob (QueueIngestError).
    throw smtpError(451, '4.3.0', 'Temporary queue failure, try again later');
  }
  logger.info('message accepted', {
    queueId,
    source: options.source,
    from: job.mailFrom,
    rcpt: rcptTo,
    size: stored.size,
    client: session.remoteAddress,
    ...(job.verdict ? { mailbox: job.verdict.mailbox } : {}),
  });
  return { queueId, job };
}

/** The whole of a stream, in memory; rejects when the stream fails (a refused or abandoned DATA). */
function gather(stream: Readable, admit: (octets: number) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer | string) => {
      const chunk = typeof c === 'string' ? Buffer.from(c, 'latin1') : c;
      if (admit(chunk.length)) chunks.push(chunk);
    });
    stream.once('end', () => {
      const whole = Buffer.concat(chunks);
      chunks.length = 0; // the listeners stay on the stream: do not keep a second copy through them
      resolve(whole);
    });
    stream.once('error', reject);
    stream.once('close', () => {
      if (!stream.readableEnded) reject(new Error('stream closed before its end'));
    });
  });
}

/** Why a message that is still streaming must be refused, or null. */
type Violation = 'size' | 'bare-newline' | null;

interface TracedBody {
  /** What the blob store reads: the trace header, then the message. */
  stream: PassThrough;
  /** Why the stream was failed, if it was. */
  failure: NonNullable<Violation> | 'disconnected' | 'error' | null;
  /** Resolves when smtp-server's DATA stream has ended or closed (it is always consumed). */
  drained: Promise<void>;
  /** Stop storing (the store failed) and drain the rest of DATA. */
  abort(err: Error): void;
  /** Everything the store was given, when it was at most `keep` bytes (for an inline copy in the job); else null. */
  kept(): Buffer | null;
}

/**
 * Feeds the blob store from smtp-server's DATA stream (through `source`, its canonical form),
 * failing the store's stream (so `put` rejects and removes what it wrote) as soon as
 * `violation` names a reason (the size limit, a forbidden bare newline) or the client goes
 * away mid-DATA — never writing an oversized message out in full, never leaving
 * a half-written upload open. The DATA stream is always read to its end, because smtp-server
 * sends its reply only after that; the bytes of a failed message are thrown away.
 */
function streamWithTrace(data: SMTPServerDataStream, source: Readable, prefix: string, violation: () => Violation, keep: number): TracedBody {
  const out = new PassThrough();
  let kept: Buffer[] | null = keep > 0 ? [] : null;
  let keptBytes = 0;
  const keepCopy = (chunk: Buffer) => {
    if (!kept) return;
    keptBytes += chunk.length;
    if (keptBytes > keep) kept = null;
    else kept.push(chunk);
  };
  // The store reports the failure through put(); an error nobody else listens to must not
  // become an uncaught exception that takes the listener down.
  out.on('error', () => {});
  const fail = (why: NonNullable<TracedBody['failure']>, err: Error) => {
    if (result.failure) return;
    result.failure = why;
    out.destroy(err);
    source.resume(); // keep draining what is left, without storing it
  };
  const result: TracedBody = {
    stream: out,
    failure: null,
    drained: Promise.resolve(),
    abort: (err) => fail('error', err),
    kept: () => (kept && !result.failure ? Buffer.concat(kept) : null),
  };
  // The same bytes the store gets: a string written to the PassThrough is UTF-8.
  const prefixBytes = Buffer.from(prefix, 'utf8');
  out.write(prefixBytes);
  keepCopy(prefixBytes);
  result.drained = new Promise<void>((resolve) => {
    if (data.readableEnded || data.destroyed) return resolve();
    data.once('end', () => resolve());
    data.once('close', () => resolve());
  });
  source.on('data', (chunk: Buffer) => {
    if (result.failure) return;
    const refused = violation();
    if (refused) return fail(refused, new Error(`message refused: ${refused}`));
    keepCopy(chunk);
    if (!out.write(chunk)) {
      // The write itself may have failed the stream (the memory budget refused the chunk):
      // fail() resumed the source to drain the rest, and nothing will ever drain `out`.
      if (result.failure) return;
      source.pause();
      out.once('drain', () => {
        if (!result.failure) source.resume();
      });
    }
  });
  source.once('end', () => {
    if (result.failure) return;
    const refused = violation();
    if (refused) return fail(refused, new Error(`message refused: ${refused}`));
    out.end();
  });
  source.on('error', (err: Error) => fail('error', err));
  if (source !== data) data.on('error', (err: Error) => fail('error', err));
  // smtp-server destroys the DATA stream when the client disconnects before the final dot.
  data.once('close', () => {
    if (!data.readableEnded) fail('disconnected', new Error('client disconnected during DATA'));
  });
  return result;
}
