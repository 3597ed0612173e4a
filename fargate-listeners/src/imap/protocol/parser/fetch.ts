/**
 * FETCH (RFC 9051 §6.4.5, RFC 3501 §6.4.5) and BINARY items (RFC 3516). Sections:
 * `[1.2.HEADER.FIELDS (From To)]`, partials `<origin.count>`.
 */
import { isAtomChar, ArgReader, ParseError, MAX_NESTING } from '../reader.ts';
import type { FetchAtt, FetchRequest, Partial, PartialRange, Section } from '../requests.ts';
import { parsePartialRange } from './search-return.ts';

const MACROS: Record<string, FetchAtt[]> = {
  ALL: [{ k: 'FLAGS' }, { k: 'INTERNALDATE' }, { k: 'RFC822.SIZE' }, { k: 'ENVELOPE' }],
  FAST: [{ k: 'FLAGS' }, { k: 'INTERNALDATE' }, { k: 'RFC822.SIZE' }],
  FULL: [{ k: 'FLAGS' }, { k: 'INTERNALDATE' }, { k: 'RFC822.SIZE' }, { k: 'ENVELOPE' }, { k: 'BODY' }],
};

/**
 * section-part = nz-number *("." nz-number). A "." followed by a keyword ("1.MIME") is
 * consumed and reported as textFollows; the caller reads the keyword.
 */
function parsePartPath(r: ArgReader): { part: number[]; textFollows: boolean } {
  const part: number[] = [];
  for (;;) {
    part.push(r.nzNumber());
    if (part.length > MAX_NESTING) throw new ParseError('Section nested too deeply');
    if (r.peek() !== 0x2e) return { part, textFollows: false };
    r.expect('.');
    const c = r.peek();
    if (!(c >= 0x30 && c <= 0x39)) return { part, textFollows: true };
  }
}

function headerFieldName(r: ArgReader): string {
  const name = r.astring().toString('latin1');
  // field-name = 1*<printable US-ASCII except ':'> (RFC 5322 §3.6.8)
  if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) throw new ParseError('Invalid header field name');
  return name;
}

function echoName(name: string): string {
  for (let i = 0; i < name.length; i++) if (!isAtomChar(name.charCodeAt(i))) return '"' + name.replace(/[\\"]/g, (m) => '\\' + m) + '"';
  return name;
}

/** "[" [section-spec] "]" → section and the label the response echoes. */
export function parseSection(r: ArgReader): { section: Section; label: string } {
  r.expect('[');
  const section: Section = { part: [], text: null, fields: [] };
  let needText = true;
  const c = r.peek();
  if (c >= 0x30 && c <= 0x39) {
    const p = parsePartPath(r);
    section.part = p.part;
    needText = p.textFollows;
  }
  if (needText && r.peek() !== 0x5d) {
    const word = r.atom('section text').toUpperCase();
    if (word === 'HEADER' || word === 'TEXT') section.text = word;
    else if (word === 'MIME') {
      if (section.part.length === 0) throw new ParseError('MIME needs a part number');
      section.text = 'MIME';
    } else if (word === 'HEADER.FIELDS' || word === 'HEADER.FIELDS.NOT') {
      section.text = word;
      r.sp();
      section.fields = r.list(() => headerFieldName(r), false);
    } else throw new ParseError(`Invalid section ${word.slice(0, 40)}`);
  } else if (needText && section.part.length > 0) {
    throw new ParseError('Invalid section');
  }
  r.expect(']');
  let label = section.part.join('.');
  if (section.text) {
    if (label) label += '.';
    label += section.text;
    if (section.fields.length > 0) label += ' (' + section.fields.map(echoName).join(' ') + ')';
  }
  return { section, label };
}

function parsePartial(r: ArgReader): Partial | null {
  if (!r.maybe('<')) return null;
  const start = r.number();
  r.expect('.');
  const length = r.nzNumber();
  r.expect('>');
  return { start, length };
}

/** section-binary = "[" [section-part] "]" */
function parseBinarySection(r: ArgReader): number[] {
  r.expect('[');
  let part: number[] = [];
  if (r.peek() !== 0x5d) {
    const p = parsePartPath(r);
    if (p.textFollows) throw new ParseError('Invalid binary section');
    part = p.part;
  }
  r.expect(']');
  return part;
}

function parseAtt(r: ArgReader): FetchAtt {
  // The item name ends at '[' or '<' as well as at the atom specials.
  const name = r.takeName().toUpperCase();
  switch (name) {
    case 'UID':
    case 'FLAGS':
    case 'INTERNALDATE':
    case 'RFC822.SIZE':
    case 'ENVELOPE':
    case 'BODYSTRUCTURE':
    case 'RFC822':
    case 'RFC822.HEADER':
    case 'RFC822.TEXT':
      return { k: name };
    case 'BODY':
    case 'BODY.PEEK': {
      if (r.peek() !== 0x5b) {
        if (name === 'BODY.PEEK') throw new ParseError('BODY.PEEK needs a section');
        return { k: 'BODY' };
      }
      const { section, label } = parseSection(r);
      return { k: 'BODY[]', peek: name === 'BODY.PEEK', section, partial: parsePartial(r), label };
    }
    case 'BINARY':
    case 'BINARY.PEEK': {
      const part = parseBinarySection(r);
      return { k: 'BINARY', peek: name === 'BINARY.PEEK', part, partial: parsePartial(r) };
    }
    case 'BINARY.SIZE':
      return { k: 'BINARY.SIZE', part: parseBinarySection(r) };
    case 'MODSEQ':
      return { k: 'MODSEQ' };
    case 'EMAILID':
    case 'THREADID':
    case 'SAVEDATE':
      return { k: name };
    case 'PREVIEW':
      return parsePreview(r);
    default:
      throw new ParseError(`Unknown fetch item ${name.slice(0, 40)}`);
  }
}

/** RFC 8970 §7: `"PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]`, preview-mod = "LAZY". */
function parsePreview(r: ArgReader): FetchAtt {
  let lazy = false;
  if (r.maybeKeyword(' (')) {
    for (;;) {
      const mod = r.atom('PREVIEW modifier').toUpperCase();
      if (mod !== 'LAZY') throw new ParseError(`Unknown PREVIEW modifier ${mod.slice(0, 40)}`);
      lazy = true;
      if (r.maybe(')')) break;
      r.sp();
    }
  }
  return { k: 'PREVIEW', lazy };
}

export function parseFetch(r: ArgReader, uid: boolean): FetchRequest {
  r.sp();
  const set = r.sequenceSet();
  r.sp();
  let items: FetchAtt[];
  if (r.peek() === 0x28) {
    items = r.list(() => parseAtt(r), false);
  } else {
    const save = MACROS[peekMacro(r)];
    if (save) {
      r.atom();
      items = [...save];
    } else items = [parseAtt(r)];
  }
  let changedSince: number | null = null;
  let vanished = false;
  let partial: PartialRange | undefined;
  if (!r.atEnd()) {
    // fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")" (RFC 4466 §2.4, RFC 7162 §3.1.4.1, §3.2.6).
    r.sp();
    r.list(() => {
      const m = r.atom('FETCH modifier').toUpperCase();
      if (m === 'CHANGEDSINCE' && changedSince === null) {
        r.sp();
        changedSince = r.modseq(true, 'CHANGEDSINCE mod-sequence');
      } else if (m === 'VANISHED' && !vanished) vanished = true;
      else if (m === 'PARTIAL' && !partial) {
        r.sp();
        partial = parsePartialRange(r);
      } else if (m === 'CHANGEDSINCE' || m === 'VANISHED' || m === 'PARTIAL') throw new ParseError(`${m} given twice`);
      else throw new ParseError(`Unsupported FETCH modifier ${m.slice(0, 40)}`);
    }, false);
    r.end();
    // RFC 7162 §3.2.6: VANISHED only in UID FETCH, and only together with CHANGEDSINCE.
    if (vanished && !uid) throw new ParseError('VANISHED is allowed only in UID FETCH');
    if (vanished && changedSince === null) throw new ParseError('VANISHED needs CHANGEDSINCE');
    // RFC 9394 §3.3: PARTIAL extends UID FETCH.
    if (partial && !uid) throw new ParseError('PARTIAL is allowed only in UID FETCH');
  }
  const req: FetchRequest = { name: 'FETCH', uid, set, items, changedSince, vanished };
  return partial ? { ...req, partial } : req;
}

function peekMacro(r: ArgReader): string {
  for (const m of ['ALL', 'FAST', 'FULL']) {
    // Only when the whole remaining argument is the macro.
    const probe = r.clone();
    if (probe.maybeKeyword(m) && probe.atEnd()) return m;
  }
  return '';
}
