/**
 * How both MailIndex adapters thread a new message (the rules: core/ports/mail-index.ts,
 * "Threads"). The adapter looks up `lookupIds` in its per-user Message-ID map, passes what it
 * found to `chooseThread`, stores the chosen thread id on the message and writes the returned
 * `record` entries into the map, all in the append's atomic step.
 */
import { createHash, randomBytes } from 'node:crypto';
import { IndexError, MAX_THREAD_MESSAGE_ID_BYTES, MAX_THREAD_REFERENCES, type ThreadKeys } from '../ports/mail-index.ts';

/** One entry of the map: the thread a Message-ID belongs to, and the subject digest of the message that recorded it. */
export interface ThreadRef {
  threadId: string;
  subject: string;
}

/** A thread id the adapters store: 1–64 of [A-Za-z0-9_-] (RFC 8474 objectid, JMAP Id). */
export const THREAD_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A new thread id: 24 characters of base64url (144 random bits; never the length of a derived id, JMAP ids.ts). */
export function newThreadId(): string {
  return randomBytes(18).toString('base64url');
}

/** What the map keeps of a base subject: 22 characters of its SHA-256. */
export function subjectDigest(subject: string): string {
  return createHash('sha256').update(subject, 'utf8').digest('base64url').slice(0, 22);
}

/**
 * The key a message is known by in the map: its Message-ID; without one, its blob (so that the
 * copies of one stored message appended to several mailboxes share a thread). A msg-id holds no
 * white space, so the two never meet.
 */
function ownKey(keys: ThreadKeys, blobKey: string): string {
  return keys.messageId ?? `blob ${blobKey}`;
}

/** The shape the port asks for; INVALID otherwise (same input refused alike by both adapters). */
export function checkThreadKeys(keys: ThreadKeys): void {
  const id = (v: unknown) => typeof v === 'string' && v.length > 0 && Buffer.byteLength(v) <= MAX_THREAD_MESSAGE_ID_BYTES;
  if (
    typeof keys !== 'object' ||
    keys === null ||
    !(keys.messageId === null || id(keys.messageId)) ||
    !(keys.inReplyTo === null || id(keys.inReplyTo)) ||
    !Array.isArray(keys.references) ||
    keys.references.length > MAX_THREAD_REFERENCES ||
    !keys.references.every(id) ||
    typeof keys.subject !== 'string'
  ) {
    throw new IndexError('INVALID', 'thread keys: msg-ids of 1-500 bytes, at most 11 references, a subject string');
  }
}

/** The ids to look up, nearest first, without repeats: own key, In-Reply-To, References from the last back. */
export function lookupIds(keys: ThreadKeys, blobKey: string): string[] {
  const out = [ownKey(keys, blobKey), ...(keys.inReplyTo ? [keys.inReplyTo] : []), ...[...keys.references].reverse()];
  return [...new Set(out)];
}

/** The ids the message records when they are unknown: own key, In-Reply-To, the last and the first reference. */
function recordCandidates(keys: ThreadKeys, blobKey: string): string[] {
  const refs = keys.references;
  const out = [ownKey(keys, blobKey), ...(keys.inReplyTo ? [keys.inReplyTo] : []), ...(refs.length > 0 ? [refs[refs.length - 1], refs[0]] : [])];
  return [...new Set(out)];
}

/**
 * The thread for a message whose lookup found `found` (id → entry; ids not in it are unknown):
 * the first looked-up id, nearest first, whose entry has the message's subject digest; else a
 * new thread. `record`: the entries to write (unknown ids only, never an overwrite).
 */
export function chooseThread(
  keys: ThreadKeys,
  blobKey: string,
  found: ReadonlyMap<string, ThreadRef>,
): { threadId: string; subject: string; record: Array<[string, ThreadRef]> } {
  const subject = subjectDigest(keys.subject);
  let threadId: string | null = null;
  for (const id of lookupIds(keys, blobKey)) {
    const hit = found.get(id);
    if (hit && hit.subject === subject && THREAD_ID.test(hit.threadId)) {
      threadId = hit.threadId;
      break;
    }
  }
  threadId ??= newThreadId();
  const record = recordCandidates(keys, blobKey)
    .filter((id) => !found.has(id))
    .map((id): [string, ThreadRef] => [id, { threadId: threadId!, subject }]);
  return { threadId, subject, record };
}
