/**
 * The token half of the tokenizer: a cursor over one received command (text and literal
 * parts from receiver.ts) that reads the RFC 9051 §9 grammar's terminals — atoms, quoted
 * strings, literals, numbers, sequence sets, parenthesised lists. Command parsers
 * (parser/*.ts) combine these into typed requests. Every failure is a ParseError, which the
 * session answers with BAD; nothing here throws anything else or does I/O.
 */
import type { CommandPart } from './receiver.ts';
import { parseSequenceSet, type SequenceSet } from './sequence-set.ts';

export class ParseError extends Error {
  /** Response code to put in the BAD/NO, e.g. 'BADCHARSET (UTF-8 US-ASCII)'. */
  readonly code: string | null;
  constructor(message: string, code: string | null = null) {
    super(message);
    this.name = 'ParseError';
    this.code = code;
  }
}

/** Nesting depth of parenthesised lists / search keys a command may use. */
export const MAX_NESTING = 32;

/**
 * Items in one parenthesised list (fetch items, header field names, flags, patterns): work is
 * items × messages, so a 1 MiB command must not become a million items.
 */
export const MAX_LIST_ITEMS = 256;

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

/** atom-specials: ( ) { SP CTL % * " \ ] (RFC 9051 §9). */
export function isAtomChar(c: number): boolean {
  if (c <= 0x1f || c === 0x7f) return false;
  switch (c) {
    case 0x28:
    case 0x29:
    case 0x7b:
    case SP:
    case 0x25:
    case 0x2a:
    case DQUOTE:
    case BACKSLASH:
    case 0x5d:
      return false;
    default:
      return true;
  }
}

export function isAstringChar(c: number): boolean {
  return isAtomChar(c) || c === 0x5d;
}

/** list-char = ATOM-CHAR / list-wildcards / resp-specials. */
function isListChar(c: number): boolean {
  return isAstringChar(c) || c === 0x25 || c === 0x2a;
}

export class ArgReader {
  private readonly parts: CommandPart[];
  private partIndex = 0;
  private pos = 0;

  constructor(parts: CommandPart[]) {
    if (parts.length === 0 || parts[0].kind !== 'text') throw new ParseError('Empty command');
    this.parts = parts;
  }

  private get text(): Buffer {
    return this.parts[this.partIndex].bytes;
  }

  /** The next byte of the current text part, or -1 at its end (a literal or the end may follow). */
  peek(): number {
    const t = this.text;
    return this.pos < t.length ? t[this.pos] : -1;
  }

  atEnd(): boolean {
    return this.partIndex === this.parts.length - 1 && this.pos >= this.text.length;
  }

  /** True when the cursor stands where a literal was announced. */
  atLiteral(): boolean {
    return this.pos >= this.text.length && this.partIndex + 1 < this.parts.length && this.parts[this.partIndex + 1].kind === 'literal';
  }

  end(): void {
    if (!this.atEnd()) throw new ParseError('Unexpected extra arguments');
  }

  sp(): void {
    if (this.peek() !== SP) throw new ParseError('Missing space');
    this.pos++;
  }

  /** Consumes one SP if present. */
  maybeSp(): boolean {
    if (this.peek() === SP) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** Consumes `ch` if it is next. */
  maybe(ch: string): boolean {
    if (this.peek() === ch.charCodeAt(0)) {
      this.pos++;
      return true;
    }
    return false;
  }

  expect(ch: string): void {
    if (!this.maybe(ch)) throw new ParseError(`Expected '${ch}'`);
  }

  /** Consumes a case-insensitive keyword if it is next (not followed by an atom char). */
  maybeKeyword(word: string): boolean {
    const t = this.text;
    const end = this.pos + word.length;
    if (end > t.length) return false;
    if (t.toString('latin1', this.pos, end).toUpperCase() !== word.toUpperCase()) return false;
    this.pos = end;
    return true;
  }

  private takeWhile(pred: (c: number) => boolean): Buffer {
    const t = this.text;
    const start = this.pos;
    while (this.pos < t.length && pred(t[this.pos])) this.pos++;
    return t.subarray(start, this.pos);
  }

  /** Raw atom bytes as latin1 text; throws when empty. */
  atom(what = 'atom'): string {
    const b = this.takeWhile(isAtomChar);
    if (b.length === 0) throw new ParseError(`Expected ${what}`);
    return b.toString('latin1');
  }

  /** A flag: atom or `\`atom (system flags, `\*` in PERMANENTFLAGS is not client syntax). */
  flag(): string {
    if (this.maybe('\\')) return '\\' + this.atom('flag');
    return this.atom('flag');
  }

  /** A copy of the cursor (for look-ahead). */
  clone(): ArgReader {
    const c = new ArgReader(this.parts);
    c.partIndex = this.partIndex;
    c.pos = this.pos;
    return c;
  }

  /** A fetch item name: atom chars up to '[' or '<' (BODY.PEEK[…]<…>). */
  takeName(): string {
    const b = this.takeWhile((c) => isAtomChar(c) && c !== 0x5b && c !== 0x3c);
    if (b.length === 0 || b.length > 32) throw new ParseError('Invalid fetch item');
    return b.toString('latin1');
  }

  /** tag / command words: atom without '+' (tags) — callers validate further. */
  word(): string {
    return this.atom('word');
  }

  number(): number {
    const b = this.takeWhile((c) => c >= 0x30 && c <= 0x39);
    if (b.length === 0) throw new ParseError('Expected number');
    if (b.length > 10) throw new ParseError('Number too large');
    const n = Number(b.toString('latin1'));
    if (n > 0xffffffff) throw new ParseError('Number too large');
    return n;
  }

  /** number64 (RFC 9051): up to 2^63-1; we stay within safe integers. */
  number64(): number {
    const b = this.takeWhile((c) => c >= 0x30 && c <= 0x39);
    if (b.length === 0) throw new ParseError('Expected number');
    if (b.length > 15) throw new ParseError('Number too large');
    return Number(b.toString('latin1'));
  }

  /**
   * mod-sequence-value (RFC 7162 §7: 1 to 2^63-1), or mod-sequence-valzer when allowZero. Our
   * mod-sequences stay far below 2^53, so a larger value (valid, but none we gave out) is read
   * as MAX_SAFE_INTEGER: it compares the same way with every mod-sequence we have.
   */
  modseq(allowZero: boolean, what = 'mod-sequence'): number {
    const b = this.takeWhile((c) => c >= 0x30 && c <= 0x39);
    if (b.length === 0) throw new ParseError(`Expected ${what}`);
    const text = b.toString('latin1');
    if (b.length > 19 || BigInt(text) > 0x7fffffffffffffffn) throw new ParseError(`${what} too large`);
    const n = Math.min(Number(text), Number.MAX_SAFE_INTEGER);
    if (n === 0 && !allowZero) throw new ParseError(`${what} must not be 0`);
    return n;
  }

  nzNumber(): number {
    const n = this.number();
    if (n === 0) throw new ParseError('Expected non-zero number');
    return n;
  }

  quoted(): Buffer {
    if (this.peek() !== DQUOTE) throw new ParseError('Expected quoted string');
    this.pos++;
    const t = this.text;
    const out: number[] = [];
    for (;;) {
      if (this.pos >= t.length) throw new ParseError('Unterminated quoted string');
      const c = t[this.pos++];
      if (c === DQUOTE) break;
      if (c === BACKSLASH) {
        if (this.pos >= t.length) throw new ParseError('Unterminated quoted string');
        const e = t[this.pos++];
        if (e !== DQUOTE && e !== BACKSLASH) throw new ParseError('Invalid escape in quoted string');
        out.push(e);
        continue;
      }
      if (c === 0x00 || c === 0x0d || c === 0x0a) throw new ParseError('Invalid character in quoted string');
      out.push(c);
    }
    return Buffer.from(out);
  }

  literal(): Buffer {
    if (!this.atLiteral()) throw new ParseError('Expected literal');
    const lit = this.parts[this.partIndex + 1];
    this.partIndex += 2;
    this.pos = 0;
    return lit.bytes;
  }

  /** literal8 flag of the literal at the cursor (APPEND `~{n}`, RFC 3516). */
  literalIsBinary(): boolean {
    const lit = this.parts[this.partIndex + 1];
    return this.atLiteral() && lit.kind === 'literal' && lit.binary;
  }

  string(): Buffer {
    if (this.peek() === DQUOTE) return this.quoted();
    if (this.atLiteral()) return this.literal();
    throw new ParseError('Expected string');
  }

  astring(): Buffer {
    const c = this.peek();
    if (c === DQUOTE || this.atLiteral()) return this.string();
    const b = this.takeWhile((x) => isAstringChar(x) || x >= 0x80);
    if (b.length === 0) throw new ParseError('Expected astring');
    return Buffer.from(b);
  }

  /** nstring = string / NIL. */
  nstring(): Buffer | null {
    if (this.peek() === DQUOTE || this.atLiteral()) return this.string();
    if (this.maybeKeyword('NIL')) return null;
    throw new ParseError('Expected string or NIL');
  }

  /** list-mailbox = 1*list-char / string (LIST/LSUB patterns). */
  listMailbox(): Buffer {
    const c = this.peek();
    if (c === DQUOTE || this.atLiteral()) return this.string();
    const b = this.takeWhile((x) => isListChar(x) || x >= 0x80);
    if (b.length === 0) throw new ParseError('Expected mailbox pattern');
    return Buffer.from(b);
  }

  sequenceSet(): SequenceSet {
    const b = this.takeWhile((c) => (c >= 0x30 && c <= 0x39) || c === 0x3a || c === 0x2c || c === 0x2a || c === 0x24);
    if (b.length === 0) throw new ParseError('Expected sequence set');
    return parseSequenceSet(b.toString('latin1'));
  }

  /** `(` item *(SP item) `)` — or `()` when allowEmpty; at most MAX_LIST_ITEMS items. */
  list<T>(item: () => T, allowEmpty = true): T[] {
    this.expect('(');
    const out: T[] = [];
    if (this.maybe(')')) {
      if (!allowEmpty) throw new ParseError('Empty list');
      return out;
    }
    for (;;) {
      out.push(item());
      if (out.length > MAX_LIST_ITEMS) throw new ParseError('Too many list items');
      if (this.maybe(')')) return out;
      this.sp();
    }
  }

  /** A flag list `(\Seen foo)`; also accepts a single flag without parentheses when allowBare. */
  flagList(allowBare = false): string[] {
    if (this.peek() !== 0x28) {
      if (!allowBare) throw new ParseError('Expected flag list');
      const out = [this.flag()];
      while (this.peek() === SP && this.peekAfterSpace() !== -1) {
        this.sp();
        out.push(this.flag());
        if (out.length > MAX_LIST_ITEMS) throw new ParseError('Too many flags');
      }
      return out;
    }
    return this.list(() => this.flag());
  }

  private peekAfterSpace(): number {
    const t = this.text;
    return this.pos + 1 < t.length ? t[this.pos + 1] : -1;
  }
}

/** Decodes bytes as UTF-8, rejecting invalid sequences. */
export function utf8(bytes: Buffer, what = 'string'): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ParseError(`Invalid UTF-8 in ${what}`);
  }
}
