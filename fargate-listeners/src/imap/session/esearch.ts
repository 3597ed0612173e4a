/**
 * The ESEARCH answer of SEARCH and SORT with RETURN options (RFC 4731 §3.1, RFC 5267 §3.1,
 * RFC 9394 §3.1, §3.2) and what RETURN (SAVE) keeps as `$` (RFC 5182 §2.4, RFC 9394 §3.2).
 */
import { quote } from '../protocol/encode.ts';
import type { PartialRange, SearchReturn } from '../protocol/requests.ts';
import { formatNumberSet } from '../protocol/sequence-set.ts';
import { partialSlice } from '../protocol/parser/search-return.ts';
import type { SelectedMailbox } from './selected-mailbox.ts';

export interface EsearchInput {
  tag: string;
  uid: boolean;
  returnOptions: SearchReturn[];
  partial?: PartialRange;
  /** UIDs of the results in the requested order (mailbox order for SEARCH, sort order for SORT). */
  results: number[];
  /** The search had a MODSEQ key (RFC 7162 §3.1.6, §3.1.10). */
  byModseq: boolean;
}

const RESULT_OPTIONS: SearchReturn[] = ['MIN', 'MAX', 'COUNT', 'ALL', 'PARTIAL'];

/**
 * The options in force: RETURN () means RETURN (ALL) (RFC 4731 §3.1), and so does a RETURN
 * holding only CONTEXT or UPDATE, which ask for no result of their own (RFC 5267 §4.2, §4.3).
 */
export function effectiveOptions(returnOptions: SearchReturn[]): Set<SearchReturn> {
  const opts = new Set(returnOptions);
  if (!RESULT_OPTIONS.some((o) => opts.has(o)) && !opts.has('SAVE')) opts.add('ALL');
  return opts;
}

/** Saves `$` when asked to and returns the `* ESEARCH` line (without "* "), or null when none is due. */
export function esearchAnswer(sel: SelectedMailbox, input: EsearchInput): string | null {
  const opts = effectiveOptions(input.returnOptions);
  const { results } = input;
  const first = results.slice(0, 1);
  const last = results.slice(-1);
  const page = input.partial ? results.slice(...partialSlice(input.partial, results.length)) : [];
  if (opts.has('SAVE')) {
    // RFC 5182 §2.4 and RFC 9394 §3.2 (Table 1): with ALL or COUNT, or nothing else, every
    // match; else only what MIN, MAX and PARTIAL return. $ is a set, kept in UID order.
    const everything = opts.has('ALL') || opts.has('COUNT') || !RESULT_OPTIONS.some((o) => opts.has(o));
    const keep = everything ? results : [...(opts.has('PARTIAL') ? page : []), ...(opts.has('MIN') ? first : []), ...(opts.has('MAX') ? last : [])];
    sel.savedSearch = [...new Set(keep)].sort((a, b) => a - b);
  }
  if (!RESULT_OPTIONS.some((o) => opts.has(o))) return null;
  const num = (u: number) => (input.uid ? u : sel.seqOf(u));
  const parts = [`ESEARCH (TAG ${quote(input.tag)})`];
  if (input.uid) parts.push('UID');
  // RFC 5267 §3.1: for SORT, MIN and MAX are the first and the last in sort order.
  if (opts.has('MIN') && results.length > 0) parts.push(`MIN ${num(first[0])}`);
  if (opts.has('MAX') && results.length > 0) parts.push(`MAX ${num(last[0])}`);
  if (opts.has('COUNT')) parts.push(`COUNT ${results.length}`);
  if (opts.has('ALL') && results.length > 0) parts.push(`ALL ${formatNumberSet(results.map(num))}`);
  // RFC 9394 §3.1: the range as requested, then the results in it, or NIL when there are none.
  if (input.partial) parts.push(`PARTIAL (${input.partial.text} ${page.length > 0 ? formatNumberSet(page.map(num)) : 'NIL'})`);
  if (input.byModseq && results.length > 0) {
    // RFC 7162 §3.1.10: over the messages reported: all for ALL or COUNT, else MIN, MAX and PARTIAL's.
    const reported = opts.has('ALL') || opts.has('COUNT') ? results : [...(opts.has('MIN') ? first : []), ...(opts.has('MAX') ? last : []), ...page];
    if (reported.length > 0) parts.push(`MODSEQ ${reported.reduce((m, u) => Math.max(m, sel.modseqOf(u)), 0)}`);
  }
  return parts.join(' ');
}
