/**
 * The SAVEDATE search keys (RFC 8514 §4.3, §5): `"SAVEDBEFORE" SP date / "SAVEDON" SP date /
 * "SAVEDSINCE" SP date / "SAVEDATESUPPORTED"`.
 */
import type { ArgReader } from '../reader.ts';
import type { DateOp, SearchKey } from '../requests.ts';

const SAVED_KEYS: Record<string, DateOp> = { SAVEDBEFORE: 'before', SAVEDON: 'on', SAVEDSINCE: 'since' };

/** The key `word` (upper-case, already read) names, or null when it is not a SAVEDATE key. */
export function parseSaveDateKey(word: string, r: ArgReader, parseDate: (r: ArgReader) => number): SearchKey | null {
  if (word === 'SAVEDATESUPPORTED') return { k: 'savedatesupported' };
  const op = SAVED_KEYS[word];
  if (!op) return null;
  r.sp();
  return { k: 'savedate', op, day: parseDate(r) };
}
