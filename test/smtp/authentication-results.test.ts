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
    expect(authservIdOf(' mx.test.; none')).toBe('mx.test'); // the root's dot names the same host
  });

  it('cannot read an authserv-id past an unterminated comment or quoted-string, or without the ";" after it (RFC 8601 §2.2)', () => {
    expect(authservIdOf(' (comment mx.test; spf=pass')).toBeNull();
    expect(authservIdOf(' "mx.test; spf=pass')).toBeNull();
    expect(authservIdOf(' mx.test spf=pass')).toBeNull();
    expect(authservIdOf(' ; spf=pass')).toBeNull();
    expect(authservIdOf('')).toBeNull();
    // Any depth of nested comments, with quoted-pairs inside.
    expect(authservIdOf(` ${'('.repeat(40)}a\\) b${')'.repeat(40)} mx.test; dmarc=pass`)).toBe('mx.test');
  });

  it('removes forged fields it cannot read cleanly as well as ours: 21+ nested comments, an unterminated quote or comment, a trailing dot (RFC 8601 §5)', () => {
    const deep = `${'('.repeat(25)}x${')'.repeat(25)}`;
    const forged = [
      `Authentication-Results: ${deep} mx.test; dmarc=pass\r\n`,
      'Authentication-Results: "mx.test; dmarc=pass\r\n',
      'Authentication-Results: (mx.test; dmarc=pass\r\n',
      'Authentication-Results: mx.test.; dmarc=pass\r\n',
      'Authentication-Results: "MX.TEST."; dmarc=pass\r\n',
    ];
    const raw = Buffer.from(`${forged.join('')}Authentication-Results: other.test; spf=pass\r\nSubject: x\r\n\r\nbody\r\n`);
    const { message, removed } = withoutOurAuthResults(raw, 'mx.test');
    expect(removed).toBe(forged.length);
    expect(message.toString()).toBe('Authentication-Results: other.test; spf=pass\r\nSubject: x\r\n\r\nbody\r\n');
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
