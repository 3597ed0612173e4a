/**
 * Autoconfiguration and MTA-STS on a started mail system's HTTPS listener, fetched with curl and
 * parsed with Python's xml.etree / plistlib (standard parsers we did not write): Thunderbird
 * autoconfig, Microsoft Autodiscover POX, the Apple profile behind HTTP Basic with the auth
 * throttle, the MTA-STS policy (RFC 8461), and `mailctl domain show`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMailctl, type MailctlIO } from '#core/admin/mailctl.ts';
import { loadConfig } from '#core/config.ts';
import { generateDkimKey, saveDkimKey } from '#core/dkim/keys.ts';
import { mtaStsPolicy, mtaStsPolicyId } from '#core/mta-sts/policy.ts';
import { python, run } from '../support/clients.ts';
import { startTestSystem, type TestSystem } from '../support/mail-system.ts';

/** Reads an XML document on stdin with xml.etree and prints what the test checks, as JSON. */
const THUNDERBIRD_PARSE = `
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
p = root.find('emailProvider')
servers = [dict(kind=s.tag, type=s.get('type'), host=s.findtext('hostname'), port=int(s.findtext('port')), socket=s.findtext('socketType'), user=s.findtext('username'))
           for s in list(p.findall('incomingServer')) + list(p.findall('outgoingServer'))]
print(json.dumps(dict(root=root.tag, version=root.get('version'), id=p.get('id'), domain=p.findtext('domain'), servers=servers)))
`;
const AUTODISCOVER_PARSE = `
import json, sys, xml.etree.ElementTree as ET
ns = {'a': 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006', 'o': 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a'}
root = ET.fromstring(sys.stdin.buffer.read())
acct = root.find('o:Response/o:Account', ns)
print(json.dumps(dict(root=root.tag, type=acct.findtext('o:AccountType', namespaces=ns), protocols=[dict(type=p.findtext('o:Type', namespaces=ns), server=p.findtext('o:Server', namespaces=ns), port=int(p.findtext('o:Port', namespaces=ns)), ssl=p.findtext('o:SSL', namespaces=ns), login=p.findtext('o:LoginName', namespaces=ns)) for p in acct.findall('o:Protocol', ns)])))
`;
const PLIST_PARSE = `
import json, sys, plistlib
p = plistlib.loads(sys.stdin.buffer.read())
a = p['PayloadContent'][0]
print(json.dumps(dict(type=p['PayloadType'], accountType=a['PayloadType'], imapHost=a['IncomingMailServerHostName'], imapPort=a['IncomingMailServerPortNumber'], imapSsl=a['IncomingMailServerUseSSL'], smtpPort=a['OutgoingMailServerPortNumber'], user=a['IncomingMailServerUsername'], uuid=p['PayloadUUID'])))
`;

const AUTODISCOVER_REQUEST = (address: string) => `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>${address}</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>`;

describe('autoconfiguration and MTA-STS over HTTPS', () => {
  let sys: TestSystem;
  let https: number;
  const base = () => `https://127.0.0.1:${https}`;
  const curl = (...args: string[]) => run('curl', ['-sSk', '--max-time', '10', ...args], { timeoutMs: 15_000 });
  /** The answer's header section and body (curl -D -). */
  const withHeaders = async (...args: string[]) => {
    const r = await curl('-D', '-', ...args);
    const cut = r.stdout.indexOf('\r\n\r\n');
    return { head: r.stdout.slice(0, cut), body: r.stdout.slice(cut + 4) };
  };
  const status = async (...args: string[]) => (await curl('-o', '/dev/null', '-w', '%{http_code}', ...args)).stdout;

  beforeAll(async () => {
    sys = await startTestSystem({ env: { AUTH_MAX_FAILURES_PER_ACCOUNT: '3', MTA_STS_MODE: 'testing', MTA_STS_MAX_AGE: '86400' } });
    await sys.addUser('alice@example.test', 'alice-secret');
    await sys.addUser('bob@example.test', 'bob-secret');
    https = sys.port('https');
  });
  afterAll(async () => {
    await sys.stop();
  });

  it('serves Thunderbird autoconfig with the real host and ports, implicit TLS first (config-v1.1)', async () => {
    const r = await curl(`${base()}/mail/config-v1.1.xml?emailaddress=alice%40example.test`);
    expect(r.code).toBe(0);
    const parsed = JSON.parse((await python(THUNDERBIRD_PARSE, [], { input: r.stdout })).stdout);
    expect(parsed).toMatchObject({ root: 'clientConfig', version: '1.1', id: 'example.test', domain: 'example.test' });
    const s = (kind: string, type: string, socket: string) => ({ kind, type, socket, host: 'mx.test', user: '%EMAILADDRESS%' });
    expect(parsed.servers).toEqual([
      { ...s('incomingServer', 'imap', 'SSL'), port: sys.port('imaps') },
      { ...s('incomingServer', 'imap', 'STARTTLS'), port: sys.port('imap') },
      { ...s('incomingServer', 'pop3', 'SSL'), port: sys.port('pop3s') },
      { ...s('incomingServer', 'pop3', 'STARTTLS'), port: sys.port('pop3') },
      { ...s('outgoingServer', 'smtp', 'SSL'), port: sys.port('submissions') },
      { ...s('outgoingServer', 'smtp', 'STARTTLS'), port: sys.port('submission') },
    ]);
    // The well-known path asked at the domain, and at autoconfig.<domain> without a query.
    const wellKnown = await curl(`${base()}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=bob@example.test`);
    expect(wellKnown.stdout).toBe(r.stdout);
    const byHost = await curl('--resolve', `autoconfig.example.test:${https}:127.0.0.1`, `https://autoconfig.example.test:${https}/mail/config-v1.1.xml`);
    expect(byHost.stdout).toBe(r.stdout);
  });

  it('answers 404 for a domain it does not serve', async () => {
    expect(await status(`${base()}/mail/config-v1.1.xml?emailaddress=eve@elsewhere.test`)).toBe('404');
    expect(await status('-X', 'POST', '--data-binary', AUTODISCOVER_REQUEST('eve@elsewhere.test'), `${base()}/autodiscover/autodiscover.xml`)).toBe('404');
    expect(await status('--resolve', `mta-sts.elsewhere.test:${https}:127.0.0.1`, `https://mta-sts.elsewhere.test:${https}/.well-known/mta-sts.txt`)).toBe(
      '404',
    );
  });

  it('answers an Autodiscover POX request with IMAP, POP3 and SMTP settings, under both spellings of the path', async () => {
    for (const path of ['/autodiscover/autodiscover.xml', '/Autodiscover/Autodiscover.xml']) {
      const r = await curl('-H', 'Content-Type: text/xml', '--data-binary', AUTODISCOVER_REQUEST('Alice@Example.test'), `${base()}${path}`);
      const parsed = JSON.parse((await python(AUTODISCOVER_PARSE, [], { input: r.stdout })).stdout);
      expect(parsed.type).toBe('email');
      expect(parsed.protocols).toEqual([
        { type: 'IMAP', server: 'mx.test', port: sys.port('imaps'), ssl: 'on', login: 'alice@example.test' },
        { type: 'POP3', server: 'mx.test', port: sys.port('pop3s'), ssl: 'on', login: 'alice@example.test' },
        { type: 'SMTP', server: 'mx.test', port: sys.port('submissions'), ssl: 'on', login: 'alice@example.test' },
      ]);
    }
    expect(await status('--data-binary', '<Autodiscover/>', `${base()}/autodiscover/autodiscover.xml`)).toBe('400');
    expect(await status(`${base()}/autodiscover/autodiscover.xml`)).toBe('405');
    expect(await status('--data-binary', 'x'.repeat(20_000), `${base()}/autodiscover/autodiscover.xml`)).toBe('413');
  });

  it('gives the Apple profile only to a signed-in user: 401 without, 200 with, 429 once failures pass the limit', async () => {
    const url = `${base()}/profile/mail.mobileconfig`;
    const anon = await curl('-D', '-', '-o', '/dev/null', url);
    expect(anon.stdout).toMatch(/^HTTP\/1\.1 401/);
    expect(anon.stdout).toMatch(/^www-authenticate: Basic realm="mail account", charset="UTF-8"\r$/im);
    const ok = await withHeaders('--user', 'alice@example.test:alice-secret', url);
    expect(ok.head).toMatch(/^HTTP\/1\.1 200/);
    expect(ok.head).toMatch(/^content-type: application\/x-apple-aspen-config\r?$/im);
    const parsed = JSON.parse((await python(PLIST_PARSE, [], { input: ok.body })).stdout);
    expect(parsed).toMatchObject({
      type: 'Configuration',
      accountType: 'com.apple.mail.managed',
      imapHost: 'mx.test',
      imapPort: sys.port('imaps'),
      imapSsl: true,
      smtpPort: sys.port('submissions'),
      user: 'alice@example.test',
    });
    // AUTH_MAX_FAILURES_PER_ACCOUNT=3: three wrong passwords, then even the right one is refused.
    for (let i = 0; i < 3; i++) expect(await status('--user', 'bob@example.test:wrong', url)).toBe('401');
    expect(await status('--user', 'bob@example.test:bob-secret', url)).toBe('429');
    // The same throttle as IMAP: bob's IMAP login is refused too.
    const imap = await python(
      `import imaplib, sys\nc = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))\ntry:\n  c.login('bob@example.test', 'bob-secret'); print('ok')\nexcept imaplib.IMAP4.error as e:\n  print('refused', e)`,
      [String(sys.port('imap'))],
    );
    expect(imap.stdout).toMatch(/^refused/);
  });

  it('serves the MTA-STS policy at mta-sts.<domain> with the configured mode and max_age (RFC 8461 §3.2)', async () => {
    const r = await withHeaders('--resolve', `mta-sts.example.test:${https}:127.0.0.1`, `https://mta-sts.example.test:${https}/.well-known/mta-sts.txt`);
    expect(r.head).toMatch(/^HTTP\/1\.1 200/);
    expect(r.head).toMatch(/^content-type: text\/plain/im);
    expect(r.body).toBe('version: STSv1\r\nmode: testing\r\nmx: mx.test\r\nmax_age: 86400\r\n');
    // Another Host (the server's own name) has no policy.
    expect(await status(`${base()}/.well-known/mta-sts.txt`)).toBe('404');
  });

  it('mailctl domain show prints every record to publish, with the MTA-STS id of the served policy', async () => {
    const out: string[] = [];
    const io: MailctlIO = { out: (l) => out.push(l), err: (l) => out.push(l), readPassword: async () => '', writeRaw: () => {} };
    await saveDkimKey(sys.adapters.blobs, generateDkimKey('example.test', 'ed25519', 'ed1'));
    // The configuration of `npm start` (its default ports), as mailctl reads it from the environment.
    const local = loadConfig({
      MAIL_RUNTIME: 'local',
      MAIL_HOSTNAME: 'mx.test',
      MAIL_DATA_DIR: sys.dataDir,
      MTA_STS_MODE: 'testing',
      MTA_STS_MAX_AGE: '86400',
    });
    expect(await runMailctl(['domain', 'show', 'example.test'], sys.adapters, io, undefined, local)).toBe(0);
    const text = out.join('\n');
    const id = mtaStsPolicyId(mtaStsPolicy(sys.config.http, sys.config.hostname));
    for (const line of [
      'example.test. MX 10 mx.test.',
      'example.test. TXT "v=spf1 mx -all"',
      '_dmarc.example.test. TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.test"',
      `_mta-sts.example.test. TXT "v=STSv1; id=${id}"`,
      'mta-sts.example.test. CNAME mx.test.',
      '_smtp._tls.example.test. TXT "v=TLSRPTv1; rua=mailto:postmaster@example.test"',
      '_submissions._tcp.example.test. SRV 0 1 2465 mx.test.',
      '_imaps._tcp.example.test. SRV 0 1 1993 mx.test.',
      '_autodiscover._tcp.example.test. SRV 0 1 8443 mx.test.',
      'autoconfig.example.test. CNAME mx.test.',
      'autodiscover.example.test. CNAME mx.test.',
    ])
      expect(out).toContain(line);
    expect(text).toMatch(/^ed1\._domainkey\.example\.test\. IN TXT \( "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=" \)$/m);
    expect(await runMailctl(['domain', 'show', 'nowhere.test'], sys.adapters, io, undefined, sys.config)).toBe(1);
  });

  it('publishes the well-known ports on AWS, where the load balancer maps them', async () => {
    const out: string[] = [];
    const io: MailctlIO = { out: (l) => out.push(l), err: (l) => out.push(l), readPassword: async () => '', writeRaw: () => {} };
    expect(await runMailctl(['domain', 'show', 'example.test'], sys.adapters, io, undefined, { ...sys.config, runtime: 'aws' })).toBe(0);
    expect(out).toContain('_imaps._tcp.example.test. SRV 0 1 993 mx.test.');
    expect(out).toContain('_submission._tcp.example.test. SRV 10 1 587 mx.test.');
    expect(out).toContain('_autodiscover._tcp.example.test. SRV 0 1 443 mx.test.');
  });
});
