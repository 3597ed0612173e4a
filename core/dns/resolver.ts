/**
 * The DNS resolver of the mail system: MX, A/AAAA and TXT lookups against configurable servers
 * (`DNS_SERVERS=127.0.0.1:5353`; empty = the system's resolvers), so tests and private
 * networks can point it at their own DNS. Results are classified the way mail delivery
 * needs them (RFC 5321 §5.1):
 *  - `NXDOMAIN`: the name does not exist — a permanent failure;
 *  - no records of the type (NODATA): an empty list;
 *  - anything else (timeout, SERVFAIL, refused): DnsTemporaryError — retry later.
 */
import { Resolver } from 'node:dns/promises';
import type { DnsConfig } from '../config.ts';

export interface MxRecord {
  exchange: string;
  priority: number;
}

export interface DnsResolver {
  /** MX records of `domain`; [] when the name exists without MX. Throws DnsNameNotFound / DnsTemporaryError. */
  mx(domain: string): Promise<MxRecord[]>;
  /** IPv4 then IPv6 addresses of `host`; [] when it has none. Throws DnsNameNotFound / DnsTemporaryError. */
  addresses(host: string): Promise<string[]>;
  /** TXT records, each as its list of strings (mailauth's resolver shape). */
  txt(name: string): Promise<string[][]>;
}

/** The queried name does not exist (NXDOMAIN). */
export class DnsNameNotFound extends Error {
  readonly domain: string;
  constructor(domain: string) {
    super(`no such domain: ${domain}`);
    this.name = 'DnsNameNotFound';
    this.domain = domain;
  }
}

/** A lookup that may succeed later (timeout, SERVFAIL, refused, network error). */
export class DnsTemporaryError extends Error {
  readonly code: string;
  constructor(domain: string, code: string) {
    super(`temporary DNS failure for ${domain}: ${code}`);
    this.name = 'DnsTemporaryError';
    this.code = code;
  }
}

function classify(domain: string, err: unknown): never | [] {
  const code = (err as NodeJS.ErrnoException | null)?.code ?? 'UNKNOWN';
  if (code === 'ENOTFOUND') throw new DnsNameNotFound(domain);
  if (code === 'ENODATA') return [];
  throw new DnsTemporaryError(domain, code);
}

export function createDnsResolver(config: DnsConfig): DnsResolver {
  const resolver = new Resolver({ timeout: config.timeoutMs, tries: Math.max(1, config.tries) });
  if (config.servers.length > 0) resolver.setServers(config.servers);
  const both = async (host: string): Promise<string[]> => {
    // A and AAAA are separate questions; NXDOMAIN on one answers the other too.
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
    const out: string[] = [];
    let nx = 0;
    let temp: unknown = null;
    for (const r of [v4, v6]) {
      if (r.status === 'fulfilled') out.push(...r.value);
      else {
        try {
          classify(host, r.reason);
        } catch (e) {
          if (e instanceof DnsNameNotFound) nx++;
          else temp = e;
        }
      }
    }
    if (out.length > 0) return out;
    if (temp) throw temp;
    if (nx > 0) throw new DnsNameNotFound(host);
    return [];
  };
  return {
    async mx(domain) {
      try {
        return await resolver.resolveMx(domain);
      } catch (err) {
        return classify(domain, err);
      }
    },
    addresses: both,
    async txt(name) {
      try {
        return await resolver.resolveTxt(name);
      } catch (err) {
        return classify(name, err);
      }
    },
  };
}
