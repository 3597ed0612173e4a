/**
 * The MTA-STS policy (RFC 8461 §3.2) of our domains, and the id of its `_mta-sts` TXT record
 * (§3.1). The policy is the same for every domain we serve: the MX host names are ours.
 *
 * The id is derived from the policy text (a hash), so it changes exactly when the policy does —
 * senders that cached the policy fetch it again (§3.3) — and `mailctl domain show` and the
 * HTTPS listener agree on it without storing anything.
 */
import { createHash } from 'node:crypto';
import type { HttpConfig } from '../config.ts';

export type MtaStsSettings = Pick<HttpConfig, 'mtaStsMode' | 'mtaStsMaxAge' | 'mtaStsMx'>;

/** The policy file's text: `key: value` lines ending in CRLF (§3.2). */
export function mtaStsPolicy(settings: MtaStsSettings, hostname: string): string {
  const mx = settings.mtaStsMx.length > 0 ? settings.mtaStsMx : [hostname.toLowerCase().replace(/\.$/, '')];
  const lines = ['version: STSv1', `mode: ${settings.mtaStsMode}`, ...mx.map((m) => `mx: ${m}`), `max_age: ${settings.mtaStsMaxAge}`];
  return lines.map((l) => `${l}\r\n`).join('');
}

/** The TXT record's id: 1 to 32 letters and digits (§3.1); here 20 hex digits of SHA-256 of the policy. */
export function mtaStsPolicyId(policy: string): string {
  return createHash('sha256').update(policy).digest('hex').slice(0, 20);
}

/** The `_mta-sts.<domain>` TXT record value. */
export function mtaStsTxt(policy: string): string {
  return `v=STSv1; id=${mtaStsPolicyId(policy)}`;
}
