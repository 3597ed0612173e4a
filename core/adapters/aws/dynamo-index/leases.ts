/** Leases of the DynamoDB MailIndex: one `LEASE#<name>` item per lease, taken and given back conditionally. */
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { IndexError } from '#core/ports/mail-index.ts';
import { checkString } from '#core/adapters/index-input.ts';
import { MAX_KEY_PART_BYTES, keys } from '../dynamo-keys.ts';
import { N, S, isConditionalCheckFailed } from '../dynamo-ops.ts';
import { checkKeyPart, type DynamoIndexContext } from './context.ts';

export async function acquireLease(ctx: DynamoIndexContext, name: string, owner: string, ttlSeconds: number): Promise<boolean> {
  checkString(name, 'lease name');
  checkString(owner, 'lease owner');
  checkKeyPart(name, 'lease name');
  if (!(ttlSeconds > 0)) throw new IndexError('INVALID', 'ttlSeconds must be positive');
  const now = Date.now();
  const expiresAt = now + Math.ceil(ttlSeconds * 1000);
  try {
    await ctx.db.send(
      new PutItemCommand({
        TableName: ctx.table,
        Item: {
          pk: S(keys.leasePk(name)),
          sk: S(keys.leaseSk),
          owner: S(owner),
          expiresAt: N(expiresAt),
          ttl: N(Math.ceil(expiresAt / 1000) + 3600),
        },
        ConditionExpression: 'attribute_not_exists(pk) OR #o = :owner OR expiresAt <= :now',
        ExpressionAttributeNames: { '#o': 'owner' },
        ExpressionAttributeValues: { ':owner': S(owner), ':now': N(now) },
      }),
    );
    return true;
  } catch (err) {
    if (isConditionalCheckFailed(err)) return false;
    throw err;
  }
}

export async function releaseLease(ctx: DynamoIndexContext, name: string, owner: string): Promise<void> {
  if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) > MAX_KEY_PART_BYTES) return;
  try {
    await ctx.db.send(
      new DeleteItemCommand({
        TableName: ctx.table,
        Key: { pk: S(keys.leasePk(name)), sk: S(keys.leaseSk) },
        ConditionExpression: '#o = :owner',
        ExpressionAttributeNames: { '#o': 'owner' },
        ExpressionAttributeValues: { ':owner': S(owner) },
      }),
    );
  } catch (err) {
    if (!isConditionalCheckFailed(err)) throw err;
  }
}
