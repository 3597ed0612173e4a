/**
 * Quotas of the DynamoDB MailIndex. Limits are attributes of the user's PROFILE item
 * (`storageLimit`, `messageLimit`; absent: no limit). Usage is the USAGE item of the user's
 * partition (`storage`, `messages`), created with zeros by addUser and moved by an `ADD` inside
 * the transaction of every write that adds or removes messages (appendMessage, copyMessages'
 * blocks, expunge's blocks, deleteMailbox; removeUser deletes the partition, USAGE with it), so
 * reading it is one item, never a query of the messages.
 *
 * Users from before quotas have no USAGE item, or one made of the deltas written since (an ADD
 * creates the item): it lacks `baseline`. The first getQuota of such a user counts the messages
 * once (a query of the partition's MSG items, sizes only) and puts the count with `baseline`,
 * conditioned on the item being still as read before the query — a write in between cancels
 * the put and the count is taken again, so no concurrent write is lost or counted twice.
 */
import { PutItemCommand, UpdateItemCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { IndexError, type QuotaLimits, type QuotaUsage } from '#core/ports/mail-index.ts';
import { keys, MAX_KEY_PART_BYTES } from '../dynamo-keys.ts';
import { BOOL, N, S, backoffMs, batchGetAll, isConditionalCheckFailed, num, queryAll, sleep, type Item } from '../dynamo-ops.ts';
import { MAX_ATTEMPTS, getItem, type DynamoIndexContext } from './context.ts';

/** The transaction item that moves the user's usage (pk: the user's partition). */
export function usageUpdate(ctx: DynamoIndexContext, pk: string, storage: number, messages: number): TransactWriteItem {
  return {
    Update: {
      TableName: ctx.table,
      Key: { pk: S(pk), sk: S(keys.usageSk) },
      UpdateExpression: 'ADD #s :s, #m :m',
      ExpressionAttributeNames: { '#s': 'storage', '#m': 'messages' },
      ExpressionAttributeValues: { ':s': N(storage), ':m': N(messages) },
    },
  };
}

/** The USAGE item a new user starts with (in addUser's transaction). */
export function initialUsagePut(ctx: DynamoIndexContext, pk: string): TransactWriteItem {
  return { Put: { TableName: ctx.table, Item: { pk: S(pk), sk: S(keys.usageSk), storage: N(0), messages: N(0), baseline: BOOL(true) } } };
}

const optNum = (item: Item | undefined, name: string): number | null => (item?.[name]?.N !== undefined ? Number(item[name].N) : null);

export async function getQuota(ctx: DynamoIndexContext, address: string): Promise<{ limits: QuotaLimits; usage: QuotaUsage } | null> {
  if (typeof address !== 'string' || address === '' || Buffer.byteLength(address) > MAX_KEY_PART_BYTES) return null;
  const pk = keys.userPk(address);
  const items = await batchGetAll(ctx.db, ctx.table, [
    { pk: S(pk), sk: S(keys.profileSk) },
    { pk: S(pk), sk: S(keys.usageSk) },
  ]);
  const profile = items.find((i) => i.sk?.S === keys.profileSk);
  if (!profile) return null;
  let usage = items.find((i) => i.sk?.S === keys.usageSk);
  if (usage?.baseline?.BOOL !== true) usage = await countUsage(ctx, pk, usage);
  return {
    limits: { storage: optNum(profile, 'storageLimit'), messages: optNum(profile, 'messageLimit') },
    usage: { storage: optNum(usage, 'storage') ?? 0, messages: optNum(usage, 'messages') ?? 0 },
  };
}

/** The one-time count for a user from before quotas (see the top of this file). */
async function countUsage(ctx: DynamoIndexContext, pk: string, seen: Item | undefined): Promise<Item> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) {
      await sleep(backoffMs(attempt));
      seen = (await getItem(ctx, pk, keys.usageSk)) ?? undefined;
      if (seen?.baseline?.BOOL === true) return seen;
    }
    const msgs = await queryAll(ctx.db, {
      TableName: ctx.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': S(pk), ':p': S(keys.messagesPrefix) },
      ProjectionExpression: '#size',
      ExpressionAttributeNames: { '#size': 'size' },
      ConsistentRead: true,
    });
    const item: Item = {
      pk: S(pk),
      sk: S(keys.usageSk),
      storage: N(msgs.reduce((n, m) => n + num(m, 'size'), 0)),
      messages: N(msgs.length),
      baseline: BOOL(true),
    };
    try {
      await ctx.db.send(
        new PutItemCommand({
          TableName: ctx.table,
          Item: item,
          ...(seen
            ? {
                ConditionExpression: '#s = :s AND #m = :m AND attribute_not_exists(baseline)',
                ExpressionAttributeNames: { '#s': 'storage', '#m': 'messages' },
                ExpressionAttributeValues: { ':s': N(optNum(seen, 'storage') ?? 0), ':m': N(optNum(seen, 'messages') ?? 0) },
              }
            : { ConditionExpression: 'attribute_not_exists(pk)' }),
        }),
      );
      return item;
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
    }
  }
  throw new IndexError('CONFLICT', 'usage could not be counted: too much contention');
}

export async function setQuota(ctx: DynamoIndexContext, address: string, limits: QuotaLimits): Promise<void> {
  for (const v of [limits.storage, limits.messages]) {
    if (v !== null && !(Number.isSafeInteger(v) && v >= 0)) throw new IndexError('INVALID', 'a quota limit is a whole number of at least 0, or none');
  }
  const set: string[] = [];
  const remove: string[] = [];
  const values: Item = {};
  for (const [attr, v] of [
    ['storageLimit', limits.storage],
    ['messageLimit', limits.messages],
  ] as const) {
    if (v === null) remove.push(attr);
    else {
      set.push(`${attr} = :${attr}`);
      values[`:${attr}`] = N(v);
    }
  }
  try {
    await ctx.db.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: { pk: S(keys.userPk(address)), sk: S(keys.profileSk) },
        UpdateExpression: [set.length ? `SET ${set.join(', ')}` : '', remove.length ? `REMOVE ${remove.join(', ')}` : ''].join(' ').trim(),
        ConditionExpression: 'attribute_exists(pk)',
        ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
      }),
    );
  } catch (err) {
    if (isConditionalCheckFailed(err)) throw new IndexError('NOT_FOUND', `no such user: ${address}`);
    throw err;
  }
}
