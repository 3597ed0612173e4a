/**
 * Where to deliver mail for a domain, RFC 5321 §5.1:
 *  - MX records, tried in order of preference (lowest first); hosts of equal preference are
 *    tried in random order, to spread the load as §5.1 asks;
 *  - no MX records (the name exists) → the "implicit MX": the domain itself, preference 0,
 *    if it has an A or AAAA record;
 *  - a null MX (RFC 7505 §3: a single MX with preference 0 and exchange ".") → the domain
 *    accepts no mail: bounce at once, never retry (RFC 7505 §4.2, status 5.1.10);
 *  - NXDOMAIN → bounce (5.1.2, bad destination system address).
 * A temporary DNS failure is thrown (DnsTemporaryError) so the caller retries later.
 */
import { domainToASCII } from 'node:url';
import { DnsNameNotFound, type DnsResolver, type MxRecord } from './resolver.ts';

export interface MxHost {
  host: string;
  preference: number;
  /** True for the implicit MX (the domain's own A/AAAA). */
  implicit: boolean;
}

export type MxRoute = { kind: 'hosts'; hosts: MxHost[] } | { kind: 'null-mx' } | { kind: 'no-domain' } | { kind: 'no-host' };

/** The A-label form of a domain for DNS questions (IDNA, RFC 5890); '' when it cannot be converted. */
export function asciiDomain(domain: string): string {
  return domainToASCII(domain.replace(/\.$/, '').toLowerCase());
}

/** Preference order, shuffling hosts of equal preference (RFC 5321 §5.1). */
export function orderMx(records: MxRecord[], random: () => number = Math.random): MxHost[] {
  const keyed = records.map((r) => ({ r, tie: random() }));
  keyed.sort((a, b) => a.r.priority - b.r.priority || a.tie - b.tie);
  return keyed.map(({ r }) => ({ host: r.exchange.replace(/\.$/, '').toLowerCase(), preference: r.priority, implicit: false }));
}

export async function lookupMx(resolver: DnsResolver, domain: string, random: () => number = Math.random): Promise<MxRoute> {
  const name = asciiDomain(domain);
  if (!name) return { kind: 'no-domain' };
  let records: MxRecord[];
  try {
    records = await resolver.mx(name);
  } catch (err) {
    if (err instanceof DnsNameNotFound) return { kind: 'no-domain' };
    throw err;
  }
  // RFC 7505 §3: the null MX is the only MX of its domain; its exchange is the root "."
  // (node reports it as ''). A stray "." beside real MX hosts is ignored.
  const isNull = (r: MxRecord) => r.exchange === '' || r.exchange === '.';
  if (records.length > 0 && records.every(isNull)) return { kind: 'null-mx' };
  const real = records.filter((r) => !isNull(r));
  if (real.length > 0) return { kind: 'hosts', hosts: orderMx(real, random) };
  // No MX: the implicit MX (RFC 5321 §5.1), only when the domain has an address.
  try {
    const addrs = await resolver.addresses(name);
    if (addrs.length === 0) return { kind: 'no-host' };
  } catch (err) {
    if (err instanceof DnsNameNotFound) return { kind: 'no-domain' };
    throw err;
  }
  return { kind: 'hosts', hosts: [{ host: name, preference: 0, implicit: true }] };
}
