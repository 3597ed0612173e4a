/** POP3 failed-login throttle: configured address limit, IPv6 counted per /64, accounts never locked. */
import { describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../fargate-listeners/src/pop3/login-throttle.ts';

describe('LoginThrottle', () => {
  it('locks an address out after the configured failures, counting an IPv6 /64 as one client', () => {
    let t = 0;
    const th = new LoginThrottle({ lockoutFailures: 3, windowMs: 60_000, now: () => t });
    th.failure('2001:db8:1:2::10', 'alice@example.test');
    th.failure('2001:db8:1:2::11', 'alice@example.test');
    expect(th.lockedOut('2001:db8:1:2:ffff::1')).toBe(false);
    th.failure('2001:db8:1:2:abcd::9', 'bob@example.test');
    expect(th.lockedOut('2001:db8:1:2::77')).toBe(true);
    expect(th.lockedOut('2001:db8:1:3::1')).toBe(false); // another /64
    expect(th.lockedOut('::ffff:192.0.2.1')).toBe(false);
    t += 61_000;
    expect(th.lockedOut('2001:db8:1:2::77')).toBe(false);
  });
});
