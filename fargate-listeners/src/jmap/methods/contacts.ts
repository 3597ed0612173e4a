/**
 * JMAP for Contacts (RFC 9610): AddressBook/get, /changes, /set and ContactCard/get, /changes,
 * /set, /query, /queryChanges, on the ContactStore port (core/ports/contacts.ts) that CardDAV
 * serves too, so a card made here is a vCard there and the other way round. Cards are JSContact
 * (RFC 9553) converted from and to the stored vCard (core/contacts/jscontact.ts, RFC 9555).
 *
 *  - AddressBook ids are the store's book ids (the CardDAV URL segment); the default book
 *    ("Contacts", id `default`) is created on first use, as CardDAV does.
 *  - A card is in exactly one address book (maxAddressBooksPerCard 1). Its id names the book and
 *    the card's resource name: `c` + base64url of `book/name`, or, when that would pass 255
 *    characters, `h` + a hash found by listing the books. A card cannot move to another book
 *    (the id would change): a patch of addressBookIds naming another book is invalidProperties.
 *  - States: AddressBook state lists each book with a hash of what /get shows; ContactCard
 *    state lists each book's id, creation time and sync token (its change-log position).
 *    ContactCard/changes asks the store's change log of each book from there; a card put since
 *    is reported `updated` (the log does not tell a new card from a changed one; RFC 8620 §5.2
 *    clients fetch both); a book gone since (its log with it) gives cannotCalculateChanges.
 *  - ContactCard/queryChanges answers cannotCalculateChanges (RFC 8620 §5.6 allows it).
 *  - Writes wake push (EventSource) through MailboxEvents with the pseudo mailbox CONTACTS_CHANGED,
 *    as CardDAV's do.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  JSContactError,
  invalidCardProperties,
  jsContactToVCard,
  newContactUid,
  vCardToJSContact,
  type Json,
  type JsonObject,
} from '#core/contacts/jscontact.ts';
import { checkVCard, unescapeText } from '#core/contacts/vcard.ts';
import { DEFAULT_BOOK } from '../../dav/carddav-routes.ts';
import { CONTACTS_CHANGED, ContactError, MAX_VCARD_BYTES, type AddressBook, type ContactInfo, type StoredContact } from '#core/ports/contacts.ts';
import type { MethodContext, MethodDef } from '../api.ts';
import { uploadKeyOf } from '../blob-routes.ts';
import { CONTACTS } from '../capabilities.ts';
import { MethodError, invalidArguments, type SetError } from '../errors.ts';
import type { JmapServices } from '../services.ts';
import { decodeState, encodeState, shortHash } from '../state.ts';
import { getIds, optionalBool, optionalInt, optionalObject, optionalString, optionalStringArray, pick, requireAccount, resolveId } from './common.ts';

const MAX_NAME = 200;
/** Address books a user may have (AddressBook/set create past it: overQuota). */
export const MAX_ADDRESS_BOOKS = 100;
const MAX_DESCRIPTION = 2000;

const BOOK_PROPERTIES = ['id', 'name', 'description', 'sortOrder', 'isDefault', 'isSubscribed', 'shareWith', 'myRights'];
const BOOK_RIGHTS = { mayRead: true, mayWrite: true, mayShare: false, mayDelete: true };

// ---- ids ----

export function contactIdOf(bookId: string, name: string): string {
  const direct = 'c' + Buffer.from(`${bookId}/${name}`, 'utf8').toString('base64url');
  return direct.length <= 255 ? direct : 'h' + createHash('sha256').update(`${bookId}/${name}`).digest('base64url').slice(0, 32);
}

function decodeContactId(id: string): { book: string; name: string } | null {
  if (!/^c[A-Za-z0-9_-]{1,254}$/.test(id)) return null;
  const text = Buffer.from(id.slice(1), 'base64url').toString('utf8');
  const slash = text.indexOf('/');
  return slash > 0 ? { book: text.slice(0, slash), name: text.slice(slash + 1) } : null;
}

// ---- parsed cards, memoised by ETag (the same bytes always give the same card) ----

const parsed = new Map<string, JsonObject | null>();
const PARSED_MAX = 20_000;

function cardOf(c: StoredContact): JsonObject | null {
  let card = parsed.get(c.etag);
  if (card === undefined) {
    try {
      card = vCardToJSContact(c.data);
    } catch {
      card = null; // checked when stored; a card that no longer parses is shown by id and uid only
    }
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(c.etag, card);
  }
  return card ? (structuredClone(card) as JsonObject) : null;
}

function contactView(bookId: string, c: StoredContact): JsonObject {
  const card = cardOf(c) ?? { '@type': 'Card', version: '1.0', uid: c.uid };
  return { id: contactIdOf(bookId, c.name), addressBookIds: { [bookId]: true }, ...card };
}

// ---- states ----

function bookState(books: AddressBook[]): string {
  return encodeState({ b: books.map((b) => [b.id, shortHash([b.displayName, b.description, b.createdAt])]) });
}

function cardState(books: AddressBook[]): string {
  return encodeState({ c: books.map((b) => [b.id, b.createdAt, b.syncToken]) });
}

export async function contactStates(svc: JmapServices, user: string): Promise<{ AddressBook: string; ContactCard: string }> {
  const books = await svc.contacts.listAddressBooks(user);
  return { AddressBook: bookState(books), ContactCard: cardState(books) };
}

function setError(err: unknown): SetError {
  if (err instanceof ContactError) {
    if (err.code === 'NOT_FOUND') return { type: 'notFound', description: err.message };
    if (err.code === 'TOO_LARGE') return { type: 'tooLarge', description: err.message };
    if (err.code === 'UID_CONFLICT') return { type: 'invalidProperties', properties: ['uid'], description: 'another card of this address book has this uid' };
    if (err.code === 'EXISTS') return { type: 'alreadyExists', description: err.message };
    return { type: 'invalidProperties', description: err.message };
  }
  if (err instanceof JSContactError) return { type: 'invalidProperties', properties: err.properties, description: err.message };
  if (err && typeof err === 'object' && !(err instanceof Error) && typeof (err as SetError).type === 'string') return err as SetError;
  throw err;
}

function ifInState(args: Record<string, unknown>, state: string): void {
  const expected = optionalString(args, 'ifInState');
  if (expected !== null && expected !== state) throw new MethodError('stateMismatch', 'ifInState does not match the current state');
}

/** RFC 6901 pointer segments of a patch key (RFC 8620 §5.3 PatchObject). */
function pointerParts(path: string): string[] | null {
  const parts = path.split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  return parts.some((p) => p === '') ? null : parts;
}

/** Applies a PatchObject; a SetError invalidPatch when a path goes through something that is not an object. */
export function applyPatch(target: JsonObject, patch: Record<string, unknown>): JsonObject {
  const out = structuredClone(target);
  for (const [path, value] of Object.entries(patch)) {
    const parts = pointerParts(path);
    if (!parts) throw { type: 'invalidPatch', description: `bad patch path ${path}` } satisfies SetError;
    let cur: JsonObject = out;
    for (const key of parts.slice(0, -1)) {
      const next = cur[key];
      if (next === null || typeof next !== 'object' || Array.isArray(next))
        throw { type: 'invalidPatch', description: `patch path ${path} goes through a missing or non-object value` } satisfies SetError;
      cur = next;
    }
    const last = parts[parts.length - 1];
    if (value === null) delete cur[last];
    else cur[last] = value as Json;
  }
  return out;
}

// ---- query ----

type Filter = Record<string, unknown>;

const values = (m: Json | undefined): JsonObject[] =>
  m && typeof m === 'object' && !Array.isArray(m) ? (Object.values(m).filter((e) => e && typeof e === 'object' && !Array.isArray(e)) as JsonObject[]) : [];

function nameParts(card: JsonObject, kind: string | null): string[] {
  const name = card.name as JsonObject | undefined;
  if (!name || typeof name !== 'object') return [];
  const comps = Array.isArray(name.components) ? (name.components as JsonObject[]) : [];
  const out = comps.filter((c) => c && (kind === null || c.kind === kind) && typeof c.value === 'string').map((c) => c.value as string);
  if (kind === null && typeof name.full === 'string') out.push(name.full);
  return out;
}

function textsOf(card: JsonObject, what: string): string[] {
  switch (what) {
    case 'name':
      return nameParts(card, null);
    case 'nickname':
      return values(card.nicknames).map((e) => String(e.name ?? ''));
    case 'organization':
      return values(card.organizations).flatMap((o) => [String(o.name ?? ''), ...values(o.units as Json).map((u) => String(u.name ?? ''))]);
    case 'email':
      return values(card.emails).map((e) => String(e.address ?? ''));
    case 'phone':
      return values(card.phones).map((e) => String(e.number ?? ''));
    case 'onlineService':
      return values(card.onlineServices).flatMap((e) => [String(e.uri ?? ''), String(e.user ?? '')]);
    case 'address':
      return values(card.addresses).flatMap((a) => [
        String(a.full ?? ''),
        ...((Array.isArray(a.components) ? a.components : []) as JsonObject[]).map((c) => String(c?.value ?? '')),
      ]);
    case 'note':
      return values(card.notes).map((e) => String(e.note ?? ''));
  }
  return [];
}

const TEXT_FILTERS = ['name', 'nickname', 'organization', 'email', 'phone', 'onlineService', 'address', 'note'];
const NAME_FILTERS: Record<string, string> = { 'name/given': 'given', 'name/surname': 'surname', 'name/surname2': 'surname2' };
const CONDITION_KEYS = new Set([
  'inAddressBook',
  'uid',
  'hasMember',
  'kind',
  'createdBefore',
  'createdAfter',
  'updatedBefore',
  'updatedAfter',
  'text',
  ...TEXT_FILTERS,
  ...Object.keys(NAME_FILTERS),
]);

function checkFilter(f: unknown, depth = 0): void {
  if (depth > 10) throw new MethodError('unsupportedFilter', 'filter nested too deep');
  if (!f || typeof f !== 'object' || Array.isArray(f)) throw new MethodError('unsupportedFilter', 'a filter is an object');
  const o = f as Filter;
  if ('operator' in o) {
    if (!['AND', 'OR', 'NOT'].includes(o.operator as string) || !Array.isArray(o.conditions))
      throw new MethodError('unsupportedFilter', 'FilterOperator needs operator AND/OR/NOT and conditions');
    for (const c of o.conditions) checkFilter(c, depth + 1);
    return;
  }
  for (const [k, v] of Object.entries(o)) {
    if (!CONDITION_KEYS.has(k)) throw new MethodError('unsupportedFilter', `unknown filter condition ${k}`);
    if (typeof v !== 'string') throw new MethodError('unsupportedFilter', `filter condition ${k} takes a string`);
    if (/(Before|After)$/.test(k) && Number.isNaN(Date.parse(v))) throw new MethodError('unsupportedFilter', `${k} takes a UTCDate`);
  }
}

function matches(f: Filter, bookId: string, card: JsonObject): boolean {
  if ('operator' in f) {
    const conds = f.conditions as Filter[];
    if (f.operator === 'AND') return conds.every((c) => matches(c, bookId, card));
    if (f.operator === 'OR') return conds.some((c) => matches(c, bookId, card));
    return !conds.some((c) => matches(c, bookId, card));
  }
  for (const [k, raw] of Object.entries(f)) {
    const v = String(raw);
    const needle = v.toLowerCase();
    const has = (list: string[]) => list.some((s) => s.toLowerCase().includes(needle));
    switch (k) {
      case 'inAddressBook':
        if (bookId !== v) return false;
        break;
      case 'uid':
        if (card.uid !== v) return false;
        break;
      case 'hasMember':
        if (!card.members || typeof card.members !== 'object' || (card.members as JsonObject)[v] !== true) return false;
        break;
      case 'kind':
        if ((card.kind ?? 'individual') !== v) return false;
        break;
      case 'createdBefore':
      case 'createdAfter':
      case 'updatedBefore':
      case 'updatedAfter': {
        const at = k.startsWith('created') ? card.created : card.updated;
        if (typeof at !== 'string') return false;
        const t = Date.parse(at);
        const limit = Date.parse(v);
        if (k.endsWith('Before') ? !(t < limit) : !(t >= limit)) return false;
        break;
      }
      case 'text':
        if (!has([...TEXT_FILTERS.flatMap((w) => textsOf(card, w)), ...values(card.titles).map((t) => String(t.name ?? ''))])) return false;
        break;
      default:
        if (NAME_FILTERS[k]) {
          if (!has(nameParts(card, NAME_FILTERS[k]))) return false;
        } else if (!has(textsOf(card, k))) return false;
    }
  }
  return true;
}

const SORTS = new Set(['created', 'updated', 'name/given', 'name/surname', 'name/surname2']);

function sortKey(card: JsonObject, property: string): string {
  if (property === 'created' || property === 'updated') return typeof card[property] === 'string' ? (card[property] as string) : '';
  const name = card.name as JsonObject | undefined;
  const kind = property.slice('name/'.length);
  const sortAs = name && typeof name.sortAs === 'object' && name.sortAs ? (name.sortAs as JsonObject)[kind] : undefined;
  if (typeof sortAs === 'string') return sortAs.toLowerCase();
  return nameParts(card, kind).join(' ').toLowerCase();
}

function displayName(card: JsonObject): string {
  const name = card.name as JsonObject | undefined;
  if (name && typeof name.full === 'string' && name.full !== '') return name.full.toLowerCase();
  const parts = nameParts(card, null);
  if (parts.length) return parts.join(' ').toLowerCase();
  return values(card.emails)[0]?.address?.toString().toLowerCase() ?? '';
}

/** The image type of uploaded photo bytes, by their signature. */
function sniffImage(data: Buffer): string {
  if (data[0] === 0xff && data[1] === 0xd8) return 'image/jpeg';
  if (data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (data.subarray(0, 4).toString('latin1') === 'GIF8') return 'image/gif';
  if (data.subarray(0, 4).toString('latin1') === 'RIFF' && data.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return 'application/octet-stream';
}

// ---- methods ----

export function contactMethods(svc: JmapServices): Record<string, MethodDef> {
  const store = svc.contacts;

  async function books(user: string): Promise<AddressBook[]> {
    const list = await store.listAddressBooks(user);
    if (list.length > 0) return list;
    try {
      await store.createAddressBook(user, DEFAULT_BOOK);
    } catch (err) {
      if (!(err instanceof ContactError && err.code === 'EXISTS')) throw err;
    }
    return store.listAddressBooks(user);
  }

  function bookView(b: AddressBook): Record<string, unknown> {
    return {
      id: b.id,
      name: b.displayName,
      description: b.description,
      sortOrder: b.id === DEFAULT_BOOK.id ? 0 : 10,
      isDefault: b.id === DEFAULT_BOOK.id,
      isSubscribed: true,
      shareWith: null,
      myRights: BOOK_RIGHTS,
    };
  }

  /** Resolves card ids to (book, name); ids that name nothing are left out. */
  async function locate(user: string, ids: string[], list: AddressBook[]): Promise<Map<string, { book: string; name: string }>> {
    const out = new Map<string, { book: string; name: string }>();
    const bookIds = new Set(list.map((b) => b.id));
    const hashed: string[] = [];
    for (const id of ids) {
      const d = decodeContactId(id);
      if (d && bookIds.has(d.book)) out.set(id, d);
      else if (/^h[A-Za-z0-9_-]{32}$/.test(id)) hashed.push(id);
    }
    if (hashed.length) {
      const wanted = new Set(hashed);
      for (const b of list)
        for (const c of await store.listContacts(user, b.id)) {
          const id = contactIdOf(b.id, c.name);
          if (wanted.has(id)) out.set(id, { book: b.id, name: c.name });
        }
    }
    return out;
  }

  async function readCards(user: string, bookId: string, names: string[]): Promise<StoredContact[]> {
    const out: StoredContact[] = [];
    for (let i = 0; i < names.length; i += 200) out.push(...(await store.getContacts(user, bookId, names.slice(i, i + 200))));
    return out;
  }

  // -- AddressBook --

  async function bookGet(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const ids = getIds(args, ctx, svc.limits.maxObjectsInGet);
    const asked = optionalStringArray(args, 'properties');
    if (asked) for (const p of asked) if (!BOOK_PROPERTIES.includes(p)) throw invalidArguments(`Unknown property ${p}`);
    const properties = asked ? [...new Set(['id', ...asked])] : BOOK_PROPERTIES;
    const list = await books(ctx.user);
    const wanted = ids ? list.filter((b) => ids.includes(b.id)) : list;
    const found = new Set(wanted.map((b) => b.id));
    return {
      accountId,
      state: bookState(list),
      list: wanted.map((b) => pick(bookView(b), properties)),
      notFound: ids ? ids.filter((id) => !found.has(id)) : [],
    };
  }

  async function bookChanges(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const since = optionalString(args, 'sinceState');
    if (since === null) throw invalidArguments('sinceState is required');
    optionalInt(args, 'maxChanges', 0, 1);
    const old = decodeState(since) as { b?: unknown } | null;
    if (!old || !Array.isArray(old.b)) throw new MethodError('cannotCalculateChanges', 'Unknown state');
    const before = new Map<string, string>();
    for (const e of old.b) if (Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'string') before.set(e[0], e[1]);
    const list = await books(ctx.user);
    const created: string[] = [];
    const updated: string[] = [];
    for (const b of list) {
      const h = shortHash([b.displayName, b.description, b.createdAt]);
      const prev = before.get(b.id);
      if (prev === undefined) created.push(b.id);
      else if (prev !== h) updated.push(b.id);
      before.delete(b.id);
    }
    return { accountId, oldState: since, newState: bookState(list), hasMoreChanges: false, created, updated, destroyed: [...before.keys()] };
  }

  async function bookSet(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const user = ctx.user;
    const before = await books(user);
    const oldState = bookState(before);
    ifInState(args, oldState);
    let bookCount = before.length;
    const create = optionalObject(args, 'create') ?? {};
    const update = optionalObject(args, 'update') ?? {};
    const destroy = (args.destroy ?? []) as unknown;
    if (!Array.isArray(destroy) || !destroy.every((d) => typeof d === 'string')) throw invalidArguments('destroy must be an array of ids');
    const removeContents = optionalBool(args, 'onDestroyRemoveContents', false);
    if (args.onSuccessSetIsDefault !== undefined && args.onSuccessSetIsDefault !== null)
      throw invalidArguments('the default address book is fixed (id default); onSuccessSetIsDefault is not supported');
    if (Object.keys(create).length + Object.keys(update).length + destroy.length > svc.limits.maxObjectsInSet)
      throw new MethodError('requestTooLarge', `At most ${svc.limits.maxObjectsInSet} objects in one /set`);
    const created: Record<string, unknown> = {};
    const notCreated: Record<string, SetError> = {};
    const updated: Record<string, unknown> = {};
    const notUpdated: Record<string, SetError> = {};
    const destroyed: string[] = [];
    const notDestroyed: Record<string, SetError> = {};
    let changed = false;

    const checkProps = (m: Record<string, unknown>, creating: boolean): SetError | null => {
      for (const k of Object.keys(m)) {
        if (!['name', 'description', 'sortOrder', 'isSubscribed', 'shareWith'].includes(k))
          return { type: 'invalidProperties', properties: [k], description: `${k} cannot be set` };
      }
      if ((creating || 'name' in m) && (typeof m.name !== 'string' || m.name.trim() === '' || m.name.length > MAX_NAME))
        return { type: 'invalidProperties', properties: ['name'], description: `name must be a non-empty string of at most ${MAX_NAME} characters` };
      if (m.description !== undefined && m.description !== null && (typeof m.description !== 'string' || m.description.length > MAX_DESCRIPTION))
        return { type: 'invalidProperties', properties: ['description'] };
      if (m.sortOrder !== undefined && (typeof m.sortOrder !== 'number' || !Number.isInteger(m.sortOrder) || m.sortOrder < 0))
        return { type: 'invalidProperties', properties: ['sortOrder'] };
      if (m.isSubscribed !== undefined && m.isSubscribed !== true)
        return { type: 'invalidProperties', properties: ['isSubscribed'], description: 'every own address book is subscribed' };
      if (m.shareWith !== undefined && m.shareWith !== null) return { type: 'forbidden', description: 'address books are not shared' };
      return null;
    };

    for (const [cid, raw] of Object.entries(create)) {
      try {
        if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw { type: 'invalidProperties', description: 'not an object' };
        const m = raw as Record<string, unknown>;
        const bad = checkProps(m, true);
        if (bad) throw bad;
        if (bookCount >= MAX_ADDRESS_BOOKS) throw { type: 'overQuota', description: `At most ${MAX_ADDRESS_BOOKS} address books` } satisfies SetError;
        const id = randomUUID();
        const b = await store.createAddressBook(user, {
          id,
          displayName: (m.name as string).trim(),
          description: (m.description as string | undefined) ?? null,
        });
        changed = true;
        bookCount++;
        ctx.createdIds.set(cid, b.id);
        const v = bookView(b);
        created[cid] = {
          id: b.id,
          description: v.description,
          sortOrder: v.sortOrder,
          isDefault: false,
          isSubscribed: true,
          shareWith: null,
          myRights: BOOK_RIGHTS,
        };
      } catch (err) {
        notCreated[cid] = setError(err);
      }
    }
    for (const [rawId, raw] of Object.entries(update)) {
      const id = resolveId(rawId, ctx);
      try {
        if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw { type: 'invalidPatch' };
        const m = raw as Record<string, unknown>;
        const book = await store.getAddressBook(user, id);
        if (!book) throw { type: 'notFound' };
        const bad = checkProps(m, false);
        if (bad) throw bad;
        if ('name' in m || 'description' in m) {
          await store.updateAddressBook(user, id, {
            displayName: 'name' in m ? (m.name as string).trim() : book.displayName,
            description: 'description' in m ? ((m.description as string | null) ?? null) : book.description,
          });
          changed = true;
        }
        updated[id] = null;
      } catch (err) {
        notUpdated[id] = setError(err);
      }
    }
    for (const rawId of destroy as string[]) {
      const id = resolveId(rawId, ctx);
      try {
        const book = await store.getAddressBook(user, id);
        if (!book) throw { type: 'notFound' };
        if (!removeContents && (await store.listContacts(user, id)).length > 0)
          throw { type: 'addressBookHasContents', description: 'the address book has cards: destroy them first or set onDestroyRemoveContents' };
        await store.deleteAddressBook(user, id);
        changed = true;
        destroyed.push(id);
      } catch (err) {
        notDestroyed[id] = setError(err);
      }
    }
    if (changed) svc.events.notify(user, CONTACTS_CHANGED);
    const newState = bookState(await store.listAddressBooks(user));
    return {
      accountId,
      oldState,
      newState,
      created: Object.keys(created).length ? created : null,
      updated: Object.keys(updated).length ? updated : null,
      destroyed: destroyed.length ? destroyed : null,
      notCreated: Object.keys(notCreated).length ? notCreated : null,
      notUpdated: Object.keys(notUpdated).length ? notUpdated : null,
      notDestroyed: Object.keys(notDestroyed).length ? notDestroyed : null,
    };
  }

  // -- ContactCard --

  async function cardGet(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const ids = getIds(args, ctx, svc.limits.maxObjectsInGet);
    const asked = optionalStringArray(args, 'properties');
    const list = await books(ctx.user);
    const state = cardState(list);
    const out: JsonObject[] = [];
    const notFound: string[] = [];
    if (ids === null) {
      let total = 0;
      const infos: Array<[string, ContactInfo[]]> = [];
      for (const b of list) {
        const cs = await store.listContacts(ctx.user, b.id);
        total += cs.length;
        infos.push([b.id, cs]);
      }
      if (total > svc.limits.maxObjectsInGet)
        throw new MethodError('requestTooLarge', `More than ${svc.limits.maxObjectsInGet} cards: ask by ids (ContactCard/query)`);
      for (const [bookId, cs] of infos)
        for (const c of await readCards(
          ctx.user,
          bookId,
          cs.map((x) => x.name),
        ))
          out.push(contactView(bookId, c));
    } else {
      const where = await locate(ctx.user, ids, list);
      const byBook = new Map<string, string[]>();
      for (const d of where.values()) byBook.set(d.book, [...(byBook.get(d.book) ?? []), d.name]);
      const found = new Map<string, JsonObject>();
      for (const [bookId, names] of byBook)
        for (const c of await readCards(ctx.user, bookId, names)) found.set(contactIdOf(bookId, c.name), contactView(bookId, c));
      for (const id of new Set(ids)) {
        const v = found.get(id);
        if (v) out.push(v);
        else notFound.push(id);
      }
    }
    const props = asked ? [...new Set(['id', ...asked])] : null;
    return { accountId, state, list: props ? out.map((c) => pick(c, props)) : out, notFound };
  }

  async function cardChanges(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const since = optionalString(args, 'sinceState');
    if (since === null) throw invalidArguments('sinceState is required');
    const maxChanges = args.maxChanges === undefined || args.maxChanges === null ? Infinity : optionalInt(args, 'maxChanges', 0, 1);
    const old = decodeState(since) as { c?: unknown } | null;
    if (!old || !Array.isArray(old.c)) throw new MethodError('cannotCalculateChanges', 'Unknown state');
    const before = new Map<string, { createdAt: number; token: number }>();
    for (const e of old.c)
      if (Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'number' && typeof e[2] === 'number')
        before.set(e[0], { createdAt: e[1], token: e[2] });
    const list = await books(ctx.user);
    for (const [id, b] of before) {
      const now = list.find((x) => x.id === id);
      // A book destroyed (or recreated) since: which cards it held is gone with its change log.
      if ((!now || now.createdAt !== b.createdAt) && b.token > 0)
        throw new MethodError('cannotCalculateChanges', 'an address book holding cards was destroyed since that state: get the cards again');
    }
    const created: string[] = [];
    const updated: string[] = [];
    const destroyed: string[] = [];
    // Books are taken whole, in order, while they fit maxChanges; the state moves past those only.
    const next: AddressBook[] = [];
    let hasMoreChanges = false;
    for (const b of list) {
      const prev = before.get(b.id);
      const fresh = !prev || prev.createdAt !== b.createdAt;
      let ids: { created: string[]; updated: string[]; destroyed: string[]; token: number };
      if (fresh) {
        const cs = await store.listContacts(ctx.user, b.id);
        ids = { created: cs.map((c) => contactIdOf(b.id, c.name)), updated: [], destroyed: [], token: b.syncToken };
      } else {
        if (prev.token > b.syncToken) throw new MethodError('cannotCalculateChanges', 'Unknown state');
        const ch = prev.token === b.syncToken ? { changed: [], removed: [], syncToken: b.syncToken } : await store.changesSince(ctx.user, b.id, prev.token);
        if (!ch) throw new MethodError('cannotCalculateChanges', 'an address book was destroyed meanwhile');
        ids = {
          created: [],
          updated: ch.changed.map((c) => contactIdOf(b.id, c.name)),
          destroyed: ch.removed.map((n) => contactIdOf(b.id, n)),
          token: ch.syncToken,
        };
      }
      const n = ids.created.length + ids.updated.length + ids.destroyed.length;
      const total = created.length + updated.length + destroyed.length;
      if (hasMoreChanges || (total + n > maxChanges && n > 0)) {
        if (total === 0) throw new MethodError('cannotCalculateChanges', `one address book has more than maxChanges (${maxChanges}) changes`);
        hasMoreChanges = true;
        if (prev && !fresh) next.push({ ...b, syncToken: prev.token });
        continue;
      }
      created.push(...ids.created);
      updated.push(...ids.updated);
      destroyed.push(...ids.destroyed);
      next.push({ ...b, syncToken: ids.token });
    }
    return { accountId, oldState: since, newState: cardState(next), hasMoreChanges, created, updated, destroyed };
  }

  async function cardQuery(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const filter = optionalObject(args, 'filter');
    if (filter) checkFilter(filter);
    const sort = args.sort ?? [];
    if (!Array.isArray(sort)) throw invalidArguments('sort must be an array');
    const comparators = sort.map((s: unknown) => {
      const c = s as Record<string, unknown>;
      if (!c || typeof c !== 'object' || typeof c.property !== 'string' || !SORTS.has(c.property))
        throw new MethodError('unsupportedSort', 'ContactCard sorts by created, updated, name/given, name/surname or name/surname2');
      return { property: c.property, asc: c.isAscending !== false };
    });
    const position = optionalInt(args, 'position', 0, Number.MIN_SAFE_INTEGER);
    const limit = args.limit === undefined || args.limit === null ? null : optionalInt(args, 'limit', 0);
    const anchor = optionalString(args, 'anchor');
    const anchorOffset = optionalInt(args, 'anchorOffset', 0, Number.MIN_SAFE_INTEGER);
    const calculateTotal = optionalBool(args, 'calculateTotal', false);
    const list = await books(ctx.user);
    const rows: Array<{ id: string; card: JsonObject }> = [];
    for (const b of list) {
      const infos = await store.listContacts(ctx.user, b.id);
      for (const c of await readCards(
        ctx.user,
        b.id,
        infos.map((x) => x.name),
      )) {
        const card = cardOf(c) ?? { uid: c.uid };
        if (!filter || matches(filter, b.id, card)) rows.push({ id: contactIdOf(b.id, c.name), card });
      }
    }
    const keyed = rows.map((r) => ({ ...r, keys: comparators.map((c) => sortKey(r.card, c.property)), name: displayName(r.card) }));
    keyed.sort((a, b) => {
      for (let i = 0; i < comparators.length; i++) {
        const d = a.keys[i] < b.keys[i] ? -1 : a.keys[i] > b.keys[i] ? 1 : 0;
        if (d !== 0) return comparators[i].asc ? d : -d;
      }
      return a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    let start: number;
    if (anchor !== null) {
      const i = keyed.findIndex((r) => r.id === anchor);
      if (i < 0) throw new MethodError('anchorNotFound', 'the anchor is not in the results');
      start = Math.max(0, i + anchorOffset);
    } else start = position < 0 ? Math.max(0, keyed.length + position) : Math.min(position, keyed.length);
    const page = keyed.slice(start, limit === null ? undefined : start + limit);
    const out: Record<string, unknown> = { accountId, queryState: cardState(list), canCalculateChanges: false, position: start, ids: page.map((r) => r.id) };
    if (calculateTotal) out.total = keyed.length;
    if (limit !== null) out.limit = limit;
    return out;
  }

  async function cardQueryChanges(args: Record<string, unknown>, ctx: MethodContext): Promise<Record<string, unknown>> {
    requireAccount(args, ctx);
    if (optionalString(args, 'sinceQueryState') === null) throw invalidArguments('sinceQueryState is required');
    throw new MethodError('cannotCalculateChanges', 'ContactCard/query results are not kept: run ContactCard/query again');
  }

  /** The vCard bytes of a JMAP card (addressBookIds and id removed); JSContactError or a SetError when it cannot be stored. */
  function toStored(card: JsonObject): { data: Buffer; uid: string } {
    const bad = invalidCardProperties(card);
    if (bad.length) throw new JSContactError('invalid JSContact properties', bad);
    const data = jsContactToVCard(card);
    if (data.length > MAX_VCARD_BYTES)
      throw { type: 'tooLarge', description: `a card may be at most ${MAX_VCARD_BYTES} octets as a vCard (photos included)` } satisfies SetError;
    // What CardDAV will serve must be one valid vCard with this UID (a last check of the conversion).
    let uid: string | null;
    try {
      uid = checkVCard(data).uid;
    } catch (err) {
      throw { type: 'invalidProperties', description: `the card does not make a valid vCard: ${(err as Error).message}` } satisfies SetError;
    }
    if (uid === null || unescapeText(uid) !== (card.uid as string).trim())
      throw { type: 'invalidProperties', properties: ['uid'], description: 'the uid does not survive as a vCard UID' } satisfies SetError;
    return { data, uid };
  }

  /**
   * Photos by upload (RFC 8620 §6.1): a media entry with the `blobId` of an upload of this
   * account and no `uri` is stored inline, as a `data:` URI (what CardDAV clients read).
   */
  async function inlineMedia(card: JsonObject, accountId: string): Promise<void> {
    const media = card.media;
    if (!media || typeof media !== 'object' || Array.isArray(media)) return;
    for (const [id, e] of Object.entries(media)) {
      if (!e || typeof e !== 'object' || Array.isArray(e) || e.blobId === undefined) continue;
      const key = typeof e.blobId === 'string' ? uploadKeyOf(e.blobId, accountId) : null;
      if (!key || e.uri !== undefined)
        throw {
          type: 'invalidProperties',
          properties: [`media/${id}/blobId`],
          description: 'blobId names an upload of this account (and no uri)',
        } satisfies SetError;
      let data: Buffer;
      try {
        data = await svc.blobs.get(key);
      } catch {
        throw { type: 'invalidProperties', properties: [`media/${id}/blobId`], description: 'no such upload' } satisfies SetError;
      }
      if (data.length > MAX_VCARD_BYTES)
        throw { type: 'tooLarge', description: `a card may be at most ${MAX_VCARD_BYTES} octets as a vCard (photos included)` } satisfies SetError;
      const type = typeof e.mediaType === 'string' && /^[\w.+-]+\/[\w.+-]+$/.test(e.mediaType) ? e.mediaType : sniffImage(data);
      delete e.blobId;
      e.uri = `data:${type};base64,${data.toString('base64')}`;
    }
  }

  function targetBook(m: JsonObject, list: AddressBook[], ctx: MethodContext): string {
    const ab = m.addressBookIds;
    if (ab === undefined || ab === null) return DEFAULT_BOOK.id;
    if (typeof ab !== 'object' || Array.isArray(ab)) throw { type: 'invalidProperties', properties: ['addressBookIds'] } satisfies SetError;
    const ids = Object.entries(ab).filter(([, v]) => v === true);
    if (ids.length !== 1 || Object.keys(ab).length !== 1)
      throw { type: 'invalidProperties', properties: ['addressBookIds'], description: 'a card is in exactly one address book here' } satisfies SetError;
    const id = resolveId(ids[0][0], ctx);
    if (!list.some((b) => b.id === id))
      throw { type: 'invalidProperties', properties: ['addressBookIds'], description: 'no such address book' } satisfies SetError;
    return id;
  }

  async function cardSet(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const user = ctx.user;
    let list = await books(user);
    const oldState = cardState(list);
    ifInState(args, oldState);
    const create = optionalObject(args, 'create') ?? {};
    const update = optionalObject(args, 'update') ?? {};
    const destroy = (args.destroy ?? []) as unknown;
    if (!Array.isArray(destroy) || !destroy.every((d) => typeof d === 'string')) throw invalidArguments('destroy must be an array of ids');
    if (Object.keys(create).length + Object.keys(update).length + destroy.length > svc.limits.maxObjectsInSet)
      throw new MethodError('requestTooLarge', `At most ${svc.limits.maxObjectsInSet} objects in one /set`);
    const created: Record<string, unknown> = {};
    const notCreated: Record<string, SetError> = {};
    const updated: Record<string, unknown> = {};
    const notUpdated: Record<string, SetError> = {};
    const destroyed: string[] = [];
    const notDestroyed: Record<string, SetError> = {};
    let changed = false;

    for (const [cid, raw] of Object.entries(create)) {
      try {
        if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw { type: 'invalidProperties', description: 'not an object' } satisfies SetError;
        const m = { ...(raw as JsonObject) };
        if ('id' in m) throw { type: 'invalidProperties', properties: ['id'], description: 'id is set by the server' } satisfies SetError;
        const bookId = targetBook(m, list, ctx);
        delete m.addressBookIds;
        const serverSet: JsonObject = {};
        if (m.uid === undefined) m.uid = serverSet.uid = newContactUid();
        if (m['@type'] === undefined) m['@type'] = serverSet['@type'] = 'Card';
        if (m.version === undefined) m.version = serverSet.version = '1.0';
        await inlineMedia(m, accountId);
        const stored = toStored(m);
        const name = `${randomUUID()}.vcf`;
        const r = await store.putContact(user, bookId, name, stored, { ifNoneMatch: true });
        changed = true;
        const id = contactIdOf(bookId, r.contact.name);
        ctx.createdIds.set(cid, id);
        created[cid] = { id, ...serverSet };
      } catch (err) {
        notCreated[cid] = setError(err);
      }
    }
    list = changed ? await store.listAddressBooks(user) : list;
    const updates = Object.entries(update).map(([rawId, patch]) => [resolveId(rawId, ctx), patch] as const);
    const where = await locate(user, [...updates.map(([id]) => id), ...(destroy as string[]).map((d) => resolveId(d, ctx))], list);
    for (const [id, raw] of updates) {
      try {
        if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw { type: 'invalidPatch' } satisfies SetError;
        const loc = where.get(id);
        if (!loc) throw { type: 'notFound' } satisfies SetError;
        for (let attempt = 0; ; attempt++) {
          const current = await store.getContact(user, loc.book, loc.name);
          if (!current) throw { type: 'notFound' } satisfies SetError;
          // A stored card that does not convert is not replaced by a patch of what little is shown of it.
          if (cardOf(current) === null) throw { type: 'forbidden', description: 'the stored vCard cannot be read; change it over CardDAV' } satisfies SetError;
          const view = contactView(loc.book, current);
          const next = applyPatch(view, raw as Record<string, unknown>);
          if (next.id !== id) throw { type: 'invalidProperties', properties: ['id'], description: 'id cannot change' } satisfies SetError;
          if (targetBook(next, list, ctx) !== loc.book)
            throw {
              type: 'invalidProperties',
              properties: ['addressBookIds'],
              description: 'a card cannot move to another address book here; create it there and destroy this one',
            } satisfies SetError;
          if (next.uid !== view.uid) throw { type: 'invalidProperties', properties: ['uid'], description: 'uid cannot change' } satisfies SetError;
          delete next.id;
          delete next.addressBookIds;
          await inlineMedia(next, accountId);
          const stored = toStored(next);
          try {
            await store.putContact(user, loc.book, loc.name, stored, { ifMatch: current.etag });
            break;
          } catch (err) {
            // Changed over CardDAV between the read and the write: patch the new version.
            if (err instanceof ContactError && (err.code === 'PRECONDITION_FAILED' || err.code === 'CONFLICT') && attempt < 3) continue;
            throw err;
          }
        }
        changed = true;
        updated[id] = null;
      } catch (err) {
        notUpdated[id] = setError(err);
      }
    }
    for (const rawId of destroy as string[]) {
      const id = resolveId(rawId, ctx);
      try {
        const loc = where.get(id);
        if (!loc) throw { type: 'notFound' } satisfies SetError;
        await store.deleteContact(user, loc.book, loc.name);
        changed = true;
        destroyed.push(id);
      } catch (err) {
        notDestroyed[id] = setError(err);
      }
    }
    if (changed) svc.events.notify(user, CONTACTS_CHANGED);
    return {
      accountId,
      oldState,
      newState: cardState(await store.listAddressBooks(user)),
      created: Object.keys(created).length ? created : null,
      updated: Object.keys(updated).length ? updated : null,
      destroyed: destroyed.length ? destroyed : null,
      notCreated: Object.keys(notCreated).length ? notCreated : null,
      notUpdated: Object.keys(notUpdated).length ? notUpdated : null,
      notDestroyed: Object.keys(notDestroyed).length ? notDestroyed : null,
    };
  }

  const locked = (fn: (a: Record<string, unknown>, c: MethodContext) => Promise<Record<string, unknown>>) => (a: Record<string, unknown>, c: MethodContext) =>
    svc.locks.run(`contacts:${c.user}`, () => fn(a, c));
  return {
    'AddressBook/get': { capability: CONTACTS, handle: bookGet },
    'AddressBook/changes': { capability: CONTACTS, handle: bookChanges },
    'AddressBook/set': { capability: CONTACTS, handle: locked(bookSet) },
    'ContactCard/get': { capability: CONTACTS, handle: cardGet },
    'ContactCard/changes': { capability: CONTACTS, handle: cardChanges },
    'ContactCard/query': { capability: CONTACTS, handle: cardQuery },
    'ContactCard/queryChanges': { capability: CONTACTS, handle: cardQueryChanges },
    'ContactCard/set': { capability: CONTACTS, handle: locked(cardSet) },
  };
}
