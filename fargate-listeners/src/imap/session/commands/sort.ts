/**
 * SORT / UID SORT (RFC 5256 §3) with the SORT=DISPLAY keys (RFC 5957) and ESORT's RETURN
 * options (RFC 5267 §3: `* ESEARCH` with MIN, MAX, COUNT and ALL in sort order; SAVE as in
 * RFC 5182 §2.4). The search runs as SEARCH's does; the sort keys come from the index records
 * of the matching messages (internal date, size, envelope), never from message bodies.
 */
import { quote } from '#listeners/imap/protocol/encode.ts';
import type { SortRequest } from '#listeners/imap/protocol/requests.ts';
import { formatNumberSet } from '#listeners/imap/protocol/sequence-set.ts';
import type { MessageRecord } from '#core/ports/mail-index.ts';
import { ok, type Tagged } from '../errors.ts';
import { loadRecords } from '../message-loader.ts';
import { needsMeta, needsRecord } from '../search-eval.ts';
import type { ImapSession } from '../session.ts';
import { needsEnvelope, sortItems, sortValue, type SortItem } from '../sort-keys.ts';
import { matchMessages, usesModseq } from './search.ts';

export async function sort(s: ImapSession, req: SortRequest, tag: string): Promise<Tagged> {
  const sel = s.selected!;
  const verb = `${req.uid ? 'UID ' : ''}SORT`;
  const savedUids = new Set(sel.savedSearch);
  if (req.returnOptions?.includes('SAVE')) sel.savedSearch = [];
  const items: SortItem[] = [];
  const add = (uid: number, rec: MessageRecord) => items.push({ uid, seq: sel.seqOf(uid), values: req.criteria.map((c) => sortValue(c.key, rec)) });
  const withEnvelope = needsEnvelope(req.criteria);
  // When the search itself read what the sort keys need, its records serve (one read, not two).
  const reuse = withEnvelope ? needsMeta(req.search) : needsRecord(req.search);
  const outcome = await matchMessages(s, req.search, req.charset, verb, savedUids, reuse ? (uid, rec) => rec && add(uid, rec) : undefined);
  if (outcome.failed) return outcome.failed;
  if (!reuse) {
    for await (const [uids, records] of loadRecords(s, sel.id, outcome.matched, withEnvelope ? 'structure' : false)) {
      for (const uid of uids) {
        const rec = records.get(uid);
        // Expunged by another session since the search: it is no longer there to sort.
        if (rec) add(uid, rec);
      }
    }
  }
  sortItems(items, req.criteria);
  const numbers = items.map((i) => (req.uid ? i.uid : i.seq));
  // RFC 7162 §3.1.5, §7 (sort-data, search-sort-mod-seq): with a MODSEQ key, the highest
  // mod-sequence of the messages returned.
  const byModseq = usesModseq(req.search);
  const highest = (of: SortItem[]) => of.reduce((m, i) => Math.max(m, sel.modseqOf(i.uid)), 0);
  if (req.returnOptions === null) {
    const modseq = byModseq && items.length > 0 ? ` (MODSEQ ${highest(items)})` : '';
    s.untagged(`SORT${numbers.map((n) => ' ' + n).join('')}${modseq}`);
    return ok(`${verb} completed`);
  }
  // RFC 5267 §3 (as RFC 4731 §3.1): RETURN () means RETURN (ALL).
  const opts = new Set<string>(req.returnOptions.length === 0 ? ['ALL'] : req.returnOptions);
  if (opts.has('SAVE')) {
    // RFC 5182 §2.4: with MIN/MAX but neither ALL nor COUNT, only those are saved; $ is a set.
    const uids = items.map((i) => i.uid);
    const only = (opts.has('MIN') || opts.has('MAX')) && !opts.has('ALL') && !opts.has('COUNT');
    const keep = only ? [...(opts.has('MIN') ? uids.slice(0, 1) : []), ...(opts.has('MAX') ? uids.slice(-1) : [])] : uids;
    sel.savedSearch = [...new Set(keep)].sort((a, b) => a - b);
    if (opts.size === 1) return ok(`${verb} completed`);
  }
  const parts = [`ESEARCH (TAG ${quote(tag)})`];
  if (req.uid) parts.push('UID');
  // RFC 5267 §3.1: MIN and MAX are the first and the last message in sort order.
  if (opts.has('MIN') && numbers.length > 0) parts.push(`MIN ${numbers[0]}`);
  if (opts.has('MAX') && numbers.length > 0) parts.push(`MAX ${numbers[numbers.length - 1]}`);
  if (opts.has('COUNT')) parts.push(`COUNT ${numbers.length}`);
  if (opts.has('ALL') && numbers.length > 0) parts.push(`ALL ${formatNumberSet(numbers)}`);
  if (byModseq && items.length > 0) {
    // RFC 7162 §3.1.10: over the messages reported: all for ALL or COUNT, else MIN and MAX.
    const reported =
      opts.has('ALL') || opts.has('COUNT') ? items : [...(opts.has('MIN') ? items.slice(0, 1) : []), ...(opts.has('MAX') ? items.slice(-1) : [])];
    if (reported.length > 0) parts.push(`MODSEQ ${highest(reported)}`);
  }
  s.untagged(parts.join(' '));
  return ok(`${verb} completed`);
}
