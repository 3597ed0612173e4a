/**
 * IMAP URLs (RFC 5092) as CATENATE takes them (RFC 4469 §3): relative URLs naming a message or
 * a part of one on this server, for the session's own user — `/mailbox[;UIDVALIDITY=n]/;UID=n
 * [/;SECTION=section][/;PARTIAL=start[.length]]`. RFC 4469 §3 describes only URLs "having no
 * scheme or <iserver>"; an absolute `imap://` URL (another server, another user) and URLAUTH
 * (`;EXPIRE=`, `;URLAUTH=`, RFC 4467, not offered here) are refused like a malformed one, so
 * the answer for them is the same BADURL whatever exists elsewhere.
 *
 * The mailbox is percent-encoded UTF-8 (RFC 5092 §3.2, §9 `enc-mailbox`); the section is the
 * section-text of a BODY[] FETCH (`1.2`, `HEADER`, `TEXT`, `1.MIME`, `HEADER.FIELDS (…)` with
 * its spaces percent-encoded), parsed by the FETCH section parser. Parameter names are
 * case-insensitive. This module does no I/O; the session resolves the parsed URL.
 */
import { ArgReader, ParseError } from './reader.ts';
import type { Section } from './requests.ts';
import { parseSection } from './parser/fetch.ts';

export interface ImapMessageUrl {
  /** UTF-8 mailbox name as written (INBOX not yet normalised). */
  mailbox: string;
  uidValidity: number | null;
  uid: number;
  /** null: the whole message. */
  section: Section | null;
  /** ;PARTIAL= (RFC 5092 §3.3): length null means to the end. */
  partial: { start: number; length: number | null } | null;
}

export class ImapUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImapUrlError';
  }
}

const MAX_URL_LENGTH = 4096;
const MAX_U32 = 0xffffffff;

/** Percent-decoding (RFC 3986 §2.1) to bytes; raw characters must be printable ASCII. */
function percentDecode(text: string, what: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new ImapUrlError(`Bad percent-encoding in the ${what}`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (c > 0x20 && c < 0x7f) out.push(c);
    else throw new ImapUrlError(`Character not allowed in the ${what}`);
  }
  return Buffer.from(out);
}

function nzNumber(text: string, what: string): number {
  if (!/^[1-9]\d{0,9}$/.test(text) || Number(text) > MAX_U32) throw new ImapUrlError(`Invalid ${what}`);
  return Number(text);
}

function parseUrlSection(encoded: string): Section {
  const text = percentDecode(encoded, 'section').toString('latin1');
  const r = new ArgReader([{ kind: 'text', bytes: Buffer.from(`[${text}]`, 'latin1') }]);
  try {
    const { section } = parseSection(r);
    r.end();
    return section;
  } catch (err) {
    if (err instanceof ParseError) throw new ImapUrlError(`Invalid section: ${err.message}`);
    throw err;
  }
}

function parsePartial(value: string): ImapMessageUrl['partial'] {
  const m = /^(\d{1,10})(?:\.(\d{1,10}))?$/.exec(value);
  if (!m || Number(m[1]) > MAX_U32) throw new ImapUrlError('Invalid partial range');
  return { start: Number(m[1]), length: m[2] === undefined ? null : nzNumber(m[2], 'partial length') };
}

/** Parses a CATENATE URL; ImapUrlError for anything that is not one of ours. */
export function parseImapUrl(url: string): ImapMessageUrl {
  if (url.length === 0 || url.length > MAX_URL_LENGTH) throw new ImapUrlError('Invalid IMAP URL');
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(url) || url.startsWith('//')) {
    throw new ImapUrlError('Only relative IMAP URLs to this server are supported (RFC 4469 §3)');
  }
  if (!url.startsWith('/')) throw new ImapUrlError('The URL must name a mailbox (/mailbox/;UID=n)');
  // Segments are separated by "/;": a ";" inside the mailbox name is percent-encoded.
  const [mailboxPart, ...params] = url.slice(1).split('/;');
  const [encMailbox, ...mailboxParams] = mailboxPart.split(';');
  if (encMailbox.length === 0) throw new ImapUrlError('The URL names no mailbox');
  let mailbox: string;
  try {
    mailbox = new TextDecoder('utf-8', { fatal: true }).decode(percentDecode(encMailbox, 'mailbox name'));
  } catch (err) {
    if (err instanceof ImapUrlError) throw err;
    throw new ImapUrlError('Mailbox name is not UTF-8');
  }
  let uidValidity: number | null = null;
  for (const p of mailboxParams) {
    const m = /^UIDVALIDITY=(.*)$/i.exec(p);
    if (!m || uidValidity !== null) throw new ImapUrlError('Unknown mailbox parameter');
    uidValidity = nzNumber(m[1], 'UIDVALIDITY');
  }
  const result: ImapMessageUrl = { mailbox, uidValidity, uid: 0, section: null, partial: null };
  const order = ['UID', 'SECTION', 'PARTIAL'];
  let at = 0;
  for (const p of params) {
    if (p.includes(';')) throw new ImapUrlError('URLAUTH is not supported');
    const eq = p.indexOf('=');
    const name = eq < 0 ? p.toUpperCase() : p.slice(0, eq).toUpperCase();
    const value = eq < 0 ? '' : p.slice(eq + 1);
    const i = order.indexOf(name, at);
    if (i < 0 || (i > 0 && at === 0)) throw new ImapUrlError(`Unexpected ;${name.slice(0, 20)} in the URL`);
    at = i + 1;
    if (name === 'UID') result.uid = nzNumber(value, 'UID');
    else if (name === 'SECTION') {
      if (value.length === 0) throw new ImapUrlError('Empty section');
      result.section = parseUrlSection(value);
    } else result.partial = parsePartial(value);
  }
  if (result.uid === 0) throw new ImapUrlError('The URL names no message (;UID=n)');
  return result;
}

/**
 * The URL as a BADURL response code may carry it (RFC 4469 §5 `url-resp-text`: TEXT-CHARs
 * but "]"): other octets percent-encoded, so the client still recognises its URL.
 */
export function urlForResponse(url: string): string {
  const short = url.length > 1024 ? url.slice(0, 1024) : url;
  let out = '';
  for (const b of Buffer.from(short, 'utf8'))
    out += b <= 0x20 || b >= 0x7f || b === 0x5d ? `%${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b);
  return out.length > 0 ? out : '%20';
}
