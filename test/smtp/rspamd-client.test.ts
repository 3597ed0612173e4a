/**
 * The rspamd client of the MX (fargate-listeners/src/smtp/trust/rspamd.ts) apart from rspamd
 * itself (rspamd.e2e.test.ts drives the real one): RSPAMD_* validation at start, what counts as
 * a scan result, the fields it writes, the sender's fields it removes, the request headers, and
 * the bound on requests in flight (RSPAMD_MAX_REQUESTS; waiting counts toward RSPAMD_TIMEOUT_MS).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type RspamdConfig } from '#core/config.ts';
import { silentLogger } from '#core/log.ts';
import { createRspamdClient, parseCheckV2, rspamdFields, withoutSpamFields } from '#listeners/smtp/trust/rspamd.ts';

describe('RSPAMD_* configuration', () => {
  it('is off without RSPAMD_URL, has defaults with it, and refuses what it cannot use at start', () => {
    expect(loadConfig({}).inbound.rspamd).toBeNull();
    expect(loadConfig({ RSPAMD_URL: 'http://127.0.0.1:11333' }).inbound.rspamd).toEqual({
      url: 'http://127.0.0.1:11333/',
      timeoutMs: 5000,
      maxRequests: 16,
      fail: 'open',
      settingsId: null,
    });
    expect(
      loadConfig({
        RSPAMD_URL: 'https://rspamd.internal/scan/',
        RSPAMD_FAIL: 'TempFail',
        RSPAMD_TIMEOUT_MS: '800',
        RSPAMD_MAX_REQUESTS: '2',
        RSPAMD_SETTINGS_ID: 'inbound',
      }).inbound.rspamd,
    ).toEqual({ url: 'https://rspamd.internal/scan/', timeoutMs: 800, maxRequests: 2, fail: 'tempfail', settingsId: 'inbound' });
    for (const url of ['127.0.0.1:11333', 'ftp://127.0.0.1/', 'http://', 'http://127.0.0.1:11333/?x=1', 'http://u:p@127.0.0.1/'])
      expect(() => loadConfig({ RSPAMD_URL: url }), url).toThrow(/RSPAMD_URL must be an http\(s\) URL/);
    expect(() => loadConfig({ RSPAMD_URL: 'http://127.0.0.1:11333', RSPAMD_FAIL: 'closed' })).toThrow(/RSPAMD_FAIL must be open or tempfail/);
    expect(() => loadConfig({ RSPAMD_URL: 'http://127.0.0.1:11333', RSPAMD_TIMEOUT_MS: '0' })).toThrow(/RSPAMD_TIMEOUT_MS/);
    expect(() => loadConfig({ RSPAMD_URL: 'http://127.0.0.1:11333', RSPAMD_MAX_REQUESTS: '0' })).toThrow(/RSPAMD_MAX_REQUESTS/);
    expect(() => loadConfig({ RSPAMD_URL: 'http://127.0.0.1:11333', RSPAMD_SETTINGS_ID: 'a b' })).toThrow(/RSPAMD_SETTINGS_ID/);
  });
});

describe('rspamd answers and fields', () => {
  it('reads a /checkv2 result and refuses anything else as one', () => {
    const v = parseCheckV2(
      JSON.stringify({
        action: 'add header',
        score: 7.3,
        required_score: 15,
        symbols: { RDNS_NONE: { score: 1 }, MIME_GOOD: { score: -0.1 }, ARC_NA: { score: 0 }, 'BAD NAME\r\nX: y': { score: 2 } },
        messages: { smtp_message: 'Spam\r\nmessage' },
      }),
    );
    expect(v).toEqual({
      action: 'add header',
      score: 7.3,
      requiredScore: 15,
      symbols: [
        { name: 'BADNAMEXy', score: 2 },
        { name: 'RDNS_NONE', score: 1 },
        { name: 'MIME_GOOD', score: -0.1 },
      ],
      smtpMessage: 'Spammessage',
    });
    expect(() => parseCheckV2('<html>502 Bad Gateway</html>')).toThrow();
    expect(() => parseCheckV2(JSON.stringify({ action: 'delete everything', score: 1 }))).toThrow(/not a scan result/);
    expect(() => parseCheckV2(JSON.stringify({ action: 'reject' }))).toThrow(/not a scan result/);
  });

  it('writes the action, the score against the reject threshold, folded symbols, and X-Spam-Flag only for Junk', () => {
    const symbols = Array.from({ length: 12 }, (_, i) => ({ name: `SYMBOL_NUMBER_${i}`, score: 1 }));
    const junk = rspamdFields({ action: 'add header', score: 12, requiredScore: 15, symbols, smtpMessage: null });
    expect(junk).toMatch(/^X-Rspamd-Action: add header\r\nX-Rspamd-Score: 12\.00 \/ 15\.00\r\nX-Rspamd-Symbols: SYMBOL_NUMBER_0\(1\.00\),/);
    expect(junk.endsWith('X-Spam-Flag: YES\r\n')).toBe(true);
    for (const line of junk.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
    expect(junk).toMatch(/,\r\n\tSYMBOL_NUMBER_\d+\(1\.00\)/); // RFC 5322 §2.2.3 folding
    const clean = rspamdFields({ action: 'no action', score: -0.1, requiredScore: 15, symbols: [], smtpMessage: null });
    expect(clean).toBe('X-Rspamd-Action: no action\r\nX-Rspamd-Score: -0.10 / 15.00\r\n');
  });

  it("removes the sender's X-Spam-*, X-Rspamd-* and X-Spamd-* fields, folded lines included, and nothing else", () => {
    const raw = Buffer.from(
      'X-Spam-Status: No,\r\n score=-5\r\nSubject: hi\r\nx-rspamd-score: 0\r\nX-Spamd-Result: default\r\nX-Spammer: kept\r\n\r\nX-Spam-Flag: in the body\r\n',
    );
    const { message, removed } = withoutSpamFields(raw);
    expect(removed).toBe(3);
    expect(message.toString()).toBe('Subject: hi\r\nX-Spammer: kept\r\n\r\nX-Spam-Flag: in the body\r\n');
  });
});

describe('rspamd client requests', () => {
  let server: http.Server | null = null;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => (server ? server.close(r) : r(null)));
    server = null;
  });
  const listen = async (handler: http.RequestListener) => {
    server = http.createServer(handler);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const config = (url: string, over: Partial<RspamdConfig> = {}): RspamdConfig => ({
    url,
    timeoutMs: 2000,
    maxRequests: 16,
    fail: 'open',
    settingsId: null,
    ...over,
  });
  const facts = {
    clientAddress: '192.0.2.1',
    helo: 'mail.remote.test',
    hostname: 'mail.remote.test',
    mailFrom: 'a@remote.test',
    rcptTo: ['x@example.test', 'y@example.test'],
    queueId: 'Q1',
  };

  it('posts the message to /checkv2 with the envelope as headers, one Rcpt per recipient (rspamd protocol)', async () => {
    let seen: { url?: string; headers: string[]; body: string } | null = null;
    const url = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen = { url: req.url, headers: req.rawHeaders, body: Buffer.concat(chunks).toString() };
        res.end(JSON.stringify({ action: 'no action', score: 0, required_score: 15 }));
      });
    });
    const client = createRspamdClient(config(url + '/base', { settingsId: 'inbound' }), silentLogger);
    await client.scan(Buffer.from('Subject: x\r\n\r\nbody\r\n'), facts);
    expect(seen!.url).toBe('/base/checkv2');
    expect(seen!.body).toBe('Subject: x\r\n\r\nbody\r\n');
    const pairs = (seen!.headers as string[]).flatMap((v, i, a) => (i % 2 === 0 ? [`${v}: ${a[i + 1]}`] : []));
    expect(pairs).toEqual(
      expect.arrayContaining([
        'IP: 192.0.2.1',
        'Helo: mail.remote.test',
        'Hostname: mail.remote.test',
        'From: a@remote.test',
        'Rcpt: x@example.test',
        'Rcpt: y@example.test',
        'Queue-Id: Q1',
        'Settings-ID: inbound',
      ]),
    );
  });

  it('sends SMTPUTF8 addresses as UTF-8 octets and the null reverse-path as <> (RFC 6531, RFC 5321 §4.5.5)', async () => {
    const seen: Buffer[] = [];
    const url = await listen((req, res) => {
      seen.push(Buffer.from(req.rawHeaders.join('\n'), 'latin1'));
      req.resume();
      res.end(JSON.stringify({ action: 'no action', score: 0, required_score: 15 }));
    });
    const client = createRspamdClient(config(url), silentLogger);
    await client.scan(Buffer.from('x\r\n'), { ...facts, mailFrom: 'jürgen@bücher.example', rcptTo: ['用户@例子.example'] });
    await client.scan(Buffer.from('x\r\n'), { ...facts, mailFrom: '' });
    const first = seen[0].toString('utf8');
    expect(first).toContain('From\njürgen@bücher.example');
    expect(first).toContain('Rcpt\n用户@例子.example');
    expect(seen[1].toString('utf8')).toContain('From\n<>');
  });

  it('keeps at most RSPAMD_MAX_REQUESTS scans in flight; the wait for a slot counts toward RSPAMD_TIMEOUT_MS', async () => {
    let inFlight = 0;
    let most = 0;
    let delayMs = 100;
    const url = await listen((req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      req.resume();
      setTimeout(() => {
        inFlight--;
        res.end(JSON.stringify({ action: 'no action', score: 0, required_score: 15 }));
      }, delayMs);
    });
    const client = createRspamdClient(config(url, { maxRequests: 2 }), silentLogger);
    const results = await Promise.all(Array.from({ length: 6 }, () => client.scan(Buffer.from('x\r\n'), facts)));
    expect(results.every((r) => r.action === 'no action')).toBe(true);
    expect(most).toBe(2);
    // One slot, answers after 300 ms, 450 ms allowed: the second scan gets the slot at ~300 ms
    // and would be answered at ~600 ms; counted from the call its time is up at 450 ms.
    delayMs = 300;
    const tight = createRspamdClient(config(url, { maxRequests: 1, timeoutMs: 450 }), silentLogger);
    const both = await Promise.allSettled([tight.scan(Buffer.from('x\r\n'), facts), tight.scan(Buffer.from('x\r\n'), facts)]);
    expect(both[0].status).toBe('fulfilled');
    expect(both[1]).toMatchObject({ status: 'rejected', reason: { message: expect.stringMatching(/RSPAMD_TIMEOUT_MS/) } });
  });

  it('treats an HTTP error as rspamd unavailable: open delivers as without it, tempfail answers 451 4.3.0', async () => {
    const url = await listen((req, res) => {
      req.resume();
      res.statusCode = 500;
      res.end('internal error');
    });
    const open = await createRspamdClient(config(url), silentLogger).judge(Buffer.from('x\r\n'), facts);
    expect(open).toEqual({ fields: '', junk: null, verdict: null });
    await expect(createRspamdClient(config(url, { fail: 'tempfail' }), silentLogger).judge(Buffer.from('x\r\n'), facts)).rejects.toMatchObject({
      responseCode: 451,
      message: expect.stringMatching(/^4\.3\.0 /),
    });
  });
});
