/** SEARCH parsing (RFC 9051 §6.4.4, RFC 3501 keys, RFC 4731 RETURN, RFC 5182 $). */
import { describe, expect, it } from 'vitest';
import { req, err } from './support/parse.ts';

describe('SEARCH parser', () => {
  it('reads every RFC 3501 key', () => {
    const keys = [
      'ALL',
      'ANSWERED',
      'BCC x',
      'BEFORE 1-Feb-2020',
      'BODY x',
      'CC x',
      'DELETED',
      'DRAFT',
      'FLAGGED',
      'FROM x',
      'HEADER X-Y z',
      'KEYWORD $k',
      'LARGER 10',
      'NEW',
      'NOT SEEN',
      'OLD',
      'ON "1-Feb-2020"',
      'OR SEEN FLAGGED',
      'RECENT',
      'SEEN',
      'SENTBEFORE 1-Feb-2020',
      'SENTON 1-Feb-2020',
      'SENTSINCE 1-Feb-2020',
      'SINCE 1-Feb-2020',
      'SMALLER 10',
      'SUBJECT x',
      'TEXT x',
      'TO x',
      'UID 1:5',
      'UNANSWERED',
      'UNDELETED',
      'UNDRAFT',
      'UNFLAGGED',
      'UNKEYWORD $k',
      'UNSEEN',
      '1:3,5',
      '(SEEN FLAGGED)',
      '$',
    ];
    for (const k of keys) expect(() => req(`a SEARCH ${k}`), k).not.toThrow();
  });

  it('builds the criteria tree: AND of the list, OR/NOT nesting, dates as yyyymmdd', () => {
    const r = req('a UID SEARCH CHARSET UTF-8 OR (FROM "bob" NOT SEEN) SUBJECT {3}\r\nh\u00e9 SINCE 7-Feb-1994');
    expect(r.uid).toBe(true);
    expect(r.charset).toBe('UTF-8');
    expect(r.criteria.k).toBe('and');
    const [or, since] = r.criteria.keys;
    expect(or.k).toBe('or');
    expect(or.a).toMatchObject({
      k: 'and',
      keys: [
        { k: 'address', field: 'from' },
        { k: 'not', key: { k: 'flag', flag: '\\Seen', present: true } },
      ],
    });
    expect(or.b.value.toString('utf8')).toBe('hé');
    expect(since).toEqual({ k: 'date', field: 'internal', op: 'since', day: 19940207 });
    expect(req('a SEARCH HEADER Message-ID ""').criteria).toMatchObject({ k: 'header', field: 'message-id' });
  });

  it('reads RETURN options (ESEARCH, SEARCHRES)', () => {
    expect(req('a SEARCH RETURN (MIN MAX COUNT) ALL').returnOptions).toEqual(['MIN', 'MAX', 'COUNT']);
    expect(req('a SEARCH RETURN () UNSEEN').returnOptions).toEqual([]);
    expect(req('a SEARCH RETURN (SAVE) ALL').returnOptions).toEqual(['SAVE']);
    expect(req('a SEARCH UNSEEN').returnOptions).toBeNull();
  });

  it('rejects bad keys, dates and runaway nesting', () => {
    expect(err('a SEARCH FOO')).toMatch(/Unknown search key/);
    expect(err('a SEARCH BEFORE 32-Feb-2020')).toMatch(/date/);
    expect(err('a SEARCH BEFORE 1-Foo-2020')).toMatch(/date/);
    expect(err('a SEARCH OR SEEN')).toMatch(/\S/);
    expect(err('a SEARCH ' + 'NOT '.repeat(100) + 'SEEN')).toMatch(/nested/);
    expect(err('a SEARCH ' + '('.repeat(100) + 'SEEN' + ')'.repeat(100))).toMatch(/nested/);
    expect(err('a SEARCH')).toMatch(/\S/);
    expect(err('a SEARCH ' + Array(1001).fill('SEEN').join(' '))).toMatch(/Too many search keys/);
    expect(err('a SEARCH RETURN (BOGUS) ALL')).toMatch(/Unknown/);
  });
});
