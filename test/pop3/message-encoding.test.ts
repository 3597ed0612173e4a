import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Pop3EncodeStream, Pop3Encoder, Pop3SizeCounter, TopCollector, dotStuff, pop3Form, pop3Size } from '#listeners/pop3/protocol/message-encoding.ts';
import { corpusFiles, describeWithCorpus } from '../support/corpus.ts';
import { expectedPop3Form, unstuff } from './support/pop3-form.ts';

/** Encodes in chunks of `size` bytes (exercises state carried across chunk boundaries). */
function chunked(raw: Buffer, size: number, dot: boolean): { out: Buffer; size: number } {
  const enc = new Pop3Encoder({ dotStuff: dot });
  const parts: Buffer[] = [];
  for (let i = 0; i < raw.length; i += size) parts.push(enc.write(raw.subarray(i, i + size)));
  parts.push(enc.end());
  return { out: Buffer.concat(parts), size: enc.size };
}

describe('POP3 form: CRLF normalisation (RFC 1939 §3, §11)', () => {
  it('turns bare LF into CRLF and leaves CRLF alone', () => {
    expect(pop3Form(Buffer.from('a\nb\r\nc\n')).toString()).toBe('a\r\nb\r\nc\r\n');
  });

  it('completes a last line without line end, and a trailing bare CR', () => {
    expect(pop3Form(Buffer.from('a\r\nb')).toString()).toBe('a\r\nb\r\n');
    expect(pop3Form(Buffer.from('a\r\nb\r')).toString()).toBe('a\r\nb\r\n');
    expect(pop3Form(Buffer.alloc(0)).length).toBe(0);
  });

  it('keeps a bare CR inside a line as data', () => {
    expect(pop3Form(Buffer.from('a\rb\n')).toString()).toBe('a\rb\r\n');
  });

  it('counts the size of what is sent: bare-LF messages grow by one octet per line', () => {
    const lf = Buffer.from('Subject: x\n\nline1\nline2\n');
    expect(pop3Size(lf)).toBe(lf.length + 4);
    expect(pop3Size(Buffer.from('Subject: x\r\n\r\nbody\r\n'))).toBe(20);
    expect(pop3Size(Buffer.from('no eol'))).toBe(8);
  });

  it('handles a CR at the end of one chunk and its LF at the start of the next', () => {
    const raw = Buffer.from('a\r\n.b\r\n\n.\r\nend');
    for (const size of [1, 2, 3, 5, 64]) {
      const r = chunked(raw, size, true);
      expect(r.out.toString(), `chunk ${size}`).toBe('a\r\n..b\r\n\r\n..\r\nend\r\n');
      expect(r.size).toBe(pop3Size(raw));
      const counter = new Pop3SizeCounter();
      for (let i = 0; i < raw.length; i += size) counter.write(raw.subarray(i, i + size));
      expect(counter.size).toBe(pop3Size(raw));
    }
  });
});

describe('byte-stuffing (RFC 1939 §3)', () => {
  it('doubles a leading dot on every line, including the first and after a bare LF', () => {
    expect(dotStuff(Buffer.from('.a\r\nb.\r\n.\r\n..\r\n')).toString()).toBe('..a\r\nb.\r\n..\r\n...\r\n');
    expect(chunked(Buffer.from('x\n.y\n'), 1, true).out.toString()).toBe('x\r\n..y\r\n');
  });

  it('does not count the stuffed dots in the size', () => {
    const raw = Buffer.from('.\n.\n.\n');
    const r = chunked(raw, 4, true);
    expect(r.out.toString()).toBe('..\r\n..\r\n..\r\n');
    expect(r.size).toBe(9);
  });

  it('streams through Pop3EncodeStream with the same result', async () => {
    const raw = Buffer.from('From: a\n\n.line\r\nlast');
    const parts: Buffer[] = [];
    for await (const c of Readable.from([raw.subarray(0, 9), raw.subarray(9)]).pipe(new Pop3EncodeStream())) parts.push(c as Buffer);
    expect(Buffer.concat(parts).toString()).toBe('From: a\r\n\r\n..line\r\nlast\r\n');
  });
});

describe('TOP extraction (RFC 1939 §7)', () => {
  const msg = pop3Form(Buffer.from('A: 1\nB: 2\n\nl1\nl2\nl3\n'));
  const top = (m: Buffer, n: number, step = m.length) => {
    const c = new TopCollector(n);
    let done = false;
    for (let i = 0; i < m.length && !done; i += step) done = c.push(m.subarray(i, i + step));
    return c.result().toString();
  };

  it('returns the header, the blank line and n body lines', () => {
    expect(top(msg, 0)).toBe('A: 1\r\nB: 2\r\n\r\n');
    expect(top(msg, 2)).toBe('A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n');
    expect(top(msg, 2, 1)).toBe('A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n');
    expect(top(msg, 99)).toBe(msg.toString());
  });

  it('returns a message without a blank line whole, and handles an empty header', () => {
    const noBody = pop3Form(Buffer.from('A: 1\nB: 2'));
    expect(top(noBody, 1)).toBe('A: 1\r\nB: 2\r\n');
    expect(top(Buffer.from('\r\nbody1\r\nbody2\r\n'), 1)).toBe('\r\nbody1\r\n');
    expect(top(Buffer.from('\r\nbody1\r\nbody2\r\n'), 1, 1)).toBe('\r\nbody1\r\n');
  });
});

describeWithCorpus('the corpus', () => {
  it('every message: streamed encoding = stuffed POP3 form, size = its length, unstuffing restores it', () => {
    const files = corpusFiles();
    expect(files.length).toBeGreaterThan(100);
    let bareLf = 0;
    for (const { name: f, raw } of files) {
      const form = pop3Form(raw);
      expect(form.equals(expectedPop3Form(raw)), f).toBe(true);
      expect(pop3Size(raw), f).toBe(form.length);
      const r = chunked(raw, 777, true);
      expect(r.size, f).toBe(form.length);
      expect(unstuff(r.out).equals(form), f).toBe(true);
      if (/(^|[^\r])\n/.test(raw.toString('latin1'))) bareLf++;
      // CRLF-stored messages that end with CRLF are sent exactly as stored.
      if (!/(^|[^\r])\n/.test(raw.toString('latin1')) && raw.subarray(-2).toString() === '\r\n') expect(form.equals(raw), f).toBe(true);
    }
    expect(bareLf).toBeGreaterThan(50);
  });
});
