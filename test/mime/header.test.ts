import { describe, expect, it } from 'vitest';
import { decodeHeaderBytes, fieldValue, firstField, parseHeaderFields, selectHeaderFields, unfold } from '#core/mime/header.ts';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('parseHeaderFields', () => {
  it('splits fields with byte offsets, folding included, and stops at the blank line', () => {
    const buf = b('Subject: a\r\n  folded\r\nX-Y: z\r\n\r\nNot-A-Field: body\r\n');
    const fields = parseHeaderFields(buf);
    expect(fields.map((f) => [f.name, f.start, f.valueStart, f.end])).toEqual([
      ['Subject', 0, 8, 22],
      ['X-Y', 22, 26, 30],
    ]);
    expect(fieldValue(buf, fields[0])).toBe('a  folded');
  });

  it('skips lines that are not fields (mbox From line, garbage) and their continuations', () => {
    const buf = b('From MAILER-DAEMON Fri Jul  8 12:08:34 2011\nbad line\n continued\nTo: x@y\n\n');
    expect(parseHeaderFields(buf).map((f) => f.key)).toEqual(['to']);
  });

  it('ignores a UTF-8 byte order mark before the first field name', () => {
    const buf = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b('From: a@b\n\n')]);
    const [f] = parseHeaderFields(buf);
    expect(f).toMatchObject({ key: 'from', start: 0 });
  });

  it('finds the first field by name, case-insensitively', () => {
    const buf = b('x-a: 1\nX-A: 2\n\n');
    expect(fieldValue(buf, firstField(parseHeaderFields(buf), 'X-a')!)).toBe('1');
  });
});

describe('decodeHeaderBytes / unfold', () => {
  it('decodes valid UTF-8 as UTF-8 and anything else as latin1, losing no byte', () => {
    expect(decodeHeaderBytes(Buffer.from('é', 'utf8'))).toBe('é');
    expect(decodeHeaderBytes(Buffer.from([0xe9, 0x41]))).toBe('éA');
    expect(decodeHeaderBytes(Buffer.from([0xff, 0xfe, 0x00]))).toBe('\u00ff\u00fe\u0000');
  });

  it('removes the line breaks of folding and keeps the whitespace', () => {
    expect(unfold('a\r\n b\n\tc')).toBe('a b\tc');
  });
});

describe('selectHeaderFields (RFC 3501 §6.4.5 HEADER.FIELDS / HEADER.FIELDS.NOT)', () => {
  const block = b('Received: by x\r\n  (folded)\r\nSubject: Hi\r\nFrom: a@b\r\nsubject: again\r\n\r\n');

  it('returns the matching fields byte-exact with their folding, then the blank line', () => {
    expect(selectHeaderFields(block, ['SUBJECT', 'received'], false).toString('latin1')).toBe(
      'Received: by x\r\n  (folded)\r\nSubject: Hi\r\nsubject: again\r\n\r\n',
    );
  });

  it('returns every other field for HEADER.FIELDS.NOT', () => {
    expect(selectHeaderFields(block, ['subject'], true).toString('latin1')).toBe('Received: by x\r\n  (folded)\r\nFrom: a@b\r\n\r\n');
  });

  it('returns just the blank line when nothing matches', () => {
    expect(selectHeaderFields(block, ['x-none'], false).toString('latin1')).toBe('\r\n');
  });

  it('keeps bare LF line endings of a bare-LF block', () => {
    expect(selectHeaderFields(b('A: 1\nB: 2\n\n'), ['b'], false).toString('latin1')).toBe('B: 2\n\n');
  });

  it('terminates a last field cut off without a line ending', () => {
    expect(selectHeaderFields(b('A: 1\r\nB: 2'), ['b'], false).toString('latin1')).toBe('B: 2\r\n\r\n');
  });

  it('never includes lines of the body after the blank line', () => {
    expect(selectHeaderFields(b('A: 1\n\nB: body\n'), ['b'], false).toString('latin1')).toBe('\n');
  });
});
