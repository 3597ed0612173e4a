/**
 * RFC 3501 §7.4.2 ENVELOPE from a header block.
 *
 * - date, subject, in-reply-to, message-id: the raw value of the first occurrence of the
 *   field, unfolded and trimmed of SP/HTAB, not decoded (encoded-words stay as they are);
 *   null when the field is absent, '' when present but empty.
 * - address lists: parsed per RFC 5322 §3.4 (with the obsolete syntax of §4.4), best
 *   effort on garbage; null when the field is absent or yields no address.
 * - Sender and Reply-To: "If the Sender or Reply-To lines are absent in the [RFC-2822]
 *   header, or are present but empty, the server sets the corresponding member of the
 *   envelope to be the same value as the from member" (RFC 3501 §7.4.2).
 * - 8-bit bytes in a value: UTF-8 when valid (RFC 6532), else latin1 (header.ts).
 */
import type { Envelope, EnvelopeAddress } from './types.ts';
import { decodeHeaderBytes, fieldValue, firstField, parseHeaderFields, trimWsp, unfold } from './header.ts';
import type { HeaderField } from './header.ts';

/** The envelope of the header block at the start of `header` (it may be a whole message). */
export function envelopeFromHeader(header: Buffer): Envelope {
  return envelopeFromFields(header, parseHeaderFields(header, 0, header.length));
}

/** The envelope from already split fields of `buf`. */
export function envelopeFromFields(buf: Buffer, fields: readonly HeaderField[]): Envelope {
  const text = (name: string): string | null => {
    const f = firstField(fields, name);
    return f === undefined ? null : fieldValue(buf, f);
  };
  const addresses = (name: string): EnvelopeAddress[] | null => {
    const f = firstField(fields, name);
    if (f === undefined) return null;
    const list = parseAddressList(unfold(decodeHeaderBytes(buf.subarray(f.valueStart, f.end))));
    return list.length > 0 ? list : null;
  };
  const from = addresses('from');
  return {
    date: text('date'),
    subject: text('subject'),
    from,
    sender: addresses('sender') ?? from,
    replyTo: addresses('reply-to') ?? from,
    to: addresses('to'),
    cc: addresses('cc'),
    bcc: addresses('bcc'),
    inReplyTo: text('in-reply-to'),
    messageId: text('message-id'),
  };
}

// ---------------------------------------------------------------------------------------
// Address lists (RFC 5322 §3.4, §4.4)

type TokKind = 'atom' | 'qs' | 'dlit' | 'comment' | 'special';

interface Tok {
  kind: TokKind;
  /** atom/special: the text; qs: unescaped content; dlit: raw "[...]"; comment: content. */
  text: string;
  /** qs: the raw quoted form (quotes and escapes kept). */
  raw: string;
  /** Whitespace or a comment came before this token. */
  spaced: boolean;
}

const SPECIALS = '<>@,;:';
const MAX_TOKENS = 100_000;

function tokenize(s: string): Tok[] {
  const toks: Tok[] = [];
  const n = s.length;
  let i = 0;
  let spaced = false;
  while (i < n && toks.length < MAX_TOKENS) {
    const ch = s[i];
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
      spaced = true;
      i++;
      continue;
    }
    if (ch === '(') {
      let depth = 0;
      let text = '';
      while (i < n) {
        const d = s[i];
        if (d === '\\' && i + 1 < n) {
          if (depth > 0) text += s[i + 1];
          i += 2;
          continue;
        }
        if (d === '(') {
          if (depth > 0) text += d;
          depth++;
        } else if (d === ')') {
          depth--;
          if (depth === 0) {
            i++;
            break;
          }
          text += d;
        } else {
          text += d;
        }
        i++;
      }
      toks.push({ kind: 'comment', text, raw: '', spaced });
      spaced = true;
      continue;
    }
    if (ch === '"') {
      let text = '';
      const start = i;
      i++;
      while (i < n && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < n) {
          text += s[i + 1];
          i += 2;
          continue;
        }
        text += s[i];
        i++;
      }
      i = Math.min(n, i + 1);
      toks.push({ kind: 'qs', text, raw: s.slice(start, i), spaced });
      spaced = false;
      continue;
    }
    if (ch === '[') {
      const end = s.indexOf(']', i);
      const stop = end < 0 ? n : end + 1;
      toks.push({ kind: 'dlit', text: s.slice(i, stop), raw: '', spaced });
      i = stop;
      spaced = false;
      continue;
    }
    if (SPECIALS.includes(ch)) {
      toks.push({ kind: 'special', text: ch, raw: '', spaced });
      i++;
      spaced = false;
      continue;
    }
    // atom (dots included, so dot-atoms and obs-phrase "Q." stay whole)
    const start = i;
    while (i < n) {
      const d = s.charCodeAt(i);
      if (d === 0x20 || d === 0x09 || d === 0x0d || d === 0x0a) break;
      const dc = s[i];
      if (dc === '(' || dc === '"' || dc === '[' || SPECIALS.includes(dc)) break;
      i++;
    }
    toks.push({ kind: 'atom', text: s.slice(start, i), raw: '', spaced });
    spaced = false;
  }
  return toks;
}

function isSpecial(t: Tok | undefined, ch: string): boolean {
  return t !== undefined && t.kind === 'special' && t.text === ch;
}

/**
 * A display name or group name: quoted strings unquoted, comments dropped, encoded-words
 * kept as-is, words separated by one space where the source had whitespace between them.
 */
function phraseText(toks: Tok[], a: number, b: number): string | null {
  let out = '';
  for (let k = a; k < b; k++) {
    const t = toks[k];
    if (t.kind === 'comment') continue;
    if (out !== '' && t.spaced) out += ' ';
    out += t.text;
  }
  out = trimWsp(out);
  return out === '' ? null : out;
}

/** Local part or domain: tokens glued without CFWS; quoted strings keep their quotes. */
function glue(toks: Tok[], a: number, b: number): string {
  let out = '';
  for (let k = a; k < b; k++) {
    const t = toks[k];
    if (t.kind === 'comment') continue;
    out += t.kind === 'qs' ? t.raw : t.text;
  }
  return out;
}

/** The last comment in [a, b), trimmed, for `addr-spec (Full Name)`. */
function commentName(toks: Tok[], a: number, b: number): string | null {
  for (let k = b - 1; k >= a; k--) {
    if (toks[k].kind === 'comment') {
      const v = trimWsp(toks[k].text.replace(/\s+/g, ' '));
      if (v !== '') return v;
    }
  }
  return null;
}

function hasContent(toks: Tok[], a: number, b: number): boolean {
  for (let k = a; k < b; k++) if (toks[k].kind !== 'comment') return true;
  return false;
}

/**
 * Splits an addr-spec `local@domain` (tokens [a, b)) at its first '@'. A missing domain
 * gives host '' (not NIL: a NIL host marks a group in RFC 3501); extra '@'s stay in the
 * domain.
 */
function addrSpec(toks: Tok[], a: number, b: number): { mailbox: string; host: string } {
  let at = -1;
  for (let k = a; k < b; k++) {
    if (isSpecial(toks[k], '@')) {
      at = k;
      break;
    }
  }
  if (at < 0) return { mailbox: glue(toks, a, b), host: '' };
  return { mailbox: glue(toks, a, at), host: glue(toks, at + 1, b) };
}

/** One mailbox in tokens [a, b) (no top-level ',' inside), or null when empty. */
function mailbox(toks: Tok[], a: number, b: number): EnvelopeAddress | null {
  let lt = -1;
  for (let k = a; k < b; k++) {
    if (isSpecial(toks[k], '<')) {
      lt = k;
      break;
    }
  }
  if (lt < 0) {
    if (!hasContent(toks, a, b)) return null;
    const { mailbox: mb, host } = addrSpec(toks, a, b);
    return { name: commentName(toks, a, b), adl: null, mailbox: mb, host };
  }
  const name = phraseText(toks, a, lt);
  let gt = b;
  for (let k = lt + 1; k < b; k++) {
    if (isSpecial(toks[k], '>')) {
      gt = k;
      break;
    }
  }
  let start = lt + 1;
  let adl: string | null = null;
  // obs-route: "@a.example,@b.example:" before the addr-spec (RFC 5322 §4.4).
  const first = toks.slice(start, gt).find((t) => t.kind !== 'comment');
  if (first !== undefined && isSpecial(first, '@')) {
    for (let k = start; k < gt; k++) {
      if (isSpecial(toks[k], ':')) {
        adl = glue(toks, start, k);
        start = k + 1;
        break;
      }
    }
  }
  if (!hasContent(toks, start, gt)) {
    // "<>" or "Name <>": keep the name when there is one.
    if (name === null && adl === null) return null;
    return { name, adl, mailbox: '', host: '' };
  }
  const { mailbox: mb, host } = addrSpec(toks, start, gt);
  return { name, adl, mailbox: mb, host };
}

/** End of the mailbox starting at `a`: the next ',' (or ';' in a group) outside <>. */
function mailboxEnd(toks: Tok[], a: number, inGroup: boolean): number {
  let angle = false;
  for (let k = a; k < toks.length; k++) {
    const t = toks[k];
    if (t.kind !== 'special') continue;
    if (t.text === '<') angle = true;
    else if (t.text === '>') angle = false;
    else if (!angle && (t.text === ',' || (inGroup && t.text === ';'))) return k;
  }
  return toks.length;
}

/**
 * Parses an address-list (RFC 5322 §3.4) into RFC 3501 address structures. Groups become
 * a start marker {mailbox: name, host: null} … an end marker {mailbox: null, host: null}.
 * Never throws; unparseable pieces are skipped or kept best effort.
 */
export function parseAddressList(value: string): EnvelopeAddress[] {
  const toks = tokenize(value);
  const out: EnvelopeAddress[] = [];
  const n = toks.length;
  let i = 0;
  while (i < n) {
    if (isSpecial(toks[i], ',') || isSpecial(toks[i], ';') || isSpecial(toks[i], '>')) {
      i++;
      continue;
    }
    // A group is `display-name ":" [group-list] ";"`; look for ':' before any '<' ',' ';'.
    let j = i;
    while (j < n && !(toks[j].kind === 'special' && '<,;:'.includes(toks[j].text))) j++;
    if (j < n && isSpecial(toks[j], ':')) {
      out.push({ name: null, adl: null, mailbox: phraseText(toks, i, j) ?? '', host: null });
      i = j + 1;
      while (i < n && !isSpecial(toks[i], ';')) {
        if (isSpecial(toks[i], ',') || isSpecial(toks[i], ':')) {
          i++;
          continue;
        }
        const end = mailboxEnd(toks, i, true);
        const m = mailbox(toks, i, end);
        if (m !== null) out.push(m);
        i = end;
      }
      if (i < n) i++; // the ';'
      out.push({ name: null, adl: null, mailbox: null, host: null });
      continue;
    }
    const end = mailboxEnd(toks, i, false);
    const m = mailbox(toks, i, end);
    if (m !== null) out.push(m);
    i = end > i ? end : i + 1;
  }
  return out;
}
