/** Sequence sets (RFC 9051 §9) and their resolution against a mailbox view. */
import { describe, expect, it } from 'vitest';
import { ParseError } from '#listeners/imap/protocol/reader.ts';
import {
  clampedSequenceNumbers,
  formatNumberSet,
  parseSequenceSet,
  resolveSequenceNumbers,
  resolveUidIndexes,
  SequenceError,
  uidSetContains,
} from '#listeners/imap/protocol/sequence-set.ts';

const ranges = (t: string) => {
  const s = parseSequenceSet(t);
  if (s.saved) throw new Error('saved');
  return s.ranges;
};

describe('sequence sets', () => {
  it('parses numbers, ranges in either order, * and $', () => {
    expect(ranges('1,3:5,7:*,9:2')).toEqual([
      [1, 1],
      [3, 5],
      [7, 0],
      [9, 2],
    ]);
    expect(parseSequenceSet('$')).toEqual({ saved: true });
    for (const bad of ['', '0', '1:0', 'a', '1,,2', '1:', ':1', '4294967296', '1:2:3', '$,1']) expect(() => parseSequenceSet(bad), bad).toThrow(ParseError);
  });

  it('resolves message numbers; * is the last; past the end is an error', () => {
    expect(resolveSequenceNumbers(ranges('2:*'), 4)).toEqual([2, 3, 4]);
    expect(resolveSequenceNumbers(ranges('4:2,1'), 4)).toEqual([1, 2, 3, 4]);
    expect(resolveSequenceNumbers(ranges('*'), 3)).toEqual([3]);
    expect(() => resolveSequenceNumbers(ranges('5'), 4)).toThrow(SequenceError);
    expect(resolveSequenceNumbers(ranges('1:*'), 0)).toEqual([]);
    expect(() => resolveSequenceNumbers(ranges('1'), 0)).toThrow(SequenceError);
  });

  it('resolves UID sets against existing UIDs only; n:* includes the highest UID even when n is above it (RFC 9051 §6.4.8)', () => {
    const uids = [3, 5, 9, 10];
    const pick = (t: string) => resolveUidIndexes(ranges(t), uids).map((i) => uids[i]);
    expect(pick('1:4')).toEqual([3]);
    expect(pick('5:*')).toEqual([5, 9, 10]);
    expect(pick('100:*')).toEqual([10]);
    expect(pick('6:8')).toEqual([]);
    expect(pick('1:4294967295')).toEqual(uids);
    expect(pick('9,3,9:10')).toEqual([3, 9, 10]);
    expect(resolveUidIndexes(ranges('1:*'), [])).toEqual([]);
    expect(uidSetContains(ranges('20:*'), 10, 10)).toBe(true);
  });

  it('resolves many overlapping ranges in time proportional to the result, not the ranges × spans', () => {
    const many = ranges(Array(50_000).fill('1:10000').join(','));
    const t0 = performance.now();
    expect(resolveSequenceNumbers(many, 10_000)).toHaveLength(10_000);
    expect(clampedSequenceNumbers(many, 5)).toEqual([1, 2, 3, 4, 5]);
    // Expanding every range (the quadratic way) would build 5e8 numbers: seconds and gigabytes;
    // the linear resolution takes milliseconds, so the bound holds on a loaded machine too.
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('formats ascending numbers compactly (COPYUID, ESEARCH ALL)', () => {
    expect(formatNumberSet([1, 2, 3, 5, 7, 8])).toBe('1:3,5,7:8');
    expect(formatNumberSet([4])).toBe('4');
    expect(formatNumberSet([])).toBe('');
  });
});
