/** Bearer tokens of the DynamoDB MailIndex: one `TOKEN#<hash>` item per token, removed by the table's TTL after it expires. */
import { DeleteItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { IndexError, type AuthToken } from '#core/ports/mail-index.ts';
import { keys } from '../dynamo-keys.ts';
import { N, S, num, str } from '../dynamo-ops.ts';
import type { DynamoIndexContext } from './context.ts';

const HASH = /^[A-Za-z0-9_-]{16,128}$/;

export async function putAuthToken(ctx: DynamoIndexContext, tokenHash: string, token: AuthToken): Promise<void> {
  if (typeof tokenHash !== 'string' || !HASH.test(tokenHash)) throw new IndexError('INVALID', 'a token hash is 16–128 characters of [A-Za-z0-9_-]');
  await ctx.db.send(
    new PutItemCommand({
      TableName: ctx.table,
      Item: {
        pk: S(keys.tokenPk(tokenHash)),
        sk: S(keys.tokenSk),
        user: S(token.user),
        createdAt: N(token.createdAt),
        expiresAt: N(token.expiresAt),
        binding: S(token.binding),
        ttl: N(Math.ceil(token.expiresAt / 1000) + 3600),
      },
    }),
  );
}

export async function getAuthToken(ctx: DynamoIndexContext, tokenHash: string): Promise<AuthToken | null> {
  if (typeof tokenHash !== 'string' || !HASH.test(tokenHash)) return null;
  const res = await ctx.db.send(
    new GetItemCommand({ TableName: ctx.table, Key: { pk: S(keys.tokenPk(tokenHash)), sk: S(keys.tokenSk) }, ConsistentRead: true }),
  );
  const it = res.Item;
  // The TTL deletes expired items only eventually: the expiry is checked here.
  if (!it || num(it, 'expiresAt') <= Date.now()) return null;
  return { user: str(it, 'user'), createdAt: num(it, 'createdAt'), expiresAt: num(it, 'expiresAt'), binding: str(it, 'binding') };
}

export async function deleteAuthToken(ctx: DynamoIndexContext, tokenHash: string): Promise<void> {
  if (typeof tokenHash !== 'string' || !HASH.test(tokenHash)) return;
  await ctx.db.send(new DeleteItemCommand({ TableName: ctx.table, Key: { pk: S(keys.tokenPk(tokenHash)), sk: S(keys.tokenSk) } }));
}
