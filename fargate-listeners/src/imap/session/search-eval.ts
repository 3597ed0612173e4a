/**
 * Evaluating SEARCH keys (RFC 9051 §6.4.4, RFC 3501 §6.4.4) against one message.
 *
 * Costs differ by orders of magnitude, so data is loaded lazily and AND/OR evaluate their
 * cheap operands first: flags/UIDs/sequence numbers come from the view, sizes and dates from
 * the index record, header fields from the index's copy of the header block, BODY/TEXT from
 * the blob (transfer encoding and charset decoded). String matching is a case-insensitive
 * substring match on decoded text (MIME encoded-words in headers, RFC 2047).
 */
import libmime from 'libmime';
import { decode as decodeCharset } from 'libmime/lib/charset.js';
import { fieldValue, parseHeaderFields } from '#core/mime/header.ts';
import { envelopeFromHeader } from '#core/mime/envelope.ts';
import type { EnvelopeAddress, MimePart } from '#core/mime/types.ts';
import type { MessageRecord } from '#core/ports/mail-index.ts';
import { monthIndex } from '../protocol/encode.ts';
import { emailIdOf, threadIdOf } from '#listeners/jmap/ids.ts';
import type { SearchKey } from '../protocol/requests.ts';
import { decodeTransfer } from './body-sections.ts';
import { matchesSaveDate } from './save-date.ts';

export interface MessageFacts {
  seq: number;
  uid: number;
  flags: readonly string[];
  /** The message's mod-sequence as this session's view holds it (RFC 7162 §3.1.5). */
  modseq: number;
  recent: boolean;
  record: MessageRecord | null;
  /** Whole message bytes, loaded on first need. */
  blob: () => Promise<Buffer>;
  /**
   * Decoded, lower-cased header and body text, filled on first need and shared by every
   * TEXT/BODY key of one SEARCH (decoding is the expensive part; do it once per message).
   */
  text?: { header?: string; body?: string };
}

export interface SearchScope {
  savedUids: Set<number>;
  /** Lower-cased needle for each string key. */
  needles: Map<SearchKey, string>;
  /** For each UID key the UIDs it selects, for each sequence key the numbers (resolved once). */
  sets: Map<SearchKey, Set<number>>;
}

export function cost(key: SearchKey): number {
  switch (key.k) {
    case 'size':
    case 'objectid':
    case 'within':
    case 'savedate':
    case 'date':
      return key.k === 'date' && key.field === 'sent' ? 2 : 1;
    case 'header':
    case 'address':
      return 2;
    case 'body':
    case 'text':
      return 3;
    case 'not':
      return cost(key.key);
    case 'or':
      return Math.max(cost(key.a), cost(key.b));
    case 'and':
      return Math.max(0, ...key.keys.map(cost));
    default:
      return 0;
  }
}

export function needsRecord(key: SearchKey): boolean {
  return cost(key) > 0;
}

export function needsMeta(key: SearchKey): boolean {
  return cost(key) > 1;
}

/** Day number yyyymmdd of an epoch in UTC (internal dates are kept and shown in UTC). */
export function utcDay(epochMs: number): number {
  const d = new Date(epochMs);
  return d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}

/** The date of a Date: header as written, ignoring time and zone (RFC 9051 SENTBEFORE). */
export function sentDay(date: string | null): number | null {
  if (!date) return null;
  const m = /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})/.exec(date);
  if (!m) return null;
  const month = monthIndex(m[2]);
  if (month < 0) return null;
  let year = Number(m[3]);
  if (m[3].length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3].length === 3) year += 1900;
  return year * 10000 + (month + 1) * 100 + Number(m[1]);
}

function compareDay(day: number, op: 'before' | 'on' | 'since', target: number): boolean {
  if (op === 'before') return day < target;
  if (op === 'on') return day === target;
  return day >= target;
}

export function decodeWords(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

function charsetOf(part: MimePart): string {
  return part.params.find(([k]) => k === 'charset')?.[1] ?? 'us-ascii';
}

/** Decoded text of the text/* leaves (and encapsulated messages) of a MIME tree. */
export function bodyText(raw: Buffer, part: MimePart, depth = 0): string {
  if (depth > 20) return '';
  if (part.type === 'multipart') return part.children.map((c) => bodyText(raw, c, depth + 1)).join('\n');
  if (part.message) {
    const inner = part.message.body;
    return decodedHeaders(raw.subarray(inner.headerStart, inner.bodyStart)) + '\n' + bodyText(raw, inner, depth + 1);
  }
  if (part.type !== 'text') return '';
  const decoded = decodeTransfer(raw.subarray(part.bodyStart, part.bodyEnd), part.encoding) ?? raw.subarray(part.bodyStart, part.bodyEnd);
  try {
    return decodeCharset(decoded, charsetOf(part));
  } catch {
    return decoded.toString('latin1');
  }
}

function decodedHeaders(block: Buffer): string {
  return parseHeaderFields(block)
    .map((f) => `${f.name}: ${decodeWords(fieldValue(block, f))}`)
    .join('\n');
}

function headerBlock(facts: MessageFacts): Promise<Buffer> | Buffer {
  const meta = facts.record?.meta;
  if (meta && meta.header !== null) return Buffer.from(meta.header, 'latin1');
  return facts.blob().then((b) => b.subarray(0, meta ? meta.mime.bodyStart : b.length));
}

/**
 * The strings an address of the envelope is matched against (RFC 9051 §6.4.4 FROM/TO/CC/BCC
 * search "the envelope structure's" field): the decoded display name, the local part, the
 * domain, `local@domain` and `name <local@domain>`, lower-cased. Comments, quoting and folding
 * are gone, as the address parser removes them. A group's name is its start marker's mailbox.
 */
export function addressTexts(a: EnvelopeAddress): string[] {
  const out: string[] = [];
  const name = a.name !== null ? decodeWords(a.name) : null;
  if (name) out.push(name);
  if (a.mailbox) out.push(a.mailbox);
  if (a.host) out.push(a.host);
  if (a.mailbox && a.host) {
    out.push(`${a.mailbox}@${a.host}`);
    if (name) out.push(`${name} <${a.mailbox}@${a.host}>`);
  }
  return out.map((t) => t.toLowerCase());
}

async function envelopeAddresses(facts: MessageFacts, field: 'from' | 'to' | 'cc' | 'bcc'): Promise<EnvelopeAddress[] | null> {
  const envelope = facts.record?.meta?.envelope ?? envelopeFromHeader(await headerBlock(facts));
  return envelope[field];
}

export class Evaluator {
  private readonly scope: SearchScope;
  /** "Now" for OLDER/YOUNGER (RFC 5032), one instant for the whole command. */
  private readonly now = Date.now();
  constructor(scope: SearchScope) {
    this.scope = scope;
  }

  async matches(key: SearchKey, m: MessageFacts): Promise<boolean> {
    switch (key.k) {
      case 'all':
      case 'savedatesupported':
        return true;
      case 'flag': {
        // Keywords are atoms, so case-insensitive (RFC 3501 §9 note 3) as STORE treats them:
        // KEYWORD $work finds a message flagged $Work.
        const want = key.flag.toLowerCase();
        return m.flags.some((f) => f.toLowerCase() === want) === key.present;
      }
      case 'new':
        return m.recent && !m.flags.includes('\\Seen');
      case 'old':
        return !m.recent;
      case 'recent':
        return m.recent;
      case 'uid':
        return key.set.saved ? this.scope.savedUids.has(m.uid) : !!this.scope.sets.get(key)?.has(m.uid);
      case 'seq':
        return key.set.saved ? this.scope.savedUids.has(m.uid) : !!this.scope.sets.get(key)?.has(m.seq);
      case 'modseq':
        return m.modseq >= key.modseq;
      case 'size':
        if (!m.record) return false;
        return key.op === 'larger' ? m.record.size > key.n : m.record.size < key.n;
      case 'objectid': {
        if (!m.record) return false;
        const emailId = emailIdOf(m.record.blobKey);
        return (key.field === 'email' ? emailId : threadIdOf(m.record, emailId)) === key.id;
      }
      case 'within': {
        if (!m.record) return false;
        const age = this.now - m.record.internalDate;
        return key.op === 'older' ? age > key.seconds * 1000 : age <= key.seconds * 1000;
      }
      case 'savedate':
        return !!m.record && matchesSaveDate(m.record, key.op, key.day);
      case 'date': {
        if (!m.record) return false;
        if (key.field === 'internal') return compareDay(utcDay(m.record.internalDate), key.op, key.day);
        const day = sentDay(m.record.meta?.envelope.date ?? null);
        return day !== null && compareDay(day, key.op, key.day);
      }
      case 'header': {
        if (!m.record) return false;
        const block = await headerBlock(m);
        const needle = this.scope.needles.get(key) ?? '';
        for (const f of parseHeaderFields(block)) {
          if (f.key !== key.field) continue;
          // RFC 9051 §6.4.4: an empty string matches every message that has the field.
          if (needle === '') return true;
          if (decodeWords(fieldValue(block, f)).toLowerCase().includes(needle)) return true;
        }
        return false;
      }
      case 'address': {
        if (!m.record) return false;
        const list = await envelopeAddresses(m, key.field);
        if (list === null) return false;
        const needle = this.scope.needles.get(key) ?? '';
        // As for HEADER, an empty string matches every message that has the field.
        if (needle === '') return true;
        return list.some((a) => addressTexts(a).some((t) => t.includes(needle)));
      }
      case 'body':
      case 'text': {
        if (!m.record?.meta) return false;
        const needle = this.scope.needles.get(key) ?? '';
        const mime = m.record.meta.mime;
        const text = (m.text ??= {});
        if (key.k === 'text') {
          text.header ??= decodedHeaders((await m.blob()).subarray(0, mime.bodyStart)).toLowerCase();
          if (text.header.includes(needle)) return true;
        }
        text.body ??= bodyText(await m.blob(), mime).toLowerCase();
        return text.body.includes(needle);
      }
      case 'not':
        return !(await this.matches(key.key, m));
      case 'or':
        if (cost(key.a) <= cost(key.b)) return (await this.matches(key.a, m)) || this.matches(key.b, m);
        return (await this.matches(key.b, m)) || this.matches(key.a, m);
      case 'and': {
        const keys = [...key.keys].sort((a, b) => cost(a) - cost(b));
        for (const k of keys) if (!(await this.matches(k, m))) return false;
        return true;
      }
    }
  }
}
