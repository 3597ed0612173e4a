/**
 * MailIndex in one SQLite file (`<dataDir>/index.sqlite`, WAL mode). Several instances, in
 * several threads or processes, may open the same file; see sqlite-db.ts for the rules.
 *
 * How the port's invariants are kept:
 *  - (2) `delivery_keys (mailbox_id, delivery_key) → uid` is written in the same transaction as
 *    the message and is kept after the message is expunged, so a redelivered job never brings
 *    a message back. It is scoped to the mailbox and dropped with it.
 *  - (3) appendMessage/copyMessages read `uid_next`, insert and bump `uid_next`,
 *    `highest_modseq` and `message_count` inside one BEGIN IMMEDIATE transaction: writers are
 *    serialized by the file lock, so UIDs commit in increasing order and no reader sees UID
 *    n+1 without n. UIDVALIDITY comes from a per-user counter that only grows
 *    (`max(last + 1, now in epoch seconds)`, RFC 3501 §2.3.1.1) and is kept when the user is
 *    removed, so a recreated name always gets a greater value.
 *  - (5) `blob_refs` counts the references to each blob key: the messages that carry it and
 *    the holds in `blob_holds` (one row per (blob key, holder); holdBlob adds the row and the
 *    reference in one transaction only when the row is new, releaseBlob drops both only when
 *    the row was there, so both are idempotent). An operation that brings a count to zero
 *    deletes the row and returns the key in `orphanedBlobs` (or `orphaned: true`); while a
 *    hold exists the count cannot reach zero.
 *
 * Flags are compared case-insensitively (RFC 3501 §9: alphabetic characters in the protocol
 * are case-insensitive unless noted; Dovecot and Cyrus treat flag names so) and stored as a
 * JSON array in the message row, so updateFlags rewrites one small column.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { MessageMeta } from '../../mime/types.ts';
import {
  IndexError,
  type AppendResult,
  type Domain,
  type FlagChange,
  type FlagUpdateMode,
  type ListOptions,
  type MailIndex,
  type Mailbox,
  type MailboxState,
  type MessageRecord,
  type NewMessage,
  type SpecialUse,
  type User,
} from '../../ports/mail-index.ts';
import { applyFlags, normalizeFlags, sameFlagSet } from '../../mailbox/flags.ts';
import { checkFlags, checkString, domainPart } from '../index-input.ts';
import { openSqlite, type SqliteHandle } from './sqlite-db.ts';

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS domains (
  name TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
);
-- A table of its own (not a column of domains), so an existing index file gains it as is.
CREATE TABLE IF NOT EXISTS domain_postmasters (
  domain TEXT PRIMARY KEY,
  address TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
  address TEXT PRIMARY KEY,
  domain TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS users_by_domain ON users (domain, address);
CREATE TABLE IF NOT EXISTS uidvalidity_counters (
  user TEXT PRIMARY KEY,
  last INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mailboxes (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  name TEXT NOT NULL,
  uid_validity INTEGER NOT NULL,
  uid_next INTEGER NOT NULL,
  highest_modseq INTEGER NOT NULL,
  message_count INTEGER NOT NULL,
  special_use TEXT,
  subscribed INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (user, name)
);
CREATE TABLE IF NOT EXISTS messages (
  mailbox_id TEXT NOT NULL,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  flags TEXT NOT NULL,
  internal_date INTEGER NOT NULL,
  size INTEGER NOT NULL,
  blob_key TEXT NOT NULL,
  meta TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS delivery_keys (
  mailbox_id TEXT NOT NULL,
  delivery_key TEXT NOT NULL,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, delivery_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blob_refs (
  blob_key TEXT PRIMARY KEY,
  refs INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS blob_holds (
  blob_key TEXT NOT NULL,
  holder TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (blob_key, holder)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS subscriptions (
  user TEXT NOT NULL,
  name TEXT NOT NULL,
  PRIMARY KEY (user, name)
) WITHOUT ROWID;
-- Subscriptions were once the mailboxes.subscribed flag (still a column, now always 0): move any
-- flag left by older data into the list. Idempotent, and run in the transaction that opens the file.
INSERT OR IGNORE INTO subscriptions (user, name) SELECT user, name FROM mailboxes WHERE subscribed = 1;
UPDATE mailboxes SET subscribed = 0 WHERE subscribed = 1;
`;

/** RFC 3501 §2.3.1.1: UIDs are 32-bit unsigned, non-zero. */
const MAX_UID = 0xffffffff;

interface DomainRow {
  name: string;
  created_at: number;
  postmaster: string | null;
}

function domainFromRow(r: DomainRow): Domain {
  return { name: r.name, createdAt: r.created_at, postmaster: r.postmaster ?? null };
}

interface MailboxRow {
  id: string;
  user: string;
  name: string;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  message_count: number;
  special_use: string | null;
  /** Legacy per-mailbox subscription flag: always 0 (see the schema). */
  subscribed: number;
  created_at: number;
}

interface MessageRow {
  uid: number;
  modseq: number;
  flags: string;
  internal_date: number;
  size: number;
  blob_key: string;
  meta?: string;
}

export interface SqliteMailIndexOptions {
  dataDir: string;
  /** Database file; default `<dataDir>/index.sqlite`. */
  file?: string;
  busyTimeoutMs?: number;
}

function toMailbox(r: MailboxRow): Mailbox {
  return {
    id: r.id,
    user: r.user,
    name: r.name,
    uidValidity: r.uid_validity,
    uidNext: r.uid_next,
    highestModseq: r.highest_modseq,
    messageCount: r.message_count,
    specialUse: (r.special_use as SpecialUse | null) ?? null,
    createdAt: r.created_at,
  };
}

function toMessage(r: MessageRow): MessageRecord {
  const rec: MessageRecord = {
    uid: r.uid,
    modseq: r.modseq,
    flags: JSON.parse(r.flags) as string[],
    internalDate: r.internal_date,
    size: r.size,
    blobKey: r.blob_key,
  };
  if (r.meta !== undefined) rec.meta = JSON.parse(r.meta) as MessageMeta;
  return rec;
}

function uidList(uids: readonly number[]): string {
  return JSON.stringify(uids.filter((u) => Number.isInteger(u) && u > 0));
}

export class SqliteMailIndex implements MailIndex {
  readonly file: string;
  private readonly h: SqliteHandle;

  constructor(options: SqliteMailIndexOptions) {
    this.file = options.file ?? path.join(options.dataDir, 'index.sqlite');
    this.h = openSqlite(this.file, 'mail-index', SCHEMA_VERSION, SCHEMA, options.busyTimeoutMs);
  }

  // --- domains ---

  async addDomain(name: string, options: { postmaster?: string | null } = {}): Promise<Domain> {
    checkString(name, 'domain name');
    const postmaster = options.postmaster ?? null;
    if (postmaster !== null) checkString(postmaster, 'postmaster address');
    return this.h.immediate(() => {
      if (this.h.stmt('SELECT 1 FROM domains WHERE name = ?').get(name)) throw new IndexError('EXISTS', `domain exists: ${name}`);
      const createdAt = Date.now();
      this.h.stmt('INSERT INTO domains (name, created_at) VALUES (?, ?)').run(name, createdAt);
      this.h.stmt('DELETE FROM domain_postmasters WHERE domain = ?').run(name);
      if (postmaster !== null) this.h.stmt('INSERT INTO domain_postmasters (domain, address) VALUES (?, ?)').run(name, postmaster);
      return { name, createdAt, postmaster };
    });
  }

  async setDomainPostmaster(name: string, postmaster: string | null): Promise<Domain> {
    if (postmaster !== null) checkString(postmaster, 'postmaster address');
    return this.h.immediate(() => {
      const r = this.h.stmt('SELECT name, created_at FROM domains WHERE name = ?').get(name) as { name: string; created_at: number } | undefined;
      if (!r) throw new IndexError('NOT_FOUND', `no such domain: ${name}`);
      this.h.stmt('DELETE FROM domain_postmasters WHERE domain = ?').run(name);
      if (postmaster !== null) this.h.stmt('INSERT INTO domain_postmasters (domain, address) VALUES (?, ?)').run(name, postmaster);
      return { name: r.name, createdAt: r.created_at, postmaster };
    });
  }

  /** NOT_FOUND when absent; CONFLICT while users of the domain remain. */
  async removeDomain(name: string): Promise<void> {
    this.h.immediate(() => {
      if (!this.h.stmt('SELECT 1 FROM domains WHERE name = ?').get(name)) throw new IndexError('NOT_FOUND', `no such domain: ${name}`);
      if (this.h.stmt('SELECT 1 FROM users WHERE domain = ? LIMIT 1').get(name)) throw new IndexError('CONFLICT', `domain ${name} still has users`);
      this.h.stmt('DELETE FROM domains WHERE name = ?').run(name);
      this.h.stmt('DELETE FROM domain_postmasters WHERE domain = ?').run(name);
    });
  }

  async listDomains(): Promise<Domain[]> {
    const rows = this.h.stmt('SELECT d.name, d.created_at, p.address AS postmaster FROM domains d LEFT JOIN domain_postmasters p ON p.domain = d.name ORDER BY d.name').all() as unknown as DomainRow[];
    return rows.map(domainFromRow);
  }

  async getDomain(name: string): Promise<Domain | null> {
    const r = this.h.stmt('SELECT d.name, d.created_at, p.address AS postmaster FROM domains d LEFT JOIN domain_postmasters p ON p.domain = d.name WHERE d.name = ?').get(name) as DomainRow | undefined;
    return r ? domainFromRow(r) : null;
  }

  // --- users ---

  async addUser(user: { address: string; passwordHash: string }): Promise<User> {
    checkString(user.address, 'address');
    if (!user.address.includes('@')) throw new IndexError('INVALID', `not an address: ${user.address}`);
    if (typeof user.passwordHash !== 'string') throw new IndexError('INVALID', 'passwordHash must be a string');
    return this.h.immediate(() => {
      if (this.h.stmt('SELECT 1 FROM users WHERE address = ?').get(user.address)) throw new IndexError('EXISTS', `user exists: ${user.address}`);
      const createdAt = Date.now();
      this.h.stmt('INSERT INTO users (address, domain, password_hash, created_at) VALUES (?, ?, ?, ?)').run(user.address, domainPart(user.address), user.passwordHash, createdAt);
      return { address: user.address, passwordHash: user.passwordHash, createdAt };
    });
  }

  async getUser(address: string): Promise<User | null> {
    const r = this.h.stmt('SELECT address, password_hash, created_at FROM users WHERE address = ?').get(address) as
      | { address: string; password_hash: string; created_at: number }
      | undefined;
    return r ? { address: r.address, passwordHash: r.password_hash, createdAt: r.created_at } : null;
  }

  async listUsers(domain?: string): Promise<User[]> {
    const rows = (
      domain === undefined
        ? this.h.stmt('SELECT address, password_hash, created_at FROM users ORDER BY address').all()
        : this.h.stmt('SELECT address, password_hash, created_at FROM users WHERE domain = ? ORDER BY address').all(domain)
    ) as Array<{ address: string; password_hash: string; created_at: number }>;
    return rows.map((r) => ({ address: r.address, passwordHash: r.password_hash, createdAt: r.created_at }));
  }

  async setPasswordHash(address: string, passwordHash: string): Promise<void> {
    if (typeof passwordHash !== 'string') throw new IndexError('INVALID', 'passwordHash must be a string');
    this.h.immediate(() => {
      const res = this.h.stmt('UPDATE users SET password_hash = ? WHERE address = ?').run(passwordHash, address);
      if (Number(res.changes) === 0) throw new IndexError('NOT_FOUND', `no such user: ${address}`);
    });
  }

  async removeUser(address: string): Promise<{ orphanedBlobs: string[] }> {
    return this.h.immediate(() => {
      if (!this.h.stmt('SELECT 1 FROM users WHERE address = ?').get(address)) throw new IndexError('NOT_FOUND', `no such user: ${address}`);
      const blobKeys = (
        this.h.stmt('SELECT m.blob_key AS blob_key FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.user = ?').all(address) as Array<{ blob_key: string }>
      ).map((r) => r.blob_key);
      const ids = (this.h.stmt('SELECT id FROM mailboxes WHERE user = ?').all(address) as Array<{ id: string }>).map((r) => r.id);
      for (const id of ids) this.dropMailboxRows(id);
      this.h.stmt('DELETE FROM subscriptions WHERE user = ?').run(address);
      this.h.stmt('DELETE FROM users WHERE address = ?').run(address);
      // uidvalidity_counters is kept on purpose: a recreated user's mailboxes get greater UIDVALIDITY.
      return { orphanedBlobs: this.unref(blobKeys) };
    });
  }

  // --- mailboxes ---

  async createMailbox(user: string, name: string, options: { specialUse?: SpecialUse | null; subscribed?: boolean } = {}): Promise<Mailbox> {
    checkString(name, 'mailbox name');
    return this.h.immediate(() => {
      if (!this.h.stmt('SELECT 1 FROM users WHERE address = ?').get(user)) throw new IndexError('NOT_FOUND', `no such user: ${user}`);
      if (this.h.stmt('SELECT 1 FROM mailboxes WHERE user = ? AND name = ?').get(user, name)) throw new IndexError('EXISTS', `mailbox exists: ${name}`);
      const now = Date.now();
      const last = (this.h.stmt('SELECT last FROM uidvalidity_counters WHERE user = ?').get(user) as { last: number } | undefined)?.last ?? 0;
      const uidValidity = Math.max(last + 1, Math.floor(now / 1000));
      this.h
        .stmt('INSERT INTO uidvalidity_counters (user, last) VALUES (?, ?) ON CONFLICT (user) DO UPDATE SET last = excluded.last')
        .run(user, uidValidity);
      const row: MailboxRow = {
        id: randomUUID(),
        user,
        name,
        uid_validity: uidValidity,
        uid_next: 1,
        highest_modseq: 1,
        message_count: 0,
        special_use: options.specialUse ?? null,
        subscribed: 0,
        created_at: now,
      };
      this.h
        .stmt(
          `INSERT INTO mailboxes (id, user, name, uid_validity, uid_next, highest_modseq, message_count, special_use, subscribed, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(row.id, row.user, row.name, row.uid_validity, row.uid_next, row.highest_modseq, row.message_count, row.special_use, row.subscribed, row.created_at);
      if (options.subscribed) this.h.stmt('INSERT OR IGNORE INTO subscriptions (user, name) VALUES (?, ?)').run(user, name);
      return toMailbox(row);
    });
  }

  async getMailbox(user: string, name: string): Promise<Mailbox | null> {
    const r = this.h.stmt('SELECT * FROM mailboxes WHERE user = ? AND name = ?').get(user, name) as MailboxRow | undefined;
    return r ? toMailbox(r) : null;
  }

  async listMailboxes(user: string): Promise<Mailbox[]> {
    return (this.h.stmt('SELECT * FROM mailboxes WHERE user = ? ORDER BY name').all(user) as unknown as MailboxRow[]).map(toMailbox);
  }

  async renameMailbox(user: string, oldName: string, newName: string): Promise<Mailbox> {
    checkString(newName, 'mailbox name');
    return this.h.immediate(() => {
      const row = this.h.stmt('SELECT * FROM mailboxes WHERE user = ? AND name = ?').get(user, oldName) as MailboxRow | undefined;
      if (!row) throw new IndexError('NOT_FOUND', `no such mailbox: ${oldName}`);
      if (this.h.stmt('SELECT 1 FROM mailboxes WHERE user = ? AND name = ?').get(user, newName)) throw new IndexError('EXISTS', `mailbox exists: ${newName}`);
      this.h.stmt('UPDATE mailboxes SET name = ? WHERE id = ?').run(newName, row.id);
      return toMailbox({ ...row, name: newName });
    });
  }

  async deleteMailbox(user: string, name: string): Promise<{ orphanedBlobs: string[] }> {
    return this.h.immediate(() => {
      const row = this.h.stmt('SELECT id FROM mailboxes WHERE user = ? AND name = ?').get(user, name) as { id: string } | undefined;
      if (!row) throw new IndexError('NOT_FOUND', `no such mailbox: ${name}`);
      const blobKeys = (this.h.stmt('SELECT blob_key FROM messages WHERE mailbox_id = ?').all(row.id) as Array<{ blob_key: string }>).map((r) => r.blob_key);
      this.dropMailboxRows(row.id);
      return { orphanedBlobs: this.unref(blobKeys) };
    });
  }

  async setSubscribed(user: string, name: string, subscribed: boolean): Promise<void> {
    checkString(name, 'mailbox name');
    this.h.immediate(() => {
      if (!this.h.stmt('SELECT 1 FROM users WHERE address = ?').get(user)) throw new IndexError('NOT_FOUND', `no such user: ${user}`);
      if (subscribed) this.h.stmt('INSERT OR IGNORE INTO subscriptions (user, name) VALUES (?, ?)').run(user, name);
      else this.h.stmt('DELETE FROM subscriptions WHERE user = ? AND name = ?').run(user, name);
    });
  }

  async listSubscriptions(user: string): Promise<string[]> {
    const rows = this.h.stmt('SELECT name FROM subscriptions WHERE user = ?').all(user) as Array<{ name: string }>;
    return rows.map((r) => r.name).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async mailboxState(user: string, mailboxId: string): Promise<MailboxState | null> {
    const r = this.h.stmt('SELECT uid_validity, uid_next, highest_modseq, message_count FROM mailboxes WHERE id = ? AND user = ?').get(mailboxId, user) as
      | Pick<MailboxRow, 'uid_validity' | 'uid_next' | 'highest_modseq' | 'message_count'>
      | undefined;
    return r ? { uidValidity: r.uid_validity, uidNext: r.uid_next, highestModseq: r.highest_modseq, messageCount: r.message_count } : null;
  }

  // --- messages ---

  async appendMessage(user: string, mailboxId: string, message: NewMessage): Promise<AppendResult> {
    checkString(message.blobKey, 'blobKey');
    if (!Number.isSafeInteger(message.size) || message.size < 0) throw new IndexError('INVALID', 'size must be a non-negative integer');
    if (!Number.isFinite(message.internalDate)) throw new IndexError('INVALID', 'internalDate must be a number');
    checkFlags(message.flags);
    if (message.deliveryKey !== undefined) checkString(message.deliveryKey, 'deliveryKey');
    const flags = JSON.stringify(normalizeFlags(message.flags));
    const meta = JSON.stringify(message.meta ?? null);
    return this.h.immediate(() => {
      const mb = this.ownMailbox(user, mailboxId);
      if (message.deliveryKey !== undefined) {
        const dk = this.h.stmt('SELECT uid, modseq FROM delivery_keys WHERE mailbox_id = ? AND delivery_key = ?').get(mailboxId, message.deliveryKey) as
          | { uid: number; modseq: number }
          | undefined;
        if (dk) return { uid: dk.uid, uidValidity: mb.uid_validity, modseq: dk.modseq, duplicate: true };
      }
      const uid = mb.uid_next;
      if (uid > MAX_UID) throw new IndexError('CONFLICT', 'UID space of the mailbox is exhausted; recreate it');
      const modseq = mb.highest_modseq + 1;
      this.h
        .stmt('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, blob_key, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(mailboxId, uid, modseq, flags, Math.trunc(message.internalDate), message.size, message.blobKey, meta);
      this.h.stmt('UPDATE mailboxes SET uid_next = ?, highest_modseq = ?, message_count = message_count + 1 WHERE id = ?').run(uid + 1, modseq, mailboxId);
      if (message.deliveryKey !== undefined) {
        this.h.stmt('INSERT INTO delivery_keys (mailbox_id, delivery_key, uid, modseq) VALUES (?, ?, ?, ?)').run(mailboxId, message.deliveryKey, uid, modseq);
      }
      this.ref(message.blobKey, 1);
      return { uid, uidValidity: mb.uid_validity, modseq, duplicate: false };
    });
  }

  async listMessages(user: string, mailboxId: string, options: ListOptions = {}): Promise<MessageRecord[]> {
    const from = options.uidFrom ?? 1;
    const to = options.uidTo ?? MAX_UID;
    const cols = options.withMeta ? 'm.uid, m.modseq, m.flags, m.internal_date, m.size, m.blob_key, m.meta' : 'm.uid, m.modseq, m.flags, m.internal_date, m.size, m.blob_key';
    // The join on the owner keeps one user from reading another's mailbox by id (invariant 4).
    const rows = this.h
      .stmt(`SELECT ${cols} FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id AND b.user = ? WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid`)
      .all(user, mailboxId, from, to) as unknown as MessageRow[];
    return rows.map(toMessage);
  }

  async getMessages(user: string, mailboxId: string, uids: number[]): Promise<MessageRecord[]> {
    if (uids.length === 0) return [];
    const rows = this.h
      .stmt(
        `SELECT m.uid, m.modseq, m.flags, m.internal_date, m.size, m.blob_key, m.meta
         FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id AND b.user = ?
         WHERE m.mailbox_id = ? AND m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid`,
      )
      .all(user, mailboxId, uidList(uids)) as unknown as MessageRow[];
    return rows.map(toMessage);
  }

  async updateFlags(user: string, mailboxId: string, uids: number[], mode: FlagUpdateMode, flags: string[]): Promise<FlagChange[]> {
    if (mode !== 'add' && mode !== 'remove' && mode !== 'set') throw new IndexError('INVALID', `bad flag update mode: ${String(mode)}`);
    checkFlags(flags);
    const given = normalizeFlags(flags);
    return this.h.immediate(() => {
      const mb = this.ownMailbox(user, mailboxId);
      if (uids.length === 0) return [];
      const rows = this.h
        .stmt('SELECT uid, flags FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid')
        .all(mailboxId, uidList(uids)) as Array<{ uid: number; flags: string }>;
      const modseq = mb.highest_modseq + 1;
      const changes: FlagChange[] = [];
      const update = this.h.stmt('UPDATE messages SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?');
      for (const r of rows) {
        const current = JSON.parse(r.flags) as string[];
        const next = applyFlags(current, mode, given);
        if (sameFlagSet(current, next)) continue;
        update.run(JSON.stringify(next), modseq, mailboxId, r.uid);
        changes.push({ uid: r.uid, flags: next, modseq });
      }
      if (changes.length > 0) this.h.stmt('UPDATE mailboxes SET highest_modseq = ? WHERE id = ?').run(modseq, mailboxId);
      return changes;
    });
  }

  async expunge(user: string, mailboxId: string, uids: number[]): Promise<{ expunged: number[]; orphanedBlobs: string[] }> {
    return this.h.immediate(() => {
      const mb = this.ownMailbox(user, mailboxId);
      if (uids.length === 0) return { expunged: [], orphanedBlobs: [] };
      const rows = this.h
        .stmt('SELECT uid, blob_key FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid')
        .all(mailboxId, uidList(uids)) as Array<{ uid: number; blob_key: string }>;
      if (rows.length === 0) return { expunged: [], orphanedBlobs: [] };
      const del = this.h.stmt('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?');
      for (const r of rows) del.run(mailboxId, r.uid);
      this.h
        .stmt('UPDATE mailboxes SET highest_modseq = ?, message_count = message_count - ? WHERE id = ?')
        .run(mb.highest_modseq + 1, rows.length, mailboxId);
      return { expunged: rows.map((r) => r.uid), orphanedBlobs: this.unref(rows.map((r) => r.blob_key)) };
    });
  }

  async copyMessages(user: string, fromMailboxId: string, uids: number[], toMailboxId: string): Promise<{ uidValidity: number; mapping: Array<{ from: number; to: number }> }> {
    return this.h.immediate(() => {
      this.ownMailbox(user, fromMailboxId);
      const target = this.ownMailbox(user, toMailboxId);
      if (uids.length === 0) return { uidValidity: target.uid_validity, mapping: [] };
      const rows = this.h
        .stmt(
          `SELECT uid, flags, internal_date, size, blob_key, meta FROM messages
           WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid`,
        )
        .all(fromMailboxId, uidList(uids)) as Array<Required<Omit<MessageRow, 'modseq'>>>;
      if (rows.length === 0) return { uidValidity: target.uid_validity, mapping: [] };
      if (target.uid_next + rows.length - 1 > MAX_UID) throw new IndexError('CONFLICT', 'UID space of the target mailbox is exhausted');
      const modseq = target.highest_modseq + 1;
      const insert = this.h.stmt('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, blob_key, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
      const mapping: Array<{ from: number; to: number }> = [];
      let next = target.uid_next;
      for (const r of rows) {
        insert.run(toMailboxId, next, modseq, r.flags, r.internal_date, r.size, r.blob_key, r.meta);
        mapping.push({ from: r.uid, to: next });
        next += 1;
      }
      this.h
        .stmt('UPDATE mailboxes SET uid_next = ?, highest_modseq = ?, message_count = message_count + ? WHERE id = ?')
        .run(next, modseq, rows.length, toMailboxId);
      for (const r of rows) this.ref(r.blob_key, 1);
      return { uidValidity: target.uid_validity, mapping };
    });
  }

  // --- blob holds ---

  async holdBlob(blobKey: string, holder: string): Promise<void> {
    checkString(blobKey, 'blobKey');
    checkString(holder, 'holder');
    this.h.immediate(() => {
      const res = this.h.stmt('INSERT INTO blob_holds (blob_key, holder, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(blobKey, holder, Date.now());
      if (Number(res.changes) === 1) this.ref(blobKey, 1);
    });
  }

  async releaseBlob(blobKey: string, holder: string): Promise<{ orphaned: boolean }> {
    checkString(blobKey, 'blobKey');
    checkString(holder, 'holder');
    return this.h.immediate(() => {
      const res = this.h.stmt('DELETE FROM blob_holds WHERE blob_key = ? AND holder = ?').run(blobKey, holder);
      if (Number(res.changes) === 0) return { orphaned: false };
      return { orphaned: this.unref([blobKey]).length > 0 };
    });
  }

  // --- leases ---

  async acquireLease(name: string, owner: string, ttlSeconds: number): Promise<boolean> {
    checkString(name, 'lease name');
    checkString(owner, 'lease owner');
    if (!(ttlSeconds > 0)) throw new IndexError('INVALID', 'ttlSeconds must be positive');
    return this.h.immediate(() => {
      const now = Date.now();
      const row = this.h.stmt('SELECT owner, expires_at FROM leases WHERE name = ?').get(name) as { owner: string; expires_at: number } | undefined;
      if (row && row.owner !== owner && row.expires_at > now) return false;
      this.h
        .stmt('INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at')
        .run(name, owner, now + Math.ceil(ttlSeconds * 1000));
      return true;
    });
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    this.h.immediate(() => {
      this.h.stmt('DELETE FROM leases WHERE name = ? AND owner = ?').run(name, owner);
    });
  }

  async close(): Promise<void> {
    this.h.close();
  }

  // --- inside transactions ---

  /** The mailbox row if it exists and belongs to `user`, else NOT_FOUND (invariant 4). */
  private ownMailbox(user: string, mailboxId: string): MailboxRow {
    const row = this.h.stmt('SELECT * FROM mailboxes WHERE id = ?').get(mailboxId) as MailboxRow | undefined;
    if (!row || row.user !== user) throw new IndexError('NOT_FOUND', `no such mailbox: ${mailboxId}`);
    return row;
  }

  private dropMailboxRows(mailboxId: string): void {
    this.h.stmt('DELETE FROM messages WHERE mailbox_id = ?').run(mailboxId);
    this.h.stmt('DELETE FROM delivery_keys WHERE mailbox_id = ?').run(mailboxId);
    this.h.stmt('DELETE FROM mailboxes WHERE id = ?').run(mailboxId);
  }

  private ref(blobKey: string, n: number): void {
    this.h.stmt('INSERT INTO blob_refs (blob_key, refs) VALUES (?, ?) ON CONFLICT (blob_key) DO UPDATE SET refs = refs + excluded.refs').run(blobKey, n);
  }

  /** Drops one reference per entry; returns the keys whose count reached zero. */
  private unref(blobKeys: readonly string[]): string[] {
    const counts = new Map<string, number>();
    for (const k of blobKeys) counts.set(k, (counts.get(k) ?? 0) + 1);
    const orphaned: string[] = [];
    for (const [key, n] of counts) {
      const row = this.h.stmt('SELECT refs FROM blob_refs WHERE blob_key = ?').get(key) as { refs: number } | undefined;
      const left = (row?.refs ?? 0) - n;
      if (left > 0) {
        this.h.stmt('UPDATE blob_refs SET refs = ? WHERE blob_key = ?').run(left, key);
      } else {
        this.h.stmt('DELETE FROM blob_refs WHERE blob_key = ?').run(key);
        orphaned.push(key);
      }
    }
    return orphaned;
  }
}
