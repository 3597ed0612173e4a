/**
 * JMAP ids (RFC 8620 §1.2: 1–255 characters of [A-Za-z0-9_-]) and state strings.
 *
 *  - Account id: `a` + 16 characters of a SHA-256 of the user id (stable, not the address
 *    itself, so it does not leak into URLs and logs).
 *  - Mailbox id: the index's mailbox id (a UUID, which survives RENAME): IMAP MAILBOXID
 *    (RFC 8474) can be the same string.
 *  - Email id: `M` + 22 characters of a SHA-256 of the message's blob key. The blob key names
 *    the stored bytes, is set once at delivery or APPEND and is never changed (invariant 5);
 *    COPY and MOVE keep it, so the id survives a move between mailboxes, and the copies of one
 *    message in several mailboxes are one Email with several mailboxIds, as JMAP models it
 *    (RFC 8621 §4). IMAP EMAILID can be computed the same way. Limits: the same bytes
 *    appended twice (two APPENDs) are two blobs, so two Emails; and when one delivery puts
 *    the same blob twice into one mailbox (two addresses of one user), the two copies are one
 *    Email.
 *  - Thread id: `T` + the thread id the index stored with the message when it was stored
 *    (MessageRecord.threadId: threading by Message-ID, In-Reply-To, References and base subject,
 *    RFC 8621 §3; core/ports/mail-index.ts, "Threads"), so it never changes (§4.1.1) and COPY
 *    and MOVE keep it. A message stored before threads existed has none: its thread id is `T` +
 *    the same hash as its email id (a thread of its own), as it always was, so no id a client
 *    holds ever changes. The two forms never meet (24 and 22 characters after the `T`). IMAP
 *    THREADID (RFC 8474) is the same string.
 *  - Blob id: `B` + the blob key in base64url. Download checks that the account has a
 *    message with that blob before it reads anything.
 */
import { createHash } from 'node:crypto';

function hash(s: string, length: number): string {
  return createHash('sha256').update(s).digest('base64url').slice(0, length);
}

export function accountIdOf(user: string): string {
  return 'a' + hash(`account:${user}`, 16);
}

export function emailIdOf(blobKey: string): string {
  return 'M' + hash(`email:${blobKey}`, 22);
}

/** The thread id of a message without a stored one (stored before threads existed): one thread per email. */
export function threadIdOfEmail(emailId: string): string {
  return 'T' + emailId.slice(1);
}

/** A message's JMAP (and IMAP THREADID) thread id: from its stored thread id, else derived from its email id. */
export function threadIdOf(record: { blobKey: string; threadId?: string }, emailId = emailIdOf(record.blobKey)): string {
  return record.threadId ? 'T' + record.threadId : threadIdOfEmail(emailId);
}

export function blobIdOf(blobKey: string): string {
  return 'B' + Buffer.from(blobKey, 'utf8').toString('base64url');
}

export const ID_PATTERN = /^[A-Za-z0-9_-]{1,255}$/;

/** A body part's blob: `P` + base64url of the message's blob key and the part id. */
export function blobIdOfPart(blobKey: string, partId: string): string {
  return 'P' + Buffer.from(`${partId}\n${blobKey}`, 'utf8').toString('base64url');
}

/** The message blob key and part id (null for the whole message) a blob id names, or null. */
export function parseBlobId(blobId: string): { blobKey: string; partId: string | null } | null {
  if (!/^[BP][A-Za-z0-9_-]{1,254}$/.test(blobId)) return null;
  const text = Buffer.from(blobId.slice(1), 'base64url').toString('utf8');
  if (blobId[0] === 'B') return { blobKey: text, partId: null };
  const nl = text.indexOf('\n');
  if (nl <= 0 || !/^[0-9]+(\.[0-9]+)*$/.test(text.slice(0, nl))) return null;
  return { blobKey: text.slice(nl + 1), partId: text.slice(0, nl) };
}
