/** The incremental receiver: framing of commands and literals (RFC 9051 §4.3, RFC 7888). */
import { describe, expect, it } from 'vitest';
import { literalAtEnd, Receiver, type ReceiveEvent } from '#listeners/imap/protocol/receiver.ts';

function text(ev: ReceiveEvent): string[] {
  if (ev.type !== 'command') throw new Error(`expected command, got ${ev.type}`);
  return ev.parts.map((p) => (p.kind === 'text' ? `T:${p.bytes.toString('latin1')}` : `L:${p.bytes.toString('latin1')}`));
}

describe('Receiver', () => {
  it('cuts pipelined commands at CRLF, byte by byte as well as in one chunk', () => {
    const input = 'a1 NOOP\r\na2 LOGIN u p\r\n\r\na3 LOGOUT\r\n';
    const whole = new Receiver();
    whole.push(Buffer.from(input));
    const got = [whole.next(), whole.next(), whole.next()].map((e) => text(e)[0]);
    expect(got).toEqual(['T:a1 NOOP', 'T:a2 LOGIN u p', 'T:a3 LOGOUT']);
    expect(whole.next().type).toBe('need-more');

    const bytewise = new Receiver();
    const out: string[] = [];
    for (const b of Buffer.from(input)) {
      bytewise.push(Buffer.from([b]));
      for (let ev = bytewise.next(); ev.type !== 'need-more'; ev = bytewise.next()) out.push(text(ev)[0]);
    }
    expect(out).toEqual(got);
  });

  it('asks before reading a synchronising literal and takes its bytes verbatim', () => {
    const r = new Receiver();
    r.push(Buffer.from('a APPEND INBOX {5}\r\n'));
    const ev = r.next();
    expect(ev).toMatchObject({ type: 'literal', size: 5, sync: true, tag: 'a', command: 'APPEND' });
    expect(() => r.next()).toThrow();
    r.acceptLiteral();
    r.push(Buffer.from('x\r\n{y'));
    expect(r.next().type).toBe('need-more');
    r.push(Buffer.from('\r\n'));
    expect(text(r.next())).toEqual(['T:a APPEND INBOX ', 'L:x\r\n{y', 'T:']);
  });

  it('handles non-synchronising (LITERAL+) and literal8 announcements', () => {
    const r = new Receiver();
    r.push(Buffer.from('b LOGIN {3+}\r\nbob {4+}\r\npass\r\nc APPEND X ~{2}\r\n'));
    expect(r.next()).toMatchObject({ type: 'literal', size: 3, sync: false });
    r.acceptLiteral();
    expect(r.next()).toMatchObject({ type: 'literal', size: 4, sync: false });
    r.acceptLiteral();
    expect(text(r.next())).toEqual(['T:b LOGIN ', 'L:bob', 'T: ', 'L:pass', 'T:']);
    expect(r.next()).toMatchObject({ type: 'literal', size: 2, binary: true });
  });

  it('refuses a literal without reading it: the next line is a new command (RFC 3501 §7.5)', () => {
    const r = new Receiver();
    r.push(Buffer.from('a APPEND INBOX {1073741824}\r\nb NOOP\r\n'));
    expect(r.next()).toMatchObject({ type: 'literal', size: 1073741824, sync: true });
    r.rejectLiteral();
    expect(text(r.next())).toEqual(['T:b NOOP']);
  });

  it('reports an over-long line once and resynchronises at the next LF', () => {
    const r = new Receiver({ maxLineLength: 100 });
    r.push(Buffer.from('x1 ' + 'A'.repeat(150)));
    expect(r.next()).toMatchObject({ type: 'error', tag: 'x1', message: 'Line too long' });
    r.push(Buffer.from('B'.repeat(1000)));
    expect(r.next().type).toBe('need-more');
    expect(r.bufferedBytes).toBe(0);
    r.push(Buffer.from('CC\r\nx2 NOOP\r\n'));
    expect(text(r.next())).toEqual(['T:x2 NOOP']);
  });

  it('copies a line trickled in tiny pieces once, not once per piece (no quadratic cost)', () => {
    const r = new Receiver();
    const line = Buffer.from('t1 LOGIN ' + 'x'.repeat(60_000) + ' y\r\n');
    const t0 = performance.now();
    for (let i = 0; i < line.length; i++) {
      r.push(line.subarray(i, i + 1));
      if (i % 1000 === 0) expect(r.next().type).toBe('need-more');
    }
    const ev = r.next();
    expect(ev.type === 'command' && ev.parts[0].bytes.length).toBe(line.length - 2);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('limits the number of literals in one command', () => {
    const r = new Receiver({ maxLiterals: 2 });
    r.push(Buffer.from('a X {1}\r\n1 {1}\r\n2 {1}\r\n'));
    for (let i = 0; i < 2; i++) {
      expect(r.next().type).toBe('literal');
      r.acceptLiteral();
    }
    expect(r.next()).toMatchObject({ type: 'error', message: 'Too many literals', fatal: false });
  });

  it('counts the literal octets a command has accepted, the large literals apart', () => {
    const r = new Receiver();
    r.push(Buffer.from('a APPEND {5}\r\nINBOX {3}\r\nabc {7}\r\n'));
    // The mailbox is the literal: nothing after the command name on the first line.
    expect(r.next()).toMatchObject({ type: 'literal', index: 0, literalBytes: 0, largeBytes: 0, argsBefore: false });
    r.acceptLiteral();
    expect(r.next()).toMatchObject({ type: 'literal', index: 1, literalBytes: 5, largeBytes: 0, argsBefore: false });
    r.acceptLiteral({ large: true });
    // The large literal's octets are counted apart (MULTIAPPEND's messages add up there).
    expect(r.next()).toMatchObject({ type: 'literal', index: 2, literalBytes: 5, largeBytes: 3 });
    r.acceptLiteral({ large: true });
    r.push(Buffer.from('abcdefg {2}\r\n'));
    expect(r.next()).toMatchObject({ type: 'literal', index: 3, literalBytes: 5, largeBytes: 10 });
    const b = new Receiver();
    b.push(Buffer.from('b UID APPEND INBOX {3}\r\n'));
    expect(b.next()).toMatchObject({ type: 'literal', argsBefore: true });
  });

  it('gives lines verbatim in line mode (AUTHENTICATE, IDLE DONE)', () => {
    const r = new Receiver();
    r.push(Buffer.from('DONE\r\n{5}\r\n'));
    expect(r.next({ lineMode: true })).toMatchObject({ type: 'line' });
    const ev = r.next({ lineMode: true });
    expect(ev.type === 'line' && ev.bytes.toString()).toBe('{5}');
  });

  it('drops buffered input on reset (no plaintext survives STARTTLS)', () => {
    const r = new Receiver();
    r.push(Buffer.from('a STARTTLS\r\nb LOGIN x y\r\n'));
    expect(text(r.next())).toEqual(['T:a STARTTLS']);
    r.reset();
    expect(r.next().type).toBe('need-more');
  });

  it('recognises literal markers only at the end of a line', () => {
    expect(literalAtEnd(Buffer.from('a {12}'))).toMatchObject({ start: 2, size: 12, sync: true, binary: false });
    expect(literalAtEnd(Buffer.from('a ~{0+}'))).toMatchObject({ start: 2, size: 0, sync: false, binary: true });
    expect(literalAtEnd(Buffer.from('a {}'))).toBeNull();
    expect(literalAtEnd(Buffer.from('a {1} x'))).toBeNull();
    expect(literalAtEnd(Buffer.from('a {99999999999999999999}'))?.size).toBe(Infinity);
  });
});
