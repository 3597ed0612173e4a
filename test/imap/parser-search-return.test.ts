/**
 * RETURN options of SEARCH and SORT with CONTEXT, UPDATE (RFC 5267 §5) and PARTIAL (RFC 9394
 * §4), the PARTIAL FETCH modifier (RFC 9394 §3.3) and CANCELUPDATE (RFC 5267 §5).
 */
import { describe, expect, it } from 'vitest';
import { partialSlice } from '#listeners/imap/protocol/parser/search-return.ts';
import { err, req } from './support/parse.ts';

describe('RETURN options, PARTIAL and CANCELUPDATE parsing', () => {
  it('RFC 9394 §4: partial-range-first and partial-range-last, either order, kept as written', () => {
    expect(req('a UID SEARCH RETURN (PARTIAL 1:100) UNDELETED')).toMatchObject({
      returnOptions: ['PARTIAL'],
      partial: { low: 1, high: 100, fromEnd: false, text: '1:100' },
    });
    expect(req('a SEARCH RETURN (COUNT partial -500:-400 UPDATE CONTEXT) ALL')).toMatchObject({
      returnOptions: ['COUNT', 'PARTIAL', 'UPDATE', 'CONTEXT'],
      partial: { low: 400, high: 500, fromEnd: true, text: '-500:-400' },
    });
    expect(req('a SORT RETURN (PARTIAL 4294967295:1) (DATE) UTF-8 ALL').partial).toEqual({ low: 1, high: 4294967295, fromEnd: false, text: '4294967295:1' });
    expect(req('a SEARCH RETURN (MIN) ALL').partial).toBeUndefined();
  });

  it('RFC 9394 §3.1, §4: refuses a missing, zero, "*", mixed-sign or oversized range, PARTIAL with ALL, and repeats', () => {
    expect(err('a SEARCH RETURN (PARTIAL) ALL')).toMatch(/PARTIAL needs a range/);
    for (const range of ['0:5', '1:*', '*:1', '-1:5', '1:-5', '5', '1:2:3', '-0:-1', '01:5'])
      expect(err(`a SEARCH RETURN (PARTIAL ${range}) ALL`), range).toMatch(/PARTIAL range/);
    expect(err('a SEARCH RETURN (PARTIAL 1:4294967296) ALL')).toMatch(/too large/);
    expect(err('a SEARCH RETURN (PARTIAL 1:5 ALL) ALL')).toMatch(/PARTIAL and ALL/);
    expect(err('a SORT RETURN (ALL PARTIAL 1:5) (DATE) UTF-8 ALL')).toMatch(/PARTIAL and ALL/);
    expect(err('a SEARCH RETURN (PARTIAL 1:5 PARTIAL 2:3) ALL')).toMatch(/twice/);
    for (const o of ['ALL', 'UPDATE', 'CONTEXT']) expect(err(`a SEARCH RETURN (${o} ${o}) ALL`)).toMatch(/twice/);
    expect(err('a SEARCH RETURN (FUZZY) ALL')).toMatch(/Unknown SEARCH return option/);
  });

  it('RFC 9394 §3.3: the PARTIAL FETCH modifier, beside CHANGEDSINCE, in UID FETCH only', () => {
    expect(req('a UID FETCH 1:* (FLAGS) (PARTIAL -1:-30 CHANGEDSINCE 7)')).toMatchObject({
      changedSince: 7,
      partial: { low: 1, high: 30, fromEnd: true },
    });
    expect(err('a FETCH 1:* (FLAGS) (PARTIAL 1:5)')).toMatch(/only in UID FETCH/);
    expect(err('a UID FETCH 1:* (FLAGS) (PARTIAL 1:5 PARTIAL 1:5)')).toMatch(/twice/);
  });

  it('RFC 5267 §5: CANCELUPDATE 1*(SP quoted)', () => {
    expect(req('a CANCELUPDATE "B01"')).toEqual({ name: 'CANCELUPDATE', tags: ['B01'] });
    expect(req('a CANCELUPDATE "B01" "C 2"')).toEqual({ name: 'CANCELUPDATE', tags: ['B01', 'C 2'] });
    expect(() => err('a CANCELUPDATE')).not.toThrow();
    expect(err('a CANCELUPDATE ""')).toMatch(/tags/);
  });

  it('RFC 9394 §3.1: the positions a range selects, clamped to the results there are', () => {
    const at = (text: string, total: number) => {
      const r = req(`a SEARCH RETURN (PARTIAL ${text}) ALL`).partial;
      return partialSlice(r, total);
    };
    expect(at('1:3', 10)).toEqual([0, 3]);
    expect(at('8:20', 10)).toEqual([7, 10]);
    expect(at('20:30', 10)).toEqual([10, 10]);
    expect(at('-1:-3', 10)).toEqual([7, 10]);
    expect(at('-4:-100', 5)).toEqual([0, 2]);
    expect(at('-6:-9', 5)).toEqual([0, 0]);
  });
});
