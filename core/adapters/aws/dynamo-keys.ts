/**
 * Single-table layout of the mail index in DynamoDB (table MAIL_INDEX_TABLE in
 * core/resources.ts: string keys `pk`/`sk`, TTL attribute `ttl`, no GSIs).
 *
 * | pk               | sk                               | attributes                                                    |
 * | ---------------- | -------------------------------- | ------------------------------------------------------------- |
 * | `DOMAINS`        | `D#<domain>`                     | name, createdAt                                               |
 * | `USERS`          | `U#<domain>#<address>`           | address (directory entry; the profile holds the data)         |
 * | `U#<address>`    | `PROFILE`                        | address, passwordHash, createdAt                              |
 * | `U#<address>`    | `NAME#<mailbox name>`            | mailboxId: name → id, and the uniqueness of names             |
 * | `U#<address>`    | `MBOX#<mailboxId>`               | name, uidValidity, uidNext, highestModseq, messageCount,      |
 * |                  |                                  | specialUse, createdAt (and `subscribed`: legacy, see SUB#)    |
 * | `U#<address>`    | `SUB#<mailbox name>`             | name: one subscribed name (RFC 9051 §6.3.7; the mailbox need  |
 * |                  |                                  | not exist)                                                    |
 * | `U#<address>`    | `SUBLIST`                        | marker: the legacy MBOX `subscribed` flags were moved to SUB# |
 * | `U#<address>`    | `MSG#<mailboxId>#<uid:10>`       | uid, modseq, flags (L of S), internalDate, size, blobKey,     |
 * |                  |                                  | threadId (absent on items from before threads)                |
 * | `U#<address>`    | `MMETA#<mailboxId>#<uid:10>`     | the structure (envelope, MIME tree, size): `sd1` (B, deflate  |
 * |                  |                                  | JSON) or `sj` (S, JSON), `chunks` (N) when split; older items |
 * |                  |                                  | the whole meta in `meta`/`metaZ` — see dynamo-meta.ts         |
 * | `U#<address>`    | `MMETA#<mailboxId>#<uid:10>#<n:3>` | data (B): chunk n ≥ 1 of an oversized compressed structure  |
 * | `U#<address>`    | `MHDR#<mailboxId>#<uid:10>`      | the raw header block: `hd1` (B, deflate) or `hr` (B)          |
 * | `U#<address>`    | `CHG#<mailboxId>#<modseq:16>`    | kind (F flags, X expunged, C checkpoint), modseq, uids (a     |
 * |                  |                                  | sequence set), uidNext, createdAt, blobs (X: UID → blob key): |
 * |                  |                                  | the change log (see                                           |
 * |                  |                                  | dynamo-index/changes.ts; MBOX also holds logFloor,            |
 * |                  |                                  | floorUidNext, logTrimmedAt)                                   |
 * | `U#<address>`    | `DLV#<mailboxId>#<deliveryKey>`  | mailboxId, uid, uidValidity, modseq, ttl (delivery keys,      |
 * |                  |                                  | invariant 2; kept DELIVERY_KEY_TTL_SECONDS or until the       |
 * |                  |                                  | mailbox is deleted; keys over 512 bytes are SHA-256 hashed)   |
 * | `U#<address>`    | `TREF#<msg-id>`                  | threadId, subj: the user's Message-ID → thread map (msg-ids   |
 * |                  |                                  | over 400 bytes SHA-256 hashed; dynamo-index/threads.ts)       |
 * | `U#<address>`    | `OBJ#<kind>#<id>`                | data (S; absent for a destroyed object), modseq, createdModseq:|
 * |                  |                                  | an account object (dynamo-index/account-objects.ts)           |
 * | `U#<address>`    | `OBJSTATE#<kind>`                | state: the counter of the user's objects of that kind         |
 * | `UIDV#<address>` | `UIDV`                           | last: the user's UIDVALIDITY counter (survives removeUser)    |
 * | `BLOB#<blobKey>` | `REF`                            | refs: number of references to the blob (inv. 5): message      |
 * |                  |                                  | items carrying it plus its HOLD items                         |
 * | `BLOB#<blobKey>` | `HOLD#<holder>`                  | holder, createdAt: a job's own reference (holdBlob; inv. 1);  |
 * |                  |                                  | holders over 512 bytes are SHA-256 hashed                     |
 * | `LEASE#<name>`   | `LEASE`                          | owner, expiresAt (epoch ms), ttl (epoch s, housekeeping)      |
 * | `TOKEN#<hash>`   | `TOKEN`                          | user, createdAt, expiresAt, binding, ttl: a bearer token by a |
 * |                  |                                  | SHA-256 of it (dynamo-index/auth-tokens.ts)                   |
 *
 * Why this shape:
 *  - Messages are keyed by the mailbox *id*, so RENAME touches only the NAME item and the
 *    `name` attribute of the MBOX item (one transaction).
 *  - A message is three items: the small MSG item (what FLAGS/UID FETCH and STORE touch; DynamoDB
 *    bills reads and writes by whole-item size, projections do not help), its MMETA item
 *    (envelope, MIME tree: what a header sync FETCHes) and its MHDR item (the header block,
 *    only for HEADER fetches). All are written in one transaction.
 *  - UIDs are zero-padded to 10 digits (UIDs are 32-bit, RFC 3501 §2.3.1.1) so the sort key
 *    orders messages by UID and a UID range is a `BETWEEN` on `sk`.
 *  - One user's mailboxes, messages and delivery keys share the partition `U#<address>`:
 *    removing a user is one paginated Query plus batch deletes.
 *  - Blob reference counts live in their own partitions because one blob (one ingested
 *    message) is delivered to the mailboxes of several users. A blob's holds share the
 *    partition of its count, so a hold and its count change in one small transaction.
 *  - The UIDVALIDITY counter lives outside the user partition so that a user removed and
 *    created again still gets strictly greater UIDVALIDITY values (RFC 3501 §2.3.1.1).
 */

export const PK = 'pk';
export const SK = 'sk';
export const TTL = 'ttl';

/** Delivery keys are remembered this long: far beyond SQS retention (14 days), so a redelivery always finds them. */
export const DELIVERY_KEY_TTL_SECONDS = 30 * 24 * 3600;

/** DynamoDB limits sort keys to 1024 bytes; names and keys longer than this are refused or hashed. */
export const MAX_KEY_PART_BYTES = 900;

export const UID_DIGITS = 10;
/** Modseqs are 63-bit in RFC 7162; ours stay below 2^53, which has 16 digits. */
export const MODSEQ_DIGITS = 16;

export function padUid(uid: number): string {
  return String(uid).padStart(UID_DIGITS, '0');
}

export const keys = {
  domainsPk: 'DOMAINS',
  domainSk: (name: string) => `D#${name}`,
  usersPk: 'USERS',
  userDirSk: (domain: string, address: string) => `U#${domain}#${address}`,
  userDirPrefix: (domain?: string) => (domain ? `U#${domain}#` : 'U#'),
  userPk: (address: string) => `U#${address}`,
  profileSk: 'PROFILE',
  /** The user's quota usage (dynamo-index/usage.ts): storage and messages, moved by every write. */
  usageSk: 'USAGE',
  nameSk: (name: string) => `NAME#${name}`,
  namePrefix: 'NAME#',
  mailboxSk: (id: string) => `MBOX#${id}`,
  mailboxPrefix: 'MBOX#',
  subscriptionSk: (name: string) => `SUB#${name}`,
  subscriptionPrefix: 'SUB#',
  subscriptionsMigratedSk: 'SUBLIST',
  messageSk: (mailboxId: string, uid: number) => `MSG#${mailboxId}#${padUid(uid)}`,
  messagePrefix: (mailboxId: string) => `MSG#${mailboxId}#`,
  messagesPrefix: 'MSG#',
  metaSk: (mailboxId: string, uid: number) => `MMETA#${mailboxId}#${padUid(uid)}`,
  /** Chunk n ≥ 1 of a split meta; sorts right after its MMETA item. */
  metaChunkSk: (mailboxId: string, uid: number, n: number) => `MMETA#${mailboxId}#${padUid(uid)}#${String(n).padStart(3, '0')}`,
  /** Upper bound (inclusive) of a `BETWEEN` over the MMETA items and chunks of UIDs ≤ uid. */
  metaRangeEnd: (mailboxId: string, uid: number) => `MMETA#${mailboxId}#${padUid(uid)}#~`,
  metaPrefix: (mailboxId: string) => `MMETA#${mailboxId}#`,
  headerSk: (mailboxId: string, uid: number) => `MHDR#${mailboxId}#${padUid(uid)}`,
  headerPrefix: (mailboxId: string) => `MHDR#${mailboxId}#`,
  changeSk: (mailboxId: string, modseq: number) => `CHG#${mailboxId}#${String(modseq).padStart(MODSEQ_DIGITS, '0')}`,
  changePrefix: (mailboxId: string) => `CHG#${mailboxId}#`,
  deliverySk: (mailboxId: string, deliveryKey: string) => `DLV#${mailboxId}#${deliveryKey}`,
  deliveryPrefix: (mailboxId: string) => `DLV#${mailboxId}#`,
  uidValidityPk: (address: string) => `UIDV#${address}`,
  uidValiditySk: 'UIDV',
  blobPk: (blobKey: string) => `BLOB#${blobKey}`,
  blobSk: 'REF',
  blobHoldSk: (holder: string) => `HOLD#${holder}`,
  /** One entry of the user's Message-ID → thread map (dynamo-index/threads.ts). */
  threadRefSk: (messageId: string) => `TREF#${messageId}`,
  objectSk: (kind: string, id: string) => `OBJ#${kind}#${id}`,
  objectPrefix: (kind: string) => `OBJ#${kind}#`,
  objectStateSk: (kind: string) => `OBJSTATE#${kind}`,
  tokenPk: (tokenHash: string) => `TOKEN#${tokenHash}`,
  tokenSk: 'TOKEN',
  leasePk: (name: string) => `LEASE#${name}`,
  leaseSk: 'LEASE',
} as const;
