/**
 * SAVEDATE (RFC 8514): the save date of a message — when it was put into the mailbox it is in
 * now (MessageRecord.saveDate, stamped by the index at delivery, APPEND, COPY and MOVE).
 *
 * Every mailbox here supports the attribute, so FETCH SAVEDATE never answers NIL (RFC 8514
 * §4.2 keeps NIL for storage without the attribute) and SAVEDATESUPPORTED matches every
 * message (§4.3). A record written before the index kept save dates has none; for it the
 * internal date stands in — the time the message arrived as far as the index knows, which is
 * what §4.3 itself prescribes for searches where the save date is not stored.
 */
import type { MessageRecord } from '#core/ports/mail-index.ts';
import type { DateOp } from '../protocol/requests.ts';
import { utcDay } from './search-eval.ts';

export function saveDateOf(rec: MessageRecord): number {
  return rec.saveDate ?? rec.internalDate;
}

/**
 * SAVEDBEFORE / SAVEDON / SAVEDSINCE (RFC 8514 §4.3): the save date's day, "disregarding time
 * and timezone" (UTC, as for the internal date's BEFORE/ON/SINCE), against `day` (yyyymmdd).
 */
export function matchesSaveDate(rec: MessageRecord, op: DateOp, day: number): boolean {
  const saved = utcDay(saveDateOf(rec));
  if (op === 'before') return saved < day;
  if (op === 'on') return saved === day;
  return saved >= day;
}
