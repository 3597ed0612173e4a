/**
 * Submission's look at the message header while it streams into the blob store: only the
 * header section is held in memory (at most MAX_HEADER_BYTES), the body passes straight
 * through, so a large message is never buffered.
 *  - RFC 6409 §8.2/§8.3: an MSA may add a missing Date: and Message-ID: — done here, at the
 *    top of the header section;
 *  - the From: (and Sender:) addresses are checked against the authenticated user after the
 *    bytes are stored and before the message is queued (checkSenderHeaders).
 */
import { normalizeAddress, unquoteLocalPart } from '#core/accounts/addresses.ts';
import { randomUUID } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { headerAddresses } from '#core/mime/header-addresses.ts';
import { parseHeaderFields } from '#core/mime/header.ts';
import { smtpError } from './enhanced-codes.ts';
import { rfc5322Date } from './received-header.ts';

export const MAX_HEADER_BYTES = 256 * 1024;

/** Offset just past the blank line that ends the header section in `buf`, or -1. */
function headerEnd(buf: Buffer, from: number): number {
  // The section may be empty (the message starts with the blank line).
  if (from === 0 && (buf[0] === 0x0a || (buf[0] === 0x0d && buf[1] === 0x0a))) return buf[0] === 0x0a ? 1 : 2;
  for (let i = Math.max(1, from); i < buf.length; i++) {
    if (buf[i] !== 0x0a) continue;
    if (buf[i - 1] === 0x0a) return i + 1; // LF LF
    if (buf[i - 1] === 0x0d && i >= 2 && buf[i - 2] === 0x0a) return i + 1; // LF CR LF
  }
  return -1;
}

export class SubmissionHeaderFixup extends Transform {
  /** The header section as received (without the added fields), once it has passed. */
  header: Buffer | null = null;
  /** The header section was larger than MAX_HEADER_BYTES. */
  tooLarge = false;
  /** Fields added by us (for logs/tests). */
  added: string[] = [];
  private chunks: Buffer[] = [];
  private held = 0;
  private passing = false;
  private readonly idDomain: string;

  constructor(idDomain: string) {
    super();
    this.idDomain = idDomain;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.passing) return done(null, chunk);
    const scannedBefore = this.held;
    this.chunks.push(chunk);
    this.held += chunk.length;
    const buf = Buffer.concat(this.chunks);
    this.chunks = [buf];
    const end = headerEnd(buf, Math.max(0, scannedBefore - 2));
    if (end >= 0 && end <= MAX_HEADER_BYTES) return this.release(buf, end, done);
    if (this.held > MAX_HEADER_BYTES) {
      this.tooLarge = true;
      this.passing = true;
      this.chunks = [];
      return done(null, buf);
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.passing) return done();
    const buf = Buffer.concat(this.chunks);
    this.chunks = [];
    // No blank line: the whole message is header (RFC 5322 §3.5 allows no body).
    this.release(buf, buf.length, done);
  }

  private release(buf: Buffer, end: number, done: TransformCallback): void {
    this.passing = true;
    this.chunks = [];
    this.header = buf.subarray(0, end);
    const fields = parseHeaderFields(this.header);
    const has = (k: string) => fields.some((f) => f.key === k);
    if (!has('date')) this.added.push(`Date: ${rfc5322Date(new Date())}\r\n`);
    if (!has('message-id')) this.added.push(`Message-ID: <${randomUUID()}@${this.idDomain}>\r\n`);
    if (this.added.length) this.push(Buffer.from(this.added.join(''), 'latin1'));
    done(null, buf);
  }
}

/**
 * Invariant 4, RFC 6409 §6.1: the message must be from the authenticated user. Every From:
 * address (and the Sender:, when present) must be one of the user's own addresses.
 */
export function checkSenderHeaders(fix: SubmissionHeaderFixup, ownAddresses: readonly string[]): void {
  if (fix.tooLarge || !fix.header) throw smtpError(552, '5.3.4', 'Header section too large');
  const own = new Set(ownAddresses.map((a) => a.toLowerCase()));
  const from = headerAddresses(fix.header, 'from');
  if (from.fields === 0) throw smtpError(550, '5.6.0', 'The message has no From: header field (RFC 5322 §3.6)');
  if (from.fields > 1) throw smtpError(550, '5.6.0', 'The message has more than one From: header field (RFC 5322 §3.6)');
  if (from.addresses.length === 0) throw smtpError(553, '5.7.1', 'From: header has no address of yours');
  // A quoted local part names the same mailbox as its unquoted form (RFC 5322 §3.4.1, RFC 5321
  // §4.1.2): `"alice"@example.test` is alice@example.test, as the envelope checks take it.
  const mine = (a: string) => own.has(normalizeAddress(unquoteLocalPart(a)));
  for (const a of from.addresses) if (!mine(a)) throw smtpError(553, '5.7.1', `From: header address <${a.slice(0, 200)}> is not yours`);
  const sender = headerAddresses(fix.header, 'sender');
  for (const a of sender.addresses) if (!mine(a)) throw smtpError(553, '5.7.1', `Sender: header address <${a.slice(0, 200)}> is not yours`);
}
