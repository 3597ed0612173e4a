/**
 * Inbound trust at the MX (issue 14): SPF (RFC 7208), DKIM (RFC 6376, RFC 8463), DMARC
 * (RFC 7489), ARC (RFC 8617) verified before the 250, against a DNS server of the test's own
 * on loopback; our Authentication-Results (RFC 8601) in the stored message; the DMARC policy
 * applied (550 5.7.1 / Junk). Sessions with Python's smtplib, from 127.0.0.1 (in the test
 * senders' SPF records) or 127.0.0.2 (outside them).
 */
import { sign as cryptoSign } from 'node:crypto';
import { authenticate, sealMessage } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import { dkimTxtRecord, generateDkimKey, type DkimKey } from '#core/dkim/keys.ts';
import { dkimSignature } from '#core/dkim/sign.ts';
import { createAuthResolver } from '#core/dns/auth-resolver.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { eventually, override, startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { smtplibSend } from '../support/smtplib.ts';
import { run } from '../support/clients.ts';
import { GTUBE } from '#listeners/smtp/trust/gtube.ts';
import { proxyConfigFromEnv } from '#listeners/proxy-protocol.ts';
import { LineClient } from '../support/line-client.ts';

const SPF_ALLOWED = '127.0.0.1';
const OUTSIDE_SPF = '127.0.0.2';

describe('inbound verification at the MX (SPF, DKIM, DMARC, ARC)', () => {
  let dns: TestDnsServer;
  let sys: TestSystem;
  let puts = 0;
  const keys: Record<string, DkimKey> = {};

  const publishKey = (domain: string, algorithm: 'rsa' | 'ed25519', selector: string) => {
    const key = generateDkimKey(domain, algorithm, selector);
    const rec = dkimTxtRecord(key);
    dns.set(rec.name, [{ type: 'TXT', text: rec.value }]);
    keys[`${selector}.${domain}`] = key;
    return key;
  };
  const domainRecords = (domain: string, spf: string, dmarc: string | null) => {
    dns.set(domain, [{ type: 'TXT', text: spf }]);
    if (dmarc) dns.set(`_dmarc.${domain}`, [{ type: 'TXT', text: dmarc }]);
  };

  beforeAll(async () => {
    dns = await startDnsServer();
    domainRecords('sender.test', `v=spf1 ip4:${SPF_ALLOWED} -all`, 'v=DMARC1; p=reject');
    publishKey('sender.test', 'rsa', 'sel');
    publishKey('sender.test', 'ed25519', 'ed');
    domainRecords('reject.test', 'v=spf1 ip4:192.0.2.1 -all', 'v=DMARC1; p=reject');
    domainRecords('quarantine.test', 'v=spf1 ip4:192.0.2.1 -all', 'v=DMARC1; p=quarantine');
    domainRecords('arcorig.test', 'v=spf1 ip4:192.0.2.1 -all', 'v=DMARC1; p=reject');
    publishKey('arcorig.test', 'rsa', 'sel');
    domainRecords('list.test', `v=spf1 ip4:${SPF_ALLOWED} -all`, null);
    publishKey('list.test', 'rsa', 'arc');
    // A trusted sealer (a subdomain of list.test) whose key no earlier test has cached.
    domainRecords('fwd.list.test', `v=spf1 ip4:${SPF_ALLOWED} -all`, null);
    publishKey('fwd.list.test', 'rsa', 'arc');
    domainRecords('evil.test', `v=spf1 ip4:${SPF_ALLOWED} -all`, null);
    publishKey('evil.test', 'rsa', 'arc');
    domainRecords('slow.test', `v=spf1 ip4:${SPF_ALLOWED} -all`, null);
    // SPF never answers (a timeout); DKIM and DMARC do.
    domainRecords('tempspf.test', `v=spf1 ip4:${SPF_ALLOWED} -all`, 'v=DMARC1; p=reject');
    publishKey('tempspf.test', 'rsa', 'sel');
    dns.drop.add('tempspf.test');
    // Local domains of ours with each DMARC policy (their users post to lists).
    domainRecords('ownquarantine.test', 'v=spf1 ip4:192.0.2.1 -all', 'v=DMARC1; p=quarantine');
    publishKey('ownquarantine.test', 'rsa', 'sel');
    domainRecords('ownnone.test', 'v=spf1 ip4:192.0.2.1 -all', 'v=DMARC1; p=none');
    publishKey('ownnone.test', 'rsa', 'sel');
    domainRecords('ownreject.test', 'v=spf1 ip4:192.0.2.1 -all', 'v=DMARC1; p=reject');
    publishKey('ownreject.test', 'rsa', 'sel');
    // Forward-confirmed reverse DNS of 127.0.0.1.
    dns.set('1.0.0.127.in-addr.arpa', [{ type: 'PTR', name: 'client.loop.test' }]);
    dns.set('client.loop.test', [{ type: 'A', address: '127.0.0.1' }]);
    sys = await startTestSystem({
      env: {
        DNS_SERVERS: dns.server,
        DNS_TIMEOUT_MS: '400',
        DNS_TRIES: '1',
        SMTP_TRUSTED_NETWORKS: 'none',
        ARC_TRUSTED_SEALERS: 'list.test',
      },
      wrapAdapters: (a: Adapters) => ({
        ...a,
        blobs: override(a.blobs, {
          put: (key, body) => {
            puts++;
            return a.blobs.put(key, body);
          },
        }),
      }),
    });
    await sys.addUser('alice@example.test', 'alice-password');
    for (const d of ['ownquarantine.test', 'ownnone.test', 'ownreject.test']) await sys.addDomain(d);
  });
  afterAll(async () => {
    await sys?.stop();
    await dns?.close();
  });

  let n = 0;
  /** A message with a unique subject, DKIM-signed by each of `signers` (`selector.domain`). */
  async function message(from: string, signers: string[] = [], extraHeaders = '', body = 'Hello from a verified sender.\r\n') {
    const subject = `trust ${++n}`;
    const raw = Buffer.from(
      `${extraHeaders}From: ${from}\r\nTo: alice@example.test\r\nSubject: ${subject}\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <m${n}@trust.test>\r\n\r\n${body}`,
    );
    const sigs: string[] = [];
    for (const s of signers) sigs.push(await dkimSignature(raw, keys[s]));
    return { subject, raw: Buffer.concat([Buffer.from(sigs.join('')), raw]) };
  }

  const send = (data: Buffer, mailFrom: string, source = SPF_ALLOWED, ehlo = 'mail.sender.test') =>
    smtplibSend({ port: sys.port('smtp-mx'), from: mailFrom, to: ['alice@example.test'], data, sourceAddress: source, ehlo });

  async function stored(mailbox: string, subject: string) {
    return eventually(async () => {
      const mb = await sys.adapters.index.getMailbox('alice@example.test', mailbox);
      const list = await sys.adapters.index.listMessages('alice@example.test', mb!.id, { withMeta: true });
      const m = list.find((x) => x.meta?.envelope.subject === subject);
      return m ? (await sys.adapters.blobs.get(m.blobKey)).toString('latin1') : null;
    });
  }
  const header = (raw: string) => raw.slice(0, raw.indexOf('\r\n\r\n') + 2);
  const ourResults = (raw: string) => header(raw).match(/^Authentication-Results: mx\.test;(?:\r\n[ \t][^\r\n]*)*/gim) ?? [];

  it('delivers a message signed rsa-sha256 and ed25519-sha256 from an SPF-allowed address to INBOX with spf=pass, dkim=pass, dmarc=pass (RFC 8601)', async () => {
    const m = await message('Sender <a@sender.test>', ['sel.sender.test', 'ed.sender.test']);
    const r = await send(m.raw, 'a@sender.test');
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    const raw = await stored('INBOX', m.subject);
    // Our field comes right after Return-Path:, above our Received: (RFC 8601 §5).
    expect(raw).toMatch(/^Return-Path: <a@sender\.test>\r\nAuthentication-Results: mx\.test;\r\n/);
    expect(raw.indexOf('Authentication-Results: mx.test')).toBeLessThan(raw.indexOf('Received: from mail.sender.test'));
    const [ar] = ourResults(raw);
    expect(ar).toMatch(/spf=pass [^;]*smtp\.mailfrom=a@sender\.test/);
    expect(ar).toMatch(/dkim=pass [^;]*header\.a=rsa-sha256/);
    expect(ar).toMatch(/dkim=pass [^;]*header\.a=ed25519-sha256/);
    expect(ar).toMatch(/dmarc=pass [^;]*header\.from=sender\.test/);
    expect(ar).toMatch(/iprev=pass policy\.iprev=127\.0\.0\.1 \(client\.loop\.test\)/);
    expect(ar).toMatch(/spf=none [^;]*smtp\.helo=mail\.sender\.test/); // the HELO identity (RFC 7208 §2.3) has no record
    // Stored with CRLF only.
    expect(/\r(?!\n)|(?<!\r)\n/.test(raw)).toBe(false);
  });

  it('reports dkim=fail for a body changed after signing (RFC 6376 §6.1.3), still INBOX on the aligned SPF pass', async () => {
    const m = await message('a@sender.test', ['sel.sender.test']);
    const changed = Buffer.from(m.raw.toString('latin1').replace('Hello from', 'Jello from'), 'latin1');
    expect((await send(changed, 'a@sender.test')).outcome).toEqual({ refused: {} });
    const [ar] = ourResults(await stored('INBOX', m.subject));
    expect(ar).toMatch(/dkim=fail [^;]*header\.d=sender\.test|dkim=fail [^;]*header\.i=@sender\.test/);
    expect(ar).toMatch(/spf=pass /);
    expect(ar).toMatch(/dmarc=pass /);
  });

  it('reports spf=fail for a client outside the SPF record; the aligned DKIM pass still passes DMARC', async () => {
    const m = await message('a@sender.test', ['sel.sender.test']);
    expect((await send(m.raw, 'a@sender.test', OUTSIDE_SPF)).outcome).toEqual({ refused: {} });
    const [ar] = ourResults(await stored('INBOX', m.subject));
    expect(ar).toMatch(/spf=fail [^;]*127\.0\.0\.2[^;]*smtp\.mailfrom=a@sender\.test/);
    expect(ar).toMatch(/dkim=pass /);
    expect(ar).toMatch(/dmarc=pass /);
  });

  it('refuses a DMARC failure of a p=reject domain with 550 5.7.1 at the end of DATA and stores nothing', async () => {
    const m = await message('x@reject.test');
    const before = puts;
    const r = await send(m.raw, 'x@reject.test');
    expect(r.outcome).toMatchObject({ error: 'data-error', code: 550 });
    expect((r.outcome as { message: string }).message).toMatch(/^5\.7\.1 .*DMARC/);
    expect(puts).toBe(before);
  });

  it('refuses a From: DMARC cannot judge (two fields, two author domains, an address in an encoded word, obsolete syntax) with 550 5.7.1 and stores nothing (RFC 7489 §6.6.1)', async () => {
    const before = puts;
    const forms: Array<[string, string]> = [
      ['x@reject.test', 'From: a@sender.test\r\n'], // a second From: field
      ['x@reject.test, a@sender.test', ''], // two author domains
      ['=?utf-8?Q?x=40reject.test?=', ''], // no address to judge
      ['ceo @ reject.test', ''], // obsolete syntax: spaces around the @
      ['ceo@reject .test', ''],
      ['ceo@reject.test.', ''], // a trailing dot
    ];
    for (const [from, extra] of forms) {
      const m = await message(from, ['sel.sender.test'], extra);
      const r = await send(m.raw, 'a@sender.test');
      expect(r.outcome, from).toMatchObject({ error: 'data-error', code: 550 });
      expect((r.outcome as { message: string }).message, from).toMatch(/^5\.7\.1 .*author domain/);
    }
    expect(puts).toBe(before);
  });

  it('delivers a DMARC failure of a p=quarantine domain to Junk', async () => {
    const m = await message('x@quarantine.test');
    expect((await send(m.raw, 'x@quarantine.test')).outcome).toEqual({ refused: {} });
    const raw = await stored('Junk', m.subject);
    expect(ourResults(raw)[0]).toMatch(/dmarc=fail [^;]*header\.from=quarantine\.test/);
    const inbox = await sys.adapters.index.getMailbox('alice@example.test', 'INBOX');
    const inInbox = await sys.adapters.index.listMessages('alice@example.test', inbox!.id, { withMeta: true });
    expect(inInbox.some((x) => x.meta?.envelope.subject === m.subject)).toBe(false);
  });

  it('refuses From: one of our own domains from an unauthorised address, though the domain publishes no DMARC record', async () => {
    const m = await message('CEO <ceo@example.test>');
    const before = puts;
    const r = await send(m.raw, 'ceo@example.test', OUTSIDE_SPF, 'mail.elsewhere.test');
    expect(r.outcome).toMatchObject({ error: 'data-error', code: 550 });
    expect((r.outcome as { message: string }).message).toMatch(/^5\.7\.1 .*example\.test/);
    // The same with another envelope sender (one that passes its own SPF).
    const m2 = await message('CEO <ceo@example.test>');
    expect((await send(m2.raw, 'a@sender.test')).outcome).toMatchObject({ error: 'data-error', code: 550 });
    // Nor beside a second, authenticated author (DMARC is not evaluated for two author domains).
    const m3 = await message('CEO <ceo@example.test>, a@sender.test', ['sel.sender.test']);
    expect((await send(m3.raw, 'a@sender.test')).outcome).toMatchObject({ error: 'data-error', code: 550 });
    expect(puts).toBe(before);
  });

  it("removes Authentication-Results that carry our authserv-id and keeps other hosts' (RFC 8601 §5)", async () => {
    const forged =
      'Authentication-Results: mx.test; spf=pass smtp.mailfrom=boss@bank.test; dkim=pass; dmarc=pass\r\n' +
      'Authentication-Results: (a comment) MX.TEST;\r\n dmarc=pass header.from=bank.test\r\n' +
      'Authentication-Results: other.test; spf=pass smtp.mailfrom=x@other.test\r\n';
    const m = await message('a@sender.test', ['sel.sender.test'], forged);
    expect((await send(m.raw, 'a@sender.test')).outcome).toEqual({ refused: {} });
    const raw = await stored('INBOX', m.subject);
    const ours = header(raw).match(/^Authentication-Results:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*/gim) ?? [];
    expect(ours).toHaveLength(2);
    expect(ours[0]).toMatch(/^Authentication-Results: mx\.test;\r\n/); // ours, the real one
    expect(ours[0]).not.toContain('bank.test');
    expect(ours[1]).toBe('Authentication-Results: other.test; spf=pass smtp.mailfrom=x@other.test');
    expect(raw).not.toContain('boss@bank.test');
  });

  /** A message of arcorig.test (p=reject) forwarded by `sealer`: footer added (DKIM broken), ARC-sealed. */
  async function forwarded(sealer: string) {
    const m = await message('Orig <o@arcorig.test>', ['sel.arcorig.test']);
    // The forwarder's own verification of the original, as it arrived from arcorig's server.
    const resolver = createAuthResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1 }, { cacheSeconds: 0 }).resolve;
    const seen = await authenticate(m.raw, { ip: '192.0.2.1', helo: 'mail.arcorig.test', sender: 'o@arcorig.test', mta: sealer, resolver, disableBimi: true });
    expect(seen.dmarc && seen.dmarc.status.result).toBe('pass');
    const modified = Buffer.concat([m.raw, Buffer.from('-- \r\nYou are subscribed to the list.\r\n')]);
    const arcHeaders = await sealMessage(modified, {
      signingDomain: sealer,
      selector: 'arc',
      privateKey: keys[`arc.${sealer}`].privateKey,
      authResults: (seen.arc && seen.arc.authResults) || '',
      cv: 'none',
    });
    return { subject: m.subject, raw: Buffer.concat([arcHeaders, modified]) };
  }

  it('accepts a forward that broke DKIM on the ARC result when the sealer is in ARC_TRUSTED_SEALERS (RFC 8617 §7.2.1), and refuses it from an untrusted sealer', async () => {
    const trusted = await forwarded('list.test');
    const r = await send(trusted.raw, 'list-bounces@list.test', SPF_ALLOWED, 'mail.list.test');
    expect(r.outcome, JSON.stringify(r.outcome)).toEqual({ refused: {} });
    const [ar] = ourResults(await stored('INBOX', trusted.subject));
    expect(ar).toMatch(/arc=pass /);
    expect(ar).toMatch(/dkim=fail [^;]*arcorig\.test/);
    expect(ar).toMatch(/dmarc=fail [^;]*local policy override: ARC chain sealed by trusted list\.test/);

    const untrusted = await forwarded('evil.test');
    const r2 = await send(untrusted.raw, 'list-bounces@evil.test', SPF_ALLOWED, 'mail.evil.test');
    expect(r2.outcome).toMatchObject({ error: 'data-error', code: 550 });
  });

  it("uses the newest ARC-Seal's d= to judge the sealer, not the ARC-Message-Signature's (RFC 8617 §4.1.3, §7.2.1)", async () => {
    // A set whose ARC-Message-Signature is by the trusted list.test, sealed by evil.test: the
    // chain validates, and the seal's signer is the one vouching for it.
    const genuine = await forwarded('list.test');
    const text = genuine.raw.toString('latin1');
    const fields = text.slice(0, text.indexOf('\r\n\r\n') + 2).match(/^ARC-[^:]+:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*\r\n/gim)!;
    const aar = fields.find((f) => /^ARC-Authentication-Results:/i.test(f))!;
    const ams = fields.find((f) => /^ARC-Message-Signature:/i.test(f))!;
    const relaxed = (f: string) =>
      f
        .replace(/\r\n$/, '')
        .replace(/\r?\n/g, '')
        .replace(/^([^:]*):[ \t]*/, (_m, k: string) => `${k.toLowerCase().trim()}:`)
        .replace(/[ \t]+/g, ' ')
        .replace(/ $/, '');
    const seal = `ARC-Seal: i=1; a=rsa-sha256; t=${Math.floor(Date.now() / 1000)}; cv=none; d=evil.test; s=arc; b=`;
    const signed = `${relaxed(aar)}\r\n${relaxed(ams)}\r\n${relaxed(seal)}`;
    const b = cryptoSign('sha256', Buffer.from(signed, 'latin1'), keys['arc.evil.test'].privateKey).toString('base64');
    const rest = text.replace(/^ARC-[^:]+:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*\r\n/gim, '');
    const crafted = Buffer.from(`${seal}${b}\r\n${ams}${aar}${rest}`, 'latin1');
    const r = await send(crafted, 'list-bounces@evil.test', SPF_ALLOWED, 'mail.evil.test');
    expect(r.outcome).toMatchObject({ error: 'data-error', code: 550 });
    expect((r.outcome as { message: string }).message).toMatch(/^5\.7\.1 .*DMARC/);
  });

  it('answers 451 4.7.0 when the ARC key of a trusted sealer times out (arc=temperror, RFC 6376 §6.1.2), and takes the retry', async () => {
    const m = await forwarded('fwd.list.test');
    dns.drop.add('arc._domainkey.fwd.list.test');
    try {
      const r = await send(m.raw, 'list-bounces@fwd.list.test', SPF_ALLOWED, 'mail.list.test');
      expect(r.outcome).toMatchObject({ error: 'data-error', code: 451 });
      expect((r.outcome as { message: string }).message).toMatch(/^4\.7\.0 .*ARC key of fwd\.list\.test/);
    } finally {
      dns.drop.delete('arc._domainkey.fwd.list.test');
    }
    expect((await send(m.raw, 'list-bounces@fwd.list.test', SPF_ALLOWED, 'mail.list.test')).outcome).toEqual({ refused: {} });
    expect(ourResults(await stored('INBOX', m.subject))[0]).toMatch(/arc=pass /);
  });

  it('accepts an SPF temperror when DKIM gives an aligned DMARC pass, recording spf=temperror (RFC 7489 §6.6.2); defers it without one', async () => {
    const m = await message('a@tempspf.test', ['sel.tempspf.test']);
    const r = await send(m.raw, 'a@tempspf.test');
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    const [ar] = ourResults(await stored('INBOX', m.subject));
    expect(ar).toMatch(/spf=temperror [^;]*smtp\.mailfrom=a@tempspf\.test/);
    expect(ar).toMatch(/dkim=pass [^;]*header\.d=tempspf\.test|dkim=pass [^;]*header\.i=@tempspf\.test/);
    expect(ar).toMatch(/dmarc=pass /);
    const unsigned = await message('a@tempspf.test');
    const r2 = await send(unsigned.raw, 'a@tempspf.test');
    expect(r2.outcome).toMatchObject({ error: 'data-error', code: 451 });
  });

  it("puts our own users' list posts (From: a local domain, DKIM broken by the list) in Junk when our domain publishes p=quarantine or p=none, and refuses them under p=reject (RFC 7489 §6.3)", async () => {
    const viaList = async (domain: string) => {
      const m = await message(`Bob <bob@${domain}>`, [`sel.${domain}`]);
      const footer = Buffer.concat([m.raw, Buffer.from('-- \r\nTo unsubscribe, write to the list.\r\n')]);
      return { subject: m.subject, reply: await send(footer, 'list-bounces@list.test', SPF_ALLOWED, 'mail.list.test') };
    };
    for (const domain of ['ownquarantine.test', 'ownnone.test']) {
      const { subject, reply } = await viaList(domain);
      expect(reply.outcome, domain).toEqual({ refused: {} });
      const [ar] = ourResults(await stored('Junk', subject));
      expect(ar).toMatch(new RegExp(`dmarc=fail [^;]*header\\.from=${domain.replace('.', '\\.')}`));
    }
    const before = puts;
    const strict = await viaList('ownreject.test');
    expect(strict.reply.outcome).toMatchObject({ error: 'data-error', code: 550 });
    expect((strict.reply.outcome as { message: string }).message).toMatch(/^5\.7\.1 .*ownreject\.test is a domain of this server/);
    expect(puts).toBe(before);
  });

  it('treats GTUBE as spam: a signed, DMARC-passing message holding it goes to Junk', async () => {
    const m = await message('a@sender.test', ['sel.sender.test'], '', `This is the GTUBE, the\r\n${GTUBE}\r\n`);
    expect((await send(m.raw, 'a@sender.test')).outcome).toEqual({ refused: {} });
    expect(ourResults(await stored('Junk', m.subject))[0]).toMatch(/dmarc=pass /);
  });

  it('answers 451 4.7.0 when DNS times out during DATA, and takes the retry once DNS answers', async () => {
    const m = await message('s@slow.test');
    dns.drop.add('slow.test');
    const before = puts;
    try {
      const r = await send(m.raw, 's@slow.test');
      expect(r.outcome).toMatchObject({ error: 'data-error', code: 451 });
      expect((r.outcome as { message: string }).message).toMatch(/^4\.7\.0 /);
      expect(puts).toBe(before);
    } finally {
      dns.drop.delete('slow.test');
    }
    // The timeout was not cached: the sender's retry is verified afresh and accepted.
    expect((await send(m.raw, 's@slow.test')).outcome).toEqual({ refused: {} });
    expect(ourResults(await stored('INBOX', m.subject))[0]).toMatch(/spf=pass [^;]*smtp\.mailfrom=s@slow\.test/);
  });
});

describe('the MX defaults for local clients (SMTP_TRUSTED_NETWORKS = loopback)', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    // No DNS_SERVERS: nothing may need DNS for a loopback client (npm start on a machine offline).
    // 8 MiB for messages being checked, of at most 1 MiB each (3 MiB held: three copies), a
    // client's share max(8/4, 3) = 3 MiB.
    sys = await startTestSystem({
      env: { DNS_SERVERS: '127.0.0.1:9', DNS_TIMEOUT_MS: '200', DNS_TRIES: '1', SMTP_VERIFY_MEMORY_MB: '8', MAX_MESSAGE_SIZE: String(1024 * 1024) },
    });
    await sys.addUser('alice@example.test', 'alice-password');
  });
  afterAll(async () => {
    await sys?.stop();
  });
  const swaks = (subject: string, body: string) =>
    run('swaks', [
      '--server',
      '127.0.0.1',
      '--port',
      String(sys.port('smtp-mx')),
      '--from',
      'carol@elsewhere.test',
      '--to',
      'alice@example.test',
      '--header',
      `Subject: ${subject}`,
      '--body',
      body,
    ]);
  const subjects = async (mailbox: string) => {
    const mb = await sys.adapters.index.getMailbox('alice@example.test', mailbox);
    return (await sys.adapters.index.listMessages('alice@example.test', mb!.id, { withMeta: true })).map((m) => m.meta!.envelope.subject);
  };

  it('takes mail from a loopback client without verification (no DNS asked, no Authentication-Results), GTUBE still to Junk', async () => {
    const plain = await swaks('local hello', 'from a local tool');
    expect(plain.code, plain.stdout + plain.stderr).toBe(0);
    const spam = await swaks('local gtube', GTUBE);
    expect(spam.code, spam.stdout + spam.stderr).toBe(0);
    await eventually(async () => (await subjects('INBOX')).includes('local hello') && (await subjects('Junk')).includes('local gtube'));
    const mb = await sys.adapters.index.getMailbox('alice@example.test', 'INBOX');
    const [m] = await sys.adapters.index.listMessages('alice@example.test', mb!.id);
    expect((await sys.adapters.blobs.get(m.blobKey)).toString('latin1')).not.toMatch(/^Authentication-Results:/im);
  });

  const body1m = ('y'.repeat(998) + '\r\n').repeat(1000); // 1,000,000 octets: 2.86 MiB held
  /** A transaction from `source` whose DATA is sent but not ended (its message is held meanwhile). */
  async function pending(source: string, subject: string) {
    const c = await LineClient.connect(sys.port('smtp-mx'), '127.0.0.1', source);
    expect(await c.smtpReply()).toMatch(/^220 /);
    await c.send('EHLO big.test');
    await c.send('MAIL FROM:<carol@elsewhere.test>');
    await c.send('RCPT TO:<alice@example.test>');
    expect(await c.send('DATA')).toMatch(/^354 /);
    c.write(`Subject: ${subject}\r\n\r\n${body1m}`);
    return { end: () => c.send('.'), close: () => c.close() };
  }
  const settle = () => new Promise((r) => setTimeout(r, 1000)); // the listener reads what was sent
  const full = (source: string, subject: string) =>
    smtplibSend({
      port: sys.port('smtp-mx'),
      from: 'carol@elsewhere.test',
      to: ['alice@example.test'],
      data: `Subject: ${subject}\r\n\r\n${body1m}`,
      sourceAddress: source,
    });

  it('defers a message that would take the memory of messages being checked past SMTP_VERIFY_MEMORY_MB, counting 3 copies each (451 4.3.1), and takes the retry', async () => {
    const a = await pending('127.0.0.21', 'held a');
    await settle();
    const b = await pending('127.0.0.22', 'held b');
    await settle();
    // 2 × 2.86 MiB held; a third would pass 8 MiB (with one copy counted it would fit).
    const r = await full('127.0.0.23', 'too big for now');
    expect(r.outcome).toMatchObject({ error: 'data-error', code: 451 });
    expect((r.outcome as { message: string }).message).toMatch(/^4\.3\.1 /);
    expect(await a.end()).toMatch(/^250 /);
    expect(await b.end()).toMatch(/^250 /);
    a.close();
    b.close();
    // The budget was given back: the sender's retry is taken.
    const ok = await full('127.0.0.23', 'too big for now');
    expect(ok.outcome, ok.stderr).toEqual({ refused: {} });
    await eventually(async () => (await subjects('INBOX')).filter((s) => s === 'too big for now' || (s ?? '').startsWith('held ')).length === 3);
  });

  it("gives each client at most its share of SMTP_VERIFY_MEMORY_MB: one client's several big DATA streams defer its own, not everyone else's", async () => {
    const streams = [];
    for (let i = 0; i < 3; i++) {
      streams.push(await pending('127.0.0.31', `greedy ${i}`));
      await settle();
    }
    // Without a share the greedy client would hold 2 × 2.86 MiB and leave too little for anyone.
    const other = await full('127.0.0.32', 'someone else');
    expect(other.outcome, other.stderr).toEqual({ refused: {} });
    const replies = [];
    for (const s of streams) replies.push(await s.end());
    for (const s of streams) s.close();
    expect(replies[0]).toMatch(/^250 /);
    expect(replies.slice(1)).toEqual([expect.stringMatching(/^451 4\.3\.1 /), expect.stringMatching(/^451 4\.3\.1 /)]);
    await eventually(async () => (await subjects('INBOX')).includes('someone else'));
  });
});

describe('loopback trust behind a PROXY-protocol peer (SMTP_TRUSTED_NETWORKS = loopback, PROXY_TRUSTED_CIDRS = 127.0.0.1)', () => {
  let dns: TestDnsServer;
  let sys: TestSystem;
  beforeAll(async () => {
    dns = await startDnsServer();
    sys = await startTestSystem({
      proxy: proxyConfigFromEnv({ PROXY_PROTOCOL: 'v1', PROXY_TRUSTED_CIDRS: '127.0.0.1/32' }),
      env: { DNS_SERVERS: dns.server, DNS_TIMEOUT_MS: '400', DNS_TRIES: '1' },
    });
    await sys.addUser('alice@example.test', 'alice-password');
  });
  afterAll(async () => {
    await sys?.stop();
    await dns?.close();
  });

  /** One transaction of `From: ceo@example.test` (our own domain, unauthenticated); the reply to the final dot. */
  async function forgedCeo(c: LineClient) {
    expect(await c.smtpReply()).toMatch(/^220 /);
    expect(await c.send('EHLO client.test')).toMatch(/^250/);
    expect(await c.send('MAIL FROM:<ceo@example.test>')).toMatch(/^250 /);
    expect(await c.send('RCPT TO:<alice@example.test>')).toMatch(/^250 /);
    expect(await c.send('DATA')).toMatch(/^354 /);
    return c.send('From: CEO <ceo@example.test>\r\nTo: alice@example.test\r\nSubject: wire the money\r\n\r\nNow.\r\n.');
  }

  it('does not trust a loopback address named by a PROXY header: the message is verified, and an unauthenticated From: of our own domain is refused', async () => {
    const c = await LineClient.connect(sys.port('smtp-mx'), '127.0.0.1', '127.0.0.1');
    c.write('PROXY TCP4 127.0.0.1 127.0.0.1 40000 25\r\n');
    expect(await forgedCeo(c)).toMatch(/^550 5\.7\.1 .*example\.test/);
    c.close();
  });

  it('still trusts a loopback TCP peer that sent no PROXY header (outside PROXY_TRUSTED_CIDRS)', async () => {
    const c = await LineClient.connect(sys.port('smtp-mx'), '127.0.0.1', '127.0.0.2');
    expect(await forgedCeo(c)).toMatch(/^250 /);
    c.close();
  });
});
