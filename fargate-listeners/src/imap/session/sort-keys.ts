/**
 * What SORT (RFC 5256 §3) and SORT=DISPLAY (RFC 5957 §3) compare, worked out once per message
 * from its index record (internal date, size, envelope): nothing here reads a message body.
 *
 * - ARRIVAL: the internal date; SIZE: RFC822.SIZE.
 * - DATE: the Date: field's instant (its zone applied); the internal date when it has none
 *   or it cannot be parsed.
 * - FROM / TO / CC: the addr-mailbox (local part) of the first address, i;ascii-casemap.
 * - SUBJECT: the base subject (RFC 5256 §2.1), i;ascii-casemap.
 * - DISPLAYFROM / DISPLAYTO: the first address's decoded display name, or its addr-spec when
 *   the name is empty, i;unicode-casemap.
 * A missing value is the empty string (sorts first). Messages equal on every key keep their
 * mailbox order (sequence numbers ascending), whatever REVERSE says.
 */
import { baseSubject } from '#core/mime/base-subject.ts';
import type { EnvelopeAddress } from '#core/mime/types.ts';
import type { MessageRecord } from '#core/ports/mail-index.ts';
import type { SortCriterion, SortKeyName } from '../protocol/requests.ts';
import { decodeWords } from './search-eval.ts';

export interface SortItem {
  uid: number;
  seq: number;
  /** One value per criterion, in criterion order. */
  values: Array<string | number>;
}

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };
const ZONES: Record<string, number> = { UT: 0, GMT: 0, Z: 0, EST: -5, EDT: -4, CST: -6, CDT: -5, MST: -7, MDT: -6, PST: -8, PDT: -7 };

/**
 * The instant of an RFC 5322 §3.3 date-time (obsolete forms of §4.3 included: two- and
 * three-digit years, named zones, no seconds), in epoch ms, or null when it is not one.
 */
export function sentTime(date: string | null): number | null {
  if (!date) return null;
  const text = date.replace(/\([^()]*\)/g, ' ');
  const m = /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[A-Za-z]{1,5})?/.exec(text);
  if (!m) return null;
  const month = MONTHS[m[2].toLowerCase()];
  if (month === undefined) return null;
  let year = Number(m[3]);
  if (m[3].length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3].length === 3) year += 1900;
  const [day, hour, minute, second] = [Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  let offsetMinutes = 0;
  const zone = m[7];
  if (zone && /^[+-]\d{4}$/.test(zone)) {
    const sign = zone[0] === '-' ? -1 : 1;
    offsetMinutes = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5)));
  } else if (zone) offsetMinutes = (ZONES[zone.toUpperCase()] ?? 0) * 60; // RFC 5322 §4.3: other letters are -0000
  return Date.UTC(year, month, day, hour, minute, second) - offsetMinutes * 60_000;
}

/** The first address of a list that is a mailbox (group markers skipped). */
function firstMailbox(list: EnvelopeAddress[] | null | undefined): EnvelopeAddress | null {
  for (const a of list ?? []) if (a.host !== null && a.mailbox !== null) return a;
  return null;
}

/** i;ascii-casemap: ASCII letters upper-cased, everything else as it is. */
export function asciiCasemap(s: string): string {
  return s.replace(/[a-z]+/g, (w) => w.toUpperCase());
}

/** i;unicode-casemap (RFC 5051): title case, then decomposed (NFKD). */
function unicodeCasemap(s: string): string {
  return s.toUpperCase().normalize('NFKD');
}

function display(a: EnvelopeAddress | null): string {
  if (!a) return '';
  const name = a.name !== null ? decodeWords(a.name).trim() : '';
  return unicodeCasemap(name !== '' ? name : `${a.mailbox}@${a.host}`);
}

/** Whether a criterion needs the envelope (meta) or only the record's date and size. */
export function needsEnvelope(criteria: SortCriterion[]): boolean {
  return criteria.some((c) => c.key !== 'ARRIVAL' && c.key !== 'SIZE');
}

export function sortValue(key: SortKeyName, rec: MessageRecord): string | number {
  const env = rec.meta?.envelope;
  switch (key) {
    case 'ARRIVAL':
      return rec.internalDate;
    case 'SIZE':
      return rec.size;
    case 'DATE':
      return sentTime(env?.date ?? null) ?? rec.internalDate;
    case 'FROM':
    case 'TO':
    case 'CC':
      return asciiCasemap(firstMailbox(env?.[key === 'FROM' ? 'from' : key === 'TO' ? 'to' : 'cc'])?.mailbox ?? '');
    case 'SUBJECT':
      return baseSubject(env?.subject ?? null).key;
    case 'DISPLAYFROM':
      return display(firstMailbox(env?.from));
    case 'DISPLAYTO':
      return display(firstMailbox(env?.to));
  }
}

/** Compares by code point (octet order of UTF-8), not by UTF-16 unit. */
function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

export function compareValues(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return compareStrings(String(a), String(b));
}

/** Sorts in place by the criteria (REVERSE per criterion), then by sequence number. */
export function sortItems(items: SortItem[], criteria: SortCriterion[]): SortItem[] {
  return items.sort((x, y) => {
    for (let i = 0; i < criteria.length; i++) {
      const c = compareValues(x.values[i], y.values[i]);
      if (c !== 0) return criteria[i].reverse ? -c : c;
    }
    return x.seq - y.seq;
  });
}
