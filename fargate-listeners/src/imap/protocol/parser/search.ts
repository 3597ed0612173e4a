/** SEARCH (RFC 9051 §6.4.4; RFC 3501 §6.4.4 keys), ESEARCH RETURN options (RFC 4731), SEARCHRES (RFC 5182). */
import { monthIndex } from '../encode.ts';
import { ArgReader, MAX_NESTING, ParseError } from '../reader.ts';
import type { DateOp, PartialRange, SearchKey, SearchRequest, SearchReturn } from '../requests.ts';
import { parseReturnOptions } from './search-return.ts';
import { parseSaveDateKey } from './search-savedate.ts';

/** date = date-text / DQUOTE date-text DQUOTE; date-text = 1*2DIGIT "-" Mon "-" 4DIGIT → yyyymmdd. */
function parseDate(r: ArgReader): number {
  const quoted = r.peek() === 0x22;
  const text = quoted ? r.quoted().toString('latin1') : r.atom('date');
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
  if (!m) throw new ParseError('Invalid date');
  const month = monthIndex(m[2]);
  const day = Number(m[1]);
  if (month < 0 || day < 1 || day > 31) throw new ParseError('Invalid date');
  return Number(m[3]) * 10000 + (month + 1) * 100 + day;
}

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};

const ADDRESS_KEYS: Record<string, 'from' | 'to' | 'cc' | 'bcc'> = { FROM: 'from', TO: 'to', CC: 'cc', BCC: 'bcc' };

const DATE_KEYS: Record<string, ['internal' | 'sent', DateOp]> = {
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'],
  SENTON: ['sent', 'on'],
  SENTSINCE: ['sent', 'since'],
};

/** Search keys one command may hold: evaluation costs keys × messages. */
export const MAX_SEARCH_KEYS = 1000;

function parseKey(r: ArgReader, depth: number, count: { n: number }): SearchKey {
  if (depth > MAX_NESTING) throw new ParseError('Search criteria nested too deeply');
  if (++count.n > MAX_SEARCH_KEYS) throw new ParseError('Too many search keys');
  const c = r.peek();
  if (c === 0x28) {
    r.expect('(');
    const keys = [parseKey(r, depth + 1, count)];
    while (!r.maybe(')')) {
      r.sp();
      keys.push(parseKey(r, depth + 1, count));
    }
    return keys.length === 1 ? keys[0] : { k: 'and', keys };
  }
  if ((c >= 0x30 && c <= 0x39) || c === 0x2a || c === 0x24) return { k: 'seq', set: r.sequenceSet() };
  const word = r.atom('search key').toUpperCase();
  const flag = FLAG_KEYS[word];
  if (flag) return { k: 'flag', flag: flag[0], present: flag[1] };
  const address = ADDRESS_KEYS[word];
  if (address) {
    r.sp();
    return { k: 'address', field: address, value: r.astring() };
  }
  const date = DATE_KEYS[word];
  if (date) {
    r.sp();
    return { k: 'date', field: date[0], op: date[1], day: parseDate(r) };
  }
  const saved = parseSaveDateKey(word, r, parseDate);
  if (saved) return saved;
  switch (word) {
    case 'ALL':
      return { k: 'all' };
    case 'NEW':
      return { k: 'new' };
    case 'OLD':
      return { k: 'old' };
    case 'RECENT':
      return { k: 'recent' };
    case 'KEYWORD':
    case 'UNKEYWORD': {
      r.sp();
      return { k: 'flag', flag: r.atom('keyword'), present: word === 'KEYWORD' };
    }
    case 'SUBJECT':
      r.sp();
      return { k: 'header', field: 'subject', value: r.astring() };
    case 'HEADER': {
      r.sp();
      const field = r.astring().toString('latin1').toLowerCase();
      r.sp();
      return { k: 'header', field, value: r.astring() };
    }
    case 'BODY':
    case 'TEXT': {
      r.sp();
      return { k: word === 'BODY' ? 'body' : 'text', value: r.astring() };
    }
    case 'LARGER':
    case 'SMALLER': {
      r.sp();
      return { k: 'size', op: word === 'LARGER' ? 'larger' : 'smaller', n: r.number64() };
    }
    case 'UID': {
      r.sp();
      return { k: 'uid', set: r.sequenceSet() };
    }
    case 'MODSEQ': {
      // MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer (RFC 7162 §3.1.5). One
      // mod-sequence is kept per message, at least that of any of its flags, so the entry
      // is checked for form and then compared against the message's.
      r.sp();
      if (r.peek() === 0x22) {
        const entry = r.quoted().toString('latin1');
        if (!/^\/flags\/\\?[\x21-\x7e]+$/i.test(entry)) throw new ParseError('MODSEQ entry name must be "/flags/<flag>"');
        r.sp();
        const type = r.atom('MODSEQ entry type').toLowerCase();
        if (type !== 'priv' && type !== 'shared' && type !== 'all') throw new ParseError('MODSEQ entry type must be priv, shared or all');
        r.sp();
      }
      return { k: 'modseq', modseq: r.modseq(true, 'MODSEQ mod-sequence') };
    }
    case 'EMAILID':
    case 'THREADID': {
      // RFC 8474 §6: objectid = 1*255(ALPHA / DIGIT / "_" / "-").
      r.sp();
      const id = r.atom('object id');
      if (!/^[A-Za-z0-9_-]{1,255}$/.test(id)) throw new ParseError('Invalid object id');
      return { k: 'objectid', field: word === 'EMAILID' ? 'email' : 'thread', id };
    }
    case 'OLDER':
    case 'YOUNGER': {
      // RFC 5032 §4: search-key =/ ( "OLDER" / "YOUNGER" ) SP nz-number.
      r.sp();
      return { k: 'within', op: word === 'OLDER' ? 'older' : 'younger', seconds: r.nzNumber() };
    }
    case 'NOT': {
      r.sp();
      return { k: 'not', key: parseKey(r, depth + 1, count) };
    }
    case 'OR': {
      r.sp();
      const a = parseKey(r, depth + 1, count);
      r.sp();
      const b = parseKey(r, depth + 1, count);
      return { k: 'or', a, b };
    }
    default:
      throw new ParseError(`Unknown search key ${word.slice(0, 40)}`);
  }
}

export function parseSearch(r: ArgReader, uid: boolean): SearchRequest {
  r.sp();
  let returnOptions: SearchReturn[] | null = null;
  let partial: PartialRange | undefined;
  if (r.maybeKeyword('RETURN ')) {
    ({ options: returnOptions, partial } = parseReturnOptions(r, 'SEARCH'));
    r.sp();
  }
  let charset: string | null = null;
  if (r.maybeKeyword('CHARSET ')) {
    charset = r.astring().toString('latin1');
    r.sp();
  }
  const count = { n: 0 };
  const keys = [parseKey(r, 0, count)];
  while (!r.atEnd()) {
    r.sp();
    keys.push(parseKey(r, 0, count));
  }
  const criteria = keys.length === 1 ? keys[0] : { k: 'and' as const, keys };
  return partial ? { name: 'SEARCH', uid, charset, returnOptions, partial, criteria } : { name: 'SEARCH', uid, charset, returnOptions, criteria };
}

/** search-criteria (RFC 9051 §6.4.4): one or more keys to the end of the command, ANDed. */
export function parseSearchCriteria(r: ArgReader): SearchKey {
  const count = { n: 0 };
  const keys = [parseKey(r, 0, count)];
  while (!r.atEnd()) {
    r.sp();
    keys.push(parseKey(r, 0, count));
  }
  return keys.length === 1 ? keys[0] : { k: 'and', keys };
}
