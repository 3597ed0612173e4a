/**
 * Return-Path (RFC 5321 §4.4, RFC 5322 §3.6.7): the SMTP server that makes the final
 * delivery of a message inserts `Return-Path: <reverse-path>` as the first line of the mail
 * data (`<>` for the null reverse-path of bounces).
 *
 * Where it is added: the envelope sender is the same for every recipient of one SMTP
 * transaction, and the recipients the MX listener accepts are local (the one exception,
 * postmaster mail forwarded to a postmaster address at another site, is relayed, and relays
 * strip the field), so it is written into the blob when the message is accepted
 * (fargate-listeners/src/smtp/accept-message.ts), above the Received: field. The blob stays
 * immutable and shared by all recipients (invariant 5), and the index computed from it at
 * ingest includes the field like any other. Submission's remote recipients get the message
 * without it (`withoutReturnPath`, core/outbound/route.ts): relaying is not final delivery.
 * DSNs delivered to a local sender get `Return-Path: <>` (core/dsn/deliver-dsn.ts).
 * IMAP APPEND is not a delivery and adds nothing.
 *
 * A Return-Path field already in a received message was put there by some earlier "final"
 * delivery (or forged); it says nothing true about this delivery, so it is removed before
 * ours is added (RFC 5321 §4.4 allows the delivering server to remove them; Postfix's
 * cleanup does so by default, message_drop_headers).
 */
import { withoutHeaderFields } from '../mime/header.ts';

/** `Return-Path: <sender>` with CRLF; `<>` for the null reverse-path. */
export function returnPathField(mailFrom: string): string {
  // The address comes from the MAIL command (smtp-server parsed it); no control character
  // may reach the header, whatever a client managed to send.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  const addr = mailFrom.replace(/[\x00-\x1f\x7f<>]/g, '');
  return `Return-Path: <${addr}>\r\n`;
}

/**
 * `raw` without the Return-Path fields of its top-level header section (the header block
 * that starts at offset 0). Returns `raw` itself when it has none.
 */
export function withoutReturnPath(raw: Buffer): Buffer {
  return withoutHeaderFields(raw, (f) => f.key === 'return-path').message;
}
