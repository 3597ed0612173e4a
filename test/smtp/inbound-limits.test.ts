/**
 * The pieces of the MX's client checks without a network: rate limits per address and per
 * IPv6 /64, trusted networks (CIDR, IPv4-mapped IPv6), reversed names for DNSBL and PTR
 * queries (RFC 5782 §2.1, RFC 3596 §2.5), HELO lies.
 */
import { describe, expect, it, vi } from 'vitest';
import { badHelo, reversedAddress } from '#listeners/smtp/trust/connect-checks.ts';
import { createRateLimiter } from '#listeners/smtp/trust/rate-limits.ts';
import { trustedNetworks } from '#listeners/smtp/trust/trusted-networks.ts';

describe('MX client checks', () => {
  it('allows N events per client per minute, counting an IPv6 /64 as one client, and forgets after the minute', () => {
    let t = 0;
    const limit = createRateLimiter(2, () => t);
    expect(limit.take('192.0.2.1')).toBe(true);
    expect(limit.take('::ffff:192.0.2.1')).toBe(true); // the same IPv4 client
    expect(limit.take('192.0.2.1')).toBe(false);
    expect(limit.take('192.0.2.2')).toBe(true);
    expect(limit.take('2001:db8:1:2::1')).toBe(true);
    expect(limit.take('2001:db8:1:2:ffff::9')).toBe(true);
    expect(limit.take('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe(false); // same /64
    expect(limit.take('2001:db8:1:3::1')).toBe(true); // the next /64
    t += 60_001;
    expect(limit.take('192.0.2.1')).toBe(true);
    const off = createRateLimiter(0, () => t);
    for (let i = 0; i < 100; i++) expect(off.take('192.0.2.9')).toBe(true);
  });

  it('forgets clients whose minute has passed every minute, not only when the map is full', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      let t = 0;
      const limit = createRateLimiter(5, () => t);
      for (let i = 0; i < 1000; i++) {
        limit.take(`198.51.100.${i % 250}`);
        limit.take(`2001:db8:${i}::1`);
      }
      expect(limit.size).toBe(1250);
      t += 30_000;
      limit.take('192.0.2.77'); // still in its minute after the sweep below
      t += 31_000;
      vi.advanceTimersByTime(60_000);
      expect(limit.size).toBe(1);
      limit.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('matches trusted networks by CIDR, single addresses, and IPv4-mapped IPv6 clients', () => {
    const t = trustedNetworks(['127.0.0.0/8', '::1/128', '10.1.2.3', '2001:db8::/32']);
    expect(t.contains('127.0.0.2')).toBe(true);
    expect(t.contains('::ffff:127.0.0.1')).toBe(true);
    expect(t.contains('::1')).toBe(true);
    expect(t.contains('10.1.2.3')).toBe(true);
    expect(t.contains('10.1.2.4')).toBe(false);
    expect(t.contains('2001:db8:ffff::1')).toBe(true);
    expect(t.contains('2001:db9::1')).toBe(false);
    expect(t.contains(undefined)).toBe(false);
    expect(trustedNetworks([]).contains('127.0.0.1')).toBe(false);
    // An address a PROXY header names is never trusted for being loopback; other networks still apply.
    expect(t.contains('127.0.0.1', true)).toBe(false);
    expect(t.contains('::ffff:127.0.0.1', true)).toBe(false);
    expect(t.contains('::1', true)).toBe(false);
    expect(t.contains('10.1.2.3', true)).toBe(true);
  });

  it('reverses addresses for DNSBL and PTR names (RFC 5782 §2.1, §2.4; RFC 3596 §2.5)', () => {
    expect(reversedAddress('192.0.2.99')).toBe('99.2.0.192');
    expect(reversedAddress('::ffff:192.0.2.99')).toBe('99.2.0.192');
    expect(reversedAddress('2001:db8:1:2:3:4:567:89ab')).toBe('b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2');
    expect(reversedAddress('2001:db8::1')).toBe('1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2');
    expect(reversedAddress('not-an-ip')).toBeNull();
  });

  it('calls a HELO a lie when it names this server or one of our domains, and only notes another address (RFC 5321 §4.1.4)', () => {
    expect(badHelo('MX.test', '192.0.2.1', 'mx.test', false)).toMatchObject({ why: expect.stringMatching(/this server's name/), refuse: true });
    expect(badHelo('example.test', '192.0.2.1', 'mx.test', true)).toMatchObject({ why: expect.stringMatching(/a domain of this server/), refuse: true });
    expect(badHelo('[192.0.2.9]', '192.0.2.1', 'mx.test', false)).toMatchObject({ why: expect.stringMatching(/not the client's address/), refuse: false });
    expect(badHelo('[192.0.2.1]', '::ffff:192.0.2.1', 'mx.test', false)).toBeNull();
    expect(badHelo('[IPv6:2001:db8::1]', '2001:db8:0:0::1', 'mx.test', false)).toBeNull();
    expect(badHelo('mail.sender.test', '192.0.2.1', 'mx.test', false)).toBeNull();
  });
});

describe('inbound trust configuration', () => {
  it('has defaults that let local clients in without DNS, and refuses settings it cannot use', async () => {
    const { loadConfig } = await import('#core/config.ts');
    const c = loadConfig({ MAIL_HOSTNAME: 'mx.example' }).inbound;
    expect(c).toMatchObject({
      authservId: 'mx.example',
      trustedNetworks: ['127.0.0.0/8', '::1/128'],
      dmarcRejectAction: 'reject',
      spamAction: 'junk',
      arcTrustedSealers: [],
      dnsblZones: [],
      requireFcrdns: false,
      heloChecks: true,
      connectionsPerMinute: 60,
      messagesPerMinute: 120,
      dnsCacheSeconds: 300,
    });
    const d = loadConfig({
      AUTHSERV_ID: 'auth.example',
      SMTP_TRUSTED_NETWORKS: 'none',
      ARC_TRUSTED_SEALERS: 'Google.com., lists.example',
      DNSBL_ZONES: 'zen.spamhaus.org',
    }).inbound;
    expect(d).toMatchObject({
      authservId: 'auth.example',
      trustedNetworks: [],
      arcTrustedSealers: ['google.com', 'lists.example'],
      dnsblZones: ['zen.spamhaus.org'],
    });
    expect(() => loadConfig({ SMTP_TRUSTED_NETWORKS: '10.0.0.0/33' })).toThrow(/SMTP_TRUSTED_NETWORKS/);
    expect(() => loadConfig({ SMTP_TRUSTED_NETWORKS: 'localhost' })).toThrow(/SMTP_TRUSTED_NETWORKS/);
    expect(() => loadConfig({ DMARC_REJECT_ACTION: 'bounce' })).toThrow(/DMARC_REJECT_ACTION/);
    expect(() => loadConfig({ SPAM_ACTION: 'delete' })).toThrow(/SPAM_ACTION/);
  });

  it('validates SMTP_VERIFY_MEMORY_MB: room for the 3 copies of one MAX_MESSAGE_SIZE message, a client share of a quarter or one message', async () => {
    const { loadConfig } = await import('#core/config.ts');
    const MiB = 1024 * 1024;
    expect(loadConfig({}).inbound).toMatchObject({ verifyMemoryBytes: 128 * MiB, verifyMemoryPerClientBytes: 75 * MiB });
    expect(loadConfig({ SMTP_VERIFY_MEMORY_MB: '400' }).inbound.verifyMemoryPerClientBytes).toBe(100 * MiB);
    expect(loadConfig({ SMTP_VERIFY_MEMORY_MB: '8', MAX_MESSAGE_SIZE: String(MiB) }).inbound.verifyMemoryBytes).toBe(8 * MiB);
    for (const bad of ['0', '-1', '1.5', 'lots', '50']) expect(() => loadConfig({ SMTP_VERIFY_MEMORY_MB: bad }), bad).toThrow(/SMTP_VERIFY_MEMORY_MB/);
    expect(() => loadConfig({ SMTP_VERIFY_MEMORY_MB: '50' })).toThrow(/at least 75 /);
  });

  it('keeps a client (an IPv6 /64 counts as one) within its share of the message memory, and gives it back', async () => {
    const { MemoryBudget } = await import('#listeners/smtp/accept-message.ts');
    const m = new MemoryBudget(10, 4);
    expect(m.take(3, '2001:db8:1:2::1')).toBe(true);
    expect(m.take(2, '2001:db8:1:2::99')).toBe(false); // the same /64: 5 > 4
    expect(m.take(4, '192.0.2.1')).toBe(true);
    expect(m.take(4, '192.0.2.2')).toBe(false); // 11 > 10 in all
    m.release(3, '2001:db8:1:2::1');
    expect(m.take(4, '2001:db8:1:2::2')).toBe(true);
    expect(m.used).toBe(8);
  });
});
