/** SORT and THREAD parsing (RFC 5256 §4 syntax, RFC 5957 keys, RFC 5267 §3 RETURN). */
import { describe, expect, it } from 'vitest';
import { err, req } from './support/parse.ts';

describe('SORT parser', () => {
  it('reads every sort key (RFC 5256 §3, RFC 5957 §3), REVERSE per key, the charset and the search keys', () => {
    expect(req('a SORT (ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM DISPLAYTO) UTF-8 ALL')).toMatchObject({
      name: 'SORT',
      uid: false,
      returnOptions: null,
      charset: 'UTF-8',
      criteria: ['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO'].map((key) => ({ key, reverse: false })),
      search: { k: 'all' },
    });
    expect(req('a uid sort (reverse date subject) "us-ascii" seen from x')).toMatchObject({
      uid: true,
      criteria: [
        { key: 'DATE', reverse: true },
        { key: 'SUBJECT', reverse: false },
      ],
      charset: 'us-ascii',
      search: {
        k: 'and',
        keys: [
          { k: 'flag', flag: '\\Seen', present: true },
          { k: 'address', field: 'from' },
        ],
      },
    });
  });

  it('reads ESORT RETURN options (RFC 5267 §3)', () => {
    expect(req('a SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL').returnOptions).toEqual(['MIN', 'MAX', 'COUNT', 'ALL']);
    expect(req('a SORT RETURN () (DATE) UTF-8 ALL').returnOptions).toEqual([]);
  });

  it('refuses what RFC 5256 §4 does not allow', () => {
    expect(err('a SORT () UTF-8 ALL')).toMatch(/at least one sort key/);
    expect(err('a SORT (DATE DATES) UTF-8 ALL')).toMatch(/Unknown sort key DATES/);
    expect(err('a SORT (REVERSE REVERSE DATE) UTF-8 ALL')).toMatch(/Unknown sort key REVERSE/);
    expect(err('a SORT (DATE) UTF-8')).toBeTruthy();
    expect(err('a SORT DATE UTF-8 ALL')).toBeTruthy();
    expect(err('a SORT RETURN (FOO) (DATE) UTF-8 ALL')).toMatch(/Unknown SORT return option/);
    expect(err('a SORT RETURN (PARTIAL 0:2) (DATE) UTF-8 ALL')).toMatch(/PARTIAL range/);
  });
});

describe('THREAD parser', () => {
  it('reads the algorithm, the charset and the search keys (RFC 5256 §4)', () => {
    expect(req('a THREAD REFERENCES UTF-8 ALL')).toEqual({ name: 'THREAD', uid: false, algorithm: 'REFERENCES', charset: 'UTF-8', search: { k: 'all' } });
    expect(req('a UID THREAD orderedsubject US-ASCII 1:3')).toMatchObject({ uid: true, algorithm: 'ORDEREDSUBJECT', search: { k: 'seq' } });
  });

  it('refuses an unknown algorithm and a missing search', () => {
    expect(err('a THREAD X-MINE UTF-8 ALL')).toMatch(/Unknown threading algorithm/);
    expect(err('a THREAD REFERENCES UTF-8')).toBeTruthy();
  });
});
