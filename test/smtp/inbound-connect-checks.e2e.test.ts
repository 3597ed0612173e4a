/**
 * The MX's checks of the client before any mail (issue 14 items 3 and 5): DNS blocklists
 * (RFC 5782, DNSBL_ZONES → 554 5.7.1 naming the zone), forward-confirmed reverse DNS
 * (SMTP_REQUIRE_FCRDNS → 550 5.7.25, RFC 7372), HELO checks (SMTP_HELO_CHECKS), rate limits
 * per client address (421 4.7.0), DMARC_REJECT_ACTION=junk and SPAM_ACTION=reject. Each refusal is logged with
 * the client address. Loopback addresses 127.0.0.x stand for different clients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '#core/log.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { LineClient } from '../support/line-client.ts';
import { eventually, startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { smtplibSend } from '../support/smtplib.ts';
import { GTUBE } from '#listeners/smtp/trust/gtube.ts';

describe('MX client checks: blocklists, reverse DNS, HELO, rate limits', () => {
  let dns: TestDnsServer;
  let sys: TestSystem;
  const lines: Array<Record<string, any>> = [];
  /** 127.0.0.<n> with forward-confirmed reverse DNS. */
  const confirm = (n: number) => {
    dns.set(`${n}.0.0.127.in-addr.arpa`, [{ type: 'PTR', name: `host${n}.loop.test` }]);
    dns.set(`host${n}.loop.test`, [{ type: 'A', address: `127.0.0.${n}` }]);
  };

  beforeAll(async () => {
    dns = await startDnsServer();
    for (const n of [1, 3, 5, 6, 8, 10]) confirm(n);
    // 127.0.0.3 is on the blocklist (RFC 5782 §2.1: an A record 127.0.0.2 under the reversed address).
    dns.set('3.0.0.127.bl.test', [
      { type: 'A', address: '127.0.0.2' },
      { type: 'TXT', text: 'listed for testing' },
    ]);
    // 127.0.0.7 has a PTR name that does not resolve back to it.
    dns.set('7.0.0.127.in-addr.arpa', [{ type: 'PTR', name: 'liar.loop.test' }]);
    dns.set('liar.loop.test', [{ type: 'A', address: '192.0.2.7' }]);
    dns.set('reject.test', [{ type: 'TXT', text: 'v=spf1 ip4:192.0.2.1 -all' }]);
    dns.set('_dmarc.reject.test', [{ type: 'TXT', text: 'v=DMARC1; p=reject' }]);
    // A zone that never answers: logged and skipped, never a refusal.
    dns.drop.add('1.0.0.127.down.test');
    sys = await startTestSystem({
      logger: createLogger({}, 'info', (l) => lines.push(JSON.parse(l))),
      env: {
        DNS_SERVERS: dns.server,
        DNS_TIMEOUT_MS: '300',
        DNS_TRIES: '1',
        SMTP_TRUSTED_NETWORKS: 'none',
        DNSBL_ZONES: 'bl.test,down.test',
        SMTP_REQUIRE_FCRDNS: 'true',
        SMTP_CONNECTIONS_PER_MINUTE: '4',
        SMTP_MESSAGES_PER_MINUTE: '2',
        DMARC_REJECT_ACTION: 'junk',
        SPAM_ACTION: 'reject',
      },
    });
    await sys.addUser('alice@example.test', 'alice-password');
  });
  afterAll(async () => {
    await sys?.stop();
    await dns?.close();
  });

  const greeting = async (source: string) => {
    const c = await LineClient.connect(sys.port('smtp-mx'), '127.0.0.1', source);
    return { c, reply: await c.smtpReply() };
  };

  it('refuses a client listed in a DNSBL_ZONES zone with 554 5.7.1 naming the zone, and logs its address (RFC 5782)', async () => {
    const r = await smtplibSend({
      port: sys.port('smtp-mx'),
      from: 'x@remote.test',
      to: ['alice@example.test'],
      data: 'Subject: x\r\n\r\nx\r\n',
      sourceAddress: '127.0.0.3',
    });
    expect(r.outcome).toMatchObject({ error: 'connect-error', code: 554 });
    expect((r.outcome as { message: string }).message).toMatch(/^5\.7\.1 .*\[127\.0\.0\.3\].* bl\.test/);
    expect(lines.some((l) => l.msg === 'client refused: DNS blocklist' && l.client === '127.0.0.3' && l.zone === 'bl.test')).toBe(true);
  });

  it('refuses clients without forward-confirmed reverse DNS when SMTP_REQUIRE_FCRDNS is set (550 5.7.25, RFC 7372 §3.3)', async () => {
    for (const source of ['127.0.0.4', '127.0.0.7']) {
      const { c, reply } = await greeting(source);
      expect(reply).toMatch(/^550 5\.7\.25 .*no forward-confirmed reverse DNS/);
      c.close();
      expect(lines.some((l) => l.msg === 'client refused: no forward-confirmed reverse DNS' && l.client === source)).toBe(true);
    }
  });

  it('takes mail from a client with FCrDNS that is on no list, though one blocklist zone does not answer', async () => {
    const r = await smtplibSend({
      port: sys.port('smtp-mx'),
      from: 'x@remote.test',
      to: ['alice@example.test'],
      data: 'From: x@remote.test\r\nSubject: ok\r\n\r\nok\r\n',
      ehlo: 'host1.loop.test',
    });
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    expect(lines.some((l) => l.msg === 'DNS blocklist lookup failed' && l.client === '127.0.0.1')).toBe(true);
  });

  it('refuses a HELO that claims this server or one of our domains (550 5.7.1 at MAIL)', async () => {
    for (const helo of ['mx.test', 'example.test']) {
      const { c } = await greeting('127.0.0.6');
      expect(await c.send(`EHLO ${helo}`)).toMatch(/^250/);
      expect(await c.send('MAIL FROM:<x@remote.test>')).toMatch(/^550 5\.7\.1 HELO /);
      c.close();
      expect(lines.some((l) => l.msg === 'HELO refused' && l.client === '127.0.0.6' && l.helo === helo)).toBe(true);
    }
  });

  it('takes mail after a HELO address literal that is not the client address, and records it in Authentication-Results (RFC 5321 §4.1.4: MUST NOT refuse)', async () => {
    const r = await smtplibSend({
      port: sys.port('smtp-mx'),
      from: 'x@remote.test',
      to: ['alice@example.test'],
      data: 'From: x@remote.test\r\nSubject: helo literal\r\n\r\nbody\r\n',
      sourceAddress: '127.0.0.10',
      ehlo: '[127.0.0.9]',
    });
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    const raw = await eventually(async () => {
      const mb = await sys.adapters.index.getMailbox('alice@example.test', 'INBOX');
      const l = await sys.adapters.index.listMessages('alice@example.test', mb!.id, { withMeta: true });
      const m = l.find((x) => x.meta?.envelope.subject === 'helo literal');
      return m ? (await sys.adapters.blobs.get(m.blobKey)).toString('latin1') : null;
    });
    expect(raw).toMatch(
      /^Authentication-Results: mx\.test;\r\n\tiprev=pass policy\.iprev=127\.0\.0\.10 \(host10\.loop\.test\) \(HELO address literal \[127\.0\.0\.9\] is not the client's address\)/m,
    );
    expect(lines.some((l) => l.msg === 'HELO does not match the client' && l.client === '127.0.0.10' && l.helo === '[127.0.0.9]')).toBe(true);
  });

  it('refuses connections past SMTP_CONNECTIONS_PER_MINUTE from one address with 421 4.7.0, other addresses unaffected', async () => {
    for (let i = 0; i < 4; i++) {
      const { c, reply } = await greeting('127.0.0.5');
      expect(reply).toMatch(/^220 /);
      c.close();
    }
    const { c, reply } = await greeting('127.0.0.5');
    expect(reply).toMatch(/^421 4\.7\.0 Too many connections/);
    c.close();
    const other = await greeting('127.0.0.1');
    expect(other.reply).toMatch(/^220 /);
    other.c.close();
    expect(lines.some((l) => l.msg === 'connection rate limit: refused' && l.client === '127.0.0.5')).toBe(true);
  });

  it('refuses messages past SMTP_MESSAGES_PER_MINUTE from one address with 421 4.7.0', async () => {
    const { c } = await greeting('127.0.0.1');
    await c.send('EHLO host1.loop.test');
    // One message was sent from 127.0.0.1 already (the FCrDNS test); one more is allowed.
    expect(await c.send('MAIL FROM:<x@remote.test>')).toMatch(/^250 /);
    expect(await c.send('RSET')).toMatch(/^250 /);
    expect(await c.send('MAIL FROM:<x@remote.test>')).toMatch(/^421 4\.7\.0 Too many messages/);
    c.close();
    expect(lines.some((l) => l.msg === 'message rate limit: refused' && l.client === '127.0.0.1')).toBe(true);
  });

  it('with DMARC_REJECT_ACTION=junk delivers a p=reject failure to Junk instead of refusing it', async () => {
    const r = await smtplibSend({
      port: sys.port('smtp-mx'),
      from: 'x@reject.test',
      to: ['alice@example.test'],
      data: 'From: x@reject.test\r\nSubject: rejected domain\r\n\r\nbody\r\n',
      sourceAddress: '127.0.0.6',
      ehlo: 'host6.loop.test',
    });
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    await eventually(async () => {
      const mb = await sys.adapters.index.getMailbox('alice@example.test', 'Junk');
      const l = await sys.adapters.index.listMessages('alice@example.test', mb!.id, { withMeta: true });
      return l.some((m) => m.meta?.envelope.subject === 'rejected domain');
    });
  });

  it('with SPAM_ACTION=reject refuses GTUBE with 550 5.7.1 at the end of DATA', async () => {
    const r = await smtplibSend({
      port: sys.port('smtp-mx'),
      from: 'x@remote.test',
      to: ['alice@example.test'],
      data: `From: x@remote.test\r\nSubject: gtube\r\n\r\n${GTUBE}\r\n`,
      sourceAddress: '127.0.0.8',
      ehlo: 'host8.loop.test',
    });
    expect(r.outcome).toMatchObject({ error: 'data-error', code: 550 });
    expect((r.outcome as { message: string }).message).toMatch(/^5\.7\.1 .*GTUBE/);
  });
});
