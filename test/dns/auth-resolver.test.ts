/**
 * The verification resolver's cache (core/dns/auth-resolver.ts) against a DNS server of the
 * test's own: A/AAAA kept for their TTL, other types for DNS_CACHE_SECONDS, NXDOMAIN/NODATA
 * at most 60 s (RFC 2308), temporary failures (SERVFAIL, timeout) never — the retry after
 * our 451 asks again.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAuthResolver } from '#core/dns/auth-resolver.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';

describe('verification DNS resolver with a TTL cache', () => {
  let dns: TestDnsServer;
  let clock = 1_000_000;
  const now = () => clock;
  beforeAll(async () => {
    dns = await startDnsServer({
      'short.test': [{ type: 'A', address: '192.0.2.5', ttl: 5 }],
      'spf.test': [{ type: 'TXT', text: 'v=spf1 -all' }],
    });
  });
  afterAll(async () => {
    await dns?.close();
  });
  const make = (cacheSeconds: number, maxBytes?: number) =>
    createAuthResolver({ servers: [dns.server], timeoutMs: 300, tries: 1 }, { cacheSeconds, now, maxBytes });

  it('bounds the cache by the octets it holds, not by a count: big TXT answers push out the oldest', async () => {
    const text = 'v=spf1 ' + 'x'.repeat(400);
    for (let i = 0; i < 40; i++) dns.set(`big${i}.test`, [{ type: 'TXT', text }]);
    const r = make(300, 5_000);
    for (let i = 0; i < 40; i++) await r.resolve(`big${i}.test`, 'TXT');
    expect(r.cachedBytes).toBeGreaterThan(4 * 400);
    expect(r.cachedBytes).toBeLessThanOrEqual(5_000);
    expect(r.misses).toBe(40);
    await r.resolve('big39.test', 'TXT'); // the newest is still there
    expect(r.misses).toBe(40);
    await r.resolve('big0.test', 'TXT'); // the oldest went
    expect(r.misses).toBe(41);
    r.close();
  });

  it('drops expired entries every minute, so the cache shrinks back when mail stops', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const r = make(120);
      await r.resolve('spf.test', 'TXT');
      expect(r.cachedBytes).toBeGreaterThan(0);
      clock += 121_000;
      vi.advanceTimersByTime(60_000);
      expect(r.cachedBytes).toBe(0);
      r.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps an A answer for its TTL and no longer', async () => {
    const r = make(300);
    expect(await r.resolve('short.test', 'A')).toEqual(['192.0.2.5']);
    clock += 4_000;
    expect(await r.resolve('short.test', 'A')).toEqual(['192.0.2.5']);
    expect(r.misses).toBe(1);
    clock += 2_000; // 6 s > TTL 5 s
    await r.resolve('short.test', 'A');
    expect(r.misses).toBe(2);
  });

  it('keeps TXT answers for DNS_CACHE_SECONDS, NXDOMAIN for at most 60 s, and nothing with 0', async () => {
    const r = make(120);
    expect(await r.resolve('spf.test', 'TXT')).toEqual([['v=spf1 -all']]);
    await expect(r.resolve('nowhere.test', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    clock += 59_000;
    await r.resolve('spf.test', 'TXT');
    await expect(r.resolve('nowhere.test', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(r.misses).toBe(2);
    clock += 2_000; // 61 s: the negative answer is gone, the TXT answer is not
    await expect(r.resolve('nowhere.test', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await r.resolve('spf.test', 'TXT');
    expect(r.misses).toBe(3);
    clock += 60_000; // 121 s
    await r.resolve('spf.test', 'TXT');
    expect(r.misses).toBe(4);
    const off = make(0);
    await off.resolve('spf.test', 'TXT');
    await off.resolve('spf.test', 'TXT');
    expect(off.misses).toBe(2);
  });

  it('never caches SERVFAIL or a timeout: the next question is asked again and gets the answer', async () => {
    const r = make(300);
    dns.servfail.add('flaky.test');
    dns.set('flaky.test', [{ type: 'TXT', text: 'v=spf1 +all' }]);
    await expect(r.resolve('flaky.test', 'TXT')).rejects.toMatchObject({ code: 'ESERVFAIL' });
    dns.servfail.delete('flaky.test');
    dns.drop.add('flaky.test');
    await expect(r.resolve('flaky.test', 'TXT')).rejects.toMatchObject({ code: 'ETIMEOUT' });
    dns.drop.delete('flaky.test');
    expect(await r.resolve('flaky.test', 'TXT')).toEqual([['v=spf1 +all']]);
    expect(r.misses).toBe(3);
  });
});
