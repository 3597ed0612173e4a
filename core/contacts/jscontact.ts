/**
 * JSContact (RFC 9553) ↔ vCard 4.0 (RFC 6350), as RFC 9555 maps them, for JMAP for Contacts
 * (RFC 9610). The stored form stays the vCard (core/ports/contacts.ts): JMAP reads a card by
 * converting it, and writes one by converting the JSContact Card it was given.
 *
 * What is mapped (RFC 9555 §2): UID, KIND, FN (name.full), N (name.components: surname, given,
 * given2, title, credential, and RFC 9554's surname2 and generation), NICKNAME, ORG, TITLE and
 * ROLE, EMAIL, TEL, ADR, URL, IMPP, PHOTO/LOGO/SOUND (media), BDAY/ANNIVERSARY (anniversaries),
 * CATEGORIES (keywords), NOTE, MEMBER, LANG, REV (updated), CREATED, PRODID. TYPE=home/work
 * become contexts private/work, PREF becomes pref, PROP-ID the entry's id (else one is made up
 * from the property's position: `e1`, `p2`…). Nothing is lost either way:
 *  - a vCard property not mapped, or one whose value does not parse, goes to `vCardProps`
 *    (RFC 9555 §3.3.1: `[name, params, "unknown", value]`, the value as written) and comes back
 *    unchanged; parameters not mapped (and the property group) go to the entry's `vCardParams`
 *    (§3.2.2);
 *  - a JSContact property not mapped goes to a `JSPROP` vCard property with its JSON pointer
 *    (RFC 9555 §3.2.1) and comes back from it.
 */
import { randomUUID } from 'node:crypto';
import { checkVCard, unescapeText, type VCardProperty } from './vcard.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export class JSContactError extends Error {
  /** JSON pointers of the bad properties (for a JMAP invalidProperties SetError). */
  readonly properties: string[];
  constructor(message: string, properties: string[]) {
    super(message);
    this.name = 'JSContactError';
    this.properties = properties;
  }
}

const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

/** RFC 9553 §1.4.1 Id: what map keys may be. */
export const JSCONTACT_ID = /^[A-Za-z0-9_-]{1,255}$/;

/** Properties that frame a card: never taken from vCardProps. */
const STRUCTURAL = new Set(['BEGIN', 'END', 'VERSION', 'UID']);

const KINDS = new Set(['individual', 'group', 'org', 'location', 'device', 'application']);

// ---- vCard value syntax (RFC 6350 §3.4) ----

/** Splits a raw value on the unescaped separator. */
function splitRaw(value: string, sep: ';' | ','): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && i + 1 < value.length) {
      cur += c + value[i + 1];
      i++;
    } else if (c === sep) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function escapeText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/,/g, '\\,').replace(/;/g, '\\;').replace(/\r?\n/g, '\\n');
}

/** A parameter value, quoted when it holds `:`, `;` or (unless it is a list, as TYPE is) `,`. */
export function escapeParam(v: string, list = false): string {
  const clean = v.replace(/"/g, "'").replace(/\r?\n/g, ' ');
  return (list ? /[:;]/ : /[:;,]/).test(clean) ? `"${clean}"` : clean;
}

/** Folds a content line at 75 octets (RFC 6350 §3.2) without splitting a UTF-8 sequence. */
export function fold(line: string): string {
  const out: string[] = [];
  let cur = '';
  let len = 0;
  for (const ch of line) {
    const n = Buffer.byteLength(ch);
    if (len + n > 75) {
      out.push(cur);
      cur = ' ';
      len = 1;
    }
    cur += ch;
    len += n;
  }
  out.push(cur);
  return out.join('\r\n');
}

// ---- vCard → JSContact ----

const PREFIX: Record<string, string> = {
  EMAIL: 'e',
  TEL: 'p',
  ADR: 'a',
  URL: 'l',
  IMPP: 's',
  PHOTO: 'm',
  LOGO: 'm',
  SOUND: 'm',
  NICKNAME: 'k',
  ORG: 'o',
  TITLE: 't',
  ROLE: 't',
  NOTE: 'n',
  BDAY: 'b',
  ANNIVERSARY: 'b',
  LANG: 'g',
};

const TEL_FEATURES: Record<string, string> = {
  voice: 'voice',
  cell: 'mobile',
  fax: 'fax',
  text: 'text',
  video: 'video',
  pager: 'pager',
  textphone: 'textphone',
  'main-number': 'main-number',
};
const FEATURE_TYPES = Object.fromEntries(Object.entries(TEL_FEATURES).map(([t, f]) => [f, t]));

/** Parameters a mapped property consumes; the rest go to vCardParams. */
const MAPPED_PARAMS = new Set(['TYPE', 'PREF', 'PROP-ID', 'VALUE', 'MEDIATYPE', 'LABEL', 'SORT-AS', 'CC', 'DERIVED', 'CHARSET']);

/** RFC 6350 date-and-or-time → PartialDate or Timestamp; null when it is not one. */
function parseDate(value: string): JsonObject | null {
  const v = value.trim();
  let m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(v);
  if (m) return { '@type': 'PartialDate', year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
  m = /^--(\d{2})-?(\d{2})$/.exec(v);
  if (m) return { '@type': 'PartialDate', month: Number(m[1]), day: Number(m[2]) };
  m = /^(\d{4})-(\d{2})$/.exec(v);
  if (m) return { '@type': 'PartialDate', year: Number(m[1]), month: Number(m[2]) };
  m = /^(\d{4})$/.exec(v);
  if (m) return { '@type': 'PartialDate', year: Number(m[1]) };
  const ts = parseTimestamp(v);
  return ts ? { '@type': 'Timestamp', utc: ts } : null;
}

/** RFC 6350 timestamp (basic or extended, Z or offset) → RFC 3339 UTC; null when not one. */
function parseTimestamp(value: string): string | null {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim());
  if (!m) return null;
  const zone = !m[7] || m[7] === 'Z' ? 'Z' : m[7].length === 5 ? `${m[7].slice(0, 3)}:${m[7].slice(3)}` : m[7];
  const d = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${zone}`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString().replace(/\.000Z$/, 'Z');
}

function typesOf(p: VCardProperty): string[] {
  return (p.params.TYPE ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');
}

function prefOf(p: VCardProperty, types: string[]): number | null {
  const n = Number(p.params.PREF);
  if (p.params.PREF !== undefined && Number.isInteger(n) && n >= 1 && n <= 100) return n;
  return types.includes('pref') ? 1 : null; // vCard 3.0's TYPE=pref
}

function setPointer(root: JsonObject, pointer: string, value: Json): boolean {
  const parts = pointer.split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (parts.some((s) => s === '') || parts[0] === '@type' || parts[0] === 'vCardProps') return false;
  let cur: JsonObject = root;
  for (const key of parts.slice(0, -1)) {
    const next = cur[key];
    if (next === undefined) cur[key] = {};
    else if (!isObject(next)) return false;
    cur = cur[key] as JsonObject;
  }
  cur[parts[parts.length - 1]] = value;
  return true;
}

/** The JSContact Card (RFC 9553) of a vCard 3.0 or 4.0; VCardError when it is not one. */
export function vCardToJSContact(data: Buffer): JsonObject {
  const info = checkVCard(data);
  const card: JsonObject = { '@type': 'Card', version: '1.0' };
  const unknown: Json[] = [];
  const counters = new Map<string, number>();
  const jsprops: Array<[string, Json]> = [];
  const keep = (p: VCardProperty) => {
    const params: JsonObject = {};
    for (const [k, v] of Object.entries(p.params)) params[k.toLowerCase()] = v;
    if (p.group) params.group = p.group;
    unknown.push([p.name.toLowerCase(), params, 'unknown', p.value]);
  };
  const map = (key: string): JsonObject => (isObject(card[key]) ? card[key] : (card[key] = {})) as JsonObject;
  const idFor = (p: VCardProperty, into: JsonObject): string => {
    const given = p.params['PROP-ID'];
    if (given && JSCONTACT_ID.test(given) && !(given in into)) return given;
    const prefix = PREFIX[p.name] ?? 'x';
    let n = counters.get(prefix) ?? 0;
    let id: string;
    do id = `${prefix}${++n}`;
    while (id in into);
    counters.set(prefix, n);
    return id;
  };
  /** contexts, pref, label, vCardParams shared by the multi-valued properties. */
  const common = (p: VCardProperty, entry: JsonObject, consumedTypes: Set<string>, contextTypes: Record<string, string>): void => {
    const types = typesOf(p);
    const contexts: JsonObject = {};
    const rest: string[] = [];
    for (const t of types) {
      if (contextTypes[t]) contexts[contextTypes[t]] = true;
      else if (t === 'pref' || consumedTypes.has(t)) continue;
      else rest.push(t);
    }
    if (Object.keys(contexts).length) entry.contexts = contexts;
    const pref = prefOf(p, types);
    if (pref !== null) entry.pref = pref;
    const vp: JsonObject = {};
    for (const [k, v] of Object.entries(p.params)) if (!MAPPED_PARAMS.has(k)) vp[k.toLowerCase()] = v;
    if (rest.length) vp.type = rest.join(',');
    if (p.group) vp.group = p.group;
    if (Object.keys(vp).length) entry.vCardParams = vp;
  };
  const CONTEXTS = { home: 'private', work: 'work' };
  const name: JsonObject = {};
  const components: JsonObject[] = [];

  for (const p of info.properties) {
    const text = () => unescapeText(p.value);
    switch (p.name) {
      case 'VERSION':
        break;
      case 'UID':
        card.uid = text().trim();
        break;
      case 'KIND':
      case 'X-ADDRESSBOOKSERVER-KIND': {
        const k = text().trim().toLowerCase();
        if (KINDS.has(k) && card.kind === undefined) card.kind = k;
        else keep(p);
        break;
      }
      case 'PRODID':
        card.prodId = text();
        break;
      case 'REV':
      case 'CREATED': {
        const ts = parseTimestamp(p.value);
        if (ts) card[p.name === 'REV' ? 'updated' : 'created'] = ts;
        else keep(p);
        break;
      }
      case 'FN':
        if (p.params.DERIVED?.toLowerCase() === 'true') break; // written by us from the components
        if (name.full === undefined) name.full = text();
        else keep(p);
        break;
      case 'N': {
        if (components.length) {
          keep(p);
          break;
        }
        const kinds = ['surname', 'given', 'given2', 'title', 'credential', 'surname2', 'generation'];
        const fields = splitRaw(p.value, ';');
        const byKind = new Map<string, string[]>();
        fields.forEach((f, i) => {
          if (i < kinds.length)
            byKind.set(
              kinds[i],
              splitRaw(f, ',')
                .map(unescapeText)
                .filter((v) => v !== ''),
            );
        });
        for (const kind of ['title', 'given', 'given2', 'surname', 'surname2', 'generation', 'credential'])
          for (const value of byKind.get(kind) ?? []) components.push({ kind, value });
        if (p.params['SORT-AS']) {
          const sort = splitRaw(p.params['SORT-AS'], ',');
          const sortAs: JsonObject = {};
          if (sort[0]) sortAs.surname = sort[0];
          if (sort[1]) sortAs.given = sort[1];
          if (Object.keys(sortAs).length) name.sortAs = sortAs;
        }
        break;
      }
      case 'NICKNAME': {
        const into = map('nicknames');
        for (const nick of splitRaw(p.value, ',').map(unescapeText)) {
          if (nick === '') continue;
          const e: JsonObject = { name: nick };
          common(p, e, new Set(), CONTEXTS);
          into[idFor(p, into)] = e;
        }
        break;
      }
      case 'ORG': {
        const into = map('organizations');
        const [org, ...units] = splitRaw(p.value, ';').map(unescapeText);
        const e: JsonObject = {};
        if (org) e.name = org;
        if (units.some((u) => u !== '')) e.units = units.filter((u) => u !== '').map((u) => ({ name: u }));
        if (p.params['SORT-AS']) e.sortAs = p.params['SORT-AS'];
        common(p, e, new Set(), CONTEXTS);
        into[idFor(p, into)] = e;
        break;
      }
      case 'TITLE':
      case 'ROLE': {
        const into = map('titles');
        const e: JsonObject = { name: text(), kind: p.name === 'TITLE' ? 'title' : 'role' };
        common(p, e, new Set(), CONTEXTS);
        into[idFor(p, into)] = e;
        break;
      }
      case 'EMAIL': {
        const into = map('emails');
        const e: JsonObject = { address: text().trim() };
        common(p, e, new Set(['internet', 'x400']), CONTEXTS);
        into[idFor(p, into)] = e;
        break;
      }
      case 'TEL': {
        const into = map('phones');
        const e: JsonObject = { number: text().trim() };
        const features: JsonObject = {};
        for (const t of typesOf(p)) if (TEL_FEATURES[t]) features[TEL_FEATURES[t]] = true;
        if (Object.keys(features).length) e.features = features;
        common(p, e, new Set(Object.keys(TEL_FEATURES)), CONTEXTS);
        into[idFor(p, into)] = e;
        break;
      }
      case 'ADR': {
        const into = map('addresses');
        const kinds = ['postOfficeBox', 'apartment', 'name', 'locality', 'region', 'postcode', 'country'];
        const comps: JsonObject[] = [];
        splitRaw(p.value, ';').forEach((f, i) => {
          if (i >= kinds.length) return;
          for (const v of splitRaw(f, ',').map(unescapeText)) if (v !== '') comps.push({ kind: kinds[i], value: v });
        });
        const e: JsonObject = { components: comps };
        if (p.params.LABEL) e.full = unescapeText(p.params.LABEL);
        if (p.params.CC) e.countryCode = p.params.CC;
        common(p, e, new Set(['postal', 'parcel', 'dom', 'intl']), { ...CONTEXTS, billing: 'billing', delivery: 'delivery' });
        into[idFor(p, into)] = e;
        break;
      }
      case 'URL': {
        const into = map('links');
        const e: JsonObject = { uri: text().trim() };
        common(p, e, new Set(), CONTEXTS);
        into[idFor(p, into)] = e;
        break;
      }
      case 'IMPP': {
        const into = map('onlineServices');
        const e: JsonObject = { uri: text().trim(), vCardName: 'impp' };
        common(p, e, new Set(), CONTEXTS);
        into[idFor(p, into)] = e;
        break;
      }
      case 'PHOTO':
      case 'LOGO':
      case 'SOUND': {
        let uri = p.value.trim();
        const enc = p.params.ENCODING?.toLowerCase();
        if (enc === 'b' || enc === 'base64') {
          // vCard 3.0 inline data (RFC 2426 §3.1.4): a data: URI in 4.0 and JSContact.
          const t = typesOf(p).find((x) => x !== 'pref');
          const mediaType = t ? (t.includes('/') ? t : `image/${t}`) : 'application/octet-stream';
          uri = `data:${mediaType};base64,${uri.replace(/\s/g, '')}`;
        }
        if (!/^[a-z][a-z0-9+.-]*:/i.test(uri)) {
          keep(p);
          break;
        }
        const into = map('media');
        const e: JsonObject = { kind: p.name.toLowerCase(), uri };
        if (p.params.MEDIATYPE) e.mediaType = p.params.MEDIATYPE;
        const q = { ...p, params: { ...p.params } };
        delete q.params.ENCODING;
        if (enc) q.params.TYPE = typesOf(p).includes('pref') ? 'pref' : '';
        common(q, e, new Set(), CONTEXTS);
        into[idFor(p, into)] = e;
        break;
      }
      case 'BDAY':
      case 'ANNIVERSARY': {
        const date = p.params.VALUE?.toLowerCase() === 'text' ? null : parseDate(p.value);
        if (!date) {
          keep(p);
          break;
        }
        const into = map('anniversaries');
        const e: JsonObject = { kind: p.name === 'BDAY' ? 'birth' : 'wedding', date };
        common(p, e, new Set(), {});
        into[idFor(p, into)] = e;
        break;
      }
      case 'CATEGORIES': {
        const into = map('keywords');
        for (const k of splitRaw(p.value, ',').map(unescapeText)) if (k.trim() !== '') into[k.trim()] = true;
        break;
      }
      case 'NOTE': {
        const into = map('notes');
        const e: JsonObject = { note: text() };
        common(p, e, new Set(), {});
        into[idFor(p, into)] = e;
        break;
      }
      case 'MEMBER':
      case 'X-ADDRESSBOOKSERVER-MEMBER': {
        const uid = text().trim();
        if (uid) map('members')[uid] = true;
        break;
      }
      case 'LANG': {
        const into = map('preferredLanguages');
        const e: JsonObject = { language: text().trim() };
        common(p, e, new Set(), CONTEXTS);
        into[idFor(p, into)] = e;
        break;
      }
      case 'JSPROP': {
        const ptr = p.params.JSPTR;
        let value: Json;
        try {
          value = JSON.parse(text()) as Json;
        } catch {
          keep(p);
          break;
        }
        if (ptr) jsprops.push([ptr, value]);
        else keep(p);
        break;
      }
      default:
        keep(p);
    }
  }
  if (components.length) name.components = components;
  if (Object.keys(name).length) card.name = name;
  for (const [ptr, value] of jsprops) setPointer(card, ptr, value);
  if (unknown.length) card.vCardProps = unknown;
  return card;
}

// ---- JSContact → vCard ----

type Line = { group?: string; name: string; params: Array<[string, string]>; value: string };

function render(l: Line): string {
  const params = l.params.map(([k, v]) => `;${k}=${v}`).join('');
  return fold(`${l.group ? `${l.group}.` : ''}${l.name}${params}:${l.value}`);
}

const str = (v: Json | undefined): string | null => (typeof v === 'string' ? v : null);

function datePart(d: Json | undefined): string | null {
  if (!isObject(d)) return null;
  if (d['@type'] === 'Timestamp') return typeof d.utc === 'string' ? d.utc.replace(/[-:]/g, '').replace(/\.\d+/, '') : null;
  const y = typeof d.year === 'number' ? String(d.year).padStart(4, '0') : null;
  const m = typeof d.month === 'number' ? String(d.month).padStart(2, '0') : null;
  const day = typeof d.day === 'number' ? String(d.day).padStart(2, '0') : null;
  if (y && m && day) return `${y}${m}${day}`;
  if (!y && m && day) return `--${m}${day}`;
  if (y && m) return `${y}-${m}`;
  if (y && !m && !day) return y;
  return null;
}

/**
 * Checks the shape of a Card given over JMAP (RFC 9553 §2) and returns the JSON pointers of the
 * properties that are wrong; an empty list when it can be stored.
 */
export function invalidCardProperties(card: JsonObject): string[] {
  const bad: string[] = [];
  const check = (ok: boolean, ptr: string) => {
    if (!ok) bad.push(ptr);
  };
  check(card['@type'] === undefined || card['@type'] === 'Card', '@type');
  check(card.version === undefined || typeof card.version === 'string', 'version');
  check(card.uid === undefined || (typeof card.uid === 'string' && card.uid.trim() !== '' && Buffer.byteLength(card.uid) <= 512), 'uid');
  check(card.kind === undefined || (typeof card.kind === 'string' && /^[a-z][a-z0-9-]{0,63}$/.test(card.kind)), 'kind');
  for (const k of ['prodId', 'created', 'updated', 'language']) check(card[k] === undefined || typeof card[k] === 'string', k);
  for (const k of ['created', 'updated']) if (typeof card[k] === 'string') check(parseTimestamp(card[k]) !== null, k);
  if (card.name !== undefined) {
    const n = card.name;
    if (!isObject(n)) bad.push('name');
    else {
      check(n.full === undefined || typeof n.full === 'string', 'name/full');
      if (n.components !== undefined) {
        if (!Array.isArray(n.components)) bad.push('name/components');
        else n.components.forEach((c, i) => check(isObject(c) && typeof c.kind === 'string' && typeof c.value === 'string', `name/components/${i}`));
      }
    }
  }
  const maps: Record<string, string | null> = {
    emails: 'address',
    phones: 'number',
    links: 'uri',
    media: 'uri',
    onlineServices: null,
    nicknames: 'name',
    organizations: null,
    titles: 'name',
    notes: 'note',
    anniversaries: null,
    addresses: null,
    preferredLanguages: 'language',
  };
  for (const [key, required] of Object.entries(maps)) {
    const v = card[key];
    if (v === undefined) continue;
    if (!isObject(v)) {
      bad.push(key);
      continue;
    }
    for (const [id, e] of Object.entries(v)) {
      const ptr = `${key}/${id}`;
      if (!JSCONTACT_ID.test(id) || !isObject(e)) {
        bad.push(ptr);
        continue;
      }
      if (required) check(typeof e[required] === 'string' && e[required] !== '', `${ptr}/${required}`);
      if (e.contexts !== undefined) check(isObject(e.contexts) && Object.values(e.contexts).every((x) => x === true), `${ptr}/contexts`);
      if (e.pref !== undefined) check(typeof e.pref === 'number' && Number.isInteger(e.pref) && e.pref >= 1 && e.pref <= 100, `${ptr}/pref`);
      if (e.vCardParams !== undefined) check(isObject(e.vCardParams) && Object.values(e.vCardParams).every((x) => typeof x === 'string'), `${ptr}/vCardParams`);
      if (key === 'emails' && typeof e.address === 'string') check(!/[\r\n]/.test(e.address), `${ptr}/address`);
      if (key === 'anniversaries') check(datePart(e.date) !== null, `${ptr}/date`);
      if (key === 'media') check(e.kind === 'photo' || e.kind === 'logo' || e.kind === 'sound', `${ptr}/kind`);
      if (key === 'titles') check(e.kind === undefined || e.kind === 'title' || e.kind === 'role', `${ptr}/kind`);
      if (key === 'onlineServices') check(typeof e.uri === 'string' || typeof e.user === 'string', `${ptr}/uri`);
      if (key === 'organizations') check(e.name === undefined || typeof e.name === 'string', `${ptr}/name`);
      if (key === 'addresses') {
        check(
          e.components === undefined ||
            (Array.isArray(e.components) && e.components.every((c) => isObject(c) && typeof c.kind === 'string' && typeof c.value === 'string')),
          `${ptr}/components`,
        );
        check(e.full === undefined || typeof e.full === 'string', `${ptr}/full`);
      }
    }
  }
  if (card.members !== undefined) check(isObject(card.members) && Object.values(card.members).every((x) => x === true), 'members');
  if (card.keywords !== undefined) check(isObject(card.keywords) && Object.values(card.keywords).every((x) => x === true), 'keywords');
  if (card.vCardProps !== undefined)
    check(
      Array.isArray(card.vCardProps) &&
        card.vCardProps.every(
          (p) =>
            Array.isArray(p) &&
            p.length >= 4 &&
            typeof p[0] === 'string' &&
            /^[a-z0-9-]{1,100}$/i.test(p[0]) &&
            !STRUCTURAL.has(p[0].toUpperCase()) &&
            isObject(p[1]) &&
            Object.entries(p[1]).every(
              ([k, v]) => /^[a-z0-9-]{1,100}$/i.test(k) && typeof v === 'string' && (k !== 'group' || /^[a-z0-9-]{1,100}$/i.test(v)),
            ) &&
            typeof p[3] === 'string' &&
            !/[\r\n]/.test(p[3]),
        ),
      'vCardProps',
    );
  return bad;
}

/** A new UID for a card made without one (RFC 9553 §2.1.9 recommends a URN UUID). */
export function newContactUid(): string {
  return `urn:uuid:${randomUUID()}`;
}

/**
 * The vCard 4.0 of a JSContact Card (checked with invalidCardProperties first). Its UID must be
 * set. Entries are written in a stable order (by map, then id) with their ids as PROP-ID.
 */
export function jsContactToVCard(card: JsonObject): Buffer {
  const lines: Line[] = [{ name: 'VERSION', params: [], value: '4.0' }];
  const done = new Set(['@type', 'version', 'vCardProps']);
  const jsprop = (ptr: string, value: Json) => lines.push({ name: 'JSPROP', params: [['JSPTR', escapeParam(ptr)]], value: escapeText(JSON.stringify(value)) });
  /** Params shared by entries: PROP-ID, TYPE from contexts (+ extra types), PREF, vCardParams; returns the keys handled. */
  const entryParams = (
    id: string,
    e: JsonObject,
    extraTypes: string[],
    contextTypes: Record<string, string>,
  ): { params: Array<[string, string]>; group?: string } => {
    const params: Array<[string, string]> = [['PROP-ID', id]];
    const types = [...extraTypes];
    if (isObject(e.contexts)) for (const c of Object.keys(e.contexts)) types.push(contextTypes[c] ?? c);
    let group: string | undefined;
    if (isObject(e.vCardParams)) {
      for (const [k, v] of Object.entries(e.vCardParams)) {
        if (typeof v !== 'string') continue;
        if (k === 'group') group = /^[A-Za-z0-9-]+$/.test(v) ? v : undefined;
        else if (k === 'type') types.push(...v.split(',').filter((t) => t !== ''));
        else if (/^[A-Za-z0-9-]+$/.test(k) && !MAPPED_PARAMS.has(k.toUpperCase())) params.push([k.toUpperCase(), escapeParam(v)]);
      }
    }
    if (types.length) params.push(['TYPE', escapeParam([...new Set(types)].join(','), true)]);
    if (typeof e.pref === 'number') params.push(['PREF', String(e.pref)]);
    return { params, group };
  };
  const rest = (ptr: string, e: JsonObject, known: string[]) => {
    for (const [k, v] of Object.entries(e)) if (!known.includes(k) && k !== '@type') jsprop(`${ptr}/${k}`, v);
  };
  const CTX = { private: 'home', work: 'work' };
  const COMMON = ['contexts', 'pref', 'vCardParams'];
  const entries = (key: string): Array<[string, JsonObject]> => {
    done.add(key);
    const v = card[key];
    return isObject(v) ? (Object.entries(v).filter(([, e]) => isObject(e)) as Array<[string, JsonObject]>) : [];
  };

  if (typeof card.uid === 'string') lines.push({ name: 'UID', params: [], value: escapeText(card.uid) });
  done.add('uid');
  if (typeof card.kind === 'string') lines.push({ name: 'KIND', params: [], value: card.kind });
  done.add('kind');
  if (typeof card.prodId === 'string') lines.push({ name: 'PRODID', params: [], value: escapeText(card.prodId) });
  done.add('prodId');
  for (const [k, prop] of [
    ['updated', 'REV'],
    ['created', 'CREATED'],
  ] as const) {
    const ts = typeof card[k] === 'string' ? parseTimestamp(card[k]) : null;
    if (ts) lines.push({ name: prop, params: [], value: ts.replace(/[-:]/g, '') });
    done.add(k);
  }

  // Name: FN from name.full (or derived from the components, marked DERIVED), N from the components.
  done.add('name');
  const name = isObject(card.name) ? card.name : {};
  const comps = Array.isArray(name.components) ? name.components.filter(isObject) : [];
  const of = (kind: string) => comps.filter((c) => c.kind === kind && typeof c.value === 'string').map((c) => escapeText(c.value as string));
  if (typeof name.full === 'string') lines.push({ name: 'FN', params: [], value: escapeText(name.full) });
  else {
    const derived = comps
      .filter((c) => c.kind !== 'separator' && typeof c.value === 'string')
      .map((c) => c.value as string)
      .join(' ');
    lines.push({ name: 'FN', params: [['DERIVED', 'TRUE']], value: escapeText(derived) });
  }
  if (comps.length) {
    const fields = [of('surname'), of('given'), of('given2'), of('title'), of('credential')];
    const ext = [of('surname2'), of('generation')];
    if (ext.some((f) => f.length)) fields.push(...ext);
    const params: Array<[string, string]> = [];
    if (isObject(name.sortAs)) {
      const s = [str(name.sortAs.surname) ?? '', str(name.sortAs.given) ?? ''];
      if (s.some((x) => x)) params.push(['SORT-AS', escapeParam(s.join(',').replace(/,$/, ''))]);
    }
    lines.push({ name: 'N', params, value: fields.map((f) => f.join(',')).join(';') });
  }
  rest('name', name, ['full', 'components', 'sortAs']);

  for (const [id, e] of entries('nicknames')) {
    lines.push({ name: 'NICKNAME', ...entryParams(id, e, [], CTX), value: escapeText(str(e.name) ?? '') });
    rest(`nicknames/${id}`, e, ['name', ...COMMON]);
  }
  for (const [id, e] of entries('organizations')) {
    const units = Array.isArray(e.units) ? e.units.filter(isObject).map((u) => escapeText(str(u.name) ?? '')) : [];
    const p = entryParams(id, e, [], CTX);
    if (typeof e.sortAs === 'string') p.params.push(['SORT-AS', escapeParam(e.sortAs)]);
    lines.push({ name: 'ORG', ...p, value: [escapeText(str(e.name) ?? ''), ...units].join(';') });
    rest(`organizations/${id}`, e, ['name', 'units', 'sortAs', ...COMMON]);
  }
  for (const [id, e] of entries('titles')) {
    lines.push({ name: e.kind === 'role' ? 'ROLE' : 'TITLE', ...entryParams(id, e, [], CTX), value: escapeText(str(e.name) ?? '') });
    rest(`titles/${id}`, e, ['name', 'kind', ...COMMON]);
  }
  for (const [id, e] of entries('emails')) {
    lines.push({ name: 'EMAIL', ...entryParams(id, e, [], CTX), value: escapeText(str(e.address) ?? '') });
    rest(`emails/${id}`, e, ['address', ...COMMON]);
  }
  for (const [id, e] of entries('phones')) {
    const features = isObject(e.features) ? Object.keys(e.features).map((f) => FEATURE_TYPES[f] ?? f) : [];
    const number = str(e.number) ?? '';
    const p = entryParams(id, e, features, CTX);
    if (/^tel:/i.test(number)) p.params.push(['VALUE', 'uri']);
    lines.push({ name: 'TEL', ...p, value: /^tel:/i.test(number) ? number : escapeText(number) });
    rest(`phones/${id}`, e, ['number', 'features', ...COMMON]);
  }
  for (const [id, e] of entries('addresses')) {
    const kinds = ['postOfficeBox', 'apartment', 'name', 'locality', 'region', 'postcode', 'country'];
    const comps2 = Array.isArray(e.components) ? e.components.filter(isObject) : [];
    const fields = kinds.map((k) =>
      comps2
        .filter((c) => c.kind === k && typeof c.value === 'string')
        .map((c) => escapeText(c.value as string))
        .join(','),
    );
    // Components with no ADR field (number, building, …) join the street, as RFC 9555 §2.5.1 allows.
    const others = comps2.filter((c) => !kinds.includes(str(c.kind) ?? '') && c.kind !== 'separator' && typeof c.value === 'string');
    if (others.length) fields[2] = [fields[2], ...others.map((c) => escapeText(c.value as string))].filter((x) => x).join(' ');
    const p = entryParams(id, e, [], { ...CTX, billing: 'billing', delivery: 'delivery' });
    if (typeof e.full === 'string') p.params.push(['LABEL', escapeParam(e.full.replace(/\r?\n/g, '\\n'))]);
    if (typeof e.countryCode === 'string' && /^[A-Za-z]{2}$/.test(e.countryCode)) p.params.push(['CC', e.countryCode]);
    lines.push({ name: 'ADR', ...p, value: fields.join(';') });
    rest(`addresses/${id}`, e, ['components', 'full', 'countryCode', ...COMMON]);
    if (others.length) jsprop(`addresses/${id}/components`, e.components as Json);
  }
  for (const [id, e] of entries('links')) {
    lines.push({ name: 'URL', ...entryParams(id, e, [], CTX), value: str(e.uri) ?? '' });
    rest(`links/${id}`, e, ['uri', ...COMMON]);
  }
  for (const [id, e] of entries('onlineServices')) {
    if (typeof e.uri === 'string') {
      lines.push({ name: 'IMPP', ...entryParams(id, e, [], CTX), value: e.uri });
      rest(`onlineServices/${id}`, e, ['uri', 'vCardName', ...COMMON]);
    } else jsprop(`onlineServices/${id}`, e);
  }
  for (const [id, e] of entries('media')) {
    const p = entryParams(id, e, [], CTX);
    if (typeof e.mediaType === 'string') p.params.push(['MEDIATYPE', escapeParam(e.mediaType)]);
    lines.push({ name: String(e.kind).toUpperCase(), ...p, value: str(e.uri) ?? '' });
    rest(`media/${id}`, e, ['kind', 'uri', 'mediaType', ...COMMON]);
  }
  for (const [id, e] of entries('anniversaries')) {
    const date = datePart(e.date);
    if (!date || (e.kind !== 'birth' && e.kind !== 'wedding')) {
      jsprop(`anniversaries/${id}`, e);
      continue;
    }
    lines.push({ name: e.kind === 'birth' ? 'BDAY' : 'ANNIVERSARY', ...entryParams(id, e, [], {}), value: date });
    rest(`anniversaries/${id}`, e, ['kind', 'date', ...COMMON]);
  }
  done.add('keywords');
  if (isObject(card.keywords) && Object.keys(card.keywords).length)
    lines.push({ name: 'CATEGORIES', params: [], value: Object.keys(card.keywords).map(escapeText).join(',') });
  for (const [id, e] of entries('notes')) {
    lines.push({ name: 'NOTE', ...entryParams(id, e, [], {}), value: escapeText(str(e.note) ?? '') });
    rest(`notes/${id}`, e, ['note', ...COMMON]);
  }
  done.add('members');
  if (isObject(card.members)) for (const m of Object.keys(card.members)) lines.push({ name: 'MEMBER', params: [], value: m });
  for (const [id, e] of entries('preferredLanguages')) {
    lines.push({ name: 'LANG', ...entryParams(id, e, [], CTX), value: str(e.language) ?? '' });
    rest(`preferredLanguages/${id}`, e, ['language', ...COMMON]);
  }
  // Everything else of the Card, as JSPROP (RFC 9555 §3.2.1).
  for (const [k, v] of Object.entries(card)) if (!done.has(k)) jsprop(k.replace(/~/g, '~0').replace(/\//g, '~1'), v);
  // Unknown vCard properties, as they came.
  if (Array.isArray(card.vCardProps)) {
    for (const p of card.vCardProps) {
      if (!Array.isArray(p) || typeof p[0] !== 'string' || !isObject(p[1]) || typeof p[3] !== 'string') continue;
      const params: Array<[string, string]> = [];
      let group: string | undefined;
      if (!/^[a-z0-9-]{1,100}$/i.test(p[0]) || STRUCTURAL.has(p[0].toUpperCase())) continue;
      for (const [k, v] of Object.entries(p[1])) {
        if (typeof v !== 'string' || !/^[a-z0-9-]{1,100}$/i.test(k)) continue;
        if (k === 'group') group = /^[a-z0-9-]{1,100}$/i.test(v) ? v : undefined;
        else params.push([k.toUpperCase(), escapeParam(v)]);
      }
      lines.push({ group, name: p[0].toUpperCase(), params, value: p[3].replace(/[\r\n]/g, ' ') });
    }
  }
  return Buffer.from(`BEGIN:VCARD\r\n${lines.map(render).join('\r\n')}\r\nEND:VCARD\r\n`, 'utf8');
}
