/**
 * PROXY protocol headers fuzzed (fargate-listeners/src/proxy-protocol.ts; invariant 6 of
 * docs/architecture.md). The load balancer's header arrives in whatever TCP segments the
 * network makes, and acceptProxied parses what it has after each one; so the parser's verdict
 * must not depend on where the bytes were cut:
 *  - it never throws; a parsed header names a real address and port, and is all it consumed;
 *  - every proper prefix of a parsed header is "incomplete" (never "invalid", never "done");
 *  - "invalid" stays invalid whatever follows;
 * and on a real listener, a mutated header sent in random segments is greeted exactly when the
 * parser accepts the bytes, and closed otherwise (within the header timeout), after which a
 * proper header is still served.
 * A failure prints its seed; FUZZ_SEED=<seed> FUZZ_RUNS=1 repeats it (test/support/prng.ts).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProxyHeader, proxyConfigFromEnv, type ProxyParse } from '#listeners/proxy-protocol.ts';
import { fuzzRuns, type Prng } from '../support/prng.ts';
import { mutateBytes, RecordingSocket } from '../support/session-fuzz.ts';
import { startTestSystem, type TestSystem } from '../support/mail-system.ts';

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function v2(rnd: Prng): Buffer {
  const family = rnd.pick([0x11, 0x21, 0x00, 0x31]);
  const addrLen = family === 0x11 ? 12 : family === 0x21 ? 36 : family === 0x31 ? 216 : 0;
  const tlvs = rnd.chance(0.5) ? Buffer.from([0x04, 0x00, 0x03, 0x61, 0x62, 0x63]) : Buffer.alloc(0);
  const body = Buffer.concat([rnd.bytes(addrLen), tlvs]);
  const head = Buffer.from([rnd.chance(0.9) ? 0x21 : 0x20, family, 0, 0]);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIG, head, body]);
}

function v1(rnd: Prng): Buffer {
  if (rnd.chance(0.15)) return Buffer.from('PROXY UNKNOWN\r\n');
  if (rnd.chance(0.5)) return Buffer.from(`PROXY TCP4 ${rnd.int(256)}.${rnd.int(256)}.${rnd.int(256)}.${rnd.int(256)} 10.0.0.5 ${rnd.int(65536)} 995\r\n`);
  const groups = Array.from({ length: 8 }, () => rnd.int(65536).toString(16));
  return Buffer.from(`PROXY TCP6 ${groups.join(':')} 2001:db8::5 ${rnd.int(65536)} 995\r\n`);
}

/** A header: valid v1/v2, mutated, random bytes, or a long v1 line. */
function header(rnd: Prng): Buffer {
  const base = rnd.chance(0.5) ? v2(rnd) : v1(rnd);
  const pick = rnd.int(10);
  if (pick < 3) return base;
  if (pick < 8) return mutateBytes(base, rnd);
  if (pick < 9) return rnd.bytes(rnd.int(64));
  return Buffer.from(`PROXY TCP4 192.0.2.1 ${'x'.repeat(80 + rnd.int(100))} 1 2\r\n`);
}

function checkParse(buf: Buffer, rnd: Prng): ProxyParse {
  const r = parseProxyHeader(buf);
  if (r.state === 'done') {
    expect(r.consumed).toBeGreaterThan(0);
    expect(r.consumed).toBeLessThanOrEqual(buf.length);
    if (r.source) {
      expect(net.isIP(r.source.address), r.source.address).not.toBe(0);
      expect(r.source.port).toBeGreaterThanOrEqual(0);
      expect(r.source.port).toBeLessThanOrEqual(65535);
    }
    expect(parseProxyHeader(buf.subarray(0, r.consumed))).toEqual(r);
    for (let k = 0; k < 4; k++) {
      const cut = rnd.int(r.consumed);
      expect(parseProxyHeader(buf.subarray(0, cut)), `prefix of ${cut} bytes`).toEqual({ state: 'incomplete' });
    }
  } else if (r.state === 'invalid') {
    expect(parseProxyHeader(Buffer.concat([buf, rnd.bytes(rnd.int(200)), Buffer.from('\r\n')])).state).toBe('invalid');
  } else {
    for (let k = 0; k < 4; k++)
      expect(['incomplete'], `prefix of an incomplete header`).toContain(parseProxyHeader(buf.subarray(0, rnd.int(buf.length + 1))).state);
  }
  return r;
}

describe('PROXY header fuzz', () => {
  it('the verdict does not depend on where the bytes were cut, and never throws', async () => {
    await fuzzRuns('proxy header parse', { seed: 77, runs: 4000 }, (rnd) => {
      const bytes = Buffer.concat([header(rnd), rnd.chance(0.5) ? Buffer.from('CAPA\r\n') : Buffer.alloc(0)]);
      try {
        checkParse(bytes, rnd);
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${JSON.stringify(bytes.toString('latin1'))}`, { cause: e });
      }
    });
  });

  it('refuses a v1 line longer than 107 octets even when it arrives in one segment (found by the fuzz above)', () => {
    const long = Buffer.from(`PROXY TCP4 192.0.2.1 ${'x'.repeat(90)} 1 2\r\n`);
    expect(long.length).toBeGreaterThan(107);
    expect(parseProxyHeader(long.subarray(0, 107)).state).toBe('invalid');
    expect(parseProxyHeader(long)).toEqual({ state: 'invalid', reason: 'v1 header too long' });
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 192.0.2.1 10.0.0.5 40000 25\r\n')).state).toBe('done');
  });

  describe('on a listener behind the load balancer (POP3)', () => {
    let sys: TestSystem;
    const HEADER_TIMEOUT_MS = 300;
    beforeAll(async () => {
      sys = await startTestSystem({
        workers: false,
        proxy: { ...proxyConfigFromEnv({ PROXY_PROTOCOL: 'v2', PROXY_TRUSTED_CIDRS: '127.0.0.0/8' }), headerTimeoutMs: HEADER_TIMEOUT_MS },
      });
    });
    afterAll(() => sys?.stop());

    it('greets exactly the connections whose header parses, closes the others, and still serves a proper header afterwards', async () => {
      let greeted = 0;
      await fuzzRuns('proxy header on a listener', { seed: 300, runs: 40 }, async (rnd) => {
        const bytes = Buffer.concat([header(rnd), Buffer.from('\r\nQUIT\r\n')]);
        const expected = parseProxyHeader(bytes).state;
        const c = await RecordingSocket.connect(sys.port('pop3'));
        try {
          await c.writeChunked(bytes, rnd);
          // An accepted header is greeted (what follows it may be anything: a mutated length
          // can swallow part of our QUIT); a refused one is closed without a word.
          const ended = await c.wait(() => c.closed || (expected === 'done' && /\r\n/.test(c.received.toString('latin1'))), HEADER_TIMEOUT_MS + 3000);
          const text = c.received.toString('latin1');
          const context = `expected ${expected}; sent ${JSON.stringify(bytes.toString('latin1'))}; got ${JSON.stringify(text)}`;
          if (!ended) throw new Error(`neither greeted nor closed in time (${context})`);
          if (expected === 'done') {
            greeted++;
            if (!/^\+OK [^\r\n]*\r\n/.test(text)) throw new Error(`accepted header, yet no greeting (${context})`);
          } else if (text.length > 0) {
            throw new Error(`refused header, yet the protocol spoke (${context})`);
          }
        } finally {
          c.destroy();
        }
      });
      if (!process.env.FUZZ_RUNS) expect(greeted).toBeGreaterThan(3);
      const ok = await RecordingSocket.connect(sys.port('pop3'));
      ok.write(Buffer.concat([Buffer.from('PROXY TCP4 203.0.113.9 10.0.0.5 4000 110\r\n'), Buffer.from('QUIT\r\n')]));
      expect(await ok.wait(() => ok.closed, 3000)).toBe(true);
      expect(ok.received.toString('latin1')).toMatch(/^\+OK .*\r\n\+OK/s);
    });
  });
});
