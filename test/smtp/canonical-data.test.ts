/**
 * The DATA transform (fargate-listeners/src/smtp/canonical-data.ts) on its own: CRLF form,
 * the sender's Return-Path fields removed from the header section (RFC 5321 §4.4), the
 * client's extra CRLF after a final bare LF, whatever the chunking.
 */
import { describe, expect, it } from 'vitest';
import { CanonicalData } from '#listeners/smtp/canonical-data.ts';
import { toCrlf, withoutSendersReturnPath } from '../support/message-bytes.ts';

async function through(chunks: Buffer[], maxHeaderBytes?: number): Promise<{ out: string; t: CanonicalData }> {
  const t = new CanonicalData(maxHeaderBytes);
  const parts: Buffer[] = [];
  t.on('data', (d: Buffer) => parts.push(d));
  const ended = new Promise((resolve) => t.on('end', resolve));
  for (const c of chunks) t.write(c);
  t.end();
  await ended;
  return { out: Buffer.concat(parts).toString('latin1'), t };
}

function splits(raw: Buffer): Buffer[][] {
  const out: Buffer[][] = [[raw]];
  for (let i = 1; i < raw.length; i++) out.push([raw.subarray(0, i), raw.subarray(i)]);
  return out;
}

describe('SMTP DATA in canonical form', () => {
  it('stores CRLF line ends and drops the sender’s Return-Path fields, at any chunk boundary', async () => {
    const raw = Buffer.from('Return-Path: <a@x.test>\nSubject: s\r\nreturn-path :\n <b@x.test>\nX: y\r\r\nbody\nReturn-Path: <kept@x.test>\n');
    const want = withoutSendersReturnPath(toCrlf(raw)).toString('latin1');
    expect(want).toBe('Subject: s\r\nX: y\r\n\r\nbody\r\nReturn-Path: <kept@x.test>\r\n');
    for (const chunks of splits(raw)) expect((await through(chunks)).out).toBe(want);
  });

  it('ends data sent from an LF file with one line end: the client’s CRLF after the last LF is not an empty line', async () => {
    // smtplib appends CRLF to data that does not end with CRLF: "…last\n" arrives as "…last\n\r\n".
    const raw = Buffer.from('Subject: s\n\nlast\n\r\n');
    for (const chunks of splits(raw)) expect((await through(chunks)).out).toBe('Subject: s\r\n\r\nlast\r\n');
    // A real empty last line (CRLF CRLF) stays.
    expect((await through([Buffer.from('Subject: s\r\n\r\nlast\r\n\r\n')])).out).toBe('Subject: s\r\n\r\nlast\r\n\r\n');
  });

  it('counts canonical octets and the bare newlines it repaired', async () => {
    const { t } = await through([Buffer.from('a\nb\rc\r\n')]);
    expect([t.crlf.size, t.crlf.bareLf, t.crlf.bareCr]).toEqual([9, 1, 1]);
  });

  it('passes a header section larger than the limit through unchanged (CRLF only)', async () => {
    const raw = Buffer.from(`Return-Path: <a@x.test>\nX: ${'y'.repeat(100)}\n\nbody\n`);
    expect((await through([raw], 64)).out).toBe(toCrlf(raw).toString('latin1'));
  });
});
