/**
 * The CAPA response (RFC 2449 §5, §6). Which capabilities are listed depends on the session:
 * STLS only before TLS and before login (RFC 2595 §4), USER and SASL only where a login is
 * allowed (not on a plaintext non-loopback connection, RFC 2595 §2.2/§4).
 */

/** RFC 2449 §6.7: a minimum retention in days for retrieved messages, or NEVER. */
export type ExpirePolicy = number | 'NEVER';

export interface CapabilityContext {
  /** USER/PASS and AUTH are allowed on this connection now. */
  loginAllowed: boolean;
  /** STLS may be offered: a plaintext connection in the AUTHORIZATION state. */
  stlsOffered: boolean;
  expire: ExpirePolicy;
  implementation: string;
}

export function capabilities(ctx: CapabilityContext): string[] {
  const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', `EXPIRE ${ctx.expire}`];
  if (ctx.loginAllowed) caps.push('USER', 'SASL PLAIN');
  if (ctx.stlsOffered) caps.push('STLS');
  caps.push(`IMPLEMENTATION ${ctx.implementation}`);
  return caps;
}

/** Parses POP3_EXPIRE_DAYS: `NEVER` (default) or a whole number of days (0 = delete at QUIT after retrieval). */
export function parseExpirePolicy(value: string | undefined): ExpirePolicy {
  if (value === undefined || value.trim() === '' || /^never$/i.test(value.trim())) return 'NEVER';
  const v = value.trim();
  if (!/^[0-9]{1,5}$/.test(v)) throw new Error(`POP3_EXPIRE_DAYS must be NEVER or a number of days, got ${JSON.stringify(value)}`);
  return Number(v);
}
