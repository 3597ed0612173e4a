/**
 * SORT / UID SORT (RFC 5256 §3) with the SORT=DISPLAY keys (RFC 5957) and ESORT's RETURN
 * options (RFC 5267 §3: `* ESEARCH` with MIN, MAX, COUNT and ALL in sort order; SAVE as in
 * RFC 5182 §2.4). The search runs as SEARCH's does; the sort keys come from the index records
 * of the matching messages (internal date, size, envelope), never from message bodies.
 */
import type { SortRequest } from '#listeners/imap/protocol/requests.ts';
import type { MessageRecord } from '#core/ports/mail-index.ts';
import { bad, ok, type Tagged } from '../errors.ts';
import { isLiveTag, openContext } from '../contexts.ts';
import { esearchAnswer } from '../esearch.ts';
import { loadRecords } from '../message-loader.ts';
import { needsMeta, needsRecord } from '../search-eval.ts';
import type { ImapSession } from '../session.ts';
import { needsEnvelope, sortItems, sortValue, type SortItem } from '../sort-keys.ts';
import { matchMessages, usesModseq } from './search.ts';

export async function sort(s: ImapSession, req: SortRequest, tag: string): Promise<Tagged> {
  const sel = s.selected!;
  const verb = `${req.uid ? 'UID ' : ''}SORT`;
  const update = req.returnOptions?.includes('UPDATE') ?? false;
  if (update && isLiveTag(sel, tag)) throw bad(`Tag reuse: ${tag} names a live update context (RFC 5267 §4.3)`);
  const savedBefore = sel.savedSearch;
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
  const results = items.map((i) => i.uid);
  const line = esearchAnswer(sel, { tag, uid: req.uid, returnOptions: req.returnOptions, partial: req.partial, results, byModseq });
  if (line) s.untagged(line);
  if (update) {
    const values = new Map(items.map((i) => [i.uid, i.values]));
    openContext(s, { tag, uid: req.uid, charset: req.charset, criteria: req.search, savedBefore, results }, { criteria: req.criteria, values });
  }
  return ok(`${verb} completed`);
}
