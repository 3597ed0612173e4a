/**
 * RSPAMD_URL (issue 14 item 4): the MX puts each message to Debian's real rspamd (/checkv2,
 * test/support/rspamd.ts) before its 250 and applies rspamd's action: reject → 550 5.7.1 and
 * nothing stored; greylist → 451 4.7.1; add header → Junk with X-Spam-Flag; no action → INBOX;
 * each stored message records rspamd's score, and the sender's own X-Spam-* and X-Rspamd-* fields
 * are gone. rspamd stopped: RSPAMD_FAIL=open delivers as without it; a silent rspamd with
 * RSPAMD_FAIL=tempfail gives 451 4.3.0 after RSPAMD_TIMEOUT_MS. Mail is sent with Python's smtplib
 * by a client the MX treats as a stranger from the internet (SMTP_TRUSTED_NETWORKS=none, with
 * forward-confirmed reverse DNS from the test's DNS server), so the full inbound path runs.
 */
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '#core/log.ts';
import { GTUBE } from '#listeners/smtp/trust/gtube.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { eventually, startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { describeWithRspamd, startRspamd, type Rspamd } from '../support/rspamd.ts';
import { smtplibSend } from '../support/smtplib.ts';

/** rspamd's test pattern for "add header" (enable_test_patterns; GTUBE with Y for X). */
const GTUBE_ADD_HEADER = 'Y' + GTUBE.slice(1);

describeWithRspamd('MX with RSPAMD_URL: rspamd decides refuse / defer / Junk / INBOX', () => {
  let rspamd: Rspamd;
  let dns: TestDnsServer;
  let sys: TestSystem;
  let strict: TestSystem;
  let silent: net.Server;
  const silentSockets = new Set<net.Socket>();
  const lines: Array<Record<string, any>> = [];

  beforeAll(async () => {
    rspamd = await startRspamd({
      // A real rspamd settings rule: mail to grey@ gets rspamd's greylist action whatever it scores.
      extraLocal: {
        'settings.conf':
          'greylist_rcpt {\n  priority = high;\n  rcpt = "grey@example.test";\n  apply { actions { reject = 200; "add header" = 100; greylist = -100; } }\n}\n',
      },
    });
    dns = await startDnsServer({
      '1.0.0.127.in-addr.arpa': [{ type: 'PTR', name: 'client.remote.test' }],
      'client.remote.test': [{ type: 'A', address: '127.0.0.1' }],
    });
    sys = await startTestSystem({
      logger: createLogger({}, 'info', (l) => lines.push(JSON.parse(l))),
      env: { RSPAMD_URL: rspamd.url, SMTP_TRUSTED_NETWORKS: 'none', DNS_SERVERS: dns.server, DNS_TIMEOUT_MS: '300', DNS_TRIES: '1' },
    });
    await sys.addUser('alice@example.test', 'alice-password');
    await sys.addUser('grey@example.test', 'grey-password');
    // An "rspamd" that takes the request and never answers, behind RSPAMD_FAIL=tempfail.
    silent = net.createServer((s) => {
      silentSockets.add(s);
      s.on('close', () => silentSockets.delete(s));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentPort = (silent.address() as net.AddressInfo).port;
    strict = await startTestSystem({ env: { RSPAMD_URL: `http://127.0.0.1:${silentPort}/`, RSPAMD_FAIL: 'tempfail', RSPAMD_TIMEOUT_MS: '500' } });
    await strict.addUser('alice@example.test', 'alice-password');
  }, 180_000);
  afterAll(async () => {
    await sys?.stop();
    await strict?.stop();
    for (const s of silentSockets) s.destroy();
    await new Promise((r) => (silent ? silent.close(r) : r(null)));
    await rspamd?.stop();
    await dns?.close();
  });

  const send = (subject: string, body: string, to = 'alice@example.test', extraFields = '', port = sys.port('smtp-mx')) =>
    smtplibSend({
      port,
      from: 'bob@remote.test',
      to: [to],
      ehlo: 'client.remote.test',
      data: `From: bob@remote.test\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@remote.test>\r\n${extraFields}\r\n${body}\r\n`,
    });
  const stored = async (t: TestSystem, user: string, mailbox: string, subject: string) => {
    const mb = await t.adapters.index.getMailbox(user, mailbox);
    if (!mb) return null;
    const l = await t.adapters.index.listMessages(user, mb.id, { withMeta: true });
    const m = l.find((x) => x.meta?.envelope.subject === subject);
    return m ? (await t.adapters.blobs.get(m.blobKey)).toString('latin1') : null;
  };
  const header = (raw: string) => raw.slice(0, raw.indexOf('\r\n\r\n') + 2);

  it("refuses GTUBE with 550 5.7.1 at the end of DATA on rspamd's reject, and stores nothing", async () => {
    const r = await send('gtube via rspamd', GTUBE);
    expect(r.outcome, r.stderr).toMatchObject({ error: 'data-error', code: 550 });
    expect((r.outcome as { message: string }).message).toMatch(/^5\.7\.1 Message refused as spam \(Gtube pattern\)/);
    // Without rspamd GTUBE goes to Junk (SPAM_ACTION=junk, the default): the refusal is rspamd's.
    await new Promise((r) => setTimeout(r, 300));
    expect(await stored(sys, 'alice@example.test', 'INBOX', 'gtube via rspamd')).toBeNull();
    expect(await stored(sys, 'alice@example.test', 'Junk', 'gtube via rspamd')).toBeNull();
    expect(lines.some((l) => l.msg === 'rspamd: message refused' && l.action === 'reject' && l.symbols.includes('GTUBE'))).toBe(true);
  });

  it("delivers a clean message to INBOX with rspamd's action and score, and without the sender's own X-Spam-*/X-Rspamd-* fields", async () => {
    const forged = 'X-Spam-Flag: NO\r\nX-Spam-Status: No, score=-100\r\nX-Rspamd-Score: -100.00 / 15.00\r\n';
    const r = await send('lunch', 'Shall we have lunch tomorrow at noon?', 'alice@example.test', forged);
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    const raw = await eventually(() => stored(sys, 'alice@example.test', 'INBOX', 'lunch'));
    const head = header(raw);
    // Return-Path, our Authentication-Results, rspamd's verdict, the junk filter's score (core/junk/),
    // then our Received: (RFC 8601 §5).
    expect(head).toMatch(
      /^Return-Path: <bob@remote\.test>\r\nAuthentication-Results: mx\.test;[^]*?\r\nX-Rspamd-Action: no action\r\nX-Rspamd-Score: [^\r]*\r\n(?:X-Rspamd-Symbols: [^]*?\r\n)?X-Spam-Score: [^\r]*\r\nX-Spam-Status: [^]*?\r\nReceived: /,
    );
    expect(head).toMatch(/^X-Rspamd-Score: -?\d+\.\d\d \/ 15\.00\r$/m);
    expect(head.match(/^X-Rspamd-Score:/gm)).toHaveLength(1);
    // The sender's X-Spam-Flag and X-Spam-Status are gone; the one X-Spam-Status is ours.
    expect(head).not.toMatch(/^X-Spam-Flag:/im);
    expect(head.match(/^X-Spam-Status:/gm)).toHaveLength(1);
    expect(head).toMatch(/^X-Spam-Status: No, score=0\.\d+, threshold=0\.90/m);
    expect(head).not.toContain('-100');
  });

  it("delivers to Junk with X-Spam-Flag: YES and rspamd's score on rspamd's add header action", async () => {
    const r = await send('add header', GTUBE_ADD_HEADER);
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    const raw = await eventually(() => stored(sys, 'alice@example.test', 'Junk', 'add header'));
    const head = header(raw);
    expect(head).toMatch(/^X-Rspamd-Action: add header\r$/m);
    expect(head).toMatch(/^X-Rspamd-Score: 6\.00 \/ 15\.00\r$/m);
    expect(head).toMatch(/^X-Spam-Flag: YES\r$/m);
    expect(head).toMatch(/^X-Rspamd-Symbols: GTUBE\(0\.00\)\r$/m);
    expect(await stored(sys, 'alice@example.test', 'INBOX', 'add header')).toBeNull();
  });

  it("defers with 451 4.7.1 on rspamd's greylist action and stores nothing (RFC 5321 §4.2.5: a 4yz reply, the sender retries)", async () => {
    const r = await send('greylisted', 'Hello there', 'grey@example.test');
    expect(r.outcome, r.stderr).toMatchObject({ error: 'data-error', code: 451 });
    expect((r.outcome as { message: string }).message).toMatch(/^4\.7\.1 Greylisted/);
    await new Promise((r) => setTimeout(r, 300));
    expect(await stored(sys, 'grey@example.test', 'INBOX', 'greylisted')).toBeNull();
  });

  it('with RSPAMD_FAIL=tempfail answers 451 4.3.0 when rspamd does not answer within RSPAMD_TIMEOUT_MS', async () => {
    const started = Date.now();
    const r = await send('no answer', 'Hello', 'alice@example.test', '', strict.port('smtp-mx'));
    expect(r.outcome, r.stderr).toMatchObject({ error: 'data-error', code: 451 });
    expect((r.outcome as { message: string }).message).toMatch(/^4\.3\.0 /);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(await stored(strict, 'alice@example.test', 'INBOX', 'no answer')).toBeNull();
  });

  it('with rspamd stopped and RSPAMD_FAIL=open (the default) delivers as without rspamd, and logs why', async () => {
    await rspamd.stop(false);
    const r = await send('rspamd down', 'Hello again');
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    const raw = await eventually(() => stored(sys, 'alice@example.test', 'INBOX', 'rspamd down'));
    expect(header(raw)).not.toMatch(/^X-Rspamd-/m);
    expect(lines.some((l) => l.msg === 'rspamd unavailable: message judged without it (RSPAMD_FAIL=open)' && /ECONNREFUSED/.test(l.why))).toBe(true);
    // And GTUBE falls back to the MX's own rule: Junk.
    const g = await send('gtube rspamd down', GTUBE);
    expect(g.outcome, g.stderr).toEqual({ refused: {} });
    await eventually(() => stored(sys, 'alice@example.test', 'Junk', 'gtube rspamd down'));
  });
});
