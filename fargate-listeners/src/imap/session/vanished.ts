/**
 * Which UIDs a QRESYNC client hears of as `VANISHED (EARLIER)` (RFC 7162 §3.2.5.1 for SELECT
 * … (QRESYNC …), §3.2.6 for UID FETCH … (CHANGEDSINCE n VANISHED)).
 *
 * From the index's change log (MailIndex.changesSince) when it reaches back to the client's
 * mod-sequence: exactly the UIDs expunged since. When it does not (tombstones trimmed, see
 * core/ports/mail-index.ts), every UID below UIDNEXT that the mailbox no longer holds: a
 * superset, which §3.2.5.1 allows ("the server MAY … include UIDs that … the client doesn't
 * know about"; a client ignores UIDs it never had). Either way the answer is restricted to the
 * UIDs the client asked about, and never names a message still in the session's view (that
 * one is told by a plain VANISHED when its turn comes, rule 4 of session.ts).
 *
 * Everything is kept as ranges, so a sparse mailbox (UIDNEXT 10^6, ten messages) never
 * expands into a million numbers.
 */
import type { MailIndex } from '#core/ports/mail-index.ts';
import { lowerBound, type SeqRange } from '../protocol/sequence-set.ts';
import type { SelectedMailbox } from './selected-mailbox.ts';

/** Ascending, disjoint, inclusive [from, to] spans. */
export type UidRanges = Array<[number, number]>;

/** A UID set as sent, as ranges within [1, maxUid]; `*` (0) stands for maxUid. */
export function normalise(ranges: SeqRange[], maxUid: number): UidRanges {
  const spans: UidRanges = [];
  for (const [a0, b0] of ranges) {
    const a = a0 === 0 ? maxUid : a0;
    const b = b0 === 0 ? maxUid : b0;
    const lo = Math.max(1, Math.min(a, b));
    const hi = Math.min(maxUid, Math.max(a, b));
    if (lo <= hi) spans.push([lo, hi]);
  }
  return merge(spans);
}

function merge(spans: UidRanges): UidRanges {
  spans.sort((x, y) => x[0] - y[0]);
  const out: UidRanges = [];
  for (const [a, b] of spans) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** Ascending UIDs as ranges. */
export function fromList(uids: readonly number[]): UidRanges {
  return merge(uids.map((u): [number, number] => [u, u]));
}

/** The spans of [1, uidNext - 1] holding none of `uids` (ascending). */
export function gaps(uids: ArrayLike<number>, uidNext: number): UidRanges {
  const out: UidRanges = [];
  let next = 1;
  for (let i = 0; i < uids.length; i++) {
    const u = uids[i];
    if (u > next) out.push([next, u - 1]);
    next = u + 1;
  }
  if (next <= uidNext - 1) out.push([next, uidNext - 1]);
  return out;
}

export function intersect(a: UidRanges, b: UidRanges): UidRanges {
  const out: UidRanges = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i][0], b[j][0]);
    const hi = Math.min(a[i][1], b[j][1]);
    if (lo <= hi) out.push([lo, hi]);
    if (a[i][1] < b[j][1]) i++;
    else j++;
  }
  return out;
}

/** `a:b,c` (RFC 9051 sequence-set). */
export function formatRanges(r: UidRanges): string {
  return r.map(([a, b]) => (a === b ? String(a) : `${a}:${b}`)).join(',');
}

/** Drops from `r` the UIDs the view still holds. */
function withoutView(r: UidRanges, view: ArrayLike<number>): UidRanges {
  const out: UidRanges = [];
  for (const [a, b] of r) {
    let from = a;
    let i = lowerBound(view, a);
    while (i < view.length && view[i] <= b) {
      if (view[i] > from) out.push([from, view[i] - 1]);
      from = view[i] + 1;
      i++;
    }
    if (from <= b) out.push([from, b]);
  }
  return out;
}

/**
 * The UIDs within `asked` expunged after mod-sequence `since` (see the header), or [] when
 * nothing can have changed since.
 */
export async function vanishedSince(index: MailIndex, sel: SelectedMailbox, since: number, asked: UidRanges): Promise<UidRanges> {
  if (since >= sel.highestModseq || asked.length === 0) return [];
  const changes = await index.changesSince(sel.user, sel.id, since);
  const gone = changes?.complete ? fromList(changes.expunged) : gaps(sel.uids, sel.uidNext);
  return withoutView(intersect(gone, asked), sel.uids);
}
