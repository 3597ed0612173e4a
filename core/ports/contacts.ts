/**
 * Contact store port: address books and the vCards in them, per user (CardDAV, RFC 6352;
 * `mailctl contacts`). Adapters: DynamoDB, in the mail-index table
 * (`core/adapters/aws/dynamo-contact-store.ts`), and SQLite, in the index file
 * (`core/adapters/local/sqlite-contact-store.ts`). One contract suite proves both
 * (`test/contract/contact-store.contract.ts`).
 *
 * What the port promises:
 *  - getContact returns the exact bytes putContact was given. Callers store vCard 4.0 (RFC 6350;
 *    CardDAV converts a 3.0 PUT, core/contacts/vcard-version.ts) and check the vCard first
 *    (core/contacts/vcard.ts: checkVCard); the store checks only the size (MAX_VCARD_BYTES)
 *    and that the card has a UID.
 *  - A card remembers the vCard version its CardDAV writer used (`clientVersion`), so a
 *    client that wrote 3.0 is served 3.0 without asking: a put that gives one records it, a
 *    put that gives none (JMAP, import) keeps the card's (none for a new card).
 *  - A card is named by its resource name (the last segment of its URL, chosen by the client)
 *    and carries a strong ETag: the SHA-256 of its bytes (so the same bytes always have the
 *    same ETag). The adapters hand out this port wrapped by core/contacts/photo-blobs.ts,
 *    which stores large photos as blobs: there the bytes read are still the bytes put, and the
 *    ETag is the SHA-256 of the stored form (the card with its photo pointers). Within one address book a vCard UID names at most one card (RFC 6352
 *    §6.3.2.1 CARDDAV:no-uid-conflict): UID_CONFLICT otherwise.
 *  - Every put and delete takes one new modseq of its address book (`syncToken`, starting at 0
 *    for a new book) inside its own atomic write, and records it in the book's change log: the
 *    card's current modseq, or a tombstone with the deletion's modseq. changesSince(since)
 *    reports every card whose modseq is > since and every tombstone > since, so an
 *    incremental sync (RFC 6578 sync-collection) costs what changed, not the size of the book.
 *    A name deleted and put again is reported once, as changed.
 *  - Preconditions (`ifMatch`, `ifNoneMatch`; RFC 7232 as CardDAV uses them) are checked in the
 *    same atomic write: PRECONDITION_FAILED when they do not hold, so two clients editing the
 *    same card cannot both win.
 *  - A user reaches only their own books: every call takes the user id (the lower-cased
 *    address) and finds nothing of another user's.
 */
import { createHash } from 'node:crypto';

/** RFC 6350 gives no limit; ours (photos count as sent, also those stored as blobs): a larger card is refused with TOO_LARGE. */
export const MAX_VCARD_BYTES = 1024 * 1024;

/**
 * The pseudo mailbox id writers of contacts pass to MailboxEvents.notify (core/mailbox/events.ts),
 * so JMAP push sees CardDAV and JMAP writes at once; IMAP IDLE, which watches real mailbox ids,
 * ignores it.
 */
export const CONTACTS_CHANGED = 'contacts';

/** Address book ids: what the URL segment may hold. */
export const ADDRESS_BOOK_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Card resource names (the URL's last segment, decoded): no '/', no dot segments, no controls. */
export const CONTACT_NAME = /^(?!\.\.?$)[A-Za-z0-9._~@+=,-]{1,200}$/;

export interface AddressBook {
  id: string;
  displayName: string;
  description: string | null;
  /** The book's highest modseq: what a sync token carries (0 for a new, empty book). */
  syncToken: number;
  /** Milliseconds since the epoch; also tells apart books recreated under the same id. */
  createdAt: number;
}

export interface ContactInfo {
  /** The resource name (URL segment). */
  name: string;
  /** The vCard's UID property. */
  uid: string;
  /** The strong ETag, unquoted. */
  etag: string;
  modseq: number;
  size: number;
  /** The vCard version the card's CardDAV writer sent, when one was recorded. */
  clientVersion?: VCardVersion;
}

export type VCardVersion = '3.0' | '4.0';

/** What putContact stores. */
export interface ContactData {
  data: Buffer;
  /** The vCard's UID property (the caller parsed it). */
  uid: string;
  /** The version the writer sent (recorded); omitted: the card's recorded one stays. */
  clientVersion?: VCardVersion;
}

export interface StoredContact extends ContactInfo {
  /** The bytes as putContact was given them. */
  data: Buffer;
}

export interface ContactChanges {
  /** The book's highest modseq when read: the next call's `since`. */
  syncToken: number;
  /** Cards put after `since` (their current state). */
  changed: ContactInfo[];
  /** Names deleted after `since` (and not put again). */
  removed: string[];
}

export interface PutContactOptions {
  /** Put only if the card exists with this ETag (unquoted). */
  ifMatch?: string;
  /** Put only if no card has this name (`If-None-Match: *`). */
  ifNoneMatch?: boolean;
}

export interface ContactStore {
  listAddressBooks(user: string): Promise<AddressBook[]>;
  getAddressBook(user: string, id: string): Promise<AddressBook | null>;
  /** EXISTS when the user has a book with this id; INVALID for an id not matching ADDRESS_BOOK_ID. */
  createAddressBook(user: string, book: { id: string; displayName: string; description?: string | null }): Promise<AddressBook>;
  /** Renames a book (display name and description; its cards and sync token stay); NOT_FOUND when absent. */
  updateAddressBook(user: string, id: string, props: { displayName: string; description: string | null }): Promise<AddressBook>;
  /** Deletes the book and every card in it; NOT_FOUND when absent. */
  deleteAddressBook(user: string, id: string): Promise<void>;

  /** Name, UID, ETag, modseq and size of every card (no bytes). NOT_FOUND when the book is absent. */
  listContacts(user: string, bookId: string): Promise<ContactInfo[]>;
  /** The cards with these names that exist (bytes included), in no particular order. */
  getContacts(user: string, bookId: string, names: string[]): Promise<StoredContact[]>;
  getContact(user: string, bookId: string, name: string): Promise<StoredContact | null>;
  /**
   * Creates or replaces a card. `uid` is the vCard's UID (the caller parsed it). NOT_FOUND (no
   * book), PRECONDITION_FAILED, UID_CONFLICT (another card of the book has this UID),
   * TOO_LARGE, INVALID (name or uid).
   */
  putContact(user: string, bookId: string, name: string, card: ContactData, options?: PutContactOptions): Promise<{ contact: ContactInfo; created: boolean }>;
  /** Deletes a card; NOT_FOUND when absent, PRECONDITION_FAILED when `ifMatch` differs. Returns the deletion's modseq. */
  deleteContact(user: string, bookId: string, name: string, options?: { ifMatch?: string }): Promise<{ modseq: number }>;
  /** What changed after `since` (a syncToken this book gave); null when the book is absent. */
  changesSince(user: string, bookId: string, since: number): Promise<ContactChanges | null>;
  /** Every address book and card of the user (the user is being removed). */
  removeAllContacts(user: string): Promise<void>;
  close(): Promise<void>;
}

export class ContactError extends Error {
  readonly code: 'EXISTS' | 'NOT_FOUND' | 'PRECONDITION_FAILED' | 'UID_CONFLICT' | 'TOO_LARGE' | 'INVALID' | 'CONFLICT';
  constructor(code: ContactError['code'], message: string) {
    super(message);
    this.name = 'ContactError';
    this.code = code;
  }
}

/** The strong ETag of a card's bytes (unquoted): base64url of their SHA-256. */
export function contactEtag(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64url');
}

/** The checks every adapter makes before writing (size, name, uid). */
export function checkPut(bookId: string, name: string, card: ContactData): void {
  if (!ADDRESS_BOOK_ID.test(bookId)) throw new ContactError('NOT_FOUND', 'no such address book');
  if (!CONTACT_NAME.test(name)) throw new ContactError('INVALID', 'invalid contact resource name');
  if (card.data.length > MAX_VCARD_BYTES) throw new ContactError('TOO_LARGE', `vCard larger than ${MAX_VCARD_BYTES} octets`);
  if (typeof card.uid !== 'string' || card.uid === '' || Buffer.byteLength(card.uid) > 512)
    throw new ContactError('INVALID', 'the vCard needs a UID (at most 512 octets)');
  if (card.clientVersion !== undefined && card.clientVersion !== '3.0' && card.clientVersion !== '4.0')
    throw new ContactError('INVALID', 'clientVersion is 3.0 or 4.0');
}
