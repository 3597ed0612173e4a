/** Domains and users of the DynamoDB MailIndex: the DOMAIN items, the user directory and the user profiles. */
import { DeleteItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { IndexError, type Domain, type User } from '#core/ports/mail-index.ts';
import { checkString, domainPart } from '#core/adapters/index-input.ts';
import { MAX_KEY_PART_BYTES, keys } from '../dynamo-keys.ts';
import {
  N,
  S,
  backoffMs,
  batchGetAll,
  batchWriteAll,
  isConditionalCheckFailed,
  num,
  optStr,
  queryAll,
  sleep,
  str,
  transactWrite,
  type Item,
} from '../dynamo-ops.ts';
import { unref } from './blob-refs.ts';
import { MAX_ATTEMPTS, checkKeyPart, getItem, type DynamoIndexContext } from './context.ts';
import { initialUsagePut } from './usage.ts';

function domainFromItem(i: Item): Domain {
  return { name: str(i, 'name'), createdAt: num(i, 'createdAt'), postmaster: optStr(i, 'postmaster') };
}

function toUser(item: Item): User {
  const user: User = { address: str(item, 'address'), passwordHash: str(item, 'passwordHash'), createdAt: num(item, 'createdAt') };
  // Quota limits live on the PROFILE item (dynamo-index/usage.ts).
  const limit = (name: string) => (item[name]?.N !== undefined ? Number(item[name].N) : null);
  const storage = limit('storageLimit');
  const messages = limit('messageLimit');
  if (storage !== null || messages !== null) user.quota = { storage, messages };
  return user;
}

export async function addDomain(ctx: DynamoIndexContext, name: string, options: { postmaster?: string | null } = {}): Promise<Domain> {
  checkString(name, 'domain name');
  checkKeyPart(name, 'domain name');
  const postmaster = options.postmaster ?? null;
  if (postmaster !== null) checkString(postmaster, 'postmaster address');
  const createdAt = Date.now();
  try {
    await ctx.db.send(
      new PutItemCommand({
        TableName: ctx.table,
        Item: {
          pk: S(keys.domainsPk),
          sk: S(keys.domainSk(name)),
          name: S(name),
          createdAt: N(createdAt),
          ...(postmaster !== null ? { postmaster: S(postmaster) } : {}),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (err) {
    if (isConditionalCheckFailed(err)) throw new IndexError('EXISTS', `domain exists: ${name}`);
    throw err;
  }
  return { name, createdAt, postmaster };
}

export async function setDomainPostmaster(ctx: DynamoIndexContext, name: string, postmaster: string | null): Promise<Domain> {
  if (postmaster !== null) checkString(postmaster, 'postmaster address');
  if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) > MAX_KEY_PART_BYTES) throw new IndexError('NOT_FOUND', `no such domain: ${name}`);
  try {
    const r = await ctx.db.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: { pk: S(keys.domainsPk), sk: S(keys.domainSk(name)) },
        ConditionExpression: 'attribute_exists(pk)',
        ...(postmaster !== null
          ? { UpdateExpression: 'SET postmaster = :p', ExpressionAttributeValues: { ':p': S(postmaster) } }
          : { UpdateExpression: 'REMOVE postmaster' }),
        ReturnValues: 'ALL_NEW',
      }),
    );
    return domainFromItem(r.Attributes as Item);
  } catch (err) {
    if (isConditionalCheckFailed(err)) throw new IndexError('NOT_FOUND', `no such domain: ${name}`);
    throw err;
  }
}

/** NOT_FOUND when absent; CONFLICT while users of the domain remain. */
export async function removeDomain(ctx: DynamoIndexContext, name: string): Promise<void> {
  if (!(await getDomain(ctx, name))) throw new IndexError('NOT_FOUND', `no such domain: ${name}`);
  const users = await ctx.db.send(
    new QueryCommand({
      TableName: ctx.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': S(keys.usersPk), ':p': S(keys.userDirPrefix(name)) },
      Limit: 1,
      ConsistentRead: true,
    }),
  );
  if ((users.Items?.length ?? 0) > 0) throw new IndexError('CONFLICT', `domain ${name} still has users`);
  try {
    await ctx.db.send(
      new DeleteItemCommand({
        TableName: ctx.table,
        Key: { pk: S(keys.domainsPk), sk: S(keys.domainSk(name)) },
        ConditionExpression: 'attribute_exists(pk)',
      }),
    );
  } catch (err) {
    if (isConditionalCheckFailed(err)) throw new IndexError('NOT_FOUND', `no such domain: ${name}`);
    throw err;
  }
}

export async function listDomains(ctx: DynamoIndexContext): Promise<Domain[]> {
  const items = await queryAll(ctx.db, {
    TableName: ctx.table,
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': S(keys.domainsPk) },
    ConsistentRead: true,
  });
  return items.map(domainFromItem).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function getDomain(ctx: DynamoIndexContext, name: string): Promise<Domain | null> {
  if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) > MAX_KEY_PART_BYTES) return null;
  const item = await getItem(ctx, keys.domainsPk, keys.domainSk(name));
  return item ? domainFromItem(item) : null;
}

export async function addUser(ctx: DynamoIndexContext, user: { address: string; passwordHash: string }): Promise<User> {
  checkString(user.address, 'address');
  checkKeyPart(user.address, 'address');
  if (!user.address.includes('@')) throw new IndexError('INVALID', `not an address: ${user.address}`);
  if (typeof user.passwordHash !== 'string') throw new IndexError('INVALID', 'passwordHash must be a string');
  const createdAt = Date.now();
  const out = await transactWrite(ctx.db, [
    {
      Put: {
        TableName: ctx.table,
        Item: {
          pk: S(keys.userPk(user.address)),
          sk: S(keys.profileSk),
          address: S(user.address),
          passwordHash: S(user.passwordHash),
          createdAt: N(createdAt),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    },
    {
      Put: {
        TableName: ctx.table,
        Item: { pk: S(keys.usersPk), sk: S(keys.userDirSk(domainPart(user.address), user.address)), address: S(user.address) },
      },
    },
    initialUsagePut(ctx, keys.userPk(user.address)),
  ]);
  if (!out.ok) {
    if (await getUser(ctx, user.address)) throw new IndexError('EXISTS', `user exists: ${user.address}`);
    throw new IndexError('CONFLICT', `user ${user.address} is being changed concurrently`);
  }
  return { address: user.address, passwordHash: user.passwordHash, createdAt };
}

export async function getUser(ctx: DynamoIndexContext, address: string): Promise<User | null> {
  if (typeof address !== 'string' || address === '' || Buffer.byteLength(address) > MAX_KEY_PART_BYTES) return null;
  const item = await getItem(ctx, keys.userPk(address), keys.profileSk);
  return item ? toUser(item) : null;
}

export async function listUsers(ctx: DynamoIndexContext, domain?: string): Promise<User[]> {
  const dir = await queryAll(ctx.db, {
    TableName: ctx.table,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
    ExpressionAttributeValues: { ':pk': S(keys.usersPk), ':p': S(keys.userDirPrefix(domain)) },
    ConsistentRead: true,
  });
  const profiles = await batchGetAll(
    ctx.db,
    ctx.table,
    dir.map((d) => ({ pk: S(keys.userPk(str(d, 'address'))), sk: S(keys.profileSk) })),
  );
  return profiles.map(toUser).sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

export async function setPasswordHash(ctx: DynamoIndexContext, address: string, passwordHash: string): Promise<void> {
  if (typeof passwordHash !== 'string') throw new IndexError('INVALID', 'passwordHash must be a string');
  if (!(await getUser(ctx, address))) throw new IndexError('NOT_FOUND', `no such user: ${address}`);
  try {
    await ctx.db.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: { pk: S(keys.userPk(address)), sk: S(keys.profileSk) },
        UpdateExpression: 'SET passwordHash = :h',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':h': S(passwordHash) },
      }),
    );
  } catch (err) {
    if (isConditionalCheckFailed(err)) throw new IndexError('NOT_FOUND', `no such user: ${address}`);
    throw err;
  }
}

/**
 * Deletes the user's mailbox items first (no append can commit after that: its condition
 * reads the MBOX item), then everything else in the partition, then the profile: a
 * removal that fails half-way can be repeated. The UIDVALIDITY counter is kept on purpose.
 */
export async function removeUser(ctx: DynamoIndexContext, address: string): Promise<{ orphanedBlobs: string[] }> {
  if (!(await getUser(ctx, address))) throw new IndexError('NOT_FOUND', `no such user: ${address}`);
  const pk = keys.userPk(address);
  const mailboxItems = (
    await Promise.all(
      [keys.mailboxPrefix, keys.namePrefix].map((p) =>
        queryAll(ctx.db, {
          TableName: ctx.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
          ExpressionAttributeValues: { ':pk': S(pk), ':p': S(p) },
          ProjectionExpression: 'pk, sk',
          ConsistentRead: true,
        }),
      ),
    )
  ).flat();
  await batchWriteAll(
    ctx.db,
    ctx.table,
    mailboxItems.map((i) => ({ DeleteRequest: { Key: { pk: i.pk, sk: i.sk } } })),
  );
  const rest = await queryAll(ctx.db, {
    TableName: ctx.table,
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': S(pk) },
    ProjectionExpression: 'pk, sk, blobKey',
    ConsistentRead: true,
  });
  const blobKeys: string[] = [];
  const deletes: WriteRequest[] = [];
  for (const i of rest) {
    const sk = str(i, 'sk');
    if (sk === keys.profileSk) continue;
    if (sk.startsWith(keys.messagesPrefix) && i.blobKey?.S) blobKeys.push(i.blobKey.S);
    deletes.push({ DeleteRequest: { Key: { pk: i.pk, sk: i.sk } } });
  }
  await batchWriteAll(ctx.db, ctx.table, deletes);
  const orphanedBlobs = await unref(ctx, blobKeys);
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await sleep(backoffMs(attempt));
    const out = await transactWrite(ctx.db, [
      { Delete: { TableName: ctx.table, Key: { pk: S(pk), sk: S(keys.profileSk) } } },
      { Delete: { TableName: ctx.table, Key: { pk: S(keys.usersPk), sk: S(keys.userDirSk(domainPart(address), address)) } } },
    ]);
    if (out.ok) break;
    if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', `user ${address} could not be removed: too much contention`);
  }
  return { orphanedBlobs };
}
