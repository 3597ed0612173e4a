/**
 * Small DynamoDB helpers for the mail index: paginated Query, BatchGet/BatchWrite with retry
 * of unprocessed items, TransactWriteItems that reports cancellation instead of throwing,
 * jittered backoff, and attribute value shorthands (the project has no lib-dynamodb).
 */
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  type AttributeValue,
  type CancellationReason,
  type DynamoDBClient,
  type QueryCommandInput,
  type TransactWriteItem,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';

export type Item = Record<string, AttributeValue>;
export type Key = Record<string, AttributeValue>;

export const S = (v: string): AttributeValue => ({ S: v });
export const N = (v: number): AttributeValue => ({ N: String(v) });
export const BOOL = (v: boolean): AttributeValue => ({ BOOL: v });
export const STR_LIST = (v: string[]): AttributeValue => ({ L: v.map((s) => ({ S: s })) });

export function str(item: Item, name: string): string {
  const v = item[name];
  if (v?.S === undefined) throw new Error(`item attribute ${name} is not a string`);
  return v.S;
}
export function optStr(item: Item, name: string): string | null {
  return item[name]?.S ?? null;
}
export function num(item: Item, name: string): number {
  const v = item[name];
  if (v?.N === undefined) throw new Error(`item attribute ${name} is not a number`);
  return Number(v.N);
}
export function bool(item: Item, name: string): boolean {
  return item[name]?.BOOL === true;
}
export function strList(item: Item, name: string): string[] {
  const v = item[name];
  if (v?.L) return v.L.map((x) => x.S ?? '');
  if (v?.SS) return v.SS;
  return [];
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Full-jitter exponential backoff: a random delay in [0, min(cap, base·2^attempt)). */
export function backoffMs(attempt: number, baseMs = 10, capMs = 400): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 10));
}

/** Runs a Query to the end, following LastEvaluatedKey (1 MB pages). */
export async function queryAll(client: DynamoDBClient, input: QueryCommandInput): Promise<Item[]> {
  const out: Item[] = [];
  let start: Key | undefined;
  do {
    const res = await client.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
    if (res.Items) out.push(...res.Items);
    start = res.LastEvaluatedKey;
  } while (start);
  return out;
}

/** BatchGetItem in groups of 100 keys, retrying UnprocessedKeys with backoff. Order is not kept. */
export async function batchGetAll(
  client: DynamoDBClient,
  table: string,
  keyList: Key[],
  options: { consistent?: boolean; projection?: string; names?: Record<string, string> } = {},
): Promise<Item[]> {
  const out: Item[] = [];
  for (let i = 0; i < keyList.length; i += 100) {
    let pending: Key[] = keyList.slice(i, i + 100);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt, 20, 1000));
      if (attempt > 30) throw new Error('BatchGetItem: unprocessed keys after 30 attempts');
      const res = await client.send(
        new BatchGetItemCommand({
          RequestItems: {
            [table]: {
              Keys: pending,
              ConsistentRead: options.consistent ?? true,
              ProjectionExpression: options.projection,
              ExpressionAttributeNames: options.names,
            },
          },
        }),
      );
      out.push(...(res.Responses?.[table] ?? []));
      pending = res.UnprocessedKeys?.[table]?.Keys ?? [];
    }
  }
  return out;
}

/** BatchWriteItem in groups of 25, retrying UnprocessedItems with backoff. Not atomic. */
export async function batchWriteAll(client: DynamoDBClient, table: string, requests: WriteRequest[]): Promise<void> {
  for (let i = 0; i < requests.length; i += 25) {
    let pending: WriteRequest[] = requests.slice(i, i + 25);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt, 20, 1000));
      if (attempt > 30) throw new Error('BatchWriteItem: unprocessed items after 30 attempts');
      const res = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
      pending = res.UnprocessedItems?.[table] ?? [];
    }
  }
}

export type TransactOutcome = { ok: true } | { ok: false; reasons: CancellationReason[] };

/**
 * TransactWriteItems; a cancelled transaction (a condition failed, or a conflict with another
 * transaction) is returned as `{ ok: false }` for the caller to decide, every other error throws.
 */
export async function transactWrite(client: DynamoDBClient, items: TransactWriteItem[]): Promise<TransactOutcome> {
  try {
    await client.send(new TransactWriteItemsCommand({ TransactItems: items }));
    return { ok: true };
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === 'TransactionCanceledException' || name === 'TransactionConflictException') {
      return { ok: false, reasons: (err as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [] };
    }
    throw err;
  }
}

export function isConditionalCheckFailed(err: unknown): boolean {
  return (err as { name?: string })?.name === 'ConditionalCheckFailedException';
}

/** Approximate stored size of an item in bytes (names + values), for batching under request limits. */
export function approxItemBytes(item: Item): number {
  let n = 0;
  for (const [k, v] of Object.entries(item)) n += k.length + approxValueBytes(v);
  return n;
}

function approxValueBytes(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return v.N.length;
  if (v.B !== undefined) return v.B.length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.L) return v.L.reduce((a, x) => a + 1 + approxValueBytes(x), 3);
  if (v.M) return Object.entries(v.M).reduce((a, [k, x]) => a + 1 + k.length + approxValueBytes(x), 3);
  if (v.SS) return v.SS.reduce((a, x) => a + Buffer.byteLength(x), 0);
  return 16;
}
