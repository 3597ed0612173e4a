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
 *
 * The parts live in sqlite-index/: accounts.ts (domains, users), mailboxes.ts (mailboxes,
 * subscriptions), messages.ts (append, flags, expunge, copy, list), blob-refs.ts (reference
 * counts, holds), leases.ts, and schema.ts.
 */
import path from 'node:path';
import type {
  AppendResult,
  Domain,
  FlagChange,
  FlagUpdateMode,
  ListOptions,
  MailIndex,
  Mailbox,
  MailboxState,
  MessageRecord,
  NewMessage,
  SpecialUse,
  User,
} from '../../ports/mail-index.ts';
import { openSqlite, type SqliteHandle } from './sqlite-db.ts';
import * as accounts from './sqlite-index/accounts.ts';
import * as blobRefs from './sqlite-index/blob-refs.ts';
import * as leases from './sqlite-index/leases.ts';
import * as mailboxes from './sqlite-index/mailboxes.ts';
import * as messages from './sqlite-index/messages.ts';
import { SCHEMA, SCHEMA_VERSION } from './sqlite-index/schema.ts';

export interface SqliteMailIndexOptions {
  dataDir: string;
  /** Database file; default `<dataDir>/index.sqlite`. */
  file?: string;
  busyTimeoutMs?: number;
}

export class SqliteMailIndex implements MailIndex {
  readonly file: string;
  private readonly h: SqliteHandle;

  constructor(options: SqliteMailIndexOptions) {
    this.file = options.file ?? path.join(options.dataDir, 'index.sqlite');
    this.h = openSqlite(this.file, 'mail-index', SCHEMA_VERSION, SCHEMA, options.busyTimeoutMs);
  }

  // --- domains ---

  addDomain(name: string, options: { postmaster?: string | null } = {}): Promise<Domain> {
    return accounts.addDomain(this.h, name, options);
  }

  setDomainPostmaster(name: string, postmaster: string | null): Promise<Domain> {
    return accounts.setDomainPostmaster(this.h, name, postmaster);
  }

  /** NOT_FOUND when absent; CONFLICT while users of the domain remain. */
  removeDomain(name: string): Promise<void> {
    return accounts.removeDomain(this.h, name);
  }

  listDomains(): Promise<Domain[]> {
    return accounts.listDomains(this.h);
  }

  getDomain(name: string): Promise<Domain | null> {
    return accounts.getDomain(this.h, name);
  }

  // --- users ---

  addUser(user: { address: string; passwordHash: string }): Promise<User> {
    return accounts.addUser(this.h, user);
  }

  getUser(address: string): Promise<User | null> {
    return accounts.getUser(this.h, address);
  }

  listUsers(domain?: string): Promise<User[]> {
    return accounts.listUsers(this.h, domain);
  }

  setPasswordHash(address: string, passwordHash: string): Promise<void> {
    return accounts.setPasswordHash(this.h, address, passwordHash);
  }

  removeUser(address: string): Promise<{ orphanedBlobs: string[] }> {
    return accounts.removeUser(this.h, address);
  }

  // --- mailboxes ---

  createMailbox(user: string, name: string, options: { specialUse?: SpecialUse | null; subscribed?: boolean } = {}): Promise<Mailbox> {
    return mailboxes.createMailbox(this.h, user, name, options);
  }

  getMailbox(user: string, name: string): Promise<Mailbox | null> {
    return mailboxes.getMailbox(this.h, user, name);
  }

  listMailboxes(user: string): Promise<Mailbox[]> {
    return mailboxes.listMailboxes(this.h, user);
  }

  renameMailbox(user: string, oldName: string, newName: string): Promise<Mailbox> {
    return mailboxes.renameMailbox(this.h, user, oldName, newName);
  }

  deleteMailbox(user: string, name: string): Promise<{ orphanedBlobs: string[] }> {
    return mailboxes.deleteMailbox(this.h, user, name);
  }

  setSubscribed(user: string, name: string, subscribed: boolean): Promise<void> {
    return mailboxes.setSubscribed(this.h, user, name, subscribed);
  }

  listSubscriptions(user: string): Promise<string[]> {
    return mailboxes.listSubscriptions(this.h, user);
  }

  mailboxState(user: string, mailboxId: string): Promise<MailboxState | null> {
    return mailboxes.mailboxState(this.h, user, mailboxId);
  }

  // --- messages ---

  appendMessage(user: string, mailboxId: string, message: NewMessage): Promise<AppendResult> {
    return messages.appendMessage(this.h, user, mailboxId, message);
  }

  listMessages(user: string, mailboxId: string, options: ListOptions = {}): Promise<MessageRecord[]> {
    return messages.listMessages(this.h, user, mailboxId, options);
  }

  getMessages(user: string, mailboxId: string, uids: number[]): Promise<MessageRecord[]> {
    return messages.getMessages(this.h, user, mailboxId, uids);
  }

  updateFlags(user: string, mailboxId: string, uids: number[], mode: FlagUpdateMode, flags: string[]): Promise<FlagChange[]> {
    return messages.updateFlags(this.h, user, mailboxId, uids, mode, flags);
  }

  expunge(user: string, mailboxId: string, uids: number[]): Promise<{ expunged: number[]; orphanedBlobs: string[] }> {
    return messages.expunge(this.h, user, mailboxId, uids);
  }

  copyMessages(user: string, fromMailboxId: string, uids: number[], toMailboxId: string): Promise<{ uidValidity: number; mapping: Array<{ from: number; to: number }> }> {
    return messages.copyMessages(this.h, user, fromMailboxId, uids, toMailboxId);
  }

  // --- blob holds ---

  holdBlob(blobKey: string, holder: string): Promise<void> {
    return blobRefs.holdBlob(this.h, blobKey, holder);
  }

  releaseBlob(blobKey: string, holder: string): Promise<{ orphaned: boolean }> {
    return blobRefs.releaseBlob(this.h, blobKey, holder);
  }

  // --- leases ---

  acquireLease(name: string, owner: string, ttlSeconds: number): Promise<boolean> {
    return leases.acquireLease(this.h, name, owner, ttlSeconds);
  }

  releaseLease(name: string, owner: string): Promise<void> {
    return leases.releaseLease(this.h, name, owner);
  }

  async close(): Promise<void> {
    this.h.close();
  }
}
