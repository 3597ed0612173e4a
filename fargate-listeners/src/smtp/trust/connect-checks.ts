/**
 * Checks of the client at connect and at HELO, before any mail is taken:
 *  - reverse DNS (RFC 8601 §2.7.3 "iprev"): the client address's PTR names, one of which must
 *    resolve back to the address (forward-confirmed reverse DNS). Recorded in our
 *    Authentication-Results; with SMTP_REQUIRE_FCRDNS a client without it is refused
 *    (550 5.7.25, or 451 4.7.25 when DNS failed; RFC 7372 §3.3);
 *  - DNS blocklists (RFC 5782, DNSBL_ZONES): the reversed address under each zone; an A
 *    record in 127.0.0.0/8 means listed → 554 5.7.1 naming the zone. 127.255.255.0/24 is the
 *    error range some lists answer with (e.g. to a query through a public resolver): not a
 *    listing. A zone that does not answer is logged and skipped (a blocklist outage must not
 *    stop mail);
 *  - HELO (SMTP_HELO_CHECKS): a client that calls itself by our host name or one of our
 *    domains is lying → 550 5.7.1 at MAIL. An address literal that is not the client's own
 *    address is only recorded (a comment in our Authentication-Results, the log): RFC 5321
 *    §4.1.4 says a server that verifies the HELO against the client's address "MUST NOT
 *    refuse to accept a message on that basis" (NAT and multi-homed hosts get it wrong).
 * Every refusal is logged with the client address.
 */
import net from 'node:net';
import type { AuthDnsResolver } from '#core/dns/auth-resolver.ts';

/** The name under a reverse zone: `4.3.2.1` for 1.2.3.4, the 32 nibbles for IPv6 (RFC 3596 §2.5). */
export function reversedAddress(address: string): string | null {
  const ip = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  const family = net.isIP(ip);
  if (family === 4) return ip.split('.').reverse().join('.');
  if (family !== 6) return null;
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups
    .map((g) => g.padStart(4, '0'))
    .join('')
    .toLowerCase()
    .split('')
    .reverse()
    .join('.');
}

export const MAX_PTR_NAMES = 5;

export interface IprevResult {
  result: 'pass' | 'fail' | 'temperror' | 'permerror';
  /** The confirmed name (pass) or the names found. */
  names: string[];
}

const isTemporary = (err: unknown) => {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code !== 'ENOTFOUND' && code !== 'ENODATA';
};

/** Forward-confirmed reverse DNS of `address` (RFC 8601 §3: iprev). */
export async function iprev(resolver: AuthDnsResolver, address: string): Promise<IprevResult> {
  const ip = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  const rev = reversedAddress(ip);
  if (!rev) return { result: 'permerror', names: [] };
  const zone = net.isIP(ip) === 4 ? 'in-addr.arpa' : 'ip6.arpa';
  let names: string[];
  try {
    // At most MAX_PTR_NAMES names are followed (a hostile PTR set must not cost many queries).
    names = ((await resolver(`${rev}.${zone}`, 'PTR')) as string[]).slice(0, MAX_PTR_NAMES);
  } catch (err) {
    return { result: isTemporary(err) ? 'temperror' : 'fail', names: [] };
  }
  const want = reversedAddress(ip);
  const checks = await Promise.all(
    names.map(async (name) => {
      try {
        const addrs = (await resolver(name, net.isIP(ip) === 4 ? 'A' : 'AAAA')) as string[];
        return addrs.some((a) => reversedAddress(a) === want) ? 'pass' : 'fail';
      } catch (err) {
        return isTemporary(err) ? 'temperror' : 'fail';
      }
    }),
  );
  const confirmed = checks.indexOf('pass');
  if (confirmed >= 0) return { result: 'pass', names: [names[confirmed]] };
  return { result: checks.includes('temperror') ? 'temperror' : 'fail', names };
}

/** The iprev resinfo of our Authentication-Results (RFC 8601 §2.7.3). */
export function iprevResinfo(r: IprevResult, address: string): string {
  const ip = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  const name = r.names[0] ? ` (${r.names[0].replace(/[^a-z0-9.-]/gi, '')})` : '';
  return `iprev=${r.result} policy.iprev=${ip}${name}`;
}

export type DnsblResult = { listed: false; errors: string[] } | { listed: true; zone: string; answer: string; errors: string[] };

/** The first zone of `zones` that lists `address` (RFC 5782 §2.1). */
export async function dnsblLookup(resolver: AuthDnsResolver, zones: string[], address: string): Promise<DnsblResult> {
  const rev = reversedAddress(address);
  const errors: string[] = [];
  if (!rev || zones.length === 0) return { listed: false, errors };
  const answers = await Promise.all(
    zones.map(async (zone) => {
      try {
        const a = (await resolver(`${rev}.${zone}`, 'A')) as string[];
        const hit = a.find((x) => x.startsWith('127.') && !x.startsWith('127.255.255.'));
        return hit ? { zone, answer: hit } : null;
      } catch (err) {
        if (isTemporary(err)) errors.push(`${zone}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
        return null;
      }
    }),
  );
  const hit = answers.find((x) => x !== null);
  return hit ? { listed: true, zone: hit.zone, answer: hit.answer, errors } : { listed: false, errors };
}

/**
 * Why a HELO name is wrong, or null; `refuse` when it is a lie the MX refuses (our own name or
 * domain), false when it is only recorded (an address literal that is not the client's).
 */
export function badHelo(helo: string | undefined, clientAddress: string, ourHostname: string, isOurDomain: boolean): { why: string; refuse: boolean } | null {
  if (!helo) return null;
  const name = helo.toLowerCase().replace(/\.$/, '');
  const literal = /^\[(?:ipv6:)?([0-9a-f:.]+)\]$/i.exec(name);
  const client = clientAddress.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '').toLowerCase();
  if (literal)
    return reversedAddress(literal[1]) !== null && reversedAddress(literal[1]) === reversedAddress(client)
      ? null
      : { why: `HELO address literal ${helo} is not the client's address`, refuse: false };
  if (name === ourHostname.toLowerCase()) return { why: `HELO ${helo} is this server's name`, refuse: true };
  if (isOurDomain) return { why: `HELO ${helo} is a domain of this server`, refuse: true };
  return null;
}
