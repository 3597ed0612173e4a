/** The trace header an SMTP server prepends to every message it accepts (RFC 5321 §4.4). */

export interface TraceFacts {
  heloName: string | undefined;
  clientAddress: string | undefined;
  serverName: string;
  /** e.g. ESMTP, ESMTPS, ESMTPSA (RFC 3848). */
  protocol: string;
  queueId: string;
  /** Present only when there is exactly one recipient (RFC 5321 §4.4 "for" clause, privacy). */
  recipient?: string;
  date: Date;
  tls?: { protocol?: string; cipher?: string } | null;
}

/** RFC 5322 §3.3 date-time, e.g. `Tue, 24 Nov 2026 05:20:01 +0000`. */
export function rfc5322Date(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${p(d.getUTCDate())} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function clean(s: string): string {
  // Client-controlled text must not break the header: keep printable ASCII, drop the rest.
  return s.replace(/[^\x21-\x7e]/g, '').slice(0, 255);
}

export function receivedHeader(f: TraceFacts): string {
  const helo = clean(f.heloName || 'unknown');
  const addr = clean((f.clientAddress || 'unknown').replace(/^::ffff:/, ''));
  const lines = [`Received: from ${helo} ([${addr}])`, `\tby ${clean(f.serverName)} with ${f.protocol} id ${clean(f.queueId)}`];
  if (f.tls && f.tls.protocol) lines.push(`\t(version=${clean(f.tls.protocol)} cipher=${clean(f.tls.cipher || 'unknown')})`);
  if (f.recipient) lines.push(`\tfor <${clean(f.recipient)}>`);
  lines[lines.length - 1] += `; ${rfc5322Date(f.date)}`;
  return lines.join('\r\n') + '\r\n';
}
