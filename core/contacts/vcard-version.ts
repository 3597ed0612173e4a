/**
 * vCard 4.0 (RFC 6350) ↔ 3.0 (RFC 2426): a 3.0 card a CardDAV client PUTs (or a file imports) is
 * stored as 4.0, and served as 3.0 to the client that wrote it and to clients that ask for 3.0
 * (RFC 6352 §10.4.1 `address-data` version, and the Accept header of a GET). What differs, both ways:
 *  - VERSION; PREF=n (4.0) ↔ TYPE=pref (3.0);
 *  - inline media: `PHOTO:data:image/jpeg;base64,…` (4.0) ↔ `PHOTO;ENCODING=b;TYPE=JPEG:…` (3.0);
 *  - TEL as a `tel:` URI (VALUE=uri) ↔ TEL as text;
 *  - KIND and MEMBER (4.0 only) ↔ X-ADDRESSBOOKSERVER-KIND / -MEMBER (what Apple's 3.0 groups use);
 *    ANNIVERSARY, GENDER, JSPROP ↔ X-ANNIVERSARY, X-GENDER, X-JSPROP;
 *  - ADR's LABEL parameter (4.0) ↔ a LABEL property (3.0);
 *  - 4.0-only parameters (PROP-ID, DERIVED, PID, ALTID, MEDIATYPE, CC, CALSCALE) are dropped in 3.0;
 *  - 3.0 requires N: an empty one is added when the card has none.
 * Everything else passes through as it is.
 */
import { escapeParam, fold } from './jscontact.ts';
import { checkVCard, parseLine, unfold, type VCardProperty } from './vcard.ts';

type Line = { group: string | null; name: string; params: Array<[string, string]>; value: string };

function render(l: Line): string {
  return fold(`${l.group ? `${l.group}.` : ''}${l.name}${l.params.map(([k, v]) => `;${k}=${escapeParam(v, k === 'TYPE')}`).join('')}:${l.value}`);
}

function card(lines: Line[]): Buffer {
  return Buffer.from(`BEGIN:VCARD\r\n${lines.map(render).join('\r\n')}\r\nEND:VCARD\r\n`, 'utf8');
}

/** The content lines between BEGIN and END (nested AGENT cards kept as lines). */
function propertiesOf(data: Buffer): VCardProperty[] {
  checkVCard(data); // one valid card, or VCardError
  const lines = unfold(data.toString('utf8').replace(/^\uFEFF/, ''));
  return lines.slice(1, -1).map(parseLine);
}

const ONLY_4 = new Set(['PROP-ID', 'DERIVED', 'PID', 'ALTID', 'MEDIATYPE', 'CC', 'CALSCALE', 'INDEX', 'LEVEL']);
const RENAMED_3: Record<string, string> = {
  KIND: 'X-ADDRESSBOOKSERVER-KIND',
  MEMBER: 'X-ADDRESSBOOKSERVER-MEMBER',
  ANNIVERSARY: 'X-ANNIVERSARY',
  GENDER: 'X-GENDER',
  JSPROP: 'X-JSPROP',
};
const RENAMED_4 = Object.fromEntries(Object.entries(RENAMED_3).map(([a, b]) => [b, a]));

/** The card as vCard 3.0 (a 3.0 card is returned as it is). VCardError when it is not a vCard. */
export function toVCard3(data: Buffer): Buffer {
  if (checkVCard(data).version === '3.0') return data;
  const out: Line[] = [];
  let hasN = false;
  for (const p of propertiesOf(data)) {
    if (p.name === 'VERSION') {
      out.push({ group: null, name: 'VERSION', params: [], value: '3.0' });
      continue;
    }
    if (p.name === 'N') hasN = true;
    const params: Array<[string, string]> = [];
    const types = (p.params.TYPE ?? '').split(',').filter((t) => t !== '');
    let value = p.value;
    let label: string | null = null;
    for (const [k, v] of Object.entries(p.params)) {
      if (k === 'TYPE' || ONLY_4.has(k)) continue;
      if (k === 'PREF') {
        if (!types.some((t) => t.toLowerCase() === 'pref')) types.push('pref');
      } else if (k === 'LABEL' && p.name === 'ADR') label = v;
      else if (k === 'VALUE' && v.toLowerCase() === 'uri' && p.name === 'TEL') continue;
      else params.push([k, v]);
    }
    if (p.name === 'TEL' && /^tel:/i.test(value)) value = value.slice(4);
    if (p.name === 'PHOTO' || p.name === 'LOGO' || p.name === 'SOUND') {
      const m = /^data:([\w.+-]+)\/([\w.+-]+)(?:;[^,]*)?;base64,(.*)$/is.exec(value.trim());
      if (m) {
        params.push(['ENCODING', 'b']);
        types.unshift(m[2].toUpperCase());
        value = m[3];
      } else {
        const i = params.findIndex(([k]) => k === 'VALUE');
        if (i < 0) params.push(['VALUE', 'uri']);
      }
    }
    if (types.length) params.unshift(['TYPE', types.join(',')]);
    const name = RENAMED_3[p.name] ?? p.name;
    out.push({ group: p.group, name, params, value });
    if (label !== null) out.push({ group: p.group, name: 'LABEL', params: types.length ? [['TYPE', types.join(',')]] : [], value: label });
  }
  if (!hasN) out.splice(1, 0, { group: null, name: 'N', params: [], value: ';;;;' });
  return card(out);
}

/** The card as vCard 4.0 (a 4.0 card is returned as it is). VCardError when it is not a vCard. */
export function toVCard4(data: Buffer): Buffer {
  if (checkVCard(data).version === '4.0') return data;
  const out: Line[] = [];
  for (const p of propertiesOf(data)) {
    if (p.name === 'VERSION') {
      out.push({ group: null, name: 'VERSION', params: [], value: '4.0' });
      continue;
    }
    if (p.name === 'LABEL' || p.name === 'NAME' || p.name === 'MAILER' || p.name === 'PROFILE' || p.name === 'CLASS') {
      out.push({ group: p.group, name: `X-${p.name}`, params: Object.entries(p.params), value: p.value });
      continue;
    }
    const params: Array<[string, string]> = [];
    let types = (p.params.TYPE ?? '').split(',').filter((t) => t !== '');
    let value = p.value;
    const isPref = types.some((t) => t.toLowerCase() === 'pref');
    types = types.filter((t) => t.toLowerCase() !== 'pref' && !(p.name === 'EMAIL' && t.toLowerCase() === 'internet'));
    const enc = p.params.ENCODING?.toLowerCase();
    if ((p.name === 'PHOTO' || p.name === 'LOGO' || p.name === 'SOUND') && (enc === 'b' || enc === 'base64')) {
      const sub = types.shift()?.toLowerCase() ?? 'jpeg';
      const main = p.name === 'SOUND' ? 'audio' : 'image';
      value = `data:${sub.includes('/') ? sub : `${main}/${sub}`};base64,${value.replace(/\s/g, '')}`;
    }
    for (const [k, v] of Object.entries(p.params)) {
      if (k === 'TYPE' || k === 'CHARSET' || k === 'ENCODING') continue;
      if (k === 'VALUE' && v.toLowerCase() === 'uri' && (p.name === 'PHOTO' || p.name === 'LOGO' || p.name === 'SOUND')) continue;
      params.push([k, v]);
    }
    if (types.length) params.unshift(['TYPE', types.join(',')]);
    if (isPref) params.push(['PREF', '1']);
    out.push({ group: p.group, name: RENAMED_4[p.name] ?? p.name, params, value });
  }
  return card(out);
}

/**
 * The vCard version a client asks for in an Accept header or an address-data element's
 * `version` (RFC 6352 §10.4.1), or null when it does not say (the card is served as stored).
 */
export function requestedVersion(accept: string | undefined): '3.0' | '4.0' | null {
  if (!accept) return null;
  let best: { v: '3.0' | '4.0'; q: number } | null = null;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (type !== 'text/vcard' && type !== 'text/x-vcard') continue;
    const version = params
      .find((x) => x.startsWith('version='))
      ?.slice(8)
      .replace(/"/g, '');
    const q = Number(params.find((x) => x.startsWith('q='))?.slice(2) ?? '1');
    if ((version === '3.0' || version === '4.0') && (!best || q > best.q)) best = { v: version, q };
  }
  return best?.v ?? null;
}
