/** The schema of the SQLite MailIndex file (opened by ../sqlite-mail-index.ts through sqlite-db.ts). */

/**
 * 2: the change log (sqlite-index/changes.ts): `messages_by_modseq`, `tombstones`, `change_logs`;
 *    later, in place: `user_quotas`, `user_usage` (sqlite-index/usage.ts), `message_threads`,
 *    `thread_refs` (sqlite-index/threads.ts); `message_envelopes` with its two triggers on
 *    `messages`, created and filled from every message's meta by ensureEnvelopeTable when the
 *    file is opened (sqlite-index/envelopes.ts; rows written later by code that predates it are
 *    read from meta).
 * Every statement is idempotent, so a version-1 file upgrades in place when it is opened. The
 * upgrade builds messages_by_modseq inside the opening transaction; on a big file that holds
 * the write lock for a while, and other processes opening the file meanwhile wait for it
 * (OPEN_BUSY_TIMEOUT_MS, sqlite-db.ts) rather than fail with SQLITE_BUSY after the usual 10 s.
 */
export const SCHEMA_VERSION = 2;

export const SCHEMA = `
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
CREATE INDEX IF NOT EXISTS messages_by_modseq ON messages (mailbox_id, modseq);
-- The change log (sqlite-index/changes.ts): expunged UIDs with the expunge's modseq, and per
-- mailbox the modseq below which the log is incomplete.
CREATE TABLE IF NOT EXISTS tombstones (
  mailbox_id TEXT NOT NULL,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tombstones_by_modseq ON tombstones (mailbox_id, modseq);
-- The blob key each tombstone's message had (changesSince withBlobKeys; JMAP names Emails by
-- blob). A table of its own, so an existing index file gains it as is; tombstones written
-- before it have no row here (their blob key is reported as null).
CREATE TABLE IF NOT EXISTS tombstone_blobs (
  mailbox_id TEXT NOT NULL,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  blob_key TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS change_logs (
  mailbox_id TEXT PRIMARY KEY,
  log_floor INTEGER NOT NULL
);
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
-- Bearer tokens (sqlite-index/auth-tokens.ts), by a SHA-256 of the token.
CREATE TABLE IF NOT EXISTS auth_tokens (
  token_hash TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  binding TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS auth_tokens_by_expiry ON auth_tokens (expires_at);
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
-- Account objects (sqlite-index/account-objects.ts; JMAP Identity, EmailSubmission,
-- VacationResponse): new tables, so an existing file gains them as it is opened.
CREATE TABLE IF NOT EXISTS account_objects (
  user TEXT NOT NULL,
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  data TEXT,
  modseq INTEGER NOT NULL,
  created_modseq INTEGER NOT NULL,
  PRIMARY KEY (user, kind, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS account_objects_by_modseq ON account_objects (user, kind, modseq);
CREATE TABLE IF NOT EXISTS account_object_counters (
  user TEXT NOT NULL,
  kind TEXT NOT NULL,
  state INTEGER NOT NULL,
  PRIMARY KEY (user, kind)
) WITHOUT ROWID;
-- A mailbox from before the change log (schema 1) has no log of its past: its floor is where it
-- stands now. New mailboxes get their row (floor 1) when they are created, so this is idempotent.
INSERT OR IGNORE INTO change_logs (mailbox_id, log_floor) SELECT id, highest_modseq FROM mailboxes;
-- Quotas (sqlite-index/usage.ts): per-user limits, and per-user usage that every write moving
-- messages updates in its own transaction. Usage is counted from the messages once, the first
-- time a file is opened with these tables (usage_counted marks it), then only moved.
CREATE TABLE IF NOT EXISTS user_quotas (
  user TEXT PRIMARY KEY,
  storage_limit INTEGER,
  message_limit INTEGER
);
CREATE TABLE IF NOT EXISTS user_usage (
  user TEXT PRIMARY KEY,
  storage INTEGER NOT NULL,
  messages INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS usage_counted (done INTEGER PRIMARY KEY);
INSERT OR IGNORE INTO user_usage (user, storage, messages)
  SELECT b.user, SUM(m.size), COUNT(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
  WHERE NOT EXISTS (SELECT 1 FROM usage_counted) GROUP BY b.user;
INSERT OR IGNORE INTO usage_counted (done) VALUES (1);
-- Threads (sqlite-index/threads.ts): new tables, so an existing file gains them as it is opened;
-- its messages have no row in message_threads (their thread id is derived by the caller).
CREATE TABLE IF NOT EXISTS message_threads (
  mailbox_id TEXT NOT NULL,
  uid INTEGER NOT NULL,
  thread_id TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
-- The thread id each tombstone's message had (changesSince withBlobKeys: expungedThreadIds).
CREATE TABLE IF NOT EXISTS tombstone_threads (
  mailbox_id TEXT NOT NULL,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  thread_id TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS thread_refs (
  user TEXT NOT NULL,
  message_id TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  PRIMARY KEY (user, message_id)
) WITHOUT ROWID;
`;
