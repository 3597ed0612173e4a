/**
 * The mailbox write path, in one place (mox's store.Account is the model). Every change to
 * what a mailbox holds goes through MailboxWrites, and each operation runs the same three
 * steps in this order:
 *
 *  1. Commit to the index (the truth: docs/architecture.md, "Data flow choices").
 *  2. Delete the blobs the commit reported orphaned (no message and no hold refers to them
 *     any more, invariant 5). At most BLOB_DELETE_CONCURRENCY at a time; a failure is logged
 *     with the key and never thrown: the index has committed, the client's command has
 *     succeeded, and an unreferenced blob is garbage, never lost mail (the local runtime's
 *     start sweeps such leftovers, core/adapters/local/crash-leftovers.ts).
 *  3. events.notify(user, mailboxId) for each mailbox the commit changed, so IDLE sessions
 *     hear at once (core/mailbox/events.ts; other processes through its change feed).
 *
 * Appending is the one write that touches the blob store before the index: blob first, then
 * the index record, so an index entry never points at a missing blob. Every append carries the
 * message's thread keys (thread-keys.ts), so the index threads it (RFC 8621 §3); COPY keeps
 * the thread.
 *
 * Callers: IMAP APPEND, COPY/MOVE, EXPUNGE/CLOSE, DELETE and RENAME INBOX
 * (fargate-listeners/src/imap/session/commands/), POP3's UPDATE state
 * (fargate-listeners/src/pop3/maildrop.ts), ingest and DSN delivery (core/ingest/ingest-job.ts,
 * core/dsn/deliver-dsn.ts) and `mailctl user remove` (core/admin/mailctl.ts). Flag-only
 * changes made by IMAP STORE and FETCH orphan no blob; they commit and notify in their commands.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import { IndexError, type AppendResult, type FlagChange, type FlagUpdateMode, type Mailbox, type MailIndex, type NewMessage } from '../ports/mail-index.ts';
import type { MessageMeta } from '../mime/types.ts';
import { indexMessage } from '../mime/index-message.ts';
import { threadKeysOf } from './thread-keys.ts';
import { MESSAGE_BUCKET } from '../resources.ts';
import type { MailboxEvents } from './events.ts';
import { trainOnCopy } from '../junk/training.ts';

/** Orphaned blobs deleted at the same time, at most (one expunge may orphan thousands). */
export const BLOB_DELETE_CONCURRENCY = 8;

/** A new, unique blob key under the message prefix, dated for lifecycle rules and humans. */
export function newBlobKey(now = new Date()): string {
  const d = now.toISOString().slice(0, 10).replace(/-/g, '/');
  return `${MESSAGE_BUCKET.messagePrefix}${d}/${randomUUID()}`;
}

export interface AppendOptions {
  flags?: string[];
  internalDate?: number;
  deliveryKey?: string;
  /** When the bytes are already in the blob store under this key (ingest), skip the put. */
  blobKey?: string;
  /** Precomputed index of `raw` (ingest parses once for all recipients). */
  meta?: MessageMeta;
  /** With `blobKey`: how the message references that blob (NewMessage.blobReference). A blob this call stores is the message's sole reference. */
  blobReference?: NewMessage['blobReference'];
}

/** The two stores a write touches (an `Adapters` set, or POP3's MaildropPorts). */
export interface MailStores {
  index: MailIndex;
  blobs: BlobStore;
}

export interface MailboxWritesOptions {
  /** In-process watchers; absent where none can be (mailctl, a Lambda without sessions). */
  events?: MailboxEvents;
  /** Where a blob that could not be deleted is reported (the caller's session or job logger). */
  log: Logger;
}

export class MailboxWrites {
  readonly index: MailIndex;
  readonly blobs: BlobStore;
  private readonly events: MailboxEvents | undefined;
  private readonly log: Logger;

  constructor(stores: MailStores, options: MailboxWritesOptions) {
    this.index = stores.index;
    this.blobs = stores.blobs;
    this.events = options.events;
    this.log = options.log;
  }

  /**
   * Appends raw bytes to `user`'s mailbox `mailboxName`: blob, index record, notify. Throws
   * IndexError('NOT_FOUND') when the mailbox does not exist. A duplicate (same deliveryKey)
   * adds nothing; the blob this call put for it is deleted again. Watchers are told even of
   * a duplicate: the first run may have stopped between its commit and its notify.
   */
  async append(user: string, mailboxName: string, raw: Buffer, options: AppendOptions = {}): Promise<AppendResult & { mailboxId: string }> {
    let blobKey = options.blobKey;
    if (!blobKey) {
      // A fresh blob for a mailbox that may not exist: looked up first, so no blob is written for nothing.
      if (!(await this.index.getMailbox(user, mailboxName))) throw new IndexError('NOT_FOUND', `no mailbox ${mailboxName} for ${user}`);
      blobKey = newBlobKey();
      await this.blobs.put(blobKey, raw);
    }
    const meta = options.meta ?? indexMessage(raw);
    const result = await this.index.appendMessageTo(user, mailboxName, {
      blobKey,
      size: raw.length,
      internalDate: options.internalDate ?? Date.now(),
      flags: options.flags ?? [],
      meta,
      deliveryKey: options.deliveryKey,
      blobReference: options.blobKey ? options.blobReference : 'sole',
      thread: threadKeysOf(raw, meta),
    });
    if (!result) {
      // Gone in between (deleted or renamed): our own fresh blob is not referenced by anything.
      if (!options.blobKey) await this.deleteBlobs([blobKey]);
      throw new IndexError('NOT_FOUND', `no mailbox ${mailboxName} for ${user}`);
    }
    // Our own fresh blob is not referenced by anything: remove it.
    if (result.duplicate && !options.blobKey) await this.deleteBlobs([blobKey]);
    this.notify(user, result.mailboxId);
    return result;
  }

  /**
   * Appends several messages to one mailbox, all or none (IMAP MULTIAPPEND, RFC 3502): every
   * blob is stored first (a failure deletes those already stored and nothing reaches the
   * index), then the index records one after another; when one of those fails, the ones
   * already recorded are expunged again before the error is thrown. Other sessions may glimpse
   * those messages in between (the index has no multi-message transaction on DynamoDB); the
   * outcome is never a partial append. Watchers are told once, at the end.
   */
  async appendAll(
    user: string,
    mailboxName: string,
    items: Array<{ raw: Buffer; flags: string[]; internalDate: number }>,
  ): Promise<{ mailboxId: string; results: AppendResult[] }> {
    const mailbox = await this.index.getMailbox(user, mailboxName);
    if (!mailbox) throw new IndexError('NOT_FOUND', `no mailbox ${mailboxName} for ${user}`);
    const keys: string[] = [];
    try {
      for (const item of items) {
        const key = newBlobKey();
        keys.push(key);
        await this.blobs.put(key, item.raw);
      }
    } catch (err) {
      await this.deleteBlobs(keys);
      throw err;
    }
    const results: AppendResult[] = [];
    try {
      for (let i = 0; i < items.length; i++) {
        const { raw, flags, internalDate } = items[i];
        const meta = indexMessage(raw);
        results.push(
          await this.index.appendMessage(user, mailbox.id, {
            blobKey: keys[i],
            size: raw.length,
            internalDate,
            flags,
            meta,
            blobReference: 'sole',
            thread: threadKeysOf(raw, meta),
          }),
        );
      }
    } catch (err) {
      try {
        // The expunge orphans the blobs of the recorded messages; the others were never referenced.
        const { orphanedBlobs } = await this.index.expunge(
          user,
          mailbox.id,
          results.map((r) => r.uid),
        );
        await this.deleteBlobs([...orphanedBlobs, ...keys.slice(results.length)]);
      } catch (undoErr) {
        this.log.error('MULTIAPPEND: messages of a failed append could not be removed', {
          user,
          mailbox: mailbox.id,
          uids: results.map((r) => r.uid),
          err: undoErr as Error,
        });
      }
      if (results.length > 0) this.notify(user, mailbox.id);
      throw err;
    }
    this.notify(user, mailbox.id);
    return { mailboxId: mailbox.id, results };
  }

  /**
   * Copies messages into another mailbox of the same user (same blobs); notifies the target
   * when any was copied. A copy into or out of \\Junk then trains the user's junk model in the
   * background (core/junk/training.ts): the caller's reply does not wait for it.
   */
  async copy(
    user: string,
    fromMailboxId: string,
    uids: number[],
    toMailboxId: string,
  ): Promise<{ uidValidity: number; mapping: Array<{ from: number; to: number }> }> {
    const result = await this.index.copyMessages(user, fromMailboxId, uids, toMailboxId);
    if (result.mapping.length > 0) this.notify(user, toMailboxId);
    trainOnCopy(
      this,
      this.log,
      user,
      fromMailboxId,
      toMailboxId,
      result.mapping.map((m) => m.to),
    );
    return result;
  }

  /** Removes the messages, deletes the blobs that orphaned, notifies; returns the UIDs removed. */
  async expunge(user: string, mailboxId: string, uids: number[]): Promise<number[]> {
    const { expunged, orphanedBlobs } = await this.index.expunge(user, mailboxId, uids);
    await this.deleteBlobs(orphanedBlobs);
    this.notify(user, mailboxId);
    return expunged;
  }

  /** Changes flags (no blob can orphan); notifies when any message changed. */
  async updateFlags(user: string, mailboxId: string, uids: number[], mode: FlagUpdateMode, flags: string[]): Promise<FlagChange[]> {
    const changes = await this.index.updateFlags(user, mailboxId, uids, mode, flags);
    if (changes.length > 0) this.notify(user, mailboxId);
    return changes;
  }

  /** Deletes the mailbox and its messages, then their orphaned blobs; notifies the mailbox's watchers. */
  async deleteMailbox(user: string, mailbox: Mailbox): Promise<void> {
    const { orphanedBlobs } = await this.index.deleteMailbox(user, mailbox.name);
    await this.deleteBlobs(orphanedBlobs);
    this.notify(user, mailbox.id);
  }

  /** Removes the user with every mailbox and message, then the orphaned blobs; notifies each mailbox's watchers. */
  async removeUser(address: string): Promise<void> {
    // Only in-process watchers need the ids; mailctl (no events) reads nothing more.
    const mailboxes = this.events ? await this.index.listMailboxes(address) : [];
    const { orphanedBlobs } = await this.index.removeUser(address);
    await this.deleteBlobs(orphanedBlobs);
    for (const m of mailboxes) this.notify(address, m.id);
  }

  /**
   * Drops `holder`'s hold on the blob (an ingest job that went through every recipient,
   * core/ingest/ingest-job.ts) and deletes the blob when that was its last reference. No
   * mailbox changes, so nobody is notified. Returns whether the blob was orphaned.
   */
  async releaseHold(blobKey: string, holder: string): Promise<boolean> {
    const { orphaned } = await this.index.releaseBlob(blobKey, holder);
    if (orphaned) await this.deleteBlobs([blobKey]);
    return orphaned;
  }

  /** Step 2: bounded parallelism; a failure is logged with its key, never thrown. */
  private async deleteBlobs(keys: readonly string[]): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const key = keys[next++];
        try {
          await this.blobs.delete(key);
        } catch (err) {
          this.log.warn('orphaned blob not deleted', { key, err: err as Error });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(BLOB_DELETE_CONCURRENCY, keys.length) }, worker));
  }

  private notify(user: string, mailboxId: string): void {
    this.events?.notify(user, mailboxId);
  }
}

/**
 * MailboxWrites.append for a caller with no watchers and nothing to log (tests and tools
 * that fill a mailbox directly).
 */
export async function appendToMailbox(
  stores: MailStores,
  user: string,
  mailboxName: string,
  raw: Buffer,
  options: AppendOptions = {},
): Promise<AppendResult & { mailboxId: string }> {
  return new MailboxWrites(stores, { log: silentLogger }).append(user, mailboxName, raw, options);
}
