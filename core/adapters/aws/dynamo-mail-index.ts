/**
 * MailIndex on one DynamoDB table (single-table layout in dynamo-keys.ts; meta storage in
 * dynamo-meta.ts). Semantics match the SQLite adapter (one contract suite proves both).
 *
 * How the port's invariants are kept:
 *  - (3) appendMessage is one TransactWriteItems: an Update of the MBOX item conditioned on
 *    the `uidNext` and `highestModseq` read just before (SET both + 1, ADD messageCount 1),
 *    the Puts of the MSG and MMETA items (attribute_not_exists), the Put of the delivery-key
 *    item (attribute_not_exists) when a key is given, and the Update of the blob's refcount.
 *    A message with UID n therefore commits together with uidNext moving past n, and UID n+1
 *    can only commit after it. When another writer won the race the transaction is
 *    cancelled; the cancellation reasons carry the items whose conditions failed
 *    (ReturnValuesOnConditionCheckFailure ALL_OLD), else we re-read, and retry with
 *    jittered backoff.
 *    copyMessages allocates each block of UIDs in the same way (one conditional Update
 *    together with the Puts of the block's messages), so copies obey the same order.
 *    listMessages reads `uidNext` (strongly consistent) before querying and lists only
 *    UIDs below it: every such message committed before the read, so a Query that pages
 *    through the sort key can never show UID n+1 while missing a committed UID n.
 *  - (2) the delivery-key item (`DLV#<mailboxId>#<key>`) is written in the same transaction
 *    and read (with the MBOX item, one BatchGetItem) before it; a key that exists, or whose
 *    Put cancelled the transaction, is a duplicate: we return the stored
 *    uid/uidValidity/modseq with duplicate: true. Keys are kept after expunge (a redelivered
 *    job never brings a message back) for DELIVERY_KEY_TTL_SECONDS, and dropped with the mailbox.
 *  - UIDVALIDITY comes from a per-user counter item outside the user's partition:
 *    max(last + 1, now in epoch seconds), written in the mailbox's creation transaction with
 *    a condition on the value read, so it is strictly increasing per user (RFC 3501 §2.3.1.1).
 *  - (5) `BLOB#<key>` items count references. Dropping the last reference (ADD -n reaching
 *    0) is followed by a conditional Delete (refs <= 0): only the caller whose Delete
 *    succeeds reports the key in orphanedBlobs, and a concurrent new reference (copy) makes
 *    the Delete fail, so a referenced blob is never reported. Copies add their reference
 *    with the condition refs >= 1, so a copy cannot resurrect a blob already orphaned.
 *    Decrements happen after the message items are deleted: a crash in between leaks a
 *    blob (never deletes a referenced one).
 *    A hold (`BLOB#<key>` / `HOLD#<holder>`) is one reference too. holdBlob is one
 *    TransactWriteItems: Put of the hold item (attribute_not_exists) + ADD refs 1, so a
 *    second hold by the same holder cancels as a whole and counts nothing. releaseBlob reads
 *    the count, then in one transaction deletes the hold item (attribute_exists) together
 *    with either ADD refs -1 (condition refs >= 2) or, when the hold is the last reference,
 *    the Delete of the REF item (condition refs <= 1): so it reports `orphaned` exactly when
 *    it removed the last reference, and a second release (hold gone) changes nothing. A
 *    concurrent change of the count cancels the transaction and we retry on a fresh read.
 *
 * All reads use strongly consistent reads (an IMAP client must see its own APPEND/STORE).
 * Every Query is paginated; BatchGet/BatchWrite retry unprocessed items.
 *
 * The parts live in dynamo-index/: accounts.ts (domains, users), mailboxes.ts (mailboxes,
 * subscriptions), messages.ts (append, flags, expunge, copy, list), changes.ts (the change
 * log: changesSince, log items, trimming), blob-refs.ts (reference counts, holds), usage.ts
 * (quota limits and the per-user usage item), leases.ts, auth-tokens.ts,
 * and context.ts (client, table, limits, shared reads); the class
 * below hands each call to them (../split-mail-index.ts).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SplitMailIndex } from '../split-mail-index.ts';
import * as accountObjects from './dynamo-index/account-objects.ts';
import * as accounts from './dynamo-index/accounts.ts';
import * as blobRefs from './dynamo-index/blob-refs.ts';
import * as changes from './dynamo-index/changes.ts';
import type { DynamoIndexContext } from './dynamo-index/context.ts';
import * as leases from './dynamo-index/leases.ts';
import * as authTokens from './dynamo-index/auth-tokens.ts';
import * as mailboxes from './dynamo-index/mailboxes.ts';
import * as messages from './dynamo-index/messages.ts';
import * as usage from './dynamo-index/usage.ts';

export interface DynamoMailIndexOptions {
  client: DynamoDBClient;
  table: string;
  /** Destroy the client on close() (when the index created it). */
  ownsClient?: boolean;
  /** How long change-log entries are kept before a later write trims them; default CHANGE_LOG_RETENTION_MS (tests pass less). */
  changeLogRetentionMs?: number;
}

export class DynamoMailIndex extends SplitMailIndex<DynamoIndexContext> {
  readonly table: string;
  private readonly ownsClient: boolean;

  constructor(options: DynamoMailIndexOptions) {
    super(
      { db: options.client, table: options.table, changeLogRetentionMs: options.changeLogRetentionMs },
      {
        ...accounts,
        ...mailboxes,
        ...messages,
        ...changes,
        ...blobRefs,
        ...leases,
        ...accountObjects,
        ...authTokens,
        getQuota: usage.getQuota,
        setQuota: usage.setQuota,
      },
    );
    this.table = options.table;
    this.ownsClient = options.ownsClient ?? false;
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.ctx.db.destroy();
  }
}
