/**
 * vCard checks and reading, as much as storing and serving cards needs (rewriting between
 * versions is vcard-version.ts): it checks that the bytes are one vCard 4.0 (RFC 6350) or 3.0
 * (RFC 2426), finds its UID, and reads property values for CardDAV's text-match filter
 * (RFC 6352 §10.5.4).
 *
 * Content lines (RFC 6350 §3.2): `[group.]NAME[;param=value…]:value`, folded by CRLF (or a bare
 * LF, which real files carry) followed by one space or tab. Names are case-insensitive.
 */
import { MAX_VCARD_BYTES } from '../ports/contacts.ts';

export class VCardError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VCardError';
  }
}

export interface VCardProperty {
  group: string | null;
  /** Upper case. */
  name: string;
  /** Parameter names upper case; values as written (quotes removed). */
  params: Record<string, string>;
  /** The raw value (escapes kept). */
  value: string;
}

export interface VCardInfo {
  version: '3.0' | '4.0';
  uid: string | null;
  fn: string | null;
  properties: VCardProperty[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The unfolded content lines of a card or a file of cards. */
export function unfold(text: string): string[] {
  return text
    .replace(/\r?\n[ \t]/g, '')
    .split(/\r?\n/)
    .filter((l) => l !== '');
}

export function parseLine(line: string): VCardProperty {
  // The value starts after the first ':' outside a quoted parameter value.
  let inQuote = false;
  let colon = -1;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') inQuote = !inQuote;
    else if (c === ':' && !inQuote) {
      colon = i;
      break;
    }
  }
  if (colon <= 0) throw new VCardError(`not a content line: ${JSON.stringify(line.slice(0, 60))}`);
  const [namepart, ...paramParts] = line.slice(0, colon).split(';');
  const m = /^(?:([A-Za-z0-9-]+)\.)?([A-Za-z0-9-]+)$/.exec(namepart);
  if (!m) throw new VCardError(`bad property name: ${JSON.stringify(namepart.slice(0, 60))}`);
  const params: Record<string, string> = {};
  for (const p of paramParts) {
    const eq = p.indexOf('=');
    // vCard 3.0 allows a bare value (`TEL;HOME:`), meaning TYPE=HOME.
    if (eq < 0) params.TYPE = params.TYPE ? `${params.TYPE},${p}` : p;
    else {
      // A parameter given twice (`TYPE=work;TYPE=voice`) is one with both values (RFC 6350 §5).
      const key = p.slice(0, eq).toUpperCase();
      const value = p.slice(eq + 1).replace(/^"(.*)"$/, '$1');
      params[key] = params[key] !== undefined ? `${params[key]},${value}` : value;
    }
  }
  return { group: m[1] ?? null, name: m[2].toUpperCase(), params, value: line.slice(colon + 1) };
}

/**
 * Checks that `data` is exactly one vCard 3.0 or 4.0 in UTF-8 and returns what was read;
 * VCardError (with a message fit for the client) otherwise.
 */
export function checkVCard(data: Buffer): VCardInfo {
  if (data.length > MAX_VCARD_BYTES) throw new VCardError(`vCard larger than ${MAX_VCARD_BYTES} octets`);
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    throw new VCardError('the vCard is not UTF-8 (RFC 6350 §3.1)');
  }
  const lines = unfold(text.replace(/^\uFEFF/, ''));
  if (lines.length < 2 || lines[0].toUpperCase() !== 'BEGIN:VCARD') throw new VCardError('the data does not start with BEGIN:VCARD');
  if (lines[lines.length - 1].toUpperCase() !== 'END:VCARD') throw new VCardError('the data does not end with END:VCARD');
  const properties: VCardProperty[] = [];
  let depth = 0;
  for (let i = 1; i < lines.length - 1; i++) {
    const p = parseLine(lines[i]);
    // A nested card (vCard 3.0 AGENT) is part of its property; a second top-level card is not allowed.
    if (p.name === 'BEGIN' && p.value.toUpperCase() === 'VCARD') depth++;
    else if (p.name === 'END' && p.value.toUpperCase() === 'VCARD') {
      if (depth === 0) throw new VCardError('more than one vCard in the data (RFC 6352 §5.1 allows one per resource)');
      depth--;
    } else if (depth === 0) properties.push(p);
  }
  const versions = properties.filter((p) => p.name === 'VERSION');
  if (versions.length !== 1) throw new VCardError('the vCard needs exactly one VERSION property');
  const version = versions[0].value.trim();
  if (version !== '3.0' && version !== '4.0') throw new VCardError(`vCard version ${version} is not supported (3.0 and 4.0 are)`);
  const uid = properties.find((p) => p.name === 'UID')?.value.trim() || null;
  const fn = properties.find((p) => p.name === 'FN')?.value ?? null;
  return { version, uid, fn, properties };
}

/**
 * The cards of a `.vcf` file holding several (each as its bytes in the file, line endings
 * kept). VCardError when the file is not a sequence of BEGIN:VCARD … END:VCARD blocks.
 */
export function splitVCards(file: Buffer): Buffer[] {
  const text = file.toString('utf8').replace(/^\uFEFF/, '');
  const out: Buffer[] = [];
  const lineRe = /^(BEGIN|END):VCARD[ \t]*\r?$/gim;
  let depth = 0;
  let start = 0;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = lineRe.exec(text))) {
    if (m[1].toUpperCase() === 'BEGIN') {
      if (depth === 0) {
        if (text.slice(last, m.index).trim() !== '') throw new VCardError('text outside BEGIN:VCARD … END:VCARD');
        start = m.index;
      }
      depth++;
    } else {
      if (depth === 0) throw new VCardError('END:VCARD without BEGIN:VCARD');
      depth--;
      if (depth === 0) {
        last = m.index + m[0].length;
        if (text[last] === '\n') last += 1;
        out.push(Buffer.from(text.slice(start, last)));
      }
    }
  }
  if (depth !== 0) throw new VCardError('BEGIN:VCARD without END:VCARD');
  if (text.slice(last).trim() !== '') throw new VCardError('text outside BEGIN:VCARD … END:VCARD');
  return out;
}

/** A property value with the text escapes of RFC 6350 §3.4 undone (what text-match compares). */
export function unescapeText(value: string): string {
  return value.replace(/\\([\\,;nN])/g, (_, c: string) => (c === 'n' || c === 'N' ? '\n' : c));
}
