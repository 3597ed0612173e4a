/**
 * The ids and subject a new message is threaded by (MailIndex NewMessage.thread; the rules are
 * in core/ports/mail-index.ts, "Threads", and core/adapters/thread-choice.ts): Message-ID,
 * In-Reply-To and References from the header block, the base subject (RFC 5256 §2.1) from the
 * envelope. MailboxWrites computes them for every message it appends (delivery, DSNs, IMAP
 * APPEND, JMAP Email/import and Email/set create, imports).
 */
import { baseSubject } from '../mime/base-subject.ts';
import { fieldValueLatin1, firstField, parseHeaderFields } from '../mime/header.ts';
import type { MessageMeta } from '../mime/types.ts';
import { MAX_THREAD_MESSAGE_ID_BYTES, MAX_THREAD_REFERENCES, type ThreadKeys } from '../ports/mail-index.ts';

/** The msg-ids of a field value (RFC 5322 §3.6.4), in order, without angle brackets; comments dropped; over-long ids left out. */
export function msgIds(value: string | null): string[] {
  if (!value) return [];
  return [...value.replace(/\([^()]*\)/g, '').matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]).filter((id) => Buffer.byteLength(id) <= MAX_THREAD_MESSAGE_ID_BYTES);
}

/** The first and the last MAX_THREAD_REFERENCES - 1 of a References list (the root and the nearest ancestors). */
export function boundedReferences(refs: readonly string[]): string[] {
  if (refs.length <= MAX_THREAD_REFERENCES) return [...refs];
  return [refs[0], ...refs.slice(refs.length - (MAX_THREAD_REFERENCES - 1))];
}

/** The thread keys of `raw` (the stored bytes) with its index `meta`. */
export function threadKeysOf(raw: Buffer, meta: MessageMeta): ThreadKeys {
  const env = meta.envelope;
  const block = raw.subarray(0, Math.min(raw.length, meta.mime.bodyStart));
  const field = firstField(parseHeaderFields(block), 'references');
  return {
    messageId: msgIds(env.messageId)[0] ?? null,
    inReplyTo: msgIds(env.inReplyTo)[0] ?? null,
    references: boundedReferences(field ? msgIds(fieldValueLatin1(block, field)) : []),
    subject: baseSubject(env.subject).key,
  };
}
