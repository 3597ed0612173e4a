/**
 * MIME content header fields: Content-Type (RFC 2045 §5.1), Content-Disposition
 * (RFC 2183), parameters with RFC 2231 continuations and charset'lang'value encoding,
 * Content-Language (RFC 3282).
 *
 * Inputs are unfolded field values as latin1 strings (one char per byte), so boundaries
 * can be turned back into the exact bytes that delimit body parts. Parsing is lenient:
 * comments are skipped, a missing ';' between parameters is tolerated, an unquoted value
 * may contain '=' or spaces (it then runs to the next ';'), an unterminated quoted string
 * runs to the end. Nothing here throws.
 */
import type { MimeDisposition } from './types.ts';
import { decodeHeaderBytes } from './header.ts';

/** RFC 2045 §5.1 token: US-ASCII except SP, CTLs and tspecials. */
function isTokenChar(c: number): boolean {
  if (c <= 0x20 || c >= 0x7f) return false;
  switch (c) {
    case 0x28: // (
    case 0x29: // )
    case 0x3c: // <
    case 0x3e: // >
    case 0x40: // @
    case 0x2c: // ,
    case 0x3b: // ;
    case 0x3a: // :
    case 0x5c: // \
    case 0x22: // "
    case 0x2f: // /
    case 0x5b: // [
    case 0x5d: // ]
    case 0x3f: // ?
    case 0x3d: // =
      return false;
    default:
      return true;
  }
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** Skips whitespace and (nested) comments, RFC 5322 §3.2.2 CFWS. */
export function skipCfws(s: string, i: number): number {
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (isWs(c)) {
      i++;
    } else if (c === 0x28) {
      i = skipComment(s, i);
    } else {
      break;
    }
  }
  return i;
}

/** `s[i]` is '('; returns the index after the matching ')' (or the end). */
function skipComment(s: string, i: number): number {
  const n = s.length;
  let depth = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) {
      i += 2;
      continue;
    }
    if (c === 0x28) depth++;
    else if (c === 0x29) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return n;
}

function readToken(s: string, i: number): number {
  while (i < s.length && isTokenChar(s.charCodeAt(i))) i++;
  return i;
}

/** `s[i]` is '"'; returns [unescaped content, index after the closing quote]. */
function readQuoted(s: string, i: number): [string, number] {
  const n = s.length;
  let out = '';
  i++;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return [out, i + 1];
    if (c === 0x5c && i + 1 < n) {
      out += s[i + 1];
      i += 2;
      continue;
    }
    out += s[i];
    i++;
  }
  return [out, n];
}

/** Index of the next ';' outside quoted strings and comments, or the end. */
function skipToSemicolon(s: string, i: number): number {
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 0x3b) return i;
    if (c === 0x22) i = readQuoted(s, i)[1];
    else if (c === 0x28) i = skipComment(s, i);
    else i++;
  }
  return n;
}

interface RawParam {
  name: string;
  value: string;
}

const MAX_PARAMS = 1000;

/** Parameter list `*(";" attribute "=" value)` starting at `i`, lenient (see file comment). */
function parseRawParams(s: string, i: number): RawParam[] {
  const out: RawParam[] = [];
  const n = s.length;
  while (i < n && out.length < MAX_PARAMS) {
    i = skipCfws(s, i);
    if (i >= n) break;
    if (s.charCodeAt(i) === 0x3b) {
      i++;
      continue;
    }
    const nameStart = i;
    i = readToken(s, i);
    const name = s.slice(nameStart, i).toLowerCase();
    i = skipCfws(s, i);
    if (name === '' || i >= n || s.charCodeAt(i) !== 0x3d) {
      // Not `attribute=`: skip this garbage up to the next parameter.
      const next = skipToSemicolon(s, i);
      i = next > nameStart ? next : nameStart + 1;
      continue;
    }
    i = skipCfws(s, i + 1);
    let value: string;
    if (i < n && s.charCodeAt(i) === 0x22) {
      [value, i] = readQuoted(s, i);
    } else {
      const vStart = i;
      while (i < n) {
        const c = s.charCodeAt(i);
        if (c === 0x3b || c === 0x28 || c === 0x22 || isWs(c)) break;
        i++;
      }
      value = s.slice(vStart, i);
      const after = skipCfws(s, i);
      if (after < n && s.charCodeAt(after) !== 0x3b && !looksLikeParamStart(s, after)) {
        // An unquoted value with spaces or parentheses in it (`name=my file (1).pdf`):
        // take everything up to the next ';'.
        const end = skipToSemicolon(s, i);
        value = s.slice(vStart, end).replace(/[ \t]+$/, '');
        i = end;
      }
    }
    out.push({ name, value });
  }
  return out;
}

/** True when `attribute=` starts at i (a parameter that lost its ';'). */
function looksLikeParamStart(s: string, i: number): boolean {
  const end = readToken(s, i);
  if (end === i) return false;
  const j = skipCfws(s, end);
  return j < s.length && s.charCodeAt(j) === 0x3d;
}

interface ParamGroup {
  simple: string | null;
  /** RFC 2231 pieces: section number, extended (percent-encoded) or not, raw value. */
  sections: Array<{ n: number; ext: boolean; value: string }>;
}

const MAX_SECTION = 999;

/**
 * Folds raw parameters into name/value pairs: RFC 2231 §3 continuations (`name*0`,
 * `name*1*`…) are joined in section order, §4 extended values (`charset'lang'%XX`) are
 * percent-decoded and converted from their charset. When a parameter is given both plainly
 * and in RFC 2231 form, the RFC 2231 value wins. Duplicates: the first one wins.
 */
function foldParams(raw: RawParam[]): { params: Array<[string, string]>; bytes: Map<string, Buffer> } {
  const groups = new Map<string, ParamGroup>();
  for (const { name, value } of raw) {
    let base = name;
    let ext = false;
    let section = -1;
    if (base.endsWith('*')) {
      ext = true;
      base = base.slice(0, -1);
    }
    const m = /^(.+)\*(\d{1,4})$/.exec(base);
    if (m) {
      base = m[1];
      section = Number(m[2]);
    } else if (ext) {
      section = 0;
    }
    if (base === '' || section > MAX_SECTION) continue;
    let g = groups.get(base);
    if (!g) {
      g = { simple: null, sections: [] };
      groups.set(base, g);
    }
    if (section < 0) {
      if (g.simple === null) g.simple = value;
    } else if (!g.sections.some((x) => x.n === section)) {
      g.sections.push({ n: section, ext, value });
    }
  }
  const params: Array<[string, string]> = [];
  const bytes = new Map<string, Buffer>();
  for (const [name, g] of groups) {
    if (g.sections.length > 0) {
      const [b, text] = decodeRfc2231(g.sections);
      params.push([name, text]);
      bytes.set(name, b);
    } else if (g.simple !== null) {
      const b = Buffer.from(g.simple, 'latin1');
      params.push([name, decodeHeaderBytes(b)]);
      bytes.set(name, b);
    }
  }
  return { params, bytes };
}

function decodeRfc2231(sections: ParamGroup['sections']): [Buffer, string] {
  sections.sort((a, b) => a.n - b.n);
  let charset = '';
  const chunks: Buffer[] = [];
  sections.forEach((sec, idx) => {
    let v = sec.value;
    if (sec.ext && idx === 0) {
      // charset'language'value (RFC 2231 §4); only the first section carries them.
      const q1 = v.indexOf("'");
      const q2 = q1 < 0 ? -1 : v.indexOf("'", q1 + 1);
      if (q2 >= 0) {
        charset = v.slice(0, q1).trim().toLowerCase();
        v = v.slice(q2 + 1);
      }
    }
    chunks.push(sec.ext ? percentDecode(v) : Buffer.from(v, 'latin1'));
  });
  const b = Buffer.concat(chunks);
  return [b, decodeCharset(b, charset)];
}

function percentDecode(v: string): Buffer {
  const out = Buffer.allocUnsafe(v.length);
  let o = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x25 && i + 2 < v.length && isHex(v.charCodeAt(i + 1)) && isHex(v.charCodeAt(i + 2))) {
      out[o++] = parseInt(v.slice(i + 1, i + 3), 16);
      i += 2;
    } else {
      out[o++] = c & 0xff;
    }
  }
  return out.subarray(0, o);
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** Bytes in a declared charset to text; unknown or absent charset: UTF-8 if valid, else latin1. */
function decodeCharset(b: Buffer, charset: string): string {
  if (charset !== '' && charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') {
    try {
      return new TextDecoder(charset).decode(b);
    } catch {
      // unknown label: fall through
    }
  }
  return decodeHeaderBytes(b);
}

export interface ContentType {
  /** Lower-case; empty when the field is syntactically invalid (RFC 2045 §5.2 default applies). */
  type: string;
  subtype: string;
  params: Array<[string, string]>;
  /** The exact bytes of the boundary parameter, or null. */
  boundary: Buffer | null;
}

/** Parses a Content-Type value. `type`/`subtype` are '' when the media type is invalid. */
export function parseContentType(value: string): ContentType {
  let i = skipCfws(value, 0);
  const tStart = i;
  i = readToken(value, i);
  let type = value.slice(tStart, i).toLowerCase();
  let subtype = '';
  i = skipCfws(value, i);
  if (i < value.length && value.charCodeAt(i) === 0x2f) {
    i = skipCfws(value, i + 1);
    const sStart = i;
    i = readToken(value, i);
    subtype = value.slice(sStart, i).toLowerCase();
  }
  if (type === '' || subtype === '') {
    type = '';
    subtype = '';
  }
  const { params, bytes } = foldParams(parseRawParams(value, i));
  const b = bytes.get('boundary');
  return { type, subtype, params, boundary: b !== undefined && b.length > 0 ? b : null };
}

/** Parses a Content-Disposition value (RFC 2183); null when there is no disposition type. */
export function parseDisposition(value: string): MimeDisposition | null {
  let i = skipCfws(value, 0);
  const tStart = i;
  i = readToken(value, i);
  const type = value.slice(tStart, i).toLowerCase();
  if (type === '') return null;
  return { type, params: foldParams(parseRawParams(value, i)).params };
}

/** Content-Language (RFC 3282): comma-separated language tags; null when none. */
export function parseLanguage(value: string): string[] | null {
  const out: string[] = [];
  let cur = '';
  let i = 0;
  const n = value.length;
  while (i < n) {
    const c = value.charCodeAt(i);
    if (c === 0x28) {
      i = skipComment(value, i);
      continue;
    }
    if (c === 0x2c) {
      if (cur !== '') out.push(cur);
      cur = '';
    } else if (!isWs(c)) {
      cur += value[i];
    }
    i++;
  }
  if (cur !== '') out.push(cur);
  return out.length > 0 ? out : null;
}

/**
 * Content-Transfer-Encoding (RFC 2045 §6.1), upper-cased. '7BIT' when absent, empty or not
 * a token (as Dovecot does for e.g. "?invalid"); trailing junk after the token (such as a
 * stray ';') is ignored.
 */
export function parseTransferEncoding(value: string | null): string {
  if (value === null) return '7BIT';
  const i = skipCfws(value, 0);
  const j = readToken(value, i);
  const k = skipCfws(value, j);
  if (j === i || (k < value.length && value.charCodeAt(k) !== 0x3b)) return '7BIT';
  return value.slice(i, j).toUpperCase();
}
