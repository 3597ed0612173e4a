/**
 * Training by the user's own actions (issue 14): MailboxWrites.copy (core/mailbox/writes.ts),
 * the one write that IMAP COPY/MOVE and JMAP Email/set mailboxIds changes share, calls
 * `trainOnCopy` after its commit.
 *
 *  - a message copied or moved INTO the user's \Junk mailbox (RFC 6154) from any other is
 *    trained as spam;
 *  - a message copied or moved OUT of \Junk into any mailbox but \Trash is trained as ham
 *    (deleting spam is not saying it is good mail).
 *
 * A message trained before as the other class is untrained from it first: the model keeps,
 * per user, the blob keys it trained (classifier.ts, `trained`), and a copy keeps its blob key.
 *
 * It runs after the commit, in the background: the client's reply never waits for it, and a
 * failure is logged, never thrown (the move has succeeded; the model just did not learn).
 * `junkTrainingSettled()` waits for what is under way (tests, and a process that stops).
 */
import type { Logger } from '../log.ts';
import { BlobNotFoundError } from '../ports/blob-store.ts';
import type { MailStores } from '../mailbox/writes.ts';
import { train, type JunkClass } from './classifier.ts';
import { junkModelsFor } from './model-store.ts';
import { tokenize } from './tokenize.ts';

const pending = new Set<Promise<void>>();

/** Resolves once every training started so far in this process has finished. */
export async function junkTrainingSettled(): Promise<void> {
  while (pending.size > 0) await Promise.allSettled([...pending]);
}

/** Starts the training a copy from `fromMailboxId` to `toMailboxId` calls for, if any; never waits, never throws. */
export function trainOnCopy(stores: MailStores, log: Logger, user: string, fromMailboxId: string, toMailboxId: string, toUids: number[]): void {
  if (toUids.length === 0 || fromMailboxId === toMailboxId) return;
  const run = trainCopied(stores, user, fromMailboxId, toMailboxId, toUids).catch((err: unknown) => {
    log.warn('junk training failed', { user, err: err as Error });
  });
  pending.add(run);
  void run.finally(() => pending.delete(run));
}

/** The class a copy between these two special uses trains, or null. */
export function classOfCopy(from: string | null, to: string | null): JunkClass | null {
  if (to === '\\Junk' && from !== '\\Junk') return 'spam';
  if (from === '\\Junk' && to !== '\\Junk' && to !== '\\Trash') return 'ham';
  return null;
}

async function trainCopied(stores: MailStores, user: string, fromMailboxId: string, toMailboxId: string, toUids: number[]): Promise<void> {
  const mailboxes = await stores.index.listMailboxes(user);
  const use = (id: string) => mailboxes.find((m) => m.id === id)?.specialUse ?? null;
  const cls = classOfCopy(use(fromMailboxId), use(toMailboxId));
  if (!cls) return;
  const records = await stores.index.getMessages(user, toMailboxId, toUids);
  await trainMessages(
    stores,
    user,
    cls,
    records.map((r) => r.blobKey),
  );
}

/** Trains the messages stored under these blob keys as `cls` for `user` (one model write for them all). */
export async function trainMessages(stores: MailStores, user: string, cls: JunkClass, blobKeys: string[]): Promise<void> {
  const models = junkModelsFor(stores.blobs);
  await models.update(user, async (model) => {
    let changed = false;
    for (const key of blobKeys) {
      const mark = cls === 'spam' ? 's' : 'h';
      if (model.trained.get(key) === mark) continue;
      let raw: Buffer;
      try {
        raw = await stores.blobs.get(key);
      } catch (err) {
        if (err instanceof BlobNotFoundError) continue; // expunged meanwhile
        throw err;
      }
      changed = train(model, key, cls, tokenize(raw)) || changed;
    }
    return changed;
  });
}
