/**
 * Fuzz-style robustness of the MIME indexer (invariant 6 of docs/architecture.md: bad input
 * never crashes): seeded random mutations and truncations of corpus messages (or of built-in
 * samples when the corpus is absent), random bytes, random address lists. Every result
 * must pass the structural invariants and stay within the limits. Plus a quick
 * performance check on a 10 MB message and on hostile shapes.
 */
import { describe, expect, it } from 'vitest';
import { indexMessage, MAX_DEPTH, MAX_PARTS, walkParts } from '#core/mime/index-message.ts';
import { parseAddressList } from '#core/mime/envelope.ts';
import { selectHeaderFields } from '#core/mime/header.ts';
import { fuzzRuns } from '../support/prng.ts';
import { corpusFiles } from '../support/corpus.ts';
import { checkInvariants } from './invariants.ts';

const SAMPLES = [
  'From: a@b.example\r\nContent-Type: multipart/mixed; boundary=xx\r\n\r\npre\r\n--xx\r\nContent-Type: text/plain\r\n\r\nhi\r\n--xx\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\nContent-Type: multipart/alternative; boundary=yy\r\n\r\n--yy\r\n\r\na\r\n--yy--\r\n--xx--\r\nepi\r\n',
  'Subject: s\nContent-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: m\n\nbody\n--d\n--d--\n',
  "To: G:a@b,c <d@e>;\nContent-Type: text/plain; name*0*=utf-8''%E2%82; name*1*=%AC\n\nx",
];

function corpusOrSamples(): Buffer[] {
  const files = corpusFiles(); // with CI set, a missing corpus fails here instead
  if (files.length > 0) return files.map((f) => f.raw);
  return SAMPLES.map((s) => Buffer.from(s, 'latin1'));
}

const SNIPPETS = [
  '\r\n',
  '\n',
  '\r',
  '\r\n\r\n',
  '\n\n',
  '--',
  '--xx',
  '--xx--',
  '\0',
  ' ',
  '\t',
  ':',
  ';',
  '"',
  '(',
  ')',
  '<',
  '>',
  '@',
  ',',
  '=?utf-8?q?x?=',
  "*0*=utf-8''%",
  'Content-Type: multipart/mixed; boundary=xx\r\n\r\n',
  'Content-Type: message/rfc822\n\n',
  'Content-Type: multipart/digest; boundary="--"\n\n',
  '\xff\xfe',
];

function mutate(src: Buffer, rnd: () => number): Buffer {
  let buf = Buffer.from(src);
  const n = 1 + Math.floor(rnd() * 6);
  for (let k = 0; k < n; k++) {
    const pos = Math.floor(rnd() * (buf.length + 1));
    const op = Math.floor(rnd() * 6);
    if (op === 0 && buf.length > 0) {
      buf[Math.min(pos, buf.length - 1)] = Math.floor(rnd() * 256);
    } else if (op === 1) {
      const len = Math.floor(rnd() * 64);
      buf = Buffer.concat([buf.subarray(0, pos), buf.subarray(Math.min(buf.length, pos + len))]);
    } else if (op === 2) {
      const snip = Buffer.from(SNIPPETS[Math.floor(rnd() * SNIPPETS.length)], 'latin1');
      buf = Buffer.concat([buf.subarray(0, pos), snip, buf.subarray(pos)]);
    } else if (op === 3) {
      buf = buf.subarray(0, pos);
    } else if (op === 4) {
      // Duplicate a slice (repeats delimiters and headers).
      const len = Math.floor(rnd() * 512);
      buf = Buffer.concat([buf.subarray(0, pos), buf.subarray(pos, pos + len), buf.subarray(pos)]);
    } else {
      // Swap line endings in a window.
      const end = Math.min(buf.length, pos + 256);
      const win = buf.toString('latin1', pos, end);
      const swapped = rnd() < 0.5 ? win.replace(/\r\n/g, '\n') : win.replace(/(?<!\r)\n/g, '\r\n');
      buf = Buffer.concat([buf.subarray(0, pos), Buffer.from(swapped, 'latin1'), buf.subarray(end)]);
    }
  }
  return buf;
}

function checkBounded(raw: Buffer, not = false): void {
  const meta = indexMessage(raw);
  const stats = checkInvariants(raw, meta, { reslice: true });
  expect(stats.parts).toBeLessThanOrEqual(2 * MAX_PARTS);
  expect(stats.depth).toBeLessThanOrEqual(MAX_DEPTH + 2);
  selectHeaderFields(raw.subarray(0, meta.mime.bodyStart), ['from', 'subject', 'x'], not);
}

describe('fuzz', () => {
  it('never throws on mutated and truncated messages, and the results stay consistent', async () => {
    const inputs = corpusOrSamples();
    await fuzzRuns('mime mutations', { seed: 0x5eed, runs: 3000 }, (r, i) => {
      const rnd = r.next;
      const src = inputs[Math.floor(rnd() * inputs.length)];
      const raw = mutate(src, rnd);
      try {
        checkBounded(raw, i % 2 === 0);
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${JSON.stringify(raw.toString('latin1').slice(0, 400))}`, { cause: e });
      }
    });
  });

  it('never throws on random bytes biased towards MIME syntax', async () => {
    const alphabet = Buffer.from('-\r\n \t:;="<>@,()abcXYZ\0\xff', 'latin1');
    await fuzzRuns('mime random bytes', { seed: 42, runs: 500 }, (r) => {
      const rnd = r.next;
      const head = Buffer.from(rnd() < 0.5 ? 'Content-Type: multipart/mixed; boundary=a\n\n' : 'Content-Type: message/rfc822\r\n\r\n', 'latin1');
      const body = Buffer.alloc(Math.floor(rnd() * 400));
      for (let k = 0; k < body.length; k++) body[k] = alphabet[Math.floor(rnd() * alphabet.length)];
      checkBounded(Buffer.concat([head, body]));
    });
  });

  it('parses random address-list strings without throwing', async () => {
    const alphabet = 'ab.@<>,;:"()\\[] \t\r\n=?é';
    await fuzzRuns('address lists', { seed: 7, runs: 3000 }, (r) => {
      const rnd = r.next;
      let s = '';
      const len = Math.floor(rnd() * 60);
      for (let k = 0; k < len; k++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      const list = parseAddressList(s);
      for (const a of list) {
        // A NIL host is reserved for group markers: start (mailbox set) or end (all NIL).
        if (a.host === null) expect(a.name === null && a.adl === null).toBe(true);
      }
    });
  });
});

describe('performance (quick check, generous bounds)', () => {
  const timed = (raw: Buffer): { ms: number; parts: number } => {
    const t0 = performance.now();
    const meta = indexMessage(raw);
    const ms = performance.now() - t0;
    let parts = 0;
    walkParts(meta.mime, () => parts++);
    return { ms, parts };
  };

  it('indexes a 10 MB message with a base64 attachment well under a second', () => {
    const b64 = Buffer.alloc(7_500_000, 0x61).toString('base64').replace(/.{76}/g, '$&\r\n');
    const raw = Buffer.from(
      'From: a@example.com\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary=XYZ\r\n\r\n' +
        '--XYZ\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n' +
        `--XYZ\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--XYZ--\r\n`,
      'latin1',
    );
    expect(raw.length).toBeGreaterThan(10_000_000);
    const { ms, parts } = timed(raw);
    expect(parts).toBe(3);
    expect(ms).toBeLessThan(1000);
  });

  it('stays linear on hostile shapes (many candidate delimiter lines, deep nesting, huge headers)', () => {
    let deep = 'Content-Type: multipart/mixed; boundary=b0\n\n';
    for (let i = 0; i < 60; i++) deep += `--b${i}\nContent-Type: multipart/mixed; boundary=b${i + 1}\n\n`;
    const cases = [
      Buffer.concat([Buffer.from(deep), Buffer.from('--b\n'.repeat(1_000_000))]),
      Buffer.from('Content-Type: multipart/mixed; boundary=a\n\n' + '--a\n\nx\n'.repeat(500_000)),
      Buffer.from('X-A: b\n'.repeat(1_000_000) + '\nbody'),
      Buffer.alloc(5_000_000, '\n-'),
    ];
    for (const raw of cases) expect(timed(raw).ms).toBeLessThan(5000);
  });
});
