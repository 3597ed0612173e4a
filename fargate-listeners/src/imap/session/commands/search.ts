/**
 * SEARCH / UID SEARCH (RFC 9051 §6.4.4) with CHARSET, ESEARCH results (RFC 4731; the only
 * form in IMAP4rev2), SEARCHRES `RETURN (SAVE)` / `$` (RFC 5182) and the MODSEQ key with its
 * MODSEQ result (RFC 7162 §3.1.5, §3.1.6, §3.1.10).
 *
 * A message whose blob cannot be read (unreadable.ts) is left out of the result, whatever the
 * key (it can be shown neither to match nor not to match, so `NOT TEXT x` leaves it out too):
 * the search still completes with OK, after an untagged NO warning (RFC 9051 §7.1.2: "the
 * command can still complete successfully") that names the messages left out.
 */
import { decode as decodeCharset } from 'libmime/lib/charset.js';
import type { SearchKey, SearchRequest } from '#listeners/imap/protocol/requests.ts';
import { clampedSequenceNumbers, resolveUidIndexes } from '#listeners/imap/protocol/sequence-set.ts';
import { bad, ok, no, type Tagged } from '../errors.ts';
import { isLiveTag, openContext } from '../contexts.ts';
import { esearchAnswer } from '../esearch.ts';
import { loadRecords } from '../message-loader.ts';
import { Evaluator, needsMeta, needsRecord, type MessageFacts } from '../search-eval.ts';
import type { ImapSession } from '../session.ts';
import { readMessageBlob, UnreadableMessageError, UnreadableReport } from '../unreadable.ts';

/** Charsets accepted for search strings; others get NO [BADCHARSET] (RFC 9051 §6.4.4). */
const CHARSETS = /^(utf-8|us-ascii|iso-8859-\d{1,2}|windows-125\d|koi8-[ru]|iso-2022-jp|shift_jis|euc-jp|euc-kr|gb2312|gbk|gb18030|big5)$/i;

function decodeNeedle(bytes: Buffer, charset: string | null): string {
  if (!charset || /^(utf-8|us-ascii)$/i.test(charset)) return new TextDecoder('utf-8').decode(bytes);
  return decodeCharset(bytes, charset);
}

/** Calls `visit` for every key of the tree below NOT, OR and AND (those themselves excluded). */
function forEachLeaf(key: SearchKey, visit: (leaf: SearchKey) => void): void {
  switch (key.k) {
    case 'not':
      forEachLeaf(key.key, visit);
      break;
    case 'or':
      forEachLeaf(key.a, visit);
      forEachLeaf(key.b, visit);
      break;
    case 'and':
      for (const k of key.keys) forEachLeaf(k, visit);
      break;
    default:
      visit(key);
  }
}

/** Whether the criteria hold a MODSEQ key (RFC 7162 §3.1.5). */
export function usesModseq(criteria: SearchKey): boolean {
  let found = false;
  forEachLeaf(criteria, (k) => (found ||= k.k === 'modseq'));
  return found;
}

/**
 * What the evaluator needs worked out once per command, not per message: each string key's
 * needle decoded from the request's charset (lower-cased), and each UID and sequence-number
 * key resolved against the view.
 */
function prepareKeys(
  criteria: SearchKey,
  charset: string | null,
  uids: ArrayLike<number>,
): { needles: Map<SearchKey, string>; sets: Map<SearchKey, Set<number>> } {
  const needles = new Map<SearchKey, string>();
  const sets = new Map<SearchKey, Set<number>>();
  forEachLeaf(criteria, (key) => {
    switch (key.k) {
      case 'header':
      case 'address':
      case 'body':
      case 'text':
        needles.set(key, decodeNeedle(key.value, charset).toLowerCase());
        break;
      case 'uid':
        if (!key.set.saved) sets.set(key, new Set(resolveUidIndexes(key.set.ranges, uids).map((i) => uids[i])));
        break;
      case 'seq':
        if (!key.set.saved) sets.set(key, new Set(clampedSequenceNumbers(key.set.ranges, uids.length)));
        break;
      default:
        break;
    }
  });
  return { needles, sets };
}

/**
 * Lets other sessions' I/O run during a long search: every this many messages, and after
 * every message whose bytes were read and decoded (TEXT/BODY), which is the costly part.
 */
const YIELD_EVERY = 256;

/**
 * The UIDs of the selected mailbox's messages that match `criteria`, in UID order (shared by
 * SEARCH, SORT and THREAD). Checks the charset (NO [BADCHARSET]), enables CONDSTORE for a
 * MODSEQ key, and warns with an untagged NO about messages it could not read; `failed` is the
 * tagged answer when the store is down. `onMatch` is given each match with the record the search
 * read for it (null when the criteria needed none), so that SORT and THREAD need not read it again.
 */
export async function matchMessages(
  s: ImapSession,
  criteria: SearchKey,
  charset: string | null,
  verb: string,
  savedUids: Set<number> = new Set(s.selected!.savedSearch),
  onMatch?: (uid: number, record: MessageFacts['record']) => void,
  /** Only these UIDs of the view (ascending), not all: an update context's re-check (contexts.ts). */
  only?: number[],
): Promise<{ matched: number[]; unreadable: number[]; failed?: undefined } | { failed: Tagged }> {
  const sel = s.selected!;
  if (charset && !CHARSETS.test(charset)) throw no(`Unsupported charset ${charset.slice(0, 40)}`, 'BADCHARSET (UTF-8 US-ASCII)');
  const { needles, sets } = prepareKeys(criteria, charset, sel.uids);
  // The MODSEQ key is a CONDSTORE enabling command (RFC 7162 §3.1).
  if (usesModseq(criteria)) s.enableCondstore();
  const evaluator = new Evaluator({ savedUids, needles, sets });
  const candidates = only ? only.filter((u) => !sel.pendingExpunge.has(u)) : sel.liveUids();
  const matched: number[] = [];
  const withRecord = needsRecord(criteria);
  const unreadable = new UnreadableReport(s);
  /** UIDs left out because their blob could not be read (neither match nor non-match). */
  const skipped: number[] = [];
  let readBlob = false;
  const check = async (uid: number, record: MessageFacts['record']) => {
    let blob: Buffer | null = null;
    const facts: MessageFacts = {
      seq: sel.seqOf(uid),
      uid,
      flags: sel.storedFlags(uid),
      modseq: sel.modseqOf(uid),
      recent: sel.recent.has(uid),
      record,
      blob: async () => {
        if (blob) return blob;
        readBlob = true;
        return (blob = await readMessageBlob(s, sel.id, record!, () => s.deps.adapters.blobs.get(record!.blobKey)));
      },
    };
    try {
      if (await evaluator.matches(criteria, facts)) {
        matched.push(uid);
        onMatch?.(uid, record);
      }
      if (blob) unreadable.succeeded();
    } catch (err) {
      if (err instanceof UnreadableMessageError) {
        skipped.push(uid);
        return unreadable.add(facts.seq, err);
      }
      // Expunged meanwhile (its blob deleted after our index read): it matches nothing.
      if ((err as Error).name === 'BlobNotFoundError') return;
      throw err;
    }
  };
  let n = 0;
  const pause = async () => {
    if (++n % YIELD_EVERY === 0 || readBlob) await new Promise((r) => setImmediate(r));
    readBlob = false;
  };
  if (!withRecord) {
    for (const uid of candidates) {
      await check(uid, null);
      await pause();
    }
  } else {
    for await (const [uids, records] of loadRecords(s, sel.id, candidates, needsMeta(criteria))) {
      for (const uid of uids) {
        const rec = records.get(uid);
        if (rec) await check(uid, rec);
        // The store is down, not one blob damaged: a result would be mostly guesswork.
        if (unreadable.storeDown) return { failed: unreadable.tagged(verb) };
        await pause();
      }
    }
  }
  if (unreadable.count > 0)
    s.untagged(`NO [${unreadable.code}] ${unreadable.names()} could not be read and ${unreadable.count === 1 ? 'is' : 'are'} left out of the result`);
  return { matched, unreadable: skipped };
}

export async function search(s: ImapSession, req: SearchRequest, tag: string): Promise<Tagged> {
  const sel = s.selected!;
  const verb = `${req.uid ? 'UID ' : ''}SEARCH`;
  const update = req.returnOptions?.includes('UPDATE') ?? false;
  if (update && isLiveTag(sel, tag)) throw bad(`Tag reuse: ${tag} names a live update context (RFC 5267 §4.3)`);
  const savedBefore = sel.savedSearch;
  const savedUids = new Set(sel.savedSearch);
  // RFC 5182 §2.1: when a SEARCH with SAVE fails, $ is empty, so that pipelined commands on $
  // (UID STORE $ +FLAGS (\Deleted), EXPUNGE) touch nothing rather than an older result.
  if (req.returnOptions?.includes('SAVE')) sel.savedSearch = [];
  const outcome = await matchMessages(s, req.criteria, req.charset, verb, savedUids);
  if (outcome.failed) return outcome.failed;
  const { matched } = outcome;
  const byModseq = usesModseq(req.criteria);

  const numbers = req.uid ? matched : matched.map((u) => sel.seqOf(u));
  const ret = req.returnOptions ?? (s.rev2 ? [] : null);
  // RFC 7162 §3.1.6: a search with MODSEQ tells the highest mod-sequence of the messages it
  // returns (none when nothing matched).
  const highest = (of: number[]) => of.reduce((m, u) => Math.max(m, sel.modseqOf(u)), 0);
  if (ret === null) {
    const modseq = byModseq && matched.length > 0 ? ` (MODSEQ ${highest(matched)})` : '';
    s.untagged(`SEARCH${numbers.map((n) => ' ' + n).join('')}${modseq}`);
    return ok(`${verb} completed`);
  }
  const line = esearchAnswer(sel, { tag, uid: req.uid, returnOptions: ret, partial: req.partial, results: matched, byModseq });
  if (line) s.untagged(line);
  if (update) openContext(s, { tag, uid: req.uid, charset: req.charset, criteria: req.criteria, savedBefore, results: matched });
  return ok(`${verb} completed`);
}
