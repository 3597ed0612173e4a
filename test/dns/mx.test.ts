/**
 * MX resolution per RFC 5321 §5.1 and RFC 7505 against a DNS server of the test's own,
 * through the configurable resolver (DNS_SERVERS with a port).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupMx, orderMx } from '#core/dns/mx.ts';
import { createDnsResolver, DnsNameNotFound, DnsTemporaryError, type DnsResolver } from '#core/dns/resolver.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';

describe('DNS resolver and MX lookup', () => {
  let dns: TestDnsServer;
  let resolver: DnsResolver;
  beforeAll(async () => {
    dns = await startDnsServer({
      'multi.test': [
        { type: 'MX', preference: 20, exchange: 'backup.multi.test' },
        { type: 'MX', preference: 10, exchange: 'mx1.multi.test' },
        { type: 'MX', preference: 10, exchange: 'mx2.multi.test' },
      ],
      'implicit.test': [
        { type: 'A', address: '127.0.0.9' },
        { type: 'AAAA', address: '::1' },
      ],
      'null.test': [{ type: 'MX', preference: 0, exchange: '.' }],
      'bare.test': [{ type: 'TXT', text: 'v=spf1 -all' }],
      'long.test': [{ type: 'TXT', text: 'v=DKIM1; k=rsa; p=' + 'A'.repeat(392) }],
    });
    dns.servfail.add('broken.test');
    resolver = createDnsResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1 });
  });
  afterAll(async () => {
    await dns?.close();
  });

  it('orders MX hosts by preference and shuffles equal preferences (RFC 5321 §5.1)', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const route = await lookupMx(resolver, 'multi.test');
      expect(route.kind).toBe('hosts');
      if (route.kind !== 'hosts') return;
      expect(route.hosts.map((h) => h.preference)).toEqual([10, 10, 20]);
      expect(route.hosts[2].host).toBe('backup.multi.test');
      seen.add(route.hosts[0].host);
    }
    // Both equal-preference hosts come first sometimes.
    expect([...seen].sort()).toEqual(['mx1.multi.test', 'mx2.multi.test']);
    // Deterministic with an injected random source.
    const ordered = orderMx(
      [
        { exchange: 'b.', priority: 5 },
        { exchange: 'a.', priority: 5 },
        { exchange: 'c.', priority: 1 },
      ],
      () => 0.5,
    );
    expect(ordered.map((h) => h.host)).toEqual(['c', 'b', 'a']);
  });

  it('uses the implicit MX when a domain has addresses but no MX', async () => {
    expect(await lookupMx(resolver, 'implicit.test')).toEqual({ kind: 'hosts', hosts: [{ host: 'implicit.test', preference: 0, implicit: true }] });
    expect((await resolver.addresses('implicit.test')).sort()).toEqual(['127.0.0.9', '::1']);
  });

  it('recognises the null MX (RFC 7505), NXDOMAIN, and a domain without MX or address', async () => {
    expect(await lookupMx(resolver, 'null.test')).toEqual({ kind: 'null-mx' });
    expect(await lookupMx(resolver, 'nowhere.test')).toEqual({ kind: 'no-domain' });
    expect(await lookupMx(resolver, 'bare.test')).toEqual({ kind: 'no-host' });
    await expect(resolver.addresses('nowhere.test')).rejects.toBeInstanceOf(DnsNameNotFound);
  });

  it('reports SERVFAIL as a temporary failure, to be retried', async () => {
    await expect(lookupMx(resolver, 'broken.test')).rejects.toBeInstanceOf(DnsTemporaryError);
  });

  it('reads TXT records longer than one 255-octet string', async () => {
    const txt = await resolver.txt('long.test');
    expect(txt).toHaveLength(1);
    expect(txt[0].join('')).toBe('v=DKIM1; k=rsa; p=' + 'A'.repeat(392));
    expect(dns.queries).toContain('long.test TXT');
  });
});
