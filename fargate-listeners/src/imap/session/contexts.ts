/**
 * CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4): searches made with RETURN (UPDATE) stay alive
 * while the mailbox is selected, and the client hears how their results change, as `* ESEARCH
 * (TAG "…") [UID] ADDTO (…)` / `REMOVEFROM (…)` (§4.3.3, §4.3.4), until CANCELUPDATE (§4.3.5).
 *
 * How. A context keeps its search program and its current result (the UIDs; for SORT also in
 * sort order, with each message's sort values). The view (selected-mailbox.ts) marks every
 * message whose flags or mod-sequence it learns changed, by this session or another, and every
 * new message (`contextTouched`). Whenever the view's changes are told (flushWithContexts: before
 * and after every command, in IDLE), the marked messages are searched again, each context's
 * program on just those messages (Appendix B: "test for matches against all current UPDATE
 * context search programs"), and the difference is sent; expunged messages leave every result.
 * A REMOVEFROM goes out before the view's EXPUNGE/VANISHED, so its sequence numbers are still
 * valid (§4.3.4), an ADDTO after EXISTS (§4.3.3). Sort keys (arrival, dates, size, addresses,
 * subject) never change for a message, so a SORT context only gains and loses members; ADDTO and
 * REMOVEFROM carry their positions in sort order (SEARCH contexts use position 0, §4.3.3).
 *
 * Sequence numbers and `$` in the search program are taken as the messages they meant when the
 * command ran (§4.3: "evaluated at the time the command is received"). Searches with OLDER or
 * YOUNGER (RFC 5032), whose results change with the clock and no event, get no updates
 * (`NO [NOUPDATE]`, §4.3.1), as do searches beyond the per-mailbox limits below.
 */
import { quote } from '../protocol/encode.ts';
import type { SearchKey, SortCriterion } from '../protocol/requests.ts';
import { clampedSequenceNumbers, formatNumberSet, type SeqRange } from '../protocol/sequence-set.ts';
import { matchMessages } from './commands/search.ts';
import { loadRecords } from './message-loader.ts';
import type { SelectedMailbox } from './selected-mailbox.ts';
import type { ImapSession } from './session.ts';
import { compareValues, needsEnvelope, sortValue } from './sort-keys.ts';

/** Live SEARCH contexts per selected mailbox (RFC 5267 §4.3.1: at least one). */
export const MAX_SEARCH_CONTEXTS = 8;
/** Live SORT contexts per selected mailbox; they also hold every member's sort values. */
export const MAX_SORT_CONTEXTS = 4;

type SortValues = Array<string | number>;

export interface UpdateContext {
  tag: string;
  uid: boolean;
  charset: string | null;
  /** The search program, its sequence-number and `$` keys fixed to the UIDs they meant. */
  criteria: SearchKey;
  /** The current result. */
  members: Set<number>;
  /** SORT contexts: the sort criteria, the result in sort order and each member's sort values. */
  sort: { criteria: SortCriterion[]; order: number[]; values: Map<number, SortValues> } | null;
}

/** Ranges naming exactly these UIDs. */
function uidRanges(uids: number[]): SeqRange[] {
  const sorted = [...uids].sort((a, b) => a - b);
  const ranges: SeqRange[] = [];
  for (const u of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && last[1] + 1 === u) last[1] = u;
    else if (!last || last[1] !== u) ranges.push([u, u]);
  }
  return ranges;
}

/** The program with sequence-number and `$` keys replaced by the UIDs they select now. */
function fixProgram(key: SearchKey, sel: SelectedMailbox, saved: number[]): SearchKey {
  switch (key.k) {
    case 'seq': {
      if (key.set.saved) return { k: 'uid', set: { saved: false, ranges: uidRanges(saved) } };
      // As the search itself took them: numbers past the last message select nothing.
      const seqs = clampedSequenceNumbers(key.set.ranges, sel.uids.length);
      return { k: 'uid', set: { saved: false, ranges: uidRanges(seqs.map((n) => sel.uids[n - 1])) } };
    }
    case 'uid':
      return key.set.saved ? { k: 'uid', set: { saved: false, ranges: uidRanges(saved) } } : key;
    case 'not':
      return { k: 'not', key: fixProgram(key.key, sel, saved) };
    case 'or':
      return { k: 'or', a: fixProgram(key.a, sel, saved), b: fixProgram(key.b, sel, saved) };
    case 'and':
      return { k: 'and', keys: key.keys.map((k) => fixProgram(k, sel, saved)) };
    default:
      return key;
  }
}

function usesWithin(key: SearchKey): boolean {
  switch (key.k) {
    case 'within':
      return true;
    case 'not':
      return usesWithin(key.key);
    case 'or':
      return usesWithin(key.a) || usesWithin(key.b);
    case 'and':
      return key.keys.some(usesWithin);
    default:
      return false;
  }
}

/** RFC 5267 §4.3: a second UPDATE under the tag of a live context is BAD. */
export function isLiveTag(sel: SelectedMailbox, tag: string): boolean {
  return sel.contexts.some((c) => c.tag === tag);
}

/**
 * Starts a context after a successful SEARCH/SORT with RETURN (UPDATE), or answers
 * `* NO [NOUPDATE "tag"]` (§4.3.1; the command's other results are already given). `results`
 * are the matching UIDs, in sort order for SORT with `values` their sort values.
 */
export function openContext(
  s: ImapSession,
  init: { tag: string; uid: boolean; charset: string | null; criteria: SearchKey; savedBefore: number[]; results: number[] },
  sort?: { criteria: SortCriterion[]; values: Map<number, SortValues> },
): void {
  const sel = s.selected!;
  const refuse = (why: string) => s.untagged(`NO [NOUPDATE ${quote(init.tag)}] ${why}`);
  if (usesWithin(init.criteria)) return refuse('OLDER and YOUNGER results change with time; no updates');
  const same = sel.contexts.filter((c) => !!c.sort === !!sort).length;
  if (same >= (sort ? MAX_SORT_CONTEXTS : MAX_SEARCH_CONTEXTS))
    return refuse(`Too many contexts (at most ${sort ? `${MAX_SORT_CONTEXTS} SORT` : `${MAX_SEARCH_CONTEXTS} SEARCH`} updates at a time); CANCELUPDATE one`);
  sel.contexts.push({
    tag: init.tag,
    uid: init.uid,
    charset: init.charset,
    criteria: fixProgram(init.criteria, sel, init.savedBefore),
    members: new Set(init.results),
    sort: sort ? { criteria: sort.criteria, order: [...init.results], values: sort.values } : null,
  });
  sel.contextTouched ??= new Set();
  s.log.debug('update context opened', { tag: init.tag, sort: !!sort, members: init.results.length });
}

/** CANCELUPDATE (§4.3.5): ends the named contexts; NO, ending none, when a tag names none. */
export function cancelContexts(sel: SelectedMailbox, tags: string[]): string | null {
  const unknown = tags.find((t) => !isLiveTag(sel, t));
  if (unknown !== undefined) return unknown;
  const drop = new Set(tags);
  sel.contexts = sel.contexts.filter((c) => !drop.has(c.tag));
  if (sel.contexts.length === 0) sel.contextTouched = null;
  return null;
}

/** Consecutive runs of positions, each with the UIDs at them: [[position, uids], …]. */
function runs(entries: Array<[number, number]>): Array<[number, number[]]> {
  const out: Array<[number, number[]]> = [];
  for (const [pos, uid] of entries) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1].length === pos) last[1].push(uid);
    else out.push([pos, [uid]]);
  }
  return out;
}

function compareSorted(criteria: SortCriterion[], a: SortValues, ua: number, b: SortValues, ub: number): number {
  for (let i = 0; i < criteria.length; i++) {
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return criteria[i].reverse ? -c : c;
  }
  return ua - ub;
}

/**
 * The view's pending changes as untagged lines (SelectedMailbox.flushUpdates), with the live
 * contexts' REMOVEFROM before and ADDTO after them. Everything that reads the store (the
 * searches, the sort values of new members) happens first, before the view or a context
 * changes: when a read fails, the error goes up with nothing lost, and the same messages are
 * searched again next time.
 */
export async function flushWithContexts(s: ImapSession, sel: SelectedMailbox, allowExpunge: boolean): Promise<string[]> {
  if (sel.contexts.length === 0) return sel.flushUpdates(allowExpunge, s.rev2, s);
  const touched = sel.contextTouched ?? new Set<number>();
  const candidates = [...touched].filter((u) => sel.seqOf(u) > 0 && !sel.pendingExpunge.has(u)).sort((a, b) => a - b);
  const gone = [...sel.pendingExpunge];
  const plans: Array<{ ctx: UpdateContext; removed: number[]; added: number[]; values: Map<number, SortValues> }> = [];
  let retry = false;
  for (const ctx of sel.contexts) {
    let matched = new Set<number>();
    if (candidates.length > 0) {
      const outcome = await matchMessages(s, ctx.criteria, ctx.charset, 'update', new Set(), undefined, candidates);
      if (outcome.failed) {
        // The store is down: these messages are searched again at the next flush; the
        // expunged ones leave the result now (they are gone from the view at this flush).
        retry = true;
        plans.push({ ctx, removed: gone.filter((u) => ctx.members.has(u)), added: [], values: new Map() });
        continue;
      }
      matched = new Set(outcome.matched);
      // A message whose blob could not be read (TEXT, BODY) is neither in nor out: it keeps
      // its place (the untagged NO has told the client of it).
      for (const u of outcome.unreadable) if (ctx.members.has(u)) matched.add(u);
    }
    const removed = [...gone, ...candidates.filter((u) => !matched.has(u))].filter((u) => ctx.members.has(u));
    const added = [...matched].filter((u) => !ctx.members.has(u));
    const values = ctx.sort && added.length > 0 ? await sortValuesOf(s, sel, ctx.sort.criteria, added) : new Map<number, SortValues>();
    plans.push({ ctx, removed, added: ctx.sort ? added.filter((u) => values.has(u)) : added, values });
  }
  if (!retry) touched.clear();
  const lines: string[] = [];
  for (const p of plans) if (p.removed.length > 0) lines.push(removeLine(sel, p.ctx, p.removed));
  lines.push(...sel.flushUpdates(allowExpunge, s.rev2, s));
  for (const p of plans) if (p.added.length > 0) lines.push(addLine(sel, p.ctx, p.added, p.values));
  return lines;
}

/** The sort values of messages (expunged ones, no longer in the index, left out). */
async function sortValuesOf(s: ImapSession, sel: SelectedMailbox, criteria: SortCriterion[], uids: number[]): Promise<Map<number, SortValues>> {
  const values = new Map<number, SortValues>();
  for await (const [got, records] of loadRecords(s, sel.id, uids, needsEnvelope(criteria) ? 'structure' : false)) {
    for (const uid of got) {
      const rec = records.get(uid);
      if (rec)
        values.set(
          uid,
          criteria.map((c) => sortValue(c.key, rec)),
        );
    }
  }
  return values;
}

function head(ctx: UpdateContext): string {
  return `* ESEARCH (TAG ${quote(ctx.tag)})${ctx.uid ? ' UID' : ''}`;
}

/** §4.3.4: REMOVEFROM, sent while the removed messages still have their sequence numbers. */
function removeLine(sel: SelectedMailbox, ctx: UpdateContext, removed: number[]): string {
  const num = (u: number) => (ctx.uid ? u : sel.seqOf(u));
  for (const u of removed) ctx.members.delete(u);
  if (!ctx.sort) return `${head(ctx)} REMOVEFROM (0 ${formatNumberSet(removed.map(num).sort((a, b) => a - b))})\r\n`;
  const gone = new Set(removed);
  const order = ctx.sort.order;
  const at: Array<[number, number]> = [];
  order.forEach((u, i) => gone.has(u) && at.push([i + 1, u]));
  ctx.sort.order = order.filter((u) => !gone.has(u));
  for (const u of removed) ctx.sort.values.delete(u);
  // Last run first, so that each position is still the one it names when the client gets to it.
  const pairs = runs(at)
    .reverse()
    .map(([pos, uids]) => `${pos} ${formatNumberSet(uids.map(num))}`);
  return `${head(ctx)} REMOVEFROM (${pairs.join(' ')})\r\n`;
}

/** §4.3.3: ADDTO, after EXISTS; for SORT at each new member's position in sort order. */
function addLine(sel: SelectedMailbox, ctx: UpdateContext, added: number[], values: Map<number, SortValues>): string {
  const num = (u: number) => (ctx.uid ? u : sel.seqOf(u));
  if (!ctx.sort) {
    for (const u of added) ctx.members.add(u);
    return `${head(ctx)} ADDTO (0 ${formatNumberSet(added.map(num).sort((a, b) => a - b))})\r\n`;
  }
  const sort = ctx.sort;
  const fresh = added.map((uid) => ({ uid, values: values.get(uid)! }));
  fresh.sort((a, b) => compareSorted(sort.criteria, a.values, a.uid, b.values, b.uid));
  const at: Array<[number, number]> = [];
  for (const f of fresh) {
    // Binary search for the first member that sorts after the new one.
    let lo = 0;
    let hi = sort.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const u = sort.order[mid];
      if (compareSorted(sort.criteria, sort.values.get(u)!, u, f.values, f.uid) < 0) lo = mid + 1;
      else hi = mid;
    }
    sort.order.splice(lo, 0, f.uid);
    sort.values.set(f.uid, f.values);
    ctx.members.add(f.uid);
    at.push([lo + 1, f.uid]);
  }
  // In ascending final position: each insertion then lands where it says (§4.3.3 "processed in order").
  at.sort((a, b) => a[0] - b[0]);
  const pairs = runs(at).map(([pos, uids]) => `${pos} ${formatNumberSet(uids.map(num))}`);
  return `${head(ctx)} ADDTO (${pairs.join(' ')})\r\n`;
}
