/**
 * The submission header pass (fargate-listeners/src/smtp/submission-headers.ts): whatever the
 * chunking, the output is the input with at most a Date: and a Message-ID: in front; only the
 * header section is held; arbitrary bytes never throw. And the auth failure throttle's window.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createAuthThrottle } from '#listeners/auth-throttle.ts';
import { checkSenderHeaders, MAX_HEADER_BYTES, SubmissionHeaderFixup } from '#listeners/smtp/submission-headers.ts';
import { fuzzRuns, type Prng } from '../support/prng.ts';

async function pass(input: Buffer, cuts: number[]): Promise<{ out: Buffer; fix: SubmissionHeaderFixup }> {
  const chunks: Buffer[] = [];
  let last = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    chunks.push(input.subarray(last, c));
    last = c;
  }
  chunks.push(input.subarray(last));
  const fix = new SubmissionHeaderFixup('a.test');
  const outChunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    Readable.from(chunks.filter((c) => c.length))
      .pipe(fix)
      .on('data', (d: Buffer) => outChunks.push(d))
      .on('end', resolve)
      .on('error', reject);
  });
  return { out: Buffer.concat(outChunks), fix };
}

/** Seeded (test/support/prng.ts): a failing chunking reproduces from the seed in the error. */
const randomCuts = (rnd: Prng, len: number) => Array.from({ length: 1 + rnd.int(6) }, () => rnd.int(len + 1));

describe('submission header pass', () => {
  it('adds only what is missing, at the top, for any chunking', async () => {
    const cases: Array<[string, string[]]> = [
      ['From: a@a.test\r\nSubject: x\r\n\r\nbody\r\n\r\nFrom: not-a-header\r\n', ['date', 'message-id']],
      ['From: a@a.test\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nlf only\n', ['message-id']],
      ['From: a@a.test\r\nMessage-ID: <x@y>\r\nDate: x\r\n\r\n', []],
      ['From: a@a.test\r\nSubject: no body, no blank line', ['date', 'message-id']],
      ['\r\nbody only, empty header\r\n', ['date', 'message-id']],
    ];
    for (const [text, added] of cases) {
      const input = Buffer.from(text);
      await fuzzRuns('submission header chunking', { seed: 1, runs: 40 }, async (rnd) => {
        const { out, fix } = await pass(input, randomCuts(rnd, input.length));
        const prefix = fix.added.join('');
        expect(fix.added.map((l) => l.split(':')[0].toLowerCase())).toEqual(added);
        expect(out.toString()).toBe(prefix + text);
        // The held header ends at the blank line (or is everything when there is none).
        const end = text.search(/\r?\n\r?\n/);
        expect(fix.header!.toString()).toBe(text.startsWith('\r\n') ? '\r\n' : end < 0 ? text : text.slice(0, end + (text[end] === '\r' ? 4 : 2)));
      });
    }
  });

  it('passes an oversized header through untouched and refuses it (552), and never throws on junk', async () => {
    const big = Buffer.from('X-Big: ' + 'a'.repeat(MAX_HEADER_BYTES + 10) + '\r\nFrom: a@a.test\r\n\r\nbody');
    const { out, fix } = await pass(big, [1000, 70000, 200000]);
    expect(out.equals(big)).toBe(true);
    expect(fix.tooLarge).toBe(true);
    expect(() => checkSenderHeaders(fix, ['a@a.test'])).toThrow(/Header section too large/);
    await fuzzRuns('submission header junk', { seed: 2, runs: 200 }, async (rnd) => {
      const junk = rnd.bytes(rnd.int(2000));
      const { out: o, fix: f } = await pass(junk, randomCuts(rnd, junk.length));
      expect(o.subarray(o.length - junk.length).equals(junk)).toBe(true);
      try {
        checkSenderHeaders(f, ['a@a.test']);
      } catch (err) {
        expect((err as { responseCode?: number }).responseCode).toBeGreaterThanOrEqual(550);
      }
    });
  });
});

describe('submission From: check', () => {
  it('a quoted local part is the same mailbox as its unquoted form (RFC 5322 §3.4.1); other quoted names are not yours', async () => {
    const header = async (from: string) => (await pass(Buffer.from(`From: ${from}\r\nSubject: x\r\n\r\nbody\r\n`), [])).fix;
    for (const ok of ['"alice"@example.test', 'Alice <"Alice"@Example.Test>', '"al\\ice"@example.test']) {
      const fix = await header(ok);
      expect(() => checkSenderHeaders(fix, ['alice@example.test']), ok).not.toThrow();
    }
    for (const other of ['"alice bob"@example.test', '"alice."@example.test', '"bob"@example.test']) {
      const fix = await header(other);
      expect(() => checkSenderHeaders(fix, ['alice@example.test']), other).toThrow(/is not yours/);
    }
  });
});

describe('auth failure throttle', () => {
  it('blocks a client or an account at its limit and forgets failures after the window', () => {
    let t = 1_000_000;
    const th = createAuthThrottle({ maxFailuresPerClient: 2, maxFailuresPerAccount: 3, windowSeconds: 60 }, { now: () => t });
    th.failed('192.0.2.1', 'a@x');
    expect(th.blocked('192.0.2.1', 'b@x')).toBe(false);
    th.failed('::ffff:192.0.2.1', 'a@x'); // the same client, IPv4-mapped
    expect(th.blocked('192.0.2.1', 'b@x')).toBe(true);
    // IPv6 clients are counted per /64.
    th.failed('2001:db8:1:2::5', 'c@x');
    th.failed('2001:db8:1:2:ffff::9', 'd@x');
    expect(th.blocked('2001:db8:1:2::77', 'e@x')).toBe(true);
    expect(th.blocked('2001:db8:1:3::77', 'e@x')).toBe(false);
    // Account a@x has 2 failures; a third from elsewhere locks it for every client.
    th.failed('198.51.100.7', 'A@x');
    expect(th.blocked('203.0.113.1', 'a@x')).toBe(true);
    t += 61_000;
    expect(th.blocked('192.0.2.1', 'a@x')).toBe(false);
  });
});
