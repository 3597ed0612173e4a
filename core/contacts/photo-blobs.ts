/**
 * Contact photos as blobs (issue 19: "photos as blobs"): a ContactStore wrapper that every
 * reader and writer of contacts goes through (the adapters build it, core/adapters/*\/index.ts),
 * so CardDAV, JMAP, import/export and the collected addresses see cards with their photos inline
 * while the stored card holds a pointer.
 *
 *  - A PHOTO (or LOGO) whose value is a base64 `data:` URI decoding to more than
 *    INLINE_PHOTO_MAX octets is moved out: the value's exact bytes (line folds included) go to
 *    the blob `messages/contacts/<user>/<book>/<name>/<random>` and the stored card holds
 *    `x-cloudmail-photo:<random>` in their place. Reading puts the bytes back, so a card reads
 *    back byte for byte as it was put (CardDAV's promise for a 4.0 PUT answered with an ETag).
 *  - The ETag stays the adapter's: the SHA-256 of the stored card, so it changes exactly when the
 *    card (or one of its photos: a new blob name) changes.
 *  - Order of writes: the new blobs first, then the card; after the card is written the
 *    replaced card's blobs are deleted; when the write fails the new blobs are deleted. A race
 *    can leave an unused blob, never a card pointing at a missing one (a pointer names the blob
 *    of one card version only: a card sent with our scheme in it is refused).
 *  - Deleting a card, a book or all of a user's contacts deletes their photo blobs after the
 *    cards are gone.
 */
import { randomUUID } from 'node:crypto';
import type { BlobStore } from '../ports/blob-store.ts';
import { BlobNotFoundError } from '../ports/blob-store.ts';
import {
  checkPut,
  ContactError,
  type AddressBook,
  type ContactChanges,
  type ContactData,
  type ContactInfo,
  type ContactStore,
  type PutContactOptions,
  type StoredContact,
} from '../ports/contacts.ts';
import { MESSAGE_BUCKET } from '../resources.ts';

/** Photos decoding to at most this many octets stay inline in the stored card. */
export const INLINE_PHOTO_MAX = 4096;
/** The URI scheme of a stored card's pointer to its photo blob (ours; never served). */
export const PHOTO_POINTER_SCHEME = 'x-cloudmail-photo:';

const PHOTO_PROPERTIES = new Set(['PHOTO', 'LOGO']);
const POINTER_ID = /^[0-9a-f-]{36}$/;

/** The blob key of one photo of one card. */
export function photoBlobKey(user: string, bookId: string, name: string, id: string): string {
  return `${MESSAGE_BUCKET.messagePrefix}contacts/${user}/${bookId}/${name}/${id}`;
}

/** A property's value span in the card's text (latin1: one char per octet, so offsets are octets). */
interface ValueSpan {
  property: string;
  start: number;
  end: number;
  /** Where the content line starts, and where the next one starts (its line break included). */
  lineStart: number;
  lineNext: number;
}

/** The value spans of every content line (folded lines joined), RFC 6350 §3.2. */
function valueSpans(text: string): ValueSpan[] {
  const spans: ValueSpan[] = [];
  let pos = 0;
  while (pos < text.length) {
    // The end of the logical line: a line break not followed by a fold (space or tab).
    let end = pos;
    for (;;) {
      const nl = text.indexOf('\n', end);
      if (nl < 0) {
        end = text.length;
        break;
      }
      if (text[nl + 1] === ' ' || text[nl + 1] === '\t') {
        end = nl + 1;
        continue;
      }
      end = nl;
      break;
    }
    const lineEnd = end > pos && text[end - 1] === '\r' ? end - 1 : end;
    // The colon that ends name and parameters: the first one outside a quoted parameter value.
    let quoted = false;
    let colon = -1;
    for (let i = pos; i < lineEnd; i++) {
      const c = text[i];
      if (c === '"') quoted = !quoted;
      else if (c === ':' && !quoted) {
        colon = i;
        break;
      }
    }
    if (colon >= 0) {
      const head = unfold(text.slice(pos, colon));
      const nameWithGroup = head.split(';', 1)[0]!;
      const property = nameWithGroup.slice(nameWithGroup.lastIndexOf('.') + 1).toUpperCase();
      spans.push({ property, start: colon + 1, end: lineEnd, lineStart: pos, lineNext: Math.min(end + 1, text.length) });
    }
    pos = end + 1;
  }
  return spans;
}

function unfold(raw: string): string {
  return raw.replace(/\r?\n[ \t]/g, '');
}

/** The decoded size of a base64 `data:` URI, or null when the value is not one. */
function dataUriSize(value: string): number | null {
  const m = /^data:[^,]*;base64,([A-Za-z0-9+/=\s]*)$/i.exec(value);
  if (!m) return null;
  return Buffer.from(m[1]!, 'base64').length;
}

/** The pointer ids a stored card holds. */
export function photoPointers(data: Buffer): string[] {
  const text = data.toString('latin1');
  if (!text.includes(PHOTO_POINTER_SCHEME)) return [];
  const ids: string[] = [];
  for (const span of valueSpans(text)) {
    if (!PHOTO_PROPERTIES.has(span.property)) continue;
    const value = unfold(text.slice(span.start, span.end));
    if (value.startsWith(PHOTO_POINTER_SCHEME) && POINTER_ID.test(value.slice(PHOTO_POINTER_SCHEME.length))) ids.push(value.slice(PHOTO_POINTER_SCHEME.length));
  }
  return ids;
}

/** The card as stored: large photos replaced by pointers; the photos to write first. */
export function splitPhotos(data: Buffer): { stored: Buffer; photos: Array<{ id: string; bytes: Buffer }> } {
  const text = data.toString('latin1');
  const photos: Array<{ id: string; bytes: Buffer }> = [];
  let out = '';
  let last = 0;
  for (const span of valueSpans(text)) {
    if (!PHOTO_PROPERTIES.has(span.property)) continue;
    const raw = text.slice(span.start, span.end);
    if (unfold(raw).toLowerCase().startsWith(PHOTO_POINTER_SCHEME))
      throw new ContactError('INVALID', `the URI scheme ${PHOTO_POINTER_SCHEME} is reserved by the server`);
    const size = dataUriSize(unfold(raw));
    if (size === null || size <= INLINE_PHOTO_MAX) continue;
    const id = randomUUID();
    photos.push({ id, bytes: Buffer.from(raw, 'latin1') });
    out += text.slice(last, span.start) + PHOTO_POINTER_SCHEME + id;
    last = span.end;
  }
  if (photos.length === 0) return { stored: data, photos };
  out += text.slice(last);
  return { stored: Buffer.from(out, 'latin1'), photos };
}

/**
 * The card as put: every pointer replaced by its blob's bytes. A missing blob: null, or with
 * `dropMissing` the card without that property (a blob lost: better than serving our pointer).
 */
async function joinPhotos(blobs: BlobStore, user: string, bookId: string, name: string, data: Buffer, dropMissing: boolean): Promise<Buffer | null> {
  const text = data.toString('latin1');
  if (!text.includes(PHOTO_POINTER_SCHEME)) return data;
  let out = '';
  let last = 0;
  for (const span of valueSpans(text)) {
    if (!PHOTO_PROPERTIES.has(span.property)) continue;
    const value = text.slice(span.start, span.end);
    const id = value.slice(PHOTO_POINTER_SCHEME.length);
    if (!value.startsWith(PHOTO_POINTER_SCHEME) || !POINTER_ID.test(id)) continue;
    let bytes: Buffer;
    try {
      bytes = await blobs.get(photoBlobKey(user, bookId, name, id));
    } catch (err) {
      if (!(err instanceof BlobNotFoundError)) throw err;
      if (!dropMissing) return null;
      out += text.slice(last, span.lineStart);
      last = span.lineNext;
      continue;
    }
    out += text.slice(last, span.start) + bytes.toString('latin1');
    last = span.end;
  }
  out += text.slice(last);
  return Buffer.from(out, 'latin1');
}

export class PhotoBlobContactStore implements ContactStore {
  /** The adapter's store: the cards as stored, pointers and all (tests, tools). */
  readonly inner: ContactStore;
  private readonly blobs: BlobStore;

  constructor(inner: ContactStore, blobs: BlobStore) {
    this.inner = inner;
    this.blobs = blobs;
  }

  listAddressBooks(user: string): Promise<AddressBook[]> {
    return this.inner.listAddressBooks(user);
  }
  getAddressBook(user: string, id: string): Promise<AddressBook | null> {
    return this.inner.getAddressBook(user, id);
  }
  createAddressBook(user: string, book: { id: string; displayName: string; description?: string | null }): Promise<AddressBook> {
    return this.inner.createAddressBook(user, book);
  }
  updateAddressBook(user: string, id: string, props: { displayName: string; description: string | null }): Promise<AddressBook> {
    return this.inner.updateAddressBook(user, id, props);
  }

  async deleteAddressBook(user: string, id: string): Promise<void> {
    const keys = await this.bookPhotoKeys(user, id);
    await this.inner.deleteAddressBook(user, id);
    await this.deleteBlobs(keys);
  }

  listContacts(user: string, bookId: string): Promise<ContactInfo[]> {
    return this.inner.listContacts(user, bookId);
  }

  async getContacts(user: string, bookId: string, names: string[]): Promise<StoredContact[]> {
    const cards = await this.inner.getContacts(user, bookId, names);
    const joined = await Promise.all(cards.map((c) => this.joined(user, bookId, c)));
    return joined.filter((c): c is StoredContact => c !== null);
  }

  async getContact(user: string, bookId: string, name: string): Promise<StoredContact | null> {
    const card = await this.inner.getContact(user, bookId, name);
    return card ? this.joined(user, bookId, card) : null;
  }

  async putContact(
    user: string,
    bookId: string,
    name: string,
    card: ContactData,
    options?: PutContactOptions,
  ): Promise<{ contact: ContactInfo; created: boolean }> {
    checkPut(bookId, name, card); // the limit applies to the card as sent, photos included
    const { stored, photos } = splitPhotos(card.data);
    const old = await this.inner.getContact(user, bookId, name); // its blobs go once it is replaced
    const oldKeys = old ? photoPointers(old.data).map((id) => photoBlobKey(user, bookId, name, id)) : [];
    const newKeys = photos.map((p) => photoBlobKey(user, bookId, name, p.id));
    try {
      for (const [i, p] of photos.entries()) await this.blobs.put(newKeys[i]!, p.bytes);
      const result = await this.inner.putContact(user, bookId, name, { ...card, data: stored }, options);
      await this.deleteBlobs(oldKeys);
      return { ...result, contact: { ...result.contact, size: card.data.length } };
    } catch (err) {
      await this.deleteBlobs(newKeys);
      throw err;
    }
  }

  async deleteContact(user: string, bookId: string, name: string, options?: { ifMatch?: string }): Promise<{ modseq: number }> {
    const old = await this.inner.getContact(user, bookId, name);
    const result = await this.inner.deleteContact(user, bookId, name, options);
    if (old) await this.deleteBlobs(photoPointers(old.data).map((id) => photoBlobKey(user, bookId, name, id)));
    return result;
  }

  changesSince(user: string, bookId: string, since: number): Promise<ContactChanges | null> {
    return this.inner.changesSince(user, bookId, since);
  }

  async removeAllContacts(user: string): Promise<void> {
    const keys: string[] = [];
    for (const book of await this.inner.listAddressBooks(user)) keys.push(...(await this.bookPhotoKeys(user, book.id)));
    await this.inner.removeAllContacts(user);
    await this.deleteBlobs(keys);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /**
   * The card with its photos inline. A missing blob means the card was replaced (and its blobs
   * deleted) after it was read: read it again; the same ETag again means the blob is lost, and
   * the card is served without that photo. Null: the card was deleted meanwhile.
   */
  private async joined(user: string, bookId: string, card: StoredContact): Promise<StoredContact | null> {
    let current = card;
    for (let attempt = 0; attempt < 3; attempt++) {
      const data = await joinPhotos(this.blobs, user, bookId, current.name, current.data, false);
      if (data) return data === current.data ? current : { ...current, data, size: data.length };
      const again = await this.inner.getContact(user, bookId, current.name);
      if (!again) return null;
      const lost = again.etag === current.etag;
      current = again;
      if (lost) break;
    }
    const data = (await joinPhotos(this.blobs, user, bookId, current.name, current.data, true))!;
    return { ...current, data, size: data.length };
  }

  /** The photo blobs of every card of a book (read in chunks; only cards holding a pointer count). */
  private async bookPhotoKeys(user: string, bookId: string): Promise<string[]> {
    let infos: ContactInfo[];
    try {
      infos = await this.inner.listContacts(user, bookId);
    } catch (err) {
      if (err instanceof ContactError && err.code === 'NOT_FOUND') return [];
      throw err;
    }
    const keys: string[] = [];
    const candidates = infos.map((i) => i.name);
    for (let i = 0; i < candidates.length; i += 100) {
      for (const card of await this.inner.getContacts(user, bookId, candidates.slice(i, i + 100)))
        for (const id of photoPointers(card.data)) keys.push(photoBlobKey(user, bookId, card.name, id));
    }
    return keys;
  }

  private async deleteBlobs(keys: string[]): Promise<void> {
    for (const key of keys) await this.blobs.delete(key).catch(() => undefined);
  }
}
