/**
 * Header fields in JMAP's parsed forms (RFC 8621 §4.1.2): Raw, Text, Addresses,
 * GroupedAddresses, MessageIds, Date, URLs, for the `header:{name}[:as{Form}][:all]`
 * properties and the convenience properties (from, subject, messageId, …).
 */
import { parseAddressList } from '#core/mime/envelope.ts';
import { parseHeaderFields, unfold } from '#core/mime/header.ts';
import type { EnvelopeAddress } from '#core/mime/types.ts';
import { decodeWords } from './email-body.ts';

export type HeaderForm = 'Raw' | 'Text' | 'Addresses' | 'GroupedAddresses' | 'MessageIds' | 'Date' | 'URLs';
const FORMS = new Set<string>(['Raw', 'Text', 'Addresses', 'GroupedAddresses', 'MessageIds', 'Date', 'URLs']);

export interface HeaderProperty {
  name: string;
  form: HeaderForm;
  all: boolean;
}

/** Parses `header:Name[:asForm][:all]`; null when malformed. */
export function parseHeaderProperty(prop: string): HeaderProperty | null {
  const parts = prop.split(':');
  if (parts[0] !== 'header' || parts.length < 2 || parts.length > 4 || !/^[\x21-\x39\x3b-\x7e]+$/.test(parts[1])) return null;
  let form: HeaderForm = 'Raw';
  let all = false;
  for (const p of parts.slice(2)) {
    if (p === 'all' && !all) all = true;
    else if (p.startsWith('as') && FORMS.has(p.slice(2)) && form === 'Raw' && !all) form = p.slice(2) as HeaderForm;
    else return null;
  }
  return { name: parts[1], form, all };
}

export interface EmailAddress {
  name: string | null;
  email: string;
}

function addressesOf(list: EnvelopeAddress[]): Array<{ name: string | null; addresses: EmailAddress[] }> {
  const groups: Array<{ name: string | null; addresses: EmailAddress[] }> = [];
  let current: { name: string | null; addresses: EmailAddress[] } | null = null;
  for (const a of list) {
    if (a.host === null && a.mailbox !== null) {
      current = { name: decodeWords(a.mailbox), addresses: [] };
      groups.push(current);
    } else if (a.host === null && a.mailbox === null) {
      current = null;
    } else {
      const email = a.host ? `${a.mailbox ?? ''}@${a.host}` : (a.mailbox ?? '');
      const entry = { name: decodeWords(a.name), email };
      if (current) current.addresses.push(entry);
      else {
        const last = groups[groups.length - 1];
        if (last && last.name === null) last.addresses.push(entry);
        else groups.push({ name: null, addresses: [entry] });
      }
    }
  }
  return groups;
}

function messageIds(value: string): string[] | null {
  const ids = [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]);
  return ids.length > 0 ? ids : null;
}

function dateOf(value: string): string | null {
  const t = Date.parse(value.replace(/\([^)]*\)/g, '').trim());
  return Number.isFinite(t) ? new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z') : null;
}

/** The value of one field (its raw value, after the colon) in a form. */
export function headerValue(raw: string, form: HeaderForm): unknown {
  const text = unfold(raw).trim();
  switch (form) {
    case 'Raw':
      return raw;
    case 'Text':
      return decodeWords(text);
    case 'Addresses':
      return addressesOf(parseAddressList(text)).flatMap((g) => g.addresses);
    case 'GroupedAddresses':
      return addressesOf(parseAddressList(text));
    case 'MessageIds':
      return messageIds(text);
    case 'Date':
      return dateOf(text);
    case 'URLs': {
      const urls = [...text.matchAll(/<([^>]*)>/g)].map((m) => m[1].trim());
      return urls.length > 0 ? urls : null;
    }
  }
}

/** The header block's fields as {name, value} (value raw, UTF-8 where the bytes are). */
export function headerFields(block: Buffer): Array<{ name: string; value: string }> {
  return parseHeaderFields(block).map((f) => ({ name: f.name, value: block.toString('utf8', f.valueStart, f.end).replace(/\r?\n$/, '') }));
}

/** `header:…` on a header block: the last field of that name (or all with :all), in the form. */
export function headerProperty(fields: Array<{ name: string; value: string }>, prop: HeaderProperty): unknown {
  const key = prop.name.toLowerCase();
  const matches = fields.filter((f) => f.name.toLowerCase() === key).map((f) => headerValue(f.value, prop.form));
  if (prop.all) return matches;
  return matches.length > 0 ? matches[matches.length - 1] : null;
}
