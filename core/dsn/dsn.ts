/**
 * Delivery status notifications (RFC 3464) in a multipart/report (RFC 6522): a human-readable
 * part, the machine-readable `message/delivery-status`, and the original message's header
 * section (`text/rfc822-headers`) so the sender can tell which message it was, without
 * sending a large message back.
 *
 * For internationalized addresses (RFC 6531) the report uses RFC 6533: the address type
 * `utf-8` and `message/global-delivery-status`.
 */
import { randomBytes } from 'node:crypto';
import { toCanonicalCrlf } from '../mime/crlf.ts';
import { parseHeaderFields } from '../mime/header.ts';

export interface DsnRecipient {
  /** The recipient address as given in RCPT TO. */
  recipient: string;
  /** RFC 3464 §2.3.3: failed (given up) or delayed (still retrying). */
  action: 'failed' | 'delayed';
  /** RFC 3463 status, e.g. 5.1.1. */
  status: string;
  /** The host that gave the reply (RFC 3464 §2.3.5), when there was one. */
  remoteMta?: string;
  /** The remote SMTP reply, e.g. `550 5.1.1 No such user here` (becomes `smtp; ...`), or our own words. */
  diagnostic?: string;
  /** True when `diagnostic` is an SMTP reply from `remoteMta` (Diagnostic-Code: smtp; ...). */
  diagnosticIsSmtp?: boolean;
  lastAttempt?: number;
}

export interface DsnInput {
  /** Our host name (Reporting-MTA, and the From: MAILER-DAEMON@ domain). */
  reportingMta: string;
  /** Who gets the report: the original envelope sender. */
  to: string;
  /** When we accepted the original message (epoch ms). */
  arrivalDate: number;
  /** Our queue id of the original (X-Original-Envelope-Id is not set by us; logs use it). */
  queueId: string;
  recipients: DsnRecipient[];
  /** The original message, or at least its header section. */
  original: Buffer;
  now?: Date;
}

function rfc5322Date(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${p(d.getUTCDate())} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** Text that goes into a single header-like line: no CR/LF, at most `max` characters. */
function oneLine(s: string, max = 900): string {
  let out = '';
  for (const ch of s.replace(/[\r\n]+/g, ' ')) {
    const c = ch.charCodeAt(0);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) continue;
    out += ch;
  }
  return out.slice(0, max);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** The header section of `raw` (up to and including its terminating blank line, or all of it). */
export function headerSection(raw: Buffer): Buffer {
  const fields = parseHeaderFields(raw);
  const end = fields.length ? fields[fields.length - 1].end : 0;
  return raw.subarray(0, end);
}

function messageId(raw: Buffer): string | null {
  const f = parseHeaderFields(raw).find((x) => x.key === 'message-id');
  if (!f) return null;
  const m = /<[^<>\s]+>/.exec(raw.toString('latin1', f.valueStart, f.end));
  return m ? m[0] : null;
}

export function buildDsn(input: DsnInput): Buffer {
  const now = input.now ?? new Date();
  const failed = input.recipients.some((r) => r.action === 'failed');
  const utf8 = !isAscii(input.to) || input.recipients.some((r) => !isAscii(r.recipient));
  const addrType = (a: string) => (isAscii(a) ? 'rfc822' : 'utf-8');
  const boundary = `=_dsn_${randomBytes(12).toString('hex')}`;
  const domain = input.reportingMta;
  const origId = messageId(input.original);

  const human: string[] = [
    `This is the mail system at host ${domain}.`,
    '',
    failed
      ? 'I am sorry to have to inform you that your message could not be delivered to one or more recipients. The details are below.'
      : 'Your message has not been delivered yet to one or more recipients. The mail system will keep trying; you do not need to send it again.',
    '',
  ];
  for (const r of input.recipients) {
    const where = r.remoteMta ? `host ${r.remoteMta} said: ` : '';
    human.push(`<${oneLine(r.recipient, 300)}>: ${r.action === 'failed' ? 'delivery failed' : 'delivery delayed'} (${r.status})`);
    if (r.diagnostic) human.push(`    ${where}${oneLine(r.diagnostic)}`);
    human.push('');
  }

  // RFC 3464 §2.2: per-message fields, then one block per recipient (§2.3), blank-line separated.
  const status: string[] = [
    `Reporting-MTA: dns; ${domain}`,
    `X-Queue-ID: ${oneLine(input.queueId, 64)}`,
    `Arrival-Date: ${rfc5322Date(new Date(input.arrivalDate))}`,
    '',
  ];
  for (const r of input.recipients) {
    status.push(`Final-Recipient: ${addrType(r.recipient)}; ${oneLine(r.recipient, 300)}`);
    status.push(`Action: ${r.action}`);
    status.push(`Status: ${r.status}`);
    if (r.remoteMta) status.push(`Remote-MTA: dns; ${oneLine(r.remoteMta, 255)}`);
    if (r.diagnostic) status.push(`Diagnostic-Code: ${r.diagnosticIsSmtp ? 'smtp' : 'x-unix'}; ${oneLine(r.diagnostic)}`);
    status.push(`Last-Attempt-Date: ${rfc5322Date(new Date(r.lastAttempt ?? now.getTime()))}`);
    if (r.action === 'delayed') status.push(`Will-Retry-Until: ${rfc5322Date(new Date(now.getTime() + 24 * 3600 * 1000))}`);
    status.push('');
  }

  const headers = [
    `From: Mail Delivery System <MAILER-DAEMON@${domain}>`,
    `To: <${oneLine(input.to, 300)}>`,
    `Subject: ${failed ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)'}`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: <dsn.${randomBytes(10).toString('hex')}@${domain}>`,
    ...(origId ? [`In-Reply-To: ${origId}`, `References: ${origId}`] : []),
    // RFC 3834 §5: an automatic response; RFC 3464 §2: never answered by another DSN (null sender).
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="${boundary}"`,
  ];
  // CRLF only, like every line we write: an original stored before canonical storage may
  // still have bare LFs, and a DSN never carries a bare CR or LF onward (SMTP smuggling).
  const orig = toCanonicalCrlf(headerSection(input.original));
  const parts = [
    headers.join('\r\n'),
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    human.join('\r\n'),
    `--${boundary}`,
    'Content-Description: Delivery report',
    `Content-Type: message/${utf8 ? 'global-delivery-status' : 'delivery-status'}`,
    '',
    status.join('\r\n'),
    `--${boundary}`,
    'Content-Description: Undelivered Message Headers',
    `Content-Type: ${utf8 ? 'message/global-headers' : 'text/rfc822-headers'}`,
    '',
    '',
  ].join('\r\n');
  // The CRLF before the closing delimiter belongs to it (RFC 2046 §5.1.1): the header part's
  // last field line end doubles as that CRLF.
  const ends = orig.length > 0 && orig[orig.length - 1] === 0x0a;
  return Buffer.concat([Buffer.from(parts, 'utf8'), orig, Buffer.from(`${ends ? '' : '\r\n'}--${boundary}--\r\n`)]);
}
