/** SORT and THREAD (RFC 5256 §3), SORT=DISPLAY keys (RFC 5957 §3), ESORT RETURN (RFC 5267 §3). */
import { ArgReader, ParseError } from '../reader.ts';
import type { PartialRange, SortCriterion, SortKeyName, SortRequest, SortReturn, ThreadAlgorithm, ThreadRequest } from '../requests.ts';
import { parseSearchCriteria } from './search.ts';
import { parseReturnOptions } from './search-return.ts';

const SORT_KEYS = new Set<SortKeyName>(['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO']);
const ALGORITHMS = new Set<ThreadAlgorithm>(['ORDEREDSUBJECT', 'REFERENCES']);

/** sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"; sort-criterion = ["REVERSE" SP] sort-key. */
function parseSortCriteria(r: ArgReader): SortCriterion[] {
  const criteria = r.list(() => {
    let word = r.atom('sort key').toUpperCase();
    let reverse = false;
    if (word === 'REVERSE') {
      reverse = true;
      r.sp();
      word = r.atom('sort key').toUpperCase();
    }
    if (!SORT_KEYS.has(word as SortKeyName)) throw new ParseError(`Unknown sort key ${word.slice(0, 40)}`);
    return { key: word as SortKeyName, reverse };
  });
  if (criteria.length === 0) throw new ParseError('SORT needs at least one sort key');
  return criteria;
}

/** SORT [RETURN (…)] sort-criteria SP charset SP search-criteria. */
export function parseSort(r: ArgReader, uid: boolean): SortRequest {
  r.sp();
  let returnOptions: SortReturn[] | null = null;
  let partial: PartialRange | undefined;
  if (r.maybeKeyword('RETURN ')) {
    ({ options: returnOptions, partial } = parseReturnOptions(r, 'SORT'));
    r.sp();
  }
  const criteria = parseSortCriteria(r);
  r.sp();
  const charset = r.astring().toString('latin1');
  r.sp();
  const search = parseSearchCriteria(r);
  return partial ? { name: 'SORT', uid, returnOptions, partial, criteria, charset, search } : { name: 'SORT', uid, returnOptions, criteria, charset, search };
}

/** THREAD thread-alg SP search-charset 1*(SP search-key). */
export function parseThread(r: ArgReader, uid: boolean): ThreadRequest {
  r.sp();
  const algorithm = r.atom('threading algorithm').toUpperCase() as ThreadAlgorithm;
  if (!ALGORITHMS.has(algorithm)) throw new ParseError(`Unknown threading algorithm ${algorithm.slice(0, 40)}`);
  r.sp();
  const charset = r.astring().toString('latin1');
  r.sp();
  return { name: 'THREAD', uid, algorithm, charset, search: parseSearchCriteria(r) };
}
