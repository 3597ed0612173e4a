/**
 * State strings that carry what they stand for, so /changes needs no server-side memory
 * (any listener process answers, RFC 8620 §5.2).
 *
 *  - Mailbox state: each mailbox's id with a short hash of everything Mailbox/get shows of it
 *    (name, role, subscription, message count and highest modseq, which moves with every flag
 *    change and so with the unread counts). Mailbox/changes compares the client's list with
 *    the current one: ids gone → destroyed, new → created, hash differs → updated.
 *  - Email state: each mailbox's id with its highest modseq and UIDNEXT. Email/changes asks
 *    the index's change log (MailIndex.changesSince) of each mailbox from there.
 *
 * Both are deflated JSON in base64url. A user has at most 1000 mailboxes, which bounds them.
 */
import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';

export function encodeState(value: unknown): string {
  return 's' + deflateRawSync(Buffer.from(JSON.stringify(value), 'utf8')).toString('base64url');
}

/** The decoded value, or null when the string is not a state of ours. */
export function decodeState(state: string): unknown {
  if (!state.startsWith('s') || state.length > 1_000_000) return null;
  try {
    return JSON.parse(inflateRawSync(Buffer.from(state.slice(1), 'base64url'), { maxOutputLength: 4_000_000 }).toString('utf8'));
  } catch {
    return null;
  }
}

export function shortHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 10);
}
