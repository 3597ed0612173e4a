/** FETCH parsing (RFC 9051 §6.4.5): items, macros, sections, partials. */
import { describe, expect, it } from 'vitest';
import { req, err } from './support/parse.ts';

describe('FETCH parser', () => {
  it('expands the ALL, FAST and FULL macros', () => {
    expect(req('a FETCH 1 ALL').items.map((i: any) => i.k)).toEqual(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE']);
    expect(req('a FETCH 1 fast').items.map((i: any) => i.k)).toEqual(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE']);
    expect(req('a FETCH 1 FULL').items.map((i: any) => i.k)).toEqual(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY']);
  });

  it('reads simple items, alone or in a list', () => {
    expect(req('a UID FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE)')).toMatchObject({
      uid: true,
      items: [{ k: 'UID' }, { k: 'FLAGS' }, { k: 'ENVELOPE' }, { k: 'RFC822.SIZE' }],
    });
    expect(req('a FETCH 2 bodystructure').items).toEqual([{ k: 'BODYSTRUCTURE' }]);
    expect(req('a FETCH 2 (BODY RFC822 RFC822.HEADER RFC822.TEXT INTERNALDATE)').items.map((i: any) => i.k)).toEqual([
      'BODY',
      'RFC822',
      'RFC822.HEADER',
      'RFC822.TEXT',
      'INTERNALDATE',
    ]);
  });

  it('reads sections with part numbers, text specifiers and field lists', () => {
    const [a, b, c, d, e] = req('a FETCH 1 (BODY[] BODY.PEEK[1.2.MIME] BODY[HEADER.FIELDS (From "To" subject)]<0.100> BODY[2.TEXT] BODY.PEEK[3])').items;
    expect(a).toEqual({ k: 'BODY[]', peek: false, section: { part: [], text: null, fields: [] }, partial: null, label: '' });
    expect(b).toMatchObject({ peek: true, section: { part: [1, 2], text: 'MIME' }, label: '1.2.MIME' });
    expect(c).toMatchObject({
      section: { text: 'HEADER.FIELDS', fields: ['From', 'To', 'subject'] },
      partial: { start: 0, length: 100 },
      label: 'HEADER.FIELDS (From To subject)',
    });
    expect(d).toMatchObject({ section: { part: [2], text: 'TEXT' }, label: '2.TEXT' });
    expect(e).toMatchObject({ section: { part: [3], text: null }, label: '3' });
    expect(req('a FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (Received)]').items[0].label).toBe('HEADER.FIELDS.NOT (Received)');
  });

  it('reads BINARY items (RFC 3516)', () => {
    expect(req('a FETCH 1 (BINARY[1]<0.10> BINARY.PEEK[] BINARY.SIZE[2.1])').items).toEqual([
      { k: 'BINARY', peek: false, part: [1], partial: { start: 0, length: 10 } },
      { k: 'BINARY', peek: true, part: [], partial: null },
      { k: 'BINARY.SIZE', part: [2, 1] },
    ]);
  });

  it('bounds the number of items (work is items × messages)', () => {
    expect(err('a FETCH 1:* (' + Array(300).fill('FLAGS').join(' ') + ')')).toMatch(/Too many/);
    expect(err('a FETCH 1 BODY[HEADER.FIELDS (' + Array(300).fill('X').join(' ') + ')]')).toMatch(/Too many/);
  });

  it('rejects malformed sections and items', () => {
    for (const bad of [
      'a FETCH 1 BODY[MIME]',
      'a FETCH 1 BODY[0]',
      'a FETCH 1 BODY[1.]',
      'a FETCH 1 BODY[TEXTX]',
      'a FETCH 1 BODY[HEADER.FIELDS ()]',
      'a FETCH 1 BODY[]<0.0>',
      'a FETCH 1 BODY.PEEK',
      'a FETCH 1 (FLAGS',
      'a FETCH 1 FOO',
      'a FETCH 1 ()',
      'a FETCH x FLAGS',
      'a FETCH 1 BINARY[1.MIME]',
      'a FETCH 1 BODY[HEADER.FIELDS (a:b)]',
    ]) {
      expect(() => err(bad), bad).not.toThrow();
    }
  });
});
