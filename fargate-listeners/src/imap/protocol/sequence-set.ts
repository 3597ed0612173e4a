/**
 * Sequence sets (RFC 9051 §9 `sequence-set`, RFC 5182 `$`): parsing, resolving against a
 * mailbox view and compact formatting for COPYUID/APPENDUID/ESEARCH.
 *
 * `*` is the largest number in use (the message count for sequence numbers, the highest UID
 * for UIDs); a range `n:*` with n past the end still contains that largest one (RFC 9051
 * §6.4.8 note on "UID range of 559:*").
 */
import { ParseError } from './reader.ts';

/** A range; 0 stands for `*`. Bounds are unordered as sent (`5:2` = `2:5`). */
export type SeqRange = [number, number];

export type SequenceSet = { saved: false; ranges: SeqRange[] } | { saved: true };

const STAR = 0;

export function parseSequenceSet(text: string): SequenceSet {
  if (text === '$') return { saved: true };
  const ranges: SeqRange[] = [];
  for (const item of text.split(',')) {
    const m = /^(\d+|\*)(?::(\d+|\*))?$/.exec(item);
    if (!m) throw new ParseError('Invalid sequence set');
    const a = parseSeqNumber(m[1]);
    const b = m[2] === undefined ? a : parseSeqNumber(m[2]);
    ranges.push([a, b]);
    if (ranges.length > 100_000) throw new ParseError('Sequence set too long');
  }
  return { saved: false, ranges };
}

function parseSeqNumber(s: string): number {
  if (s === '*') return STAR;
  if (s.length > 10) throw new ParseError('Invalid sequence number');
  const n = Number(s);
  if (n === 0 || n > 0xffffffff) throw new ParseError('Invalid sequence number');
  return n;
}

export class SequenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SequenceError';
  }
}

/**
 * Message sequence numbers (1-based, ascending, unique) selected by `ranges` in a mailbox of
 * `count` messages. A number above count is an error (BAD), except that `*` in an empty
 * mailbox selects nothing.
 */
export function resolveSequenceNumbers(ranges: SeqRange[], count: number): number[] {
  const spans: Array<[number, number]> = [];
  for (const [a0, b0] of ranges) {
    if (count === 0) {
      if (a0 === STAR || b0 === STAR) continue;
      throw new SequenceError('Invalid message sequence number');
    }
    const a = a0 === STAR ? count : a0;
    const b = b0 === STAR ? count : b0;
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    if (hi > count) throw new SequenceError('Invalid message sequence number');
    spans.push([lo, hi]);
  }
  return mergeSpans(spans);
}

/**
 * The numbers covered by inclusive spans, ascending, each once. Sorting first keeps the cost
 * at O(spans log spans + result) however much a client repeats or overlaps ranges.
 */
function mergeSpans(spans: Array<[number, number]>): number[] {
  spans.sort((x, y) => x[0] - y[0]);
  const out: number[] = [];
  let next = 1;
  for (const [lo, hi] of spans) {
    for (let i = Math.max(lo, next); i <= hi; i++) out.push(i);
    next = Math.max(next, hi + 1);
  }
  return out;
}

/** Sequence numbers in a set, clamped to the mailbox (SEARCH: out-of-range numbers match nothing). */
export function clampedSequenceNumbers(ranges: SeqRange[], count: number): number[] {
  const spans: Array<[number, number]> = [];
  for (const [a0, b0] of ranges) {
    if (count === 0) break;
    const a = a0 === STAR ? count : a0;
    const b = b0 === STAR ? count : b0;
    const lo = Math.min(a, b);
    const hi = Math.min(Math.max(a, b), count);
    if (lo <= hi) spans.push([lo, hi]);
  }
  return mergeSpans(spans);
}

/** Index of the first element >= x in an ascending array. */
export function lowerBound(arr: ArrayLike<number>, x: number, from = 0, to = arr.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Indexes (0-based positions) into the ascending `uids` array of the UIDs selected by
 * `ranges`; UIDs not present are ignored (RFC 9051 §6.4.8).
 */
export function resolveUidIndexes(ranges: SeqRange[], uids: ArrayLike<number>): number[] {
  const n = uids.length;
  if (n === 0) return [];
  const max = uids[n - 1];
  const spans: Array<[number, number]> = [];
  for (const [a0, b0] of ranges) {
    const a = a0 === STAR ? max : a0;
    const b = b0 === STAR ? max : b0;
    const lo = lowerBound(uids, Math.min(a, b));
    const hi = lowerBound(uids, Math.max(a, b) + 1);
    if (hi > lo) spans.push([lo, hi]);
  }
  spans.sort((x, y) => x[0] - y[0]);
  const out: number[] = [];
  let next = 0;
  for (const [lo, hi] of spans) {
    for (let i = Math.max(lo, next); i < hi; i++) out.push(i);
    next = Math.max(next, hi);
  }
  return out;
}

/** Whether uid lies in the set, with `*` meaning maxUid. */
export function uidSetContains(ranges: SeqRange[], uid: number, maxUid: number): boolean {
  for (const [a0, b0] of ranges) {
    const a = a0 === STAR ? maxUid : a0;
    const b = b0 === STAR ? maxUid : b0;
    if (uid >= Math.min(a, b) && uid <= Math.max(a, b)) return true;
  }
  return false;
}

/** Compact form of numbers in the given order: ascending runs collapse to `a:b` ("1:3,7,9:10"). */
export function formatNumberSet(numbers: ArrayLike<number>): string {
  const out: string[] = [];
  let i = 0;
  while (i < numbers.length) {
    const start = numbers[i];
    let end = start;
    while (i + 1 < numbers.length && numbers[i + 1] === end + 1) {
      end++;
      i++;
    }
    out.push(start === end ? String(start) : `${start}:${end}`);
    i++;
  }
  return out.join(',');
}

/** Ascending unique copy. */
export function sortedUnique(numbers: number[]): number[] {
  const s = [...new Set(numbers)].sort((a, b) => a - b);
  return s;
}
