/**
 * Blob references of the DynamoDB MailIndex: the `BLOB#<key>` reference counts and the holds
 * (`HOLD#<holder>`), each one reference (invariant 5; see ../dynamo-mail-index.ts).
 */
import { createHash } from 'node:crypto';
import { DeleteItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { IndexError } from '#core/ports/mail-index.ts';
import { checkString } from '#core/adapters/index-input.ts';
import { MAX_KEY_PART_BYTES, keys } from '../dynamo-keys.ts';
import { N, S, backoffMs, batchGetAll, isConditionalCheckFailed, sleep, transactWrite } from '../dynamo-ops.ts';
import { DELIVERY_KEY_MAX_BYTES, MAX_ATTEMPTS, checkKeyPart, type DynamoIndexContext } from './context.ts';

/** Holders longer than this are replaced by their SHA-256 (sort keys are at most 1024 bytes). */
export function holderPart(holder: string): string {
  return Buffer.byteLength(holder) <= DELIVERY_KEY_MAX_BYTES ? holder : `sha256:${createHash('sha256').update(holder).digest('hex')}`;
}

export async function holdBlob(ctx: DynamoIndexContext, blobKey: string, holder: string): Promise<void> {
  checkString(blobKey, 'blobKey');
  checkString(holder, 'holder');
  checkKeyPart(blobKey, 'blobKey');
  const pk = S(keys.blobPk(blobKey));
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await sleep(backoffMs(attempt));
    if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', `blob too busy: could not hold ${blobKey}`);
    const out = await transactWrite(ctx.db, [
      {
        Put: {
          TableName: ctx.table,
          Item: { pk, sk: S(keys.blobHoldSk(holderPart(holder))), holder: S(holder), createdAt: N(Date.now()) },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Update: {
          TableName: ctx.table,
          Key: { pk, sk: S(keys.blobSk) },
          UpdateExpression: 'ADD refs :one',
          ExpressionAttributeValues: { ':one': N(1) },
        },
      },
    ]);
    if (out.ok) return;
    // The hold item exists: this holder already holds the blob (idempotent, counted once).
    if (out.reasons[0]?.Code === 'ConditionalCheckFailed') return;
    // Otherwise a concurrent transaction on the REF item: try again.
  }
}

export async function releaseBlob(ctx: DynamoIndexContext, blobKey: string, holder: string): Promise<{ orphaned: boolean }> {
  checkString(blobKey, 'blobKey');
  checkString(holder, 'holder');
  if (Buffer.byteLength(blobKey) > MAX_KEY_PART_BYTES) return { orphaned: false };
  const pk = S(keys.blobPk(blobKey));
  const holdKey = { pk, sk: S(keys.blobHoldSk(holderPart(holder))) };
  const refKey = { pk, sk: S(keys.blobSk) };
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await sleep(backoffMs(attempt));
    if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', `blob too busy: could not release ${blobKey}`);
    const items = await batchGetAll(ctx.db, ctx.table, [holdKey, refKey]);
    const hold = items.find((i) => i.sk?.S === holdKey.sk.S);
    if (!hold) return { orphaned: false };
    const ref = items.find((i) => i.sk?.S === keys.blobSk);
    const refs = ref ? Number(ref.refs?.N ?? '0') : 0;
    const last = refs <= 1;
    const out = await transactWrite(ctx.db, [
      { Delete: { TableName: ctx.table, Key: holdKey, ConditionExpression: 'attribute_exists(pk)' } },
      last
        ? {
            // The hold is the last reference: the count goes with it (absent counts as 0).
            Delete: {
              TableName: ctx.table,
              Key: refKey,
              ConditionExpression: 'attribute_not_exists(pk) OR refs <= :one',
              ExpressionAttributeValues: { ':one': N(1) },
            },
          }
        : {
            Update: {
              TableName: ctx.table,
              Key: refKey,
              UpdateExpression: 'ADD refs :minus',
              ConditionExpression: 'refs >= :two',
              ExpressionAttributeValues: { ':minus': N(-1), ':two': N(2) },
            },
          },
    ]);
    if (out.ok) return { orphaned: last };
    // The hold went away meanwhile (a concurrent release by the same holder): nothing to do.
    if (out.reasons[0]?.Code === 'ConditionalCheckFailed') return { orphaned: false };
    // The count changed between the read and the transaction: read again.
  }
}

/** Drops one reference per entry; returns the keys whose last reference this call dropped. */
export async function unref(ctx: DynamoIndexContext, blobKeys: readonly string[]): Promise<string[]> {
  const counts = new Map<string, number>();
  for (const k of blobKeys) counts.set(k, (counts.get(k) ?? 0) + 1);
  const orphaned: string[] = [];
  await Promise.all(
    [...counts].map(async ([blobKey, n]) => {
      const key = { pk: S(keys.blobPk(blobKey)), sk: S(keys.blobSk) };
      const res = await ctx.db.send(
        new UpdateItemCommand({
          TableName: ctx.table,
          Key: key,
          UpdateExpression: 'ADD refs :n',
          ExpressionAttributeValues: { ':n': N(-n) },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      const left = Number(res.Attributes?.refs?.N ?? '0');
      if (left > 0) return;
      try {
        await ctx.db.send(
          new DeleteItemCommand({
            TableName: ctx.table,
            Key: key,
            ConditionExpression: 'refs <= :zero',
            ExpressionAttributeValues: { ':zero': N(0) },
          }),
        );
        orphaned.push(blobKey);
      } catch (err) {
        // A concurrent copy took a new reference: the blob lives on.
        if (!isConditionalCheckFailed(err)) throw err;
      }
    }),
  );
  return orphaned.sort();
}
