/**
 * Threads in the DynamoDB MailIndex (the rules: core/ports/mail-index.ts, "Threads"; the choice:
 * core/adapters/thread-choice.ts):
 *  - a message's thread id is the `threadId` attribute of its MSG item (absent on items written
 *    before threads existed, or without thread keys); COPY copies it with the item;
 *  - the per-user Message-ID map is one `TREF#<msg-id>` item per id in the user's partition
 *    (threadId, subj: the subject digest), so removeUser's partition sweep removes it, and
 *    expunge and deleteMailbox leave it.
 * An append reads the map with one consistent BatchGetItem (at most 13 keys, 1 RRU each: they
 * are small; a delivery reads its mailbox's MBOX item in the same request, messages.ts
 * appendMessageTo) and writes the new entries as Puts inside its own transaction.
 */
import { createHash } from 'node:crypto';
import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import type { NewMessage } from '#core/ports/mail-index.ts';
import { chooseThread, lookupIds, type ThreadRef } from '#core/adapters/thread-choice.ts';
import { keys } from '../dynamo-keys.ts';
import { S, batchGetAll, str, type Item, type Key } from '../dynamo-ops.ts';
import type { DynamoIndexContext } from './context.ts';

/** Map keys longer than this (UTF-8 bytes) are SHA-256 hashed (a sort key is at most 1024 bytes). */
const THREAD_REF_KEY_MAX_BYTES = 400;

function refPart(id: string): string {
  return Buffer.byteLength(id) <= THREAD_REF_KEY_MAX_BYTES ? id : `sha256:${createHash('sha256').update(id).digest('hex')}`;
}

/** The map keys an append looks up, and how it decides its thread from the items found. */
export interface ThreadLookup {
  keys: Key[];
  decide(items: readonly Item[]): { threadId: string; puts: TransactWriteItem[] };
}

/** null without thread keys. */
export function threadLookup(ctx: DynamoIndexContext, pk: string, message: NewMessage): ThreadLookup | null {
  if (!message.thread) return null;
  const thread = message.thread;
  const ids = lookupIds(thread, message.blobKey);
  const byPart = new Map(ids.map((id) => [keys.threadRefSk(refPart(id)), id]));
  return {
    keys: [...byPart.keys()].map((sk) => ({ pk: S(pk), sk: S(sk) })),
    decide(items) {
      const found = new Map<string, ThreadRef>();
      for (const it of items) {
        const id = byPart.get(str(it, 'sk'));
        if (id !== undefined && it.threadId?.S && it.subj?.S) found.set(id, { threadId: it.threadId.S, subject: it.subj.S });
      }
      const { threadId, record } = chooseThread(thread, message.blobKey, found);
      const puts = record.map(([id, ref]): TransactWriteItem => ({
        Put: { TableName: ctx.table, Item: { pk: S(pk), sk: S(keys.threadRefSk(refPart(id))), threadId: S(ref.threadId), subj: S(ref.subject) } },
      }));
      return { threadId, puts };
    },
  };
}

/** The thread an append stores on its MSG item and the Puts of its new map entries; null without thread keys. */
export async function threadOfNewMessage(
  ctx: DynamoIndexContext,
  pk: string,
  message: NewMessage,
): Promise<{ threadId: string; puts: TransactWriteItem[] } | null> {
  const lookup = threadLookup(ctx, pk, message);
  if (!lookup) return null;
  return lookup.decide(await batchGetAll(ctx.db, ctx.table, lookup.keys, { projection: 'sk, threadId, subj' }));
}
