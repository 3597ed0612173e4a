/** The web face's settings (core/config.ts), the MTA-STS policy and id (RFC 8461 §3.1, §3.2), and the port-in-use line. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '#core/config.ts';
import { mtaStsPolicy, mtaStsPolicyId, mtaStsTxt } from '#core/mta-sts/policy.ts';
import { autodiscoverAddress } from '#listeners/http/autoconfig.ts';
import { basicCredentials } from '#listeners/http/apple-profile.ts';
import { matchRoute } from '#listeners/http/http-listener.ts';
import { describeListenError } from '#listeners/listen-error.ts';

describe('HTTP settings', () => {
  it('defaults: 8443 and a loopback 8080 locally; 443 and no plain listener on AWS', () => {
    expect(loadConfig({ MAIL_RUNTIME: 'local' }).http).toMatchObject({ httpsPort: 8443, httpPort: 8080, httpBind: '127.0.0.1', corsOrigins: [] });
    expect(loadConfig({ MAIL_RUNTIME: 'aws' }).http).toMatchObject({ httpsPort: 443, httpPort: null });
    expect(loadConfig({ MAIL_RUNTIME: 'aws', HTTP_PORT: '8080' }).http.httpPort).toBe(8080);
    expect(loadConfig({ MAIL_RUNTIME: 'local', HTTP_PORT: 'off' }).http.httpPort).toBeNull();
  });

  it('takes CORS origins as scheme://host[:port] and refuses anything else', () => {
    expect(loadConfig({ HTTP_CORS_ORIGINS: 'https://webmail.example.com, http://localhost:5173' }).http.corsOrigins).toEqual([
      'https://webmail.example.com',
      'http://localhost:5173',
    ]);
    expect(() => loadConfig({ HTTP_CORS_ORIGINS: 'webmail.example.com' })).toThrow(/HTTP_CORS_ORIGINS/);
    expect(() => loadConfig({ HTTP_CORS_ORIGINS: 'https://example.com/path' })).toThrow(/HTTP_CORS_ORIGINS/);
    expect(() => loadConfig({ HTTP_CORS_ORIGINS: '*' })).toThrow(/HTTP_CORS_ORIGINS/);
  });

  it('refuses a headers timeout longer than the request timeout, and unknown MTA-STS modes', () => {
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT: '200', HTTP_REQUEST_TIMEOUT: '100' })).toThrow(/HTTP_HEADERS_TIMEOUT/);
    expect(() => loadConfig({ MTA_STS_MODE: 'strict' })).toThrow(/MTA_STS_MODE/);
  });

  it('names HTTPS_PORT when its port is taken', () => {
    const config = loadConfig({ MAIL_RUNTIME: 'local' });
    const err = Object.assign(new Error('listen EADDRINUSE'), { syscall: 'listen', code: 'EADDRINUSE', port: 8443, address: '127.0.0.1' });
    expect(describeListenError(err, config)).toMatch(/^HTTPS_PORT 8443 is already in use/);
  });
});

describe('MTA-STS policy (RFC 8461)', () => {
  const settings = { mtaStsMode: 'enforce' as const, mtaStsMaxAge: 604800, mtaStsMx: [] };
  it('lists the MX host names with CRLF line endings (§3.2)', () => {
    expect(mtaStsPolicy(settings, 'Mail.Example.com.')).toBe('version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n');
    expect(mtaStsPolicy({ ...settings, mtaStsMx: ['mx1.example.com', '*.example.net'] }, 'x')).toContain('mx: mx1.example.com\r\nmx: *.example.net\r\n');
  });
  it('derives an id of 1-32 letters and digits that changes with the policy (§3.1)', () => {
    const a = mtaStsPolicy(settings, 'mail.example.com');
    const b = mtaStsPolicy({ ...settings, mtaStsMode: 'testing' }, 'mail.example.com');
    expect(mtaStsPolicyId(a)).toMatch(/^[A-Za-z0-9]{1,32}$/);
    expect(mtaStsPolicyId(a)).toBe(mtaStsPolicyId(mtaStsPolicy(settings, 'mail.example.com')));
    expect(mtaStsPolicyId(a)).not.toBe(mtaStsPolicyId(b));
    expect(mtaStsTxt(a)).toBe(`v=STSv1; id=${mtaStsPolicyId(a)}`);
  });
});

describe('request parsing', () => {
  it('reads the Autodiscover EMailAddress, namespaced or not, and refuses DTDs and non-addresses', () => {
    expect(autodiscoverAddress('<Autodiscover><Request><EMailAddress> Alice@Example.test </EMailAddress></Request></Autodiscover>')).toBe('alice@example.test');
    expect(autodiscoverAddress('<a:EMailAddress>bob@example.test</a:EMailAddress>')).toBe('bob@example.test');
    expect(autodiscoverAddress('<!DOCTYPE x [<!ENTITY e "a@b.c">]><EMailAddress>&e;</EMailAddress>')).toBeNull();
    expect(autodiscoverAddress('<EMailAddress>not-an-address</EMailAddress>')).toBeNull();
    expect(autodiscoverAddress('garbage')).toBeNull();
  });
  it('decodes HTTP Basic credentials (RFC 7617), passwords with colons included', () => {
    const h = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
    expect(basicCredentials(h('alice@example.test:pa:ss'))).toEqual({ user: 'alice@example.test', password: 'pa:ss' });
    expect(basicCredentials(h('nocolon'))).toBeNull();
    expect(basicCredentials('Bearer abc')).toBeNull();
    expect(basicCredentials(undefined)).toBeNull();
  });
  it('matches exact routes before the longest prefix', () => {
    const r = (path: string, prefix = false) => ({ path, prefix, methods: ['GET'], handle: async () => {} });
    const routes = [r('/jmap/', true), r('/jmap/upload/', true), r('/jmap/session')];
    expect(matchRoute(routes, '/jmap/session')?.path).toBe('/jmap/session');
    expect(matchRoute(routes, '/jmap/upload/a1')?.path).toBe('/jmap/upload/');
    expect(matchRoute(routes, '/jmap/x')?.path).toBe('/jmap/');
    expect(matchRoute(routes, '/jmapx')).toBeUndefined();
  });
});
