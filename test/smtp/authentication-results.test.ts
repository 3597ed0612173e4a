/** Our Authentication-Results field and the removal of forged ones (RFC 8601 §2.2, §5). */
import { describe, expect, it } from 'vitest';
import { authenticationResultsField, authservIdOf, withoutOurAuthResults } from '#listeners/smtp/trust/authentication-results.ts';

describe('Authentication-Results', () => {
  it('reads the authserv-id past comments, folding, quoting and a version (RFC 8601 §2.2)', () => {
    expect(authservIdOf(' mx.test; spf=pass')).toBe('mx.test');
    expect(authservIdOf(' (nested (comment)) MX.Test 1; dkim=pass')).toBe('mx.test');
    expect(authservIdOf('\r\n\tmx.test;\r\n\tdkim=pass')).toBe('mx.test');
    expect(authservIdOf(' "mx.test"; none')).toBe('mx.test');
    expect(authservIdOf(' mx.test.evil; none')).toBe('mx.test.evil');
  });

  it('removes only top-level fields with our authserv-id, leaving the body and other hosts alone', () => {
    const raw = Buffer.from(
      'Authentication-Results: mx.test; dmarc=pass\r\nSubject: x\r\nAuthentication-Results: other.test; spf=pass\r\n' +
        'authentication-results:(c)mx.test;\r\n dkim=pass\r\nARC-Authentication-Results: i=1; mx.test; dkim=pass\r\n\r\n' +
        'Authentication-Results: mx.test; in the body\r\n',
    );
    const { message, removed } = withoutOurAuthResults(raw, 'MX.test');
    expect(removed).toBe(2);
    expect(message.toString()).toBe(
      'Subject: x\r\nAuthentication-Results: other.test; spf=pass\r\nARC-Authentication-Results: i=1; mx.test; dkim=pass\r\n\r\nAuthentication-Results: mx.test; in the body\r\n',
    );
    const clean = Buffer.from('Subject: y\r\n\r\nbody\r\n');
    expect(withoutOurAuthResults(clean, 'mx.test').message).toBe(clean);
  });

  it('writes one resinfo per folded line, CRLF only, quoting an authserv-id that is not a token', () => {
    expect(authenticationResultsField('mx.test', ['spf=pass smtp.mailfrom=a@b.test', 'dkim=none'])).toBe(
      'Authentication-Results: mx.test;\r\n\tspf=pass smtp.mailfrom=a@b.test;\r\n\tdkim=none\r\n',
    );
    expect(authenticationResultsField('mx test', [])).toBe('Authentication-Results: "mx test"; none\r\n');
    expect(authenticationResultsField('mx.test', ['spf=pass (a\r\nb)'])).toBe('Authentication-Results: mx.test;\r\n\tspf=pass (a  b)\r\n');
  });
});
