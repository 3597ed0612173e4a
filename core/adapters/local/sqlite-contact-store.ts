/**
 * ContactStore in the SQLite index file (`<dataDir>/index.sqlite`, its own component
 * `contacts` in schema_version, so the mail index's schema is untouched). See
 * core/ports/contacts.ts for what is promised; here:
 *  - `address_books.modseq` is the book's sync token; every put and delete bumps it inside one
 *    BEGIN IMMEDIATE transaction (sqlite-db.ts) together with the card row and the log, so the
 *    preconditions (If-Match, If-None-Match) and the UID check see the state they change.
 *  - the change log is the cards' own `modseq` column (indexed) plus `contact_tombstones`, one
 *    row per deleted name (dropped when the name is put again): changesSince reads only rows
 *    above `since`.
 *  - the vCard UID is unique per book (a unique index; RFC 6352 §6.3.2.1).
 *  - schema 2 added `contacts.client_version` (the version a CardDAV writer sent; NULL: none
 *    recorded); a file of schema 1 gets the column when opened.
 */
import path from 'node:path';
import {
  ADDRESS_BOOK_ID,
  ContactError,
  checkPut,
  type ContactData,
  contactEtag,
  type AddressBook,
  type ContactChanges,
  type ContactInfo,
  type ContactStore,
  type PutContactOptions,
  type StoredContact,
} from '#core/ports/contacts.ts';
import { openSqlite, type SqliteHandle } from './sqlite-db.ts';

export const CONTACTS_SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS address_books (
  user TEXT NOT NULL,
  id TEXT NOT NULL,
  display_name TEXT NOT NULL,
  description TEXT,
  modseq INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (user, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS contacts (
  user TEXT NOT NULL,
  book_id TEXT NOT NULL,
  name TEXT NOT NULL,
  uid TEXT NOT NULL,
  etag TEXT NOT NULL,
  modseq INTEGER NOT NULL,
  size INTEGER NOT NULL,
  data BLOB NOT NULL,
  client_version TEXT,
  UNIQUE (user, book_id, name)
);
CREATE UNIQUE INDEX IF NOT EXISTS contacts_by_uid ON contacts (user, book_id, uid);
CREATE INDEX IF NOT EXISTS contacts_by_modseq ON contacts (user, book_id, modseq);
CREATE TABLE IF NOT EXISTS contact_tombstones (
  user TEXT NOT NULL,
  book_id TEXT NOT NULL,
  name TEXT NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY (user, book_id, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS contact_tombstones_by_modseq ON contact_tombstones (user, book_id, modseq);
`;

interface BookRow {
  id: string;
  display_name: string;
  description: string | null;
  modseq: number;
  created_at: number;
}
interface InfoRow {
  name: string;
  uid: string;
  etag: string;
  modseq: number;
  size: number;
  client_version: string | null;
}
const INFO = 'name, uid, etag, modseq, size, client_version';

const toBook = (r: BookRow): AddressBook => ({
  id: r.id,
  displayName: r.display_name,
  description: r.description,
  syncToken: r.modseq,
  createdAt: r.created_at,
});
function toInfo(r: InfoRow): ContactInfo {
  const info: ContactInfo = { name: r.name, uid: r.uid, etag: r.etag, modseq: r.modseq, size: r.size };
  if (r.client_version === '3.0' || r.client_version === '4.0') info.clientVersion = r.client_version;
  return info;
}

export interface SqliteContactStoreOptions {
  dataDir: string;
  /** Database file; default `<dataDir>/index.sqlite` (the mail index's file). */
  file?: string;
  busyTimeoutMs?: number;
}

export class SqliteContactStore implements ContactStore {
  readonly file: string;
  private readonly db: SqliteHandle;

  constructor(options: SqliteContactStoreOptions) {
    this.file = options.file ?? path.join(options.dataDir, 'index.sqlite');
    this.db = openSqlite(this.file, 'contacts', CONTACTS_SCHEMA_VERSION, SCHEMA, options.busyTimeoutMs);
    this.db.immediate(() => {
      // Schema 1 → 2: the table was made without client_version (CREATE TABLE IF NOT EXISTS kept it).
      const cols = this.db.db.prepare('PRAGMA table_info(contacts)').all() as Array<{ name: string }>;
      if (!cols.some((c) => c.name === 'client_version')) this.db.db.exec('ALTER TABLE contacts ADD COLUMN client_version TEXT');
    });
  }

  private book(user: string, id: string): BookRow | undefined {
    return this.db.stmt('SELECT id, display_name, description, modseq, created_at FROM address_books WHERE user = ? AND id = ?').get(user, id) as
      BookRow | undefined;
  }

  async listAddressBooks(user: string): Promise<AddressBook[]> {
    const rows = this.db
      .stmt('SELECT id, display_name, description, modseq, created_at FROM address_books WHERE user = ? ORDER BY id')
      .all(user) as unknown as BookRow[];
    return rows.map(toBook);
  }

  async getAddressBook(user: string, id: string): Promise<AddressBook | null> {
    const row = this.book(user, id);
    return row ? toBook(row) : null;
  }

  async createAddressBook(user: string, book: { id: string; displayName: string; description?: string | null }): Promise<AddressBook> {
    if (!ADDRESS_BOOK_ID.test(book.id)) throw new ContactError('INVALID', 'invalid address book id');
    return this.db.immediate(() => {
      if (this.book(user, book.id)) throw new ContactError('EXISTS', 'address book exists');
      const createdAt = Date.now();
      this.db
        .stmt('INSERT INTO address_books (user, id, display_name, description, modseq, created_at) VALUES (?, ?, ?, ?, 0, ?)')
        .run(user, book.id, book.displayName, book.description ?? null, createdAt);
      return { id: book.id, displayName: book.displayName, description: book.description ?? null, syncToken: 0, createdAt };
    });
  }

  async updateAddressBook(user: string, id: string, props: { displayName: string; description: string | null }): Promise<AddressBook> {
    return this.db.immediate(() => {
      const row = this.book(user, id);
      if (!row) throw new ContactError('NOT_FOUND', 'no such address book');
      this.db.stmt('UPDATE address_books SET display_name = ?, description = ? WHERE user = ? AND id = ?').run(props.displayName, props.description, user, id);
      return { ...toBook(row), displayName: props.displayName, description: props.description };
    });
  }

  async deleteAddressBook(user: string, id: string): Promise<void> {
    this.db.immediate(() => {
      if (!this.book(user, id)) throw new ContactError('NOT_FOUND', 'no such address book');
      this.dropBook(user, id);
    });
  }

  private dropBook(user: string, id: string): void {
    this.db.stmt('DELETE FROM contacts WHERE user = ? AND book_id = ?').run(user, id);
    this.db.stmt('DELETE FROM contact_tombstones WHERE user = ? AND book_id = ?').run(user, id);
    this.db.stmt('DELETE FROM address_books WHERE user = ? AND id = ?').run(user, id);
  }

  async listContacts(user: string, bookId: string): Promise<ContactInfo[]> {
    if (!this.book(user, bookId)) throw new ContactError('NOT_FOUND', 'no such address book');
    const rows = this.db.stmt(`SELECT ${INFO} FROM contacts WHERE user = ? AND book_id = ? ORDER BY name`).all(user, bookId) as unknown as InfoRow[];
    return rows.map(toInfo);
  }

  async getContacts(user: string, bookId: string, names: string[]): Promise<StoredContact[]> {
    const out: StoredContact[] = [];
    for (const name of new Set(names)) {
      const c = await this.getContact(user, bookId, name);
      if (c) out.push(c);
    }
    return out;
  }

  async getContact(user: string, bookId: string, name: string): Promise<StoredContact | null> {
    const row = this.db.stmt(`SELECT ${INFO}, data FROM contacts WHERE user = ? AND book_id = ? AND name = ?`).get(user, bookId, name) as
      (InfoRow & { data: Uint8Array }) | undefined;
    return row ? { ...toInfo(row), data: Buffer.from(row.data) } : null;
  }

  async putContact(
    user: string,
    bookId: string,
    name: string,
    card: ContactData,
    options: PutContactOptions = {},
  ): Promise<{ contact: ContactInfo; created: boolean }> {
    checkPut(bookId, name, card);
    const etag = contactEtag(card.data);
    return this.db.immediate(() => {
      const book = this.book(user, bookId);
      if (!book) throw new ContactError('NOT_FOUND', 'no such address book');
      const old = this.db.stmt('SELECT etag, client_version FROM contacts WHERE user = ? AND book_id = ? AND name = ?').get(user, bookId, name) as
        { etag: string; client_version: string | null } | undefined;
      if (options.ifNoneMatch && old) throw new ContactError('PRECONDITION_FAILED', 'a contact with this name exists');
      if (options.ifMatch !== undefined && old?.etag !== options.ifMatch)
        throw new ContactError('PRECONDITION_FAILED', 'the contact has changed (ETag differs)');
      const clash = this.db.stmt('SELECT name FROM contacts WHERE user = ? AND book_id = ? AND uid = ?').get(user, bookId, card.uid) as
        { name: string } | undefined;
      if (clash && clash.name !== name) throw new ContactError('UID_CONFLICT', `another contact (${clash.name}) has this UID`);
      const modseq = book.modseq + 1;
      const clientVersion = card.clientVersion ?? old?.client_version ?? null;
      this.db.stmt('UPDATE address_books SET modseq = ? WHERE user = ? AND id = ?').run(modseq, user, bookId);
      if (old) {
        this.db
          .stmt('UPDATE contacts SET uid = ?, etag = ?, modseq = ?, size = ?, data = ?, client_version = ? WHERE user = ? AND book_id = ? AND name = ?')
          .run(card.uid, etag, modseq, card.data.length, card.data, clientVersion, user, bookId, name);
      } else {
        this.db
          .stmt('INSERT INTO contacts (user, book_id, name, uid, etag, modseq, size, data, client_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
          .run(user, bookId, name, card.uid, etag, modseq, card.data.length, card.data, clientVersion);
        this.db.stmt('DELETE FROM contact_tombstones WHERE user = ? AND book_id = ? AND name = ?').run(user, bookId, name);
      }
      return { contact: toInfo({ name, uid: card.uid, etag, modseq, size: card.data.length, client_version: clientVersion }), created: !old };
    });
  }

  async deleteContact(user: string, bookId: string, name: string, options: { ifMatch?: string } = {}): Promise<{ modseq: number }> {
    return this.db.immediate(() => {
      const book = this.book(user, bookId);
      if (!book) throw new ContactError('NOT_FOUND', 'no such address book');
      const old = this.db.stmt('SELECT etag FROM contacts WHERE user = ? AND book_id = ? AND name = ?').get(user, bookId, name) as { etag: string } | undefined;
      if (!old) throw new ContactError('NOT_FOUND', 'no such contact');
      if (options.ifMatch !== undefined && old.etag !== options.ifMatch)
        throw new ContactError('PRECONDITION_FAILED', 'the contact has changed (ETag differs)');
      const modseq = book.modseq + 1;
      this.db.stmt('UPDATE address_books SET modseq = ? WHERE user = ? AND id = ?').run(modseq, user, bookId);
      this.db.stmt('DELETE FROM contacts WHERE user = ? AND book_id = ? AND name = ?').run(user, bookId, name);
      this.db
        .stmt('INSERT INTO contact_tombstones (user, book_id, name, modseq) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET modseq = excluded.modseq')
        .run(user, bookId, name, modseq);
      return { modseq };
    });
  }

  async changesSince(user: string, bookId: string, since: number): Promise<ContactChanges | null> {
    // One read transaction, so the token and the rows are the same snapshot.
    this.db.db.exec('BEGIN');
    try {
      const book = this.book(user, bookId);
      if (!book) return null;
      const changed = this.db
        .stmt(`SELECT ${INFO} FROM contacts WHERE user = ? AND book_id = ? AND modseq > ? ORDER BY modseq`)
        .all(user, bookId, since) as unknown as InfoRow[];
      const removed = this.db
        .stmt('SELECT name FROM contact_tombstones WHERE user = ? AND book_id = ? AND modseq > ? ORDER BY modseq')
        .all(user, bookId, since) as unknown as Array<{ name: string }>;
      return { syncToken: book.modseq, changed: changed.map(toInfo), removed: removed.map((r) => r.name) };
    } finally {
      this.db.db.exec('COMMIT');
    }
  }

  async removeAllContacts(user: string): Promise<void> {
    this.db.immediate(() => {
      const rows = this.db.stmt('SELECT id FROM address_books WHERE user = ?').all(user) as unknown as Array<{ id: string }>;
      for (const r of rows) this.dropBook(user, r.id);
    });
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
