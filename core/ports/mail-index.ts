/**
 * Mail index port: domains, users, mailboxes, messages, flags, UIDs and modseq.
 * Adapters: DynamoDB (`core/adapters/aws/dynamo-mail-index.ts`) and SQLite in WAL mode
 * (`core/adapters/local/sqlite-mail-index.ts`). One contract suite proves both
 * (`test/contract/mail-index.contract.ts`).
 *
 * Invariants this port carries (numbered as in docs/architecture.md):
 *  - (2) appendMessage with a deliveryKey is idempotent: a second call with the same key
 *    inserts nothing and returns the first call's UID with `duplicate: true`.
 *  - (3) UID allocation and insertion are one atomic step: a message with UID n becomes
 *    visible together with uidNext moving past n, so no reader ever sees UID n+1 before n.
 *    UIDVALIDITY of a name is strictly greater each time the name is (re)created.
 *  - (5) message bytes are referenced by blobKey and never change; blobs are reference
 *    counted. A reference is a message (appendMessage/copyMessages add one — or take over a
 *    hold, NewMessage.blobReference —, expunge,
 *    deleteMailbox and removeUser drop theirs) or a hold (holdBlob/releaseBlob: a job that
 *    still has to deliver the blob keeps it alive across expunges of the copies it already
 *    delivered; invariant 1). `orphanedBlobs` / `orphaned: true` mean "no references left:
 *    the caller deletes the blob from the blob store"; exactly the call that dropped the last
 *    reference reports it, so a blob with a hold or a message is never reported.
 *
 * Change log (changesSince; RFC 7162 CONDSTORE/QRESYNC, and the selected mailbox's refresh):
 *  - every append and copy (into the target), flag change and expunge takes one new modseq of
 *    the mailbox (highestModseq) inside its own atomic write; changesSince(since) reports every
 *    message whose modseq is > since (appended, copied in or flags changed) with its current
 *    flags and modseq, and every UID expunged by a write with a modseq > since (tombstones).
 *    Nothing committed at or below the returned `state.highestModseq` is ever missed, also under
 *    concurrent writers; a change committed after that read may be reported or left to the next
 *    call (whose `since` is that highestModseq).
 *  - the `uidNext` hint (options.uidNext) saves an adapter finding where the appends after
 *    `since` begin. It must be the uidNext read in the same state read that gave `since` (one
 *    mailboxState, or one changesSince's `state`, or the mailbox at SELECT), or any lower value:
 *    every message appended after `since` then has a UID ≥ the hint (invariant 3). A lower
 *    hint is always safe (the adapter reads more, the answer is the same, complete and exact);
 *    a higher one is a caller's error the adapter cannot detect: the DynamoDB adapter reads
 *    appends only from the hint on, so appends in [the true uidNext at `since`, hint) are left
 *    out of an answer that still says `complete: true`. Never pair a `since` with a uidNext
 *    from a later read (e.g. one advanced by the caller's own appends). Without the hint the
 *    adapter finds the bound itself (one more query on DynamoDB); SQLite ignores it.
 *  - trimming: tombstones and other log entries older than CHANGE_LOG_RETENTION_MS (30 days) are
 *    deleted by a later flag change or expunge in the same mailbox, which raises the mailbox's
 *    log floor to the newest modseq it trimmed. changesSince with `since` below the floor, or
 *    below the mailbox's creation modseq (1; also a mailbox that existed before the log did: its
 *    floor is its highestModseq when the log began) answers `complete: false`, and the caller
 *    resynchronises from a full listing (RFC 7162 §3.2.5.2 lets a server do so).
 *
 * Subscriptions (RFC 9051 §6.3.7–6.3.9, RFC 3501 §6.3.6) are a list of names per user, apart
 * from the mailboxes: a name may be subscribed whether or not a mailbox has it, and creating,
 * renaming or deleting a mailbox leaves the list as it is (the server "MUST NOT unilaterally
 * remove an existing mailbox name from the subscription list even if a mailbox by that name
 * no longer exists"). Data written before the list existed kept a per-mailbox flag; each
 * adapter reads such flags into the list (see there), so no subscription is lost.
 *
 * Threads (RFC 8621 §3; IMAP THREADID, RFC 8474 §5): every message stored with `thread` keys
 * (NewMessage.thread, core/mailbox/thread-keys.ts) gets a thread id when it is appended, kept
 * for good (a JMAP threadId never changes, RFC 8621 §4.1.1) and carried by COPY/MOVE. The
 * adapter decides it from a per-user (all mailboxes) map from Message-ID to thread id, in the
 * append's own atomic step (core/adapters/thread-choice.ts):
 *  - the message's own Message-ID, its In-Reply-To and its References (the first and the last
 *    ten) are looked up, nearest first (own id, In-Reply-To, References from the last back);
 *    the first one known whose base subject (RFC 5256 §2.1) equals the message's names the
 *    thread it joins (RFC 8621 §3: a shared id *and* the same base subject, so a reply used
 *    to start a new conversation starts a new thread); none: a new thread id.
 *  - it then records its own Message-ID, and those of In-Reply-To, the first and the last
 *    reference that were not known yet, with its thread and base subject: a parent stored
 *    after its reply finds its own id there and joins the reply's thread. Known ids are never
 *    overwritten (two concurrent writers of one unknown id: the later one wins the map).
 *  - the map outlives expunges and deleted mailboxes (a late reply still finds the thread);
 *    removeUser removes it. Records stored before threads existed, or without `thread` keys,
 *    have no `threadId`: callers derive one per message, as before (JMAP ids.ts), and such
 *    messages are not in the map.
 *
 * User ids are the lower-cased address (`alice@example.test`). Mailbox names are the
 * hierarchy with '/' as separator in UTF-8; 'INBOX' is always spelled in upper case.
 */
import type { Envelope, MessageMeta } from '../mime/types.ts';

export interface Domain {
  name: string;
  createdAt: number;
  /**
   * Where mail to `postmaster@<name>` (and bare `postmaster`) goes (RFC 5321 §4.5.1); null:
   * the default (core/accounts/postmaster.ts).
   */
  postmaster: string | null;
}

export interface User {
  /** Lower-cased address; the user id. */
  address: string;
  /** Encoded password hash (see core/accounts/password.ts). */
  passwordHash: string;
  createdAt: number;
  /**
   * The user's quota limits when any is set (RFC 9208; `setQuota`); absent: none. Read with the
   * user, so a delivery or RCPT for a user without limits reads no usage counter.
   */
  quota?: QuotaLimits;
}

/** A user's limits (RFC 9208 STORAGE in octets, MESSAGE in messages); null: no limit. */
export interface QuotaLimits {
  storage: number | null;
  messages: number | null;
}

/**
 * What all of a user's mailboxes hold together (a copy counts again): a per-user counter that
 * every append, copy, expunge, mailbox delete moves inside its own write, never a listing.
 */
export interface QuotaUsage {
  storage: number;
  messages: number;
}

export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive' | '\\All' | '\\Flagged';

export interface Mailbox {
  /** Stable id; survives RENAME (messages are keyed by it). */
  id: string;
  user: string;
  name: string;
  uidValidity: number;
  /** The UID the next appended message will get. */
  uidNext: number;
  /** Bumped by every append, flag change and expunge in this mailbox. */
  highestModseq: number;
  /** Number of messages now in the mailbox. */
  messageCount: number;
  specialUse: SpecialUse | null;
  createdAt: number;
}

/** The cheap part of a mailbox to poll for changes (IDLE, NOOP). */
export interface MailboxState {
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  messageCount: number;
}

/** Log entries (tombstones, change records) are kept this long, then trimmed (see the header). */
export const CHANGE_LOG_RETENTION_MS = 30 * 24 * 3600 * 1000;

export interface MessageRecord {
  uid: number;
  modseq: number;
  /** System flags (`\Seen`, …) and keywords, as given; no duplicates. */
  flags: string[];
  /** Epoch ms. */
  internalDate: number;
  size: number;
  blobKey: string;
  /**
   * The thread the message joined when it was stored (see the header, "Threads"): 1–64
   * characters of [A-Za-z0-9_-]. Absent on records stored before threads existed or without
   * `thread` keys (the caller derives one for them).
   */
  threadId?: string;
  /**
   * Save date (RFC 8514 §3), epoch ms: when the message was put into this mailbox — the
   * adapter's clock at the appendMessage or copyMessages that created this record (delivery,
   * APPEND, COPY, MOVE, JMAP), never copied from a source record, never changed after. Absent
   * on a record written before the index kept it.
   */
  saveDate?: number;
  /** Present when asked for (listMessages withMeta / getMessages). */
  meta?: MessageMeta;
}

/**
 * What a message list needs of a message beyond the session's view (UID, flags, modseq): one
 * entry of listEnvelopes, without the rest of the record.
 */
export interface EnvelopeRecord {
  uid: number;
  size: number;
  /** Epoch ms. */
  internalDate: number;
  /**
   * The ENVELOPE: its IMAP text (core/mime/imap-envelope.ts) when that is the same in every
   * session, else the structure (meta.envelope) for the session to write.
   */
  envelope: string | Envelope;
}

/** What threading needs of a new message (threadKeysOf in core/mailbox/thread-keys.ts). */
export interface ThreadKeys {
  /** The message's own Message-ID without angle brackets; null when it has none. */
  messageId: string | null;
  /** In-Reply-To's first msg-id, or null. */
  inReplyTo: string | null;
  /** References' msg-ids in header order, at most the first and the last MAX_THREAD_REFERENCES - 1. */
  references: string[];
  /** The base subject (RFC 5256 §2.1), as BaseSubject.key (upper-cased); '' for none. */
  subject: string;
}

/** References looked up per message, at most (the first one and the last ones). */
export const MAX_THREAD_REFERENCES = 11;
/** Longest msg-id that takes part in threading (UTF-8 bytes); longer ones are ignored. */
export const MAX_THREAD_MESSAGE_ID_BYTES = 500;

export interface NewMessage {
  blobKey: string;
  size: number;
  internalDate: number;
  flags: string[];
  meta: MessageMeta;
  /** Idempotency key: one job's delivery to one recipient (invariant 2). */
  deliveryKey?: string;
  /**
   * How the message references its blob (invariant 5); absent: it adds one reference (the blob
   * may have others). 'sole': the caller stored the blob for this message alone and nothing else
   * refers to it — the message is its only reference (an adapter may then keep no count at all
   * until a COPY shares the blob). `{ takeOver: holder }`: the message takes over that holder's
   * hold (holdBlob) instead of adding a reference — the hold is gone once the message is in,
   * and the blob's count is unchanged; when there is no such hold, one reference is added.
   */
  blobReference?: 'sole' | { takeOver: string };
  /** The message's ids for threading (see the header, "Threads"); absent: no threadId is stored. */
  thread?: ThreadKeys;
}

export interface AppendResult {
  uid: number;
  uidValidity: number;
  modseq: number;
  /** The message's thread id (MessageRecord.threadId); absent as there. For a duplicate: absent (read the record). */
  threadId?: string;
  /** True when deliveryKey had already been used: nothing was inserted. */
  duplicate: boolean;
}

export type FlagUpdateMode = 'add' | 'remove' | 'set';

export interface FlagChange {
  uid: number;
  flags: string[];
  modseq: number;
  /**
   * With `unchangedSince`: the message's modseq was above it, so it was left as it is (these are
   * its stored flags and modseq). Absent on every message that changed.
   */
  modified?: true;
}

export interface FlagUpdateOptions {
  /**
   * RFC 7162 §3.1.3 UNCHANGEDSINCE: change only the messages whose modseq is at most this, the
   * test and the write in the same atomic step; the others come back with `modified: true`.
   */
  unchangedSince?: number;
}

export interface MailboxChanges {
  /** The mailbox's counters as of this read. */
  state: MailboxState;
  /** Messages appended or whose flags changed with modseq > since, in UID order, with flags and modseq (meta only when asked). */
  changed: MessageRecord[];
  /** UIDs expunged with a modseq > since (tombstones), ascending. */
  expunged: number[];
  /**
   * Only with `withBlobKeys`: the blob key each expunged UID had, in the order of `expunged`
   * (JMAP names an Email by its blob, so its /changes can say which Email lost a copy); null
   * for a tombstone written before the log kept blob keys.
   */
  expungedBlobKeys?: Array<string | null>;
  /**
   * Only with `withBlobKeys`: the thread id (MessageRecord.threadId) each expunged UID had, in
   * the order of `expunged` (JMAP Thread/changes names the thread that lost an Email); null for
   * a message without one, or a tombstone written before tombstones kept thread ids.
   */
  expungedThreadIds?: Array<string | null>;
  /** False when the log does not reach back to `since` (trimmed, or older than the mailbox): the caller must resynchronise from a full listing (changed/expunged are then empty). */
  complete: boolean;
}

export interface ChangesOptions {
  /** The caller's last known uidNext (read together with `since`): a hint that appends are at UIDs ≥ it. */
  uidNext?: number;
  /** Include `meta` in `changed`. */
  withMeta?: boolean;
  /** Include `expungedBlobKeys` and `expungedThreadIds`. */
  withBlobKeys?: boolean;
}

export interface ListOptions {
  /** Inclusive UID bounds. */
  uidFrom?: number;
  uidTo?: number;
  /** Include `meta`: true, everything (envelope, MIME tree, header block); 'structure', all but the header block (`meta.header` null). */
  withMeta?: MetaOption;
}

/**
 * How much of `meta` a read includes. 'structure' is what ENVELOPE, BODYSTRUCTURE and body
 * section offsets need; its `meta.header` is null (readers that need the header block ask for
 * true, or read it from the blob as they do when the index keeps none).
 */
export type MetaOption = boolean | 'structure';

/**
 * A small per-user record kept for a protocol (JMAP Identity, EmailSubmission,
 * VacationResponse: fargate-listeners/src/jmap/methods/), with the change counter JMAP
 * `/changes` needs. Each (user, kind) has one counter; every write of an object of that kind
 * takes its next value (the object's `modseq`) in the same atomic step as the write.
 */
export interface AccountObject {
  id: string;
  /** JSON text as written; null for a destroyed object (a tombstone, kept for /changes). */
  data: string | null;
  /** The counter value of the object's last write. */
  modseq: number;
  /** The counter value of the write that created it (again, after a destroy). */
  createdModseq: number;
}

export interface AccountObjectList {
  /** The (user, kind) counter as of this read (0: nothing written yet). */
  state: number;
  /** Without `since`: the live objects. With it: every object (tombstones too) written after it. Ordered by id. */
  objects: AccountObject[];
}

/** Largest `data` of an account object (UTF-8 bytes); DynamoDB items are at most 400 KB. */
export const MAX_ACCOUNT_OBJECT_BYTES = 64 * 1024;

/**
 * A bearer token a client got for its credentials (JMAP, fargate-listeners/src/jmap/tokens.ts),
 * filed under a SHA-256 of the token (the token itself is never stored).
 */
export interface AuthToken {
  user: string;
  createdAt: number;
  /** Epoch ms; an expired token is not returned (and is removed some time after). */
  expiresAt: number;
  /** What the issuer binds the token to (e.g. a hash of the password hash then): compared on use. */
  binding: string;
}

export class IndexError extends Error {
  readonly code: 'EXISTS' | 'NOT_FOUND' | 'CONFLICT' | 'INVALID';
  constructor(code: IndexError['code'], message: string) {
    super(message);
    this.name = 'IndexError';
    this.code = code;
  }
}

export interface MailIndex {
  // --- domains ---
  addDomain(name: string, options?: { postmaster?: string | null }): Promise<Domain>;
  /** Sets (or, with null, clears) the domain's postmaster address; NOT_FOUND when absent. */
  setDomainPostmaster(name: string, postmaster: string | null): Promise<Domain>;
  removeDomain(name: string): Promise<void>;
  listDomains(): Promise<Domain[]>;
  getDomain(name: string): Promise<Domain | null>;

  // --- users ---
  /** Throws IndexError('EXISTS') when the address exists. Does not create mailboxes. */
  addUser(user: { address: string; passwordHash: string }): Promise<User>;
  getUser(address: string): Promise<User | null>;
  listUsers(domain?: string): Promise<User[]>;
  setPasswordHash(address: string, passwordHash: string): Promise<void>;
  /** Removes the user, its mailboxes, messages and subscriptions; returns blob keys no longer referenced. */
  removeUser(address: string): Promise<{ orphanedBlobs: string[] }>;
  /** The user's limits and usage; null when there is no such user. */
  getQuota(address: string): Promise<{ limits: QuotaLimits; usage: QuotaUsage } | null>;
  /** Replaces the user's limits; NOT_FOUND when absent, INVALID for a negative or fractional limit. */
  setQuota(address: string, limits: QuotaLimits): Promise<void>;

  // --- mailboxes ---
  /** Throws IndexError('EXISTS') when the name exists for the user. `subscribed`: also subscribe the name. */
  createMailbox(user: string, name: string, options?: { specialUse?: SpecialUse | null; subscribed?: boolean }): Promise<Mailbox>;
  getMailbox(user: string, name: string): Promise<Mailbox | null>;
  listMailboxes(user: string): Promise<Mailbox[]>;
  /** Renames one mailbox (id, UIDVALIDITY and messages stay). EXISTS / NOT_FOUND errors. */
  renameMailbox(user: string, oldName: string, newName: string): Promise<Mailbox>;
  /** Deletes the mailbox and its messages. */
  deleteMailbox(user: string, name: string): Promise<{ orphanedBlobs: string[] }>;
  /** Adds the name to the user's subscriptions or removes it; idempotent; the mailbox need not exist. */
  setSubscribed(user: string, name: string, subscribed: boolean): Promise<void>;
  /** The user's subscribed names, sorted (code unit order); [] for an unknown user. */
  listSubscriptions(user: string): Promise<string[]>;
  mailboxState(user: string, mailboxId: string): Promise<MailboxState | null>;

  /**
   * What changed in the mailbox after modseq `since`, at a cost proportional to the changes.
   * `uidNext`: the uidNext read together with `since` (or lower; see the header, "the uidNext
   * hint"): appends after `since` are at UIDs ≥ it. null: no such mailbox.
   */
  changesSince(user: string, mailboxId: string, since: number, options?: ChangesOptions): Promise<MailboxChanges | null>;

  // --- messages ---
  /** Atomic UID allocation + insert (invariant 3), idempotent by deliveryKey (invariant 2). */
  appendMessage(user: string, mailboxId: string, message: NewMessage): Promise<AppendResult>;
  /**
   * appendMessage to the user's mailbox of that name (the delivery path: getMailbox, then
   * appendMessage, in fewer round trips where the adapter can); null when there is no such mailbox.
   */
  appendMessageTo(user: string, mailboxName: string, message: NewMessage): Promise<(AppendResult & { mailboxId: string }) | null>;
  /** Messages in UID order. */
  listMessages(user: string, mailboxId: string, options?: ListOptions): Promise<MessageRecord[]>;
  /**
   * The messages with UIDs in [uidFrom, uidTo] (inclusive, as listMessages), in UID order, with
   * size, internal date and ENVELOPE only: the same messages as listMessages would give, and
   * the same envelope as their meta, without reading the rest of the meta (a FETCH of a
   * message list: UID FLAGS ENVELOPE RFC822.SIZE). A record stored without meta is left out.
   */
  listEnvelopes(user: string, mailboxId: string, options?: { uidFrom?: number; uidTo?: number }): Promise<EnvelopeRecord[]>;
  /** The given UIDs that exist, with meta (all of it unless `withMeta` says otherwise), in UID order. */
  getMessages(user: string, mailboxId: string, uids: number[], options?: { withMeta?: MetaOption }): Promise<MessageRecord[]>;
  /** Changes flags; returns the messages whose flags changed, with their new modseq. */
  updateFlags(user: string, mailboxId: string, uids: number[], mode: FlagUpdateMode, flags: string[], options?: FlagUpdateOptions): Promise<FlagChange[]>;
  /** Removes the messages; returns the UIDs removed and blob keys no longer referenced. */
  expunge(user: string, mailboxId: string, uids: number[]): Promise<{ expunged: number[]; orphanedBlobs: string[] }>;
  /**
   * Copies messages (same blobs, flags, dates) into another mailbox of the same user, with
   * UIDs allocated atomically in the target, in source UID order.
   */
  copyMessages(
    user: string,
    fromMailboxId: string,
    uids: number[],
    toMailboxId: string,
  ): Promise<{ uidValidity: number; mapping: Array<{ from: number; to: number }> }>;

  // --- blob holds (invariant 1: a queued job keeps its blob alive until it has finished) ---
  /**
   * Takes a reference on `blobKey` for `holder` (e.g. the ingest job id). Idempotent per
   * (blobKey, holder): holding twice is one reference. Works before any message references
   * the blob (the SMTP accept path holds before it queues the job).
   */
  holdBlob(blobKey: string, holder: string): Promise<void>;
  /**
   * Drops `holder`'s hold on `blobKey`. Idempotent: releasing a hold that is not there changes
   * nothing and returns `orphaned: false`. `orphaned: true` only when this call removed the
   * last reference (holds and messages): the caller then deletes the blob.
   */
  releaseBlob(blobKey: string, holder: string): Promise<{ orphaned: boolean }>;

  // --- account objects (AccountObject above) ---
  /**
   * Writes object `id` of `kind` (data: JSON text) or destroys it (null: NOT_FOUND when it is
   * absent or already destroyed), taking the next value of the (user, kind) counter, returned
   * as the new state. `ifState`: only while the counter is still that value, else CONFLICT
   * (the write and the check are one atomic step). Data over MAX_ACCOUNT_OBJECT_BYTES: INVALID;
   * kinds are 1–64 of [A-Za-z0-9_-], ids 1–255 characters.
   * removeUser removes the user's objects and counters.
   */
  putAccountObject(user: string, kind: string, id: string, data: string | null, options?: { ifState?: number }): Promise<{ state: number }>;
  /** The live object, or null (absent or destroyed). */
  getAccountObject(user: string, kind: string, id: string): Promise<AccountObject | null>;
  /**
   * The counter and the objects (see AccountObjectList). Nothing written at or below the
   * returned state is missed; an object written after the counter was read may be included
   * (and is reported again by a call with `since` = that state).
   */
  listAccountObjects(user: string, kind: string, options?: { since?: number }): Promise<AccountObjectList>;

  // --- leases (e.g. the POP3 maildrop lock, RFC 1939 §8 / RFC 2449 [IN-USE]) ---
  /** Takes the named lease for `owner` unless another owner holds an unexpired one. */
  acquireLease(name: string, owner: string, ttlSeconds: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;

  // --- bearer tokens (RFC 8620 §1.5 / RFC 6750; stored hashed) ---
  /** Files a token under its hash (a key of at most 128 characters); replaces one with the same hash. */
  putAuthToken(tokenHash: string, token: AuthToken): Promise<void>;
  /** The token filed under the hash, or null when there is none or it has expired. */
  getAuthToken(tokenHash: string): Promise<AuthToken | null>;
  /** Removes it (revocation, logout); idempotent. */
  deleteAuthToken(tokenHash: string): Promise<void>;

  close?(): Promise<void>;
}
