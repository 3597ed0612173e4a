/**
 * Account objects of the DynamoDB MailIndex (core/ports/mail-index.ts AccountObject): an
 * `OBJ#<kind>#<id>` item per object in the user's partition (a destroyed one keeps its item
 * without `data`) and the counter `OBJSTATE#<kind>`. A write reads the counter, then in one
 * TransactWriteItems moves it on (conditioned on the value read) and puts the object, so
 * writes of one kind are serialised by the counter; a lost race retries on a fresh read.
 * removeUser deletes the whole partition, objects included.
 */
import { IndexError, type AccountObject, type AccountObjectList } from '#core/ports/mail-index.ts';
import { checkAccountObject, checkObjectKey, checkString } from '#core/adapters/index-input.ts';
import { keys } from '../dynamo-keys.ts';
import { N, S, backoffMs, num, optStr, queryAll, sleep, str, transactWrite, type Item } from '../dynamo-ops.ts';
import { MAX_ATTEMPTS, getItem, type DynamoIndexContext } from './context.ts';

function objectOf(kind: string, item: Item): AccountObject {
  return {
    id: str(item, 'sk').slice(keys.objectPrefix(kind).length),
    data: optStr(item, 'data'),
    modseq: num(item, 'modseq'),
    createdModseq: num(item, 'createdModseq'),
  };
}

async function counter(ctx: DynamoIndexContext, user: string, kind: string): Promise<number> {
  const item = await getItem(ctx, keys.userPk(user), keys.objectStateSk(kind));
  return item ? num(item, 'state') : 0;
}

export async function putAccountObject(
  ctx: DynamoIndexContext,
  user: string,
  kind: string,
  id: string,
  data: string | null,
  options: { ifState?: number } = {},
): Promise<{ state: number }> {
  checkString(user, 'user');
  checkAccountObject(kind, id, data, options.ifState);
  const pk = keys.userPk(user);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) await sleep(backoffMs(attempt));
    const [current, existing] = await Promise.all([counter(ctx, user, kind), getItem(ctx, pk, keys.objectSk(kind, id))]);
    if (options.ifState !== undefined && options.ifState !== current) throw new IndexError('CONFLICT', `state is ${current}, not ${options.ifState}`);
    const live = existing !== null && optStr(existing, 'data') !== null;
    if (data === null && !live) throw new IndexError('NOT_FOUND', `no ${kind} ${id}`);
    const state = current + 1;
    const item: Item = {
      pk: S(pk),
      sk: S(keys.objectSk(kind, id)),
      modseq: N(state),
      createdModseq: N(live ? num(existing, 'createdModseq') : state),
    };
    if (data !== null) item.data = S(data);
    const out = await transactWrite(ctx.db, [
      {
        Update: {
          TableName: ctx.table,
          Key: { pk: S(pk), sk: S(keys.objectStateSk(kind)) },
          UpdateExpression: 'SET #s = :next',
          ConditionExpression: current === 0 ? 'attribute_not_exists(pk)' : '#s = :cur',
          ExpressionAttributeNames: { '#s': 'state' },
          ExpressionAttributeValues: current === 0 ? { ':next': N(state) } : { ':next': N(state), ':cur': N(current) },
        },
      },
      { Put: { TableName: ctx.table, Item: item } },
    ]);
    if (out.ok) return { state };
  }
  throw new IndexError('CONFLICT', `too many concurrent writes of ${kind} objects`);
}

export async function getAccountObject(ctx: DynamoIndexContext, user: string, kind: string, id: string): Promise<AccountObject | null> {
  checkObjectKey(kind, id);
  const item = await getItem(ctx, keys.userPk(user), keys.objectSk(kind, id));
  if (!item || optStr(item, 'data') === null) return null;
  return objectOf(kind, item);
}

export async function listAccountObjects(ctx: DynamoIndexContext, user: string, kind: string, options: { since?: number } = {}): Promise<AccountObjectList> {
  checkObjectKey(kind, 'x');
  const since = options.since;
  if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) throw new IndexError('INVALID', 'since must be a non-negative integer');
  // The counter first: every write at or below it has committed, so the Query sees it.
  const state = await counter(ctx, user, kind);
  const items = await queryAll(ctx.db, {
    TableName: ctx.table,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
    ExpressionAttributeValues: { ':pk': S(keys.userPk(user)), ':p': S(keys.objectPrefix(kind)) },
    ConsistentRead: true,
  });
  const objects = items
    .map((i) => objectOf(kind, i))
    .filter((o) => (since === undefined ? o.data !== null : o.modseq > since))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { state, objects };
}
