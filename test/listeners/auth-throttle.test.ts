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
    const th = createAuthThrottle({ maxFailuresPerClient: 3, maxFailuresPerAccount: 1000, windowSeconds: 60 }, { now: () => t });
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
  it('counts a begun check as a failure, so parallel checks cannot pass the limit; release() takes it back', async () => {
    const th = createAuthThrottle({ maxFailuresPerClient: 1000, maxFailuresPerAccount: 3, windowSeconds: 60 }, { maxWaitMs: 50 });
    const running = await Promise.all([1, 2, 3].map((i) => th.begin(`192.0.2.${i}`, 'alice@example.test')));
    expect(running.every((a) => a !== null)).toBe(true);
    // A fourth check would let four guesses run at once: it waits, and refuses when none ends.
    expect(await th.begin('192.0.2.9', ' alice@example.test')).toBeNull();
    running[0]!.release(); // that password was right
    running[0]!.release(); // a second release changes nothing
    const next = await th.begin('192.0.2.9', 'alice@example.test');
    expect(next).not.toBeNull();
    expect(await th.begin('192.0.2.10', 'alice@example.test')).toBeNull();
  });

  it('a waiting check starts when one in progress ends with the right password; a wrong one uses up the budget', async () => {
    const th = createAuthThrottle({ maxFailuresPerClient: 2, maxFailuresPerAccount: 1000, windowSeconds: 60 }, { maxWaitMs: 5000 });
    const first = (await th.begin('192.0.2.1', 'a@example.test'))!;
    const second = (await th.begin('192.0.2.1', 'b@example.test'))!;
    const third = th.begin('192.0.2.1', 'c@example.test');
    setTimeout(() => first.release(), 20);
    const started = (await third)!;
    expect(started).not.toBeNull();
    // Two wrong passwords: the client has reached its limit; a waiting check is refused at once.
    const fourth = th.begin('192.0.2.1', 'd@example.test');
    second.fail();
    started.fail();
    expect(await fourth).toBeNull();
    expect(th.blocked('192.0.2.1', 'e@example.test')).toBe(true);
  });

  it('many right passwords at once from one address (a NAT, a client opening many connections) are all let in, a few at a time', async () => {
    const th = createAuthThrottle({ maxFailuresPerClient: 10, maxFailuresPerAccount: 20, windowSeconds: 900 });
    let inCheck = 0;
    let most = 0;
    const results = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const attempt = await th.begin('198.51.100.1', `user${i % 7}@example.test`);
        if (!attempt) return false;
        inCheck++;
        most = Math.max(most, inCheck);
        await new Promise((r) => setTimeout(r, 5)); // the password check
        inCheck--;
        attempt.release();
        return true;
      }),
    );
    expect(results.every(Boolean)).toBe(true);
    expect(most).toBeLessThanOrEqual(10);
    expect(th.blocked('198.51.100.1', 'user0@example.test')).toBe(false);
  });

  it('an attempt neither released nor failed counts as failed after settleMs, and waiting checks go on', async () => {
    const th = createAuthThrottle({ maxFailuresPerClient: 1, maxFailuresPerAccount: 1000, windowSeconds: 60 }, { maxWaitMs: 2000, settleMs: 30 });
    expect(await th.begin('192.0.2.1', 'a@example.test')).not.toBeNull(); // abandoned
    expect(await th.begin('192.0.2.1', 'a@example.test')).toBeNull(); // now a settled failure: limit reached
  });
});
