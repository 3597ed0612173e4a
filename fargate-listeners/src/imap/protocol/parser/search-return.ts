/**
 * search-return-opts of SEARCH and SORT: ESEARCH's MIN, MAX, ALL, COUNT (RFC 4731 §3.1),
 * SAVE (RFC 5182 §2), CONTEXT and UPDATE (RFC 5267 §4.2, §4.3) and PARTIAL with its range
 * (RFC 9394 §3.1, §4; it replaces RFC 5267 §4.4's form with one that also counts from the end).
 */
import { ArgReader, ParseError } from '../reader.ts';
import type { CancelUpdateRequest, PartialRange, SearchReturn } from '../requests.ts';

const SIMPLE = new Set<SearchReturn>(['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE', 'CONTEXT', 'UPDATE']);

/** nz-number (RFC 9051 §9): 1 to 4294967295. */
const MAX_NZ = 4294967295;

/**
 * partial-range = partial-range-first / partial-range-last (RFC 9394 §4):
 * `nz-number ":" nz-number` or `"-" nz-number ":" "-" nz-number`; no "*", no mixed signs;
 * 500:400 is 400:500.
 */
export function parsePartialRange(r: ArgReader): PartialRange {
  const text = r.atom('PARTIAL range');
  const m = /^(-?)([1-9][0-9]{0,9}):(-?)([1-9][0-9]{0,9})$/.exec(text);
  if (!m || m[1] !== m[3]) throw new ParseError('PARTIAL range must be n:m or -n:-m with non-zero numbers');
  const a = Number(m[2]);
  const b = Number(m[4]);
  if (a > MAX_NZ || b > MAX_NZ) throw new ParseError('PARTIAL range number too large');
  return { low: Math.min(a, b), high: Math.max(a, b), fromEnd: m[1] === '-', text };
}

/**
 * `RETURN (…)` after the command name (the caller has read "RETURN "). RFC 9394 §3.1 (and RFC
 * 5267 §4.4): at most one of PARTIAL and ALL; PARTIAL, UPDATE and CONTEXT at most once each.
 */
export function parseReturnOptions(r: ArgReader, verb: 'SEARCH' | 'SORT'): { options: SearchReturn[]; partial?: PartialRange } {
  let partial: PartialRange | undefined;
  const options = r.list(() => {
    const o = r.atom('return option').toUpperCase() as SearchReturn;
    if (o === 'PARTIAL') {
      if (partial) throw new ParseError('PARTIAL given twice');
      if (!r.maybeSp()) throw new ParseError('PARTIAL needs a range (RFC 9394: PARTIAL n:m or PARTIAL -n:-m)');
      partial = parsePartialRange(r);
      return o;
    }
    if (!SIMPLE.has(o)) throw new ParseError(`Unknown ${verb} return option ${o.slice(0, 40)}`);
    return o;
  });
  const count = (o: SearchReturn) => options.filter((x) => x === o).length;
  if (partial && count('ALL') > 0) throw new ParseError('PARTIAL and ALL cannot be used together');
  for (const o of ['ALL', 'UPDATE', 'CONTEXT'] as const) if (count(o) > 1) throw new ParseError(`${o} given twice`);
  return partial ? { options, partial } : { options };
}

/**
 * The positions (0-based, ascending) of `total` results that a partial range selects (RFC 9394
 * §3.1): from the first result, or from the last when counting from the end; clamped to the
 * results there are.
 */
export function partialSlice(range: PartialRange, total: number): [start: number, end: number] {
  if (range.fromEnd) return [Math.max(0, total - range.high), Math.max(0, total - range.low + 1)];
  return [Math.min(total, range.low - 1), Math.min(total, range.high)];
}

/** CANCELUPDATE 1*(SP quoted) (RFC 5267 §5); astrings accepted, a tag being an atom. */
export function parseCancelUpdate(r: ArgReader): CancelUpdateRequest {
  const tags: string[] = [];
  do {
    r.sp();
    const tag = r.astring().toString('latin1');
    if (tag.length === 0 || tag.length > 200) throw new ParseError('CANCELUPDATE needs the tags of update contexts');
    tags.push(tag);
    if (tags.length > 100) throw new ParseError('Too many tags');
  } while (!r.atEnd());
  return { name: 'CANCELUPDATE', tags };
}
