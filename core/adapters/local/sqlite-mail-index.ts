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
 * subscriptions), messages.ts (append, flags, expunge, copy, list), changes.ts (the change
 * log: changesSince, tombstones and their trimming), blob-refs.ts (reference
 * counts, holds), leases.ts, auth-tokens.ts, save-dates.ts (the save date column, RFC 8514), envelopes.ts
 * (what a message list reads, apart from the meta), and schema.ts; the class below hands each call to them
 * (../split-mail-index.ts).
 */
import path from 'node:path';
import { SplitMailIndex } from '../split-mail-index.ts';
import { openSqlite } from './sqlite-db.ts';
import * as accountObjects from './sqlite-index/account-objects.ts';
import * as accounts from './sqlite-index/accounts.ts';
import * as blobRefs from './sqlite-index/blob-refs.ts';
import * as changes from './sqlite-index/changes.ts';
import type { SqliteIndexHandle } from './sqlite-index/changes.ts';
import * as leases from './sqlite-index/leases.ts';
import * as authTokens from './sqlite-index/auth-tokens.ts';
import * as mailboxes from './sqlite-index/mailboxes.ts';
import * as messages from './sqlite-index/messages.ts';
import { ensureSaveDateColumn } from './sqlite-index/save-dates.ts';
import { ensureEnvelopeTable, listEnvelopes } from './sqlite-index/envelopes.ts';
import { SCHEMA, SCHEMA_VERSION } from './sqlite-index/schema.ts';
import * as usage from './sqlite-index/usage.ts';

export interface SqliteMailIndexOptions {
  dataDir: string;
  /** Database file; default `<dataDir>/index.sqlite`. */
  file?: string;
  busyTimeoutMs?: number;
  /** How long tombstones are kept before a later write trims them; default CHANGE_LOG_RETENTION_MS (tests pass less). */
  changeLogRetentionMs?: number;
}

export class SqliteMailIndex extends SplitMailIndex<SqliteIndexHandle> {
  readonly file: string;

  constructor(options: SqliteMailIndexOptions) {
    const file = options.file ?? path.join(options.dataDir, 'index.sqlite');
    const handle: SqliteIndexHandle = Object.assign(openSqlite(file, 'mail-index', SCHEMA_VERSION, SCHEMA, options.busyTimeoutMs), {
      changeLogRetentionMs: options.changeLogRetentionMs,
    });
    try {
      ensureSaveDateColumn(handle);
      ensureEnvelopeTable(handle);
    } catch (err) {
      handle.close();
      throw err;
    }
    super(handle, {
      ...accounts,
      ...mailboxes,
      ...messages,
      listEnvelopes,
      ...changes,
      ...blobRefs,
      ...leases,
      ...accountObjects,
      ...authTokens,
      getQuota: usage.getQuota,
      setQuota: usage.setQuota,
    });
    this.file = file;
  }

  async close(): Promise<void> {
    this.ctx.close();
  }
}
