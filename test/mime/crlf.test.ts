/**
 * Canonical CRLF line endings (core/mime/crlf.ts): RFC 5321 §2.3.8 and RFC 5322 §2.1 allow
 * CR and LF in a message only together, as CRLF. Checked against the independent `toCrlf` of
 * the tests, for every way of splitting the input into chunks.
 */
import { describe, expect, it } from 'vitest';
import { CrlfCanonicalizer, isCanonicalCrlf, toCanonicalCrlf } from '#core/mime/crlf.ts';
import { toCrlf } from '../support/message-bytes.ts';

const samples = [
  '',
  'a',
  '\r',
  '\n',
  '\r\n',
  '\n\r',
  '\r\r\n',
  'a\nb\rc\r\nd',
  'Subject: x\n\nbody\n.\nmore\r.\rend\r',
  '\n.\n\r\n.\n\n.\r\n\r.\r',
  'no line end at all',
  'trailing CR\r',
];

function inChunks(raw: Buffer, cuts: number[]): { out: Buffer; c: CrlfCanonicalizer } {
  const c = new CrlfCanonicalizer();
  const parts: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, raw.length]) {
    parts.push(c.write(raw.subarray(from, cut)));
    from = cut;
  }
  parts.push(c.end());
  return { out: Buffer.concat(parts), c };
}

describe('CRLF canonical form (RFC 5321 §2.3.8)', () => {
  it('turns every bare LF and every bare CR into CRLF and keeps CRLF, whatever the chunking', () => {
    for (const s of samples) {
      const raw = Buffer.from(s, 'latin1');
      const want = toCrlf(raw);
      expect(toCanonicalCrlf(raw).equals(want), JSON.stringify(s)).toBe(true);
      for (let a = 0; a <= raw.length; a++) {
        for (let b = a; b <= raw.length; b++) {
          const { out, c } = inChunks(raw, [a, b]);
          expect(out.toString('latin1'), `${JSON.stringify(s)} cut at ${a},${b}`).toBe(want.toString('latin1'));
          expect(c.size).toBe(want.length);
        }
      }
    }
  });

  it('counts the bare LFs and bare CRs it repaired', () => {
    const { c } = inChunks(Buffer.from('a\nb\rc\r\nd\r'), [2, 4]);
    expect([c.bareLf, c.bareCr]).toEqual([1, 2]);
    const clean = inChunks(Buffer.from('a\r\nb\r\n'), [1]);
    expect([clean.c.bareLf, clean.c.bareCr]).toEqual([0, 0]);
  });

  it('returns canonical input unchanged (no copy) and says whether input is canonical', () => {
    const canonical = Buffer.from('Subject: x\r\n\r\nbody\r\n');
    expect(toCanonicalCrlf(canonical)).toBe(canonical);
    expect(isCanonicalCrlf(canonical)).toBe(true);
    expect(isCanonicalCrlf(Buffer.from('a\nb'))).toBe(false);
    expect(isCanonicalCrlf(Buffer.from('a\rb'))).toBe(false);
    expect(isCanonicalCrlf(Buffer.from('a\r'))).toBe(false);
    expect(isCanonicalCrlf(Buffer.from('\n'))).toBe(false);
  });

  it('leaves no line that a reader splitting on CR, LF or CRLF could take for the end of SMTP data', () => {
    // The smuggling sequences of CVE-2023-51764/51765/51766, each followed by a fake command.
    const raw = Buffer.from('x\n.\nMAIL FROM:<a@b>\r\n.\nRCPT TO:<c@d>\n.\r\nDATA\r.\rQUIT\r\n');
    const out = toCanonicalCrlf(raw).toString('latin1');
    expect(out).toBe('x\r\n.\r\nMAIL FROM:<a@b>\r\n.\r\nRCPT TO:<c@d>\r\n.\r\nDATA\r\n.\r\nQUIT\r\n');
    // Every line now ends in CRLF: a reader and a writer agree where each one ends, so the
    // sender's dot-stuffing (a '.' line becomes '..') covers each of them.
    expect(out.split('\r\n').every((l) => !l.includes('\r') && !l.includes('\n'))).toBe(true);
  });
});
