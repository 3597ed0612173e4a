/**
 * The address book over JMAP for Contacts (RFC 9610): AddressBook and ContactCard objects,
 * cards in JSContact (RFC 9553). The same cards a phone syncs over CardDAV. Groups are cards of
 * kind `group` whose `members` name the uids of their cards (RFC 9553 §2.1.6).
 */
import type { JmapClient } from './jmap.ts';

export const CONTACTS = 'urn:ietf:params:jmap:contacts';

export interface AddressBook {
  id: string;
  name: string;
  isDefault?: boolean;
}

export interface Card {
  id: string;
  uid: string;
  kind?: string;
  addressBookIds: Record<string, boolean>;
  name?: { full?: string; components?: Array<{ kind: string; value: string }> };
  emails?: Record<string, { address: string }>;
  phones?: Record<string, { number: string }>;
  organizations?: Record<string, { name?: string }>;
  notes?: Record<string, { note: string }>;
  members?: Record<string, boolean>;
}

/** What the contact form edits. */
export interface ContactFields {
  name: string;
  email: string;
  phone: string;
  organization: string;
  note: string;
}

const PROPERTIES = ['id', 'uid', 'kind', 'addressBookIds', 'name', 'emails', 'phones', 'organizations', 'notes', 'members'];

export function cardName(c: Card): string {
  const full = c.name?.full?.trim();
  if (full) return full;
  const parts = (c.name?.components ?? []).filter((p) => p.kind !== 'separator').map((p) => p.value);
  return parts.join(' ').trim() || cardEmails(c)[0] || '(no name)';
}

export function cardEmails(c: Card): string[] {
  return Object.values(c.emails ?? {}).map((e) => e.address);
}

export function isGroup(c: Card): boolean {
  return c.kind === 'group';
}

export function fieldsOf(c: Card | null): ContactFields {
  return {
    name: c ? cardName(c) : '',
    email: c ? (cardEmails(c)[0] ?? '') : '',
    phone: c ? (Object.values(c.phones ?? {})[0]?.number ?? '') : '',
    organization: c ? (Object.values(c.organizations ?? {})[0]?.name ?? '') : '',
    note: c ? (Object.values(c.notes ?? {})[0]?.note ?? '') : '',
  };
}

/**
 * The card properties the form changed. An emptied field removes the property; only the first
 * email, phone, organisation and note are edited: further ones (from a phone) are kept, and so
 * is a structured name the form did not touch.
 */
export function cardPatch(f: ContactFields, old: Card | null): Record<string, unknown> {
  const one = <T>(key: string, current: Record<string, T> | undefined, value: T | null): Record<string, T> | null => {
    const rest = Object.entries(current ?? {}).slice(1);
    const first = Object.keys(current ?? {})[0] ?? key;
    const out = Object.fromEntries([...(value === null ? [] : [[first, value] as const]), ...rest]);
    return Object.keys(out).length > 0 ? out : null;
  };
  const was = fieldsOf(old);
  const changed = (k: keyof ContactFields) => old === null || f[k].trim() !== was[k].trim();
  const patch: Record<string, unknown> = {};
  if (changed('name')) patch.name = f.name.trim() ? { full: f.name.trim() } : null;
  if (changed('email')) patch.emails = one('e1', old?.emails, f.email.trim() ? { address: f.email.trim() } : null);
  if (changed('phone')) patch.phones = one('p1', old?.phones, f.phone.trim() ? { number: f.phone.trim() } : null);
  if (changed('organization')) patch.organizations = one('o1', old?.organizations, f.organization.trim() ? { name: f.organization.trim() } : null);
  if (changed('note')) patch.notes = one('n1', old?.notes, f.note.trim() ? { note: f.note.trim() } : null);
  // A new card leaves out what is empty rather than sending nulls.
  if (old === null) for (const k of Object.keys(patch)) if (patch[k] === null) delete patch[k];
  return patch;
}

export async function loadAddressBook(client: JmapClient): Promise<{ books: AddressBook[]; cards: Card[] }> {
  const accountId = client.session.accountId;
  const [books, , cards] = await client.call([
    ['AddressBook/get', { accountId, ids: null }, 'b'],
    ['ContactCard/query', { accountId, limit: 1000 }, 'q'],
    ['ContactCard/get', { accountId, '#ids': { resultOf: 'q', name: 'ContactCard/query', path: '/ids' }, properties: PROPERTIES }, 'c'],
  ]);
  const list = (cards.list as Card[]).slice().sort((a, b) => cardName(a).localeCompare(cardName(b)));
  return { books: books.list as AddressBook[], cards: list };
}

export function defaultBook(books: AddressBook[]): AddressBook | undefined {
  return books.find((b) => b.isDefault) ?? books[0];
}

/** Creates a card; resolves its id, or throws with the server's reason. */
export async function createCard(client: JmapClient, book: AddressBook, properties: Record<string, unknown>): Promise<string> {
  const res = await client.request('ContactCard/set', {
    create: { c: { '@type': 'Card', version: '1.0', addressBookIds: { [book.id]: true }, ...properties } },
  });
  const created = (res.created as Record<string, { id: string }> | undefined)?.c;
  if (!created) throw new Error(setFailure(res.notCreated, 'c'));
  return created.id;
}

export async function updateCard(client: JmapClient, id: string, patch: Record<string, unknown>): Promise<void> {
  const res = await client.request('ContactCard/set', { update: { [id]: patch } });
  if (!(res.updated && id in (res.updated as object))) throw new Error(setFailure(res.notUpdated, id));
}

export async function destroyCard(client: JmapClient, id: string): Promise<void> {
  const res = await client.request('ContactCard/set', { destroy: [id] });
  if (!(res.destroyed as string[] | undefined)?.includes(id)) throw new Error(setFailure(res.notDestroyed, id));
}

function setFailure(errors: unknown, key: string): string {
  const e = (errors as Record<string, { type: string; description?: string }> | undefined)?.[key];
  return e ? (e.description ?? e.type) : 'the server did not say why';
}

/** `Name <address>` for every address of every person, as compose suggests them. */
export function suggestionsOf(cards: Card[]): string[] {
  const out: string[] = [];
  for (const c of cards) {
    if (isGroup(c)) continue;
    const name =
      c.name?.full?.trim() ||
      (c.name?.components ?? [])
        .map((p) => p.value)
        .join(' ')
        .trim();
    for (const email of cardEmails(c)) out.push(name ? `${name.includes(',') ? `"${name}"` : name} <${email}>` : email);
  }
  return out;
}
