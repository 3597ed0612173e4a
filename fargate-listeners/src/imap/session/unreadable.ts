/**
 * One message whose blob cannot be read must not break a whole mailbox (FETCH 1:*, SEARCH
 * TEXT): the read is classified per message, the others are served, and the command names
 * the bad ones in its answer and in a log line with the blob key.
 *
 *  - An I/O error from the blob store: RFC 9051 §7.1 UNAVAILABLE ("temporary failure because a
 *    subsystem is down"); the client may try again later.
 *  - The blob is absent although the index still lists the message: CORRUPTION ("the server
 *    discovered that some relevant data ... are corrupt"), never EXPUNGEISSUED, since no
 *    expunge happened.
 *  - The blob is absent because the message was expunged meanwhile (by another session, after
 *    our index read): the BlobNotFoundError is passed on, and the command says EXPUNGEISSUED
 *    as before (RFC 5530).
 *
 * When the blob store fails for many messages in a row, it is down rather than one blob
 * damaged: the command stops early instead of logging and answering one failure per message.
 */
import { BlobNotFoundError } from '#core/ports/blob-store.ts';
import type { MessageRecord } from '#core/ports/mail-index.ts';
import type { Tagged } from './errors.ts';
import type { ImapSession } from './session.ts';

/** Failed messages in a row (no success between) after which a command stops. */
export const STORE_DOWN_AFTER = 10;

export class UnreadableMessageError extends Error {
  readonly uid: number;
  readonly blobKey: string;
  /** The blob is absent although the message is still in the index. */
  readonly missing: boolean;
  constructor(rec: MessageRecord, missing: boolean, cause: unknown) {
    super(missing ? `blob missing: ${rec.blobKey}` : `blob unreadable: ${rec.blobKey}`, { cause });
    this.name = 'UnreadableMessageError';
    this.uid = rec.uid;
    this.blobKey = rec.blobKey;
    this.missing = missing;
  }
}

/**
 * Runs one blob read for a message of mailbox `mailboxId`. Failures become
 * UnreadableMessageError, except a blob that is gone because the message is gone
 * (BlobNotFoundError is rethrown then).
 */
export async function readMessageBlob<T>(s: ImapSession, mailboxId: string, rec: MessageRecord, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (!(err instanceof BlobNotFoundError)) throw new UnreadableMessageError(rec, false, err);
    let stillIndexed: boolean;
    try {
      stillIndexed = (await s.deps.adapters.index.getMessages(s.user!, mailboxId, [rec.uid])).length > 0;
    } catch (lookupErr) {
      // Cannot tell: a temporary failure, not a claim either way.
      throw new UnreadableMessageError(rec, false, lookupErr);
    }
    if (!stillIndexed) throw err;
    throw new UnreadableMessageError(rec, true, err);
  }
}

/** The unreadable messages of one command, logged as they are met and summed up in its answer. */
export class UnreadableReport {
  private readonly s: ImapSession;
  private readonly failed: Array<{ seq: number; err: UnreadableMessageError }> = [];
  private inARow = 0;
  constructor(s: ImapSession) {
    this.s = s;
  }

  add(seq: number, err: UnreadableMessageError): void {
    this.failed.push({ seq, err });
    this.inARow++;
    this.s.log.warn(err.missing ? 'message blob missing' : 'message blob unreadable', {
      mailbox: this.s.selected?.name,
      seq,
      uid: err.uid,
      blobKey: err.blobKey,
      err: err.cause as Error,
    });
  }

  succeeded(): void {
    this.inARow = 0;
  }

  /** UIDs of the messages that could not be read. */
  get uids(): number[] {
    return this.failed.map((f) => f.err.uid);
  }

  get count(): number {
    return this.failed.length;
  }

  /** Many failures in a row: the store is down; stop. */
  get storeDown(): boolean {
    return this.inARow >= STORE_DOWN_AFTER;
  }

  /** UNAVAILABLE when any failure may be temporary, else CORRUPTION. */
  get code(): 'UNAVAILABLE' | 'CORRUPTION' {
    return this.failed.some((f) => !f.err.missing) ? 'UNAVAILABLE' : 'CORRUPTION';
  }

  /** "message 3 (UID 7)", "messages 3 (UID 7), 5 (UID 9) and 4 more". */
  names(): string {
    // In sequence order, whatever order the reads failed in.
    const shown = [...this.failed]
      .sort((a, b) => a.seq - b.seq)
      .slice(0, 5)
      .map((f) => `${f.seq} (UID ${f.err.uid})`);
    const more = this.failed.length - shown.length;
    return `${this.failed.length === 1 ? 'message' : 'messages'} ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
  }

  /** The tagged NO for a command that served the other messages. */
  tagged(verb: string): Tagged {
    if (this.storeDown) return { status: 'NO', code: 'UNAVAILABLE', text: `${verb} stopped: the message store is not answering; try again later` };
    const why = this.code === 'CORRUPTION' ? 'stored copy missing' : 'message store read failed, try again later';
    return { status: 'NO', code: this.code, text: `${verb}: ${this.names()} could not be read (${why}); the others were answered` };
  }
}
