/**
 * `mailctl check`: compares each message's blob with what the index says of it. The index
 * records the size of the bytes stored (invariant 5: blobs never change), so a blob of another
 * size was truncated or extended behind the system's back, and an absent or unreadable blob
 * is a message no client can read. One ranged read of two bytes around the recorded end
 * tells a blob of the right size from a shorter or longer one without reading it all; only a
 * blob found wrong is read whole, to report its real size.
 */
import { BlobNotFoundError, type BlobStore } from '../ports/blob-store.ts';
import type { MailIndex, MessageRecord } from '../ports/mail-index.ts';

export type BlobProblemKind = 'missing' | 'unreadable' | 'truncated' | 'extended';

export interface BlobProblem {
  kind: BlobProblemKind;
  user: string;
  mailbox: string;
  uid: number;
  blobKey: string;
  detail: string;
}

export interface BlobCheckResult {
  users: number;
  mailboxes: number;
  messages: number;
  problems: BlobProblem[];
}

/** Blobs checked at the same time. */
const CONCURRENCY = 8;

async function actualSize(blobs: BlobStore, key: string): Promise<number | null> {
  try {
    let n = 0;
    for await (const chunk of await blobs.stream(key)) n += (chunk as Buffer).length;
    return n;
  } catch {
    return null;
  }
}

/** The problem with one message's blob, or null when it has the recorded size. */
export async function checkMessageBlob(blobs: BlobStore, rec: MessageRecord): Promise<Omit<BlobProblem, 'user' | 'mailbox'> | null> {
  const base = { uid: rec.uid, blobKey: rec.blobKey };
  let tail: Buffer;
  try {
    tail = await blobs.getRange(rec.blobKey, Math.max(0, rec.size - 1), rec.size + 1);
  } catch (err) {
    if (err instanceof BlobNotFoundError) return { ...base, kind: 'missing', detail: `index ${rec.size} bytes, no blob` };
    return { ...base, kind: 'unreadable', detail: (err as Error).message };
  }
  // Bytes [size-1, size+1): exactly one byte when the blob has the recorded size (none for 0).
  const expected = rec.size === 0 ? 0 : 1;
  if (tail.length === expected) return null;
  const size = await actualSize(blobs, rec.blobKey);
  const blobText = size === null ? 'blob size unknown' : `blob ${size} bytes`;
  return { ...base, kind: tail.length < expected ? 'truncated' : 'extended', detail: `index ${rec.size} bytes, ${blobText}` };
}

/** Checks every message of `users` (each user's every mailbox); `onProblem` sees each problem as found. */
export async function checkBlobs(
  index: MailIndex,
  blobs: BlobStore,
  users: string[],
  onProblem: (p: BlobProblem) => void = () => {},
): Promise<BlobCheckResult> {
  const result: BlobCheckResult = { users: users.length, mailboxes: 0, messages: 0, problems: [] };
  for (const user of users) {
    for (const mailbox of await index.listMailboxes(user)) {
      result.mailboxes++;
      const records = await index.listMessages(user, mailbox.id);
      result.messages += records.length;
      const found = new Array<BlobProblem | null>(records.length).fill(null);
      let next = 0;
      const worker = async () => {
        while (next < records.length) {
          const i = next++;
          const p = await checkMessageBlob(blobs, records[i]);
          if (p) found[i] = { ...p, user, mailbox: mailbox.name };
        }
      };
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, records.length) }, worker));
      // Reported in UID order, whatever order the reads finished in.
      for (const p of found) {
        if (!p) continue;
        result.problems.push(p);
        onProblem(p);
      }
    }
  }
  return result;
}
