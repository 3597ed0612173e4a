/** Parsing the SAVEDATE extension (RFC 8514 §5): the SAVEDATE fetch item and the SAVED* search keys. */
import { describe, expect, it } from 'vitest';
import { err, req } from './support/parse.ts';

describe('SAVEDATE parser (RFC 8514 §5)', () => {
  it('search-key =/ "SAVEDBEFORE" SP date / "SAVEDON" SP date / "SAVEDSINCE" SP date / "SAVEDATESUPPORTED"', () => {
    expect(req('a SEARCH SAVEDBEFORE 1-Feb-2020').criteria).toEqual({ k: 'savedate', op: 'before', day: 20200201 });
    expect(req('a SEARCH savedon "28-Dec-2014"').criteria).toEqual({ k: 'savedate', op: 'on', day: 20141228 });
    expect(req('a UID SEARCH SAVEDSINCE 28-Dec-2014').criteria).toEqual({ k: 'savedate', op: 'since', day: 20141228 });
    expect(req('a SEARCH SAVEDATESUPPORTED').criteria).toEqual({ k: 'savedatesupported' });
    expect(req('a SEARCH NOT SAVEDATESUPPORTED SAVEDON 1-Jan-2020').criteria).toEqual({
      k: 'and',
      keys: [
        { k: 'not', key: { k: 'savedatesupported' } },
        { k: 'savedate', op: 'on', day: 20200101 },
      ],
    });
  });

  it('a missing or malformed date is a parse error', () => {
    expect(err('a SEARCH SAVEDON')).toBeTruthy();
    expect(err('a SEARCH SAVEDSINCE 1-Foo-2020')).toMatch(/Invalid date/);
    expect(err('a SEARCH SAVEDBEFORE 2020-01-01')).toMatch(/Invalid date/);
    expect(err('a SEARCH SAVEDATESUPPORTED 1-Jan-2020')).toBeTruthy();
  });

  it('fetch-att =/ "SAVEDATE"', () => {
    expect(req('a FETCH 1 SAVEDATE').items).toEqual([{ k: 'SAVEDATE' }]);
    expect(req('a UID FETCH 1:* (FLAGS savedate)').items).toEqual([{ k: 'FLAGS' }, { k: 'SAVEDATE' }]);
    expect(err('a FETCH 1 (SAVEDATE[])')).toBeTruthy();
  });
});
