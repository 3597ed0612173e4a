/**
 * The process-wide failed-login throttle (auth-throttle.ts): accounts keyed by the identity
 * authentication resolves, so no spelling of a name gets a fresh budget.
 */
import { describe, expect, it } from 'vitest';
import { normalizeAddress } from '#core/accounts/addresses.ts';
import { accountKey, createAuthThrottle } from '#listeners/auth-throttle.ts';

const config = { maxFailuresPerClient: 1000, maxFailuresPerAccount: 4, windowSeconds: 60 };

describe('auth throttle account key', () => {
  it('is the identity authentication looks up (normalizeAddress)', () => {
    for (const name of ['alice@example.test ', '  Alice@Example.TEST', '\talice@example.test\t', 'jo\u0308rg@example.test', 'J\u00d6RG@example.test']) {
      expect(accountKey(name)).toBe(normalizeAddress(name));
    }
  });

  it('trailing and leading spaces, case and tabs count against one account, from many addresses', () => {
    const th = createAuthThrottle(config);
    const spellings = ['alice@example.test ', ' alice@example.test', 'ALICE@example.test', '\talice@Example.Test  '];
    spellings.forEach((name, i) => th.failed(`192.0.2.${i + 1}`, name));
    expect(th.blocked('203.0.113.9', 'alice@example.test')).toBe(true);
    expect(th.blocked('203.0.113.9', 'alice@example.test' + ' '.repeat(40))).toBe(true);
    expect(th.blocked('203.0.113.9', 'bob@example.test')).toBe(false);
  });

  it('the decomposed (NFD) and composed (NFC) spellings of a Unicode name are one account, as for authentication (RFC 6532 §3.1)', () => {
    const th = createAuthThrottle(config);
    const nfc = 'j\u00f6rg@example.test';
    const nfd = 'jo\u0308rg@example.test';
    expect(normalizeAddress(nfd)).toBe(nfc);
    th.failed('192.0.2.1', nfd);
    th.failed('192.0.2.2', 'J\u00d6RG@example.test');
    th.failed('192.0.2.3', 'JO\u0308RG@example.test ');
    th.failed('192.0.2.4', nfc);
    expect(th.blocked('203.0.113.9', nfc)).toBe(true);
    expect(th.blocked('203.0.113.9', nfd)).toBe(true);
    // A compatibility form (NFKC would fold full-width letters) names another address, for
    // authentication too: it reaches no account, so it needs no budget of jörg's.
    expect(normalizeAddress('\uff4a\u00f6rg@example.test')).not.toBe(nfc);
  });
});

describe('auth throttle client key', () => {
  it('counts an IPv6 /64 as one client and IPv4-mapped addresses as IPv4', () => {
    let t = 0;
    const th = createAuthThrottle({ maxFailuresPerClient: 3, maxFailuresPerAccount: 1000, windowSeconds: 60 }, () => t);
    th.failed('2001:db8:1:2::10', 'alice@example.test');
    th.failed('2001:db8:1:2::11', 'alice@example.test');
    expect(th.blocked('2001:db8:1:2:ffff::1', 'x@example.test')).toBe(false);
    th.failed('2001:db8:1:2:abcd::9', 'bob@example.test');
    expect(th.blocked('2001:db8:1:2::77', 'x@example.test')).toBe(true);
    expect(th.blocked('2001:db8:1:3::1', 'x@example.test')).toBe(false); // another /64
    expect(th.blocked('::ffff:192.0.2.1', 'x@example.test')).toBe(false);
    t += 61_000;
    expect(th.blocked('2001:db8:1:2::77', 'x@example.test')).toBe(false);
  });
});

describe('auth throttle attempts in progress', () => {
  it('counts a begun check as a failure, so parallel checks cannot pass the limit; release() takes it back', () => {
    const th = createAuthThrottle({ maxFailuresPerClient: 1000, maxFailuresPerAccount: 3, windowSeconds: 60 });
    const running = [1, 2, 3].map((i) => th.begin(`192.0.2.${i}`, 'alice@example.test'));
    expect(running.every((a) => a !== null)).toBe(true);
    expect(th.begin('192.0.2.9', ' alice@example.test')).toBeNull();
    running[0]!.release(); // that password was right
    running[0]!.release(); // a second release changes nothing
    const next = th.begin('192.0.2.9', 'alice@example.test');
    expect(next).not.toBeNull();
    expect(th.begin('192.0.2.10', 'alice@example.test')).toBeNull();
  });
});
