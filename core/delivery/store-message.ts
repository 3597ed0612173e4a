/**
 * Putting message bytes into a mailbox: blob first, then the index record (so an index
 * entry never points at a missing blob). Used by ingest (SMTP deliveries), IMAP APPEND and tests.
 */
import { randomUUID } from 'node:crypto';
import type { Adapters } from '../adapters/adapters.ts';
import { IndexError, type AppendResult } from '../ports/mail-index.ts';
import type { MessageMeta } from '../mime/types.ts';
import { indexMessage } from '../mime/index-message.ts';
import { MESSAGE_BUCKET } from '../resources.ts';

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
}

/**
 * Appends raw bytes to `user`'s mailbox `mailboxName`. Throws IndexError('NOT_FOUND') when
 * the mailbox does not exist.
 */
export async function appendToMailbox(adapters: Adapters, user: string, mailboxName: string, raw: Buffer, options: AppendOptions = {}): Promise<AppendResult & { mailboxId: string }> {
  const mailbox = await adapters.index.getMailbox(user, mailboxName);
  if (!mailbox) throw new IndexError('NOT_FOUND', `no mailbox ${mailboxName} for ${user}`);
  let blobKey = options.blobKey;
  if (!blobKey) {
    blobKey = newBlobKey();
    await adapters.blobs.put(blobKey, raw);
  }
  const meta = options.meta ?? indexMessage(raw);
  const result = await adapters.index.appendMessage(user, mailbox.id, {
    blobKey,
    size: raw.length,
    internalDate: options.internalDate ?? Date.now(),
    flags: options.flags ?? [],
    meta,
    deliveryKey: options.deliveryKey,
  });
  if (result.duplicate && !options.blobKey) {
    // Our own fresh blob is not referenced by anything: remove it.
    await adapters.blobs.delete(blobKey).catch(() => {});
  }
  return { ...result, mailboxId: mailbox.id };
}
