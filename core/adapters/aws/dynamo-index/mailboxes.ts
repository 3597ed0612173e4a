/**
 * Mailboxes and subscriptions of the DynamoDB MailIndex: the MBOX item (counters), the NAME
 * item (name → id), the per-user UIDVALIDITY counter and the SUB# subscription list.
 */
import { randomUUID } from 'node:crypto';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { IndexError, type Mailbox, type MailboxState, type SpecialUse } from '#core/ports/mail-index.ts';
import { checkString } from '#core/adapters/index-input.ts';
import { MAX_KEY_PART_BYTES, keys } from '../dynamo-keys.ts';
import { BOOL, N, S, backoffMs, batchWriteAll, bool, num, optStr, queryAll, sleep, str, transactWrite, type Item } from '../dynamo-ops.ts';
import { unref } from './blob-refs.ts';
import { newMailboxLogAttributes } from './changes.ts';
import { usageUpdate } from './usage.ts';
import { MAX_ATTEMPTS, checkKeyPart, forgetMailboxId, getItem, readMailbox, rememberMailbox, rememberedMailboxId, type DynamoIndexContext } from './context.ts';

function toMailbox(item: Item): Mailbox {
  return {
    id: str(item, 'id'),
    user: str(item, 'user'),
    name: str(item, 'name'),
    uidValidity: num(item, 'uidValidity'),
    uidNext: num(item, 'uidNext'),
    highestModseq: num(item, 'highestModseq'),
    messageCount: num(item, 'messageCount'),
    specialUse: optStr(item, 'specialUse') as SpecialUse | null,
    createdAt: num(item, 'createdAt'),
  };
}

export async function createMailbox(
  ctx: DynamoIndexContext,
  user: string,
  name: string,
  options: { specialUse?: SpecialUse | null; subscribed?: boolean } = {},
): Promise<Mailbox> {
  checkString(name, 'mailbox name');
  checkKeyPart(name, 'mailbox name');
  const pk = keys.userPk(user);
  const id = randomUUID();
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await sleep(backoffMs(attempt));
    const [profile, counter, existing] = await Promise.all([
      getItem(ctx, pk, keys.profileSk),
      getItem(ctx, keys.uidValidityPk(user), keys.uidValiditySk),
      getItem(ctx, pk, keys.nameSk(name)),
    ]);
    if (!profile) throw new IndexError('NOT_FOUND', `no such user: ${user}`);
    if (existing) throw new IndexError('EXISTS', `mailbox exists: ${name}`);
    if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', `mailbox ${name} could not be created: too much contention`);
    const now = Date.now();
    const last = counter ? num(counter, 'last') : 0;
    const uidValidity = Math.max(last + 1, Math.floor(now / 1000));
    const mailbox: Mailbox = {
      id,
      user,
      name,
      uidValidity,
      uidNext: 1,
      highestModseq: 1,
      messageCount: 0,
      specialUse: options.specialUse ?? null,
      createdAt: now,
    };
    const out = await transactWrite(ctx.db, [
      { ConditionCheck: { TableName: ctx.table, Key: { pk: S(pk), sk: S(keys.profileSk) }, ConditionExpression: 'attribute_exists(pk)' } },
      {
        Put: {
          TableName: ctx.table,
          Item: { pk: S(pk), sk: S(keys.nameSk(name)), mailboxId: S(id), name: S(name) },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: ctx.table,
          Item: {
            pk: S(pk),
            sk: S(keys.mailboxSk(id)),
            id: S(id),
            user: S(user),
            name: S(name),
            uidValidity: N(uidValidity),
            uidNext: N(1),
            highestModseq: N(1),
            messageCount: N(0),
            specialUse: mailbox.specialUse ? S(mailbox.specialUse) : { NULL: true },
            createdAt: N(now),
            ...newMailboxLogAttributes(1, now),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      ...(options.subscribed ? [{ Put: { TableName: ctx.table, Item: { pk: S(pk), sk: S(keys.subscriptionSk(name)), name: S(name) } } }] : []),
      {
        Put: {
          TableName: ctx.table,
          Item: { pk: S(keys.uidValidityPk(user)), sk: S(keys.uidValiditySk), last: N(uidValidity) },
          ConditionExpression: counter ? '#last = :last' : 'attribute_not_exists(pk)',
          ...(counter ? { ExpressionAttributeNames: { '#last': 'last' }, ExpressionAttributeValues: { ':last': N(last) } } : {}),
        },
      },
    ]);
    if (out.ok) return mailbox;
  }
}

export async function getMailbox(ctx: DynamoIndexContext, user: string, name: string): Promise<Mailbox | null> {
  if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) > MAX_KEY_PART_BYTES) return null;
  const pk = keys.userPk(user);
  // A remembered id is right when its MBOX item still has this name (context.ts).
  const knownId = rememberedMailboxId(ctx, user, name);
  if (knownId) {
    const item = await getItem(ctx, pk, keys.mailboxSk(knownId));
    if (item && item.name?.S === name) {
      rememberMailbox(ctx, user, name, item);
      return toMailbox(item);
    }
    forgetMailboxId(ctx, user, name);
  }
  const ref = await getItem(ctx, pk, keys.nameSk(name));
  if (!ref) return null;
  const item = await getItem(ctx, pk, keys.mailboxSk(str(ref, 'mailboxId')));
  if (!item) return null;
  rememberMailbox(ctx, user, name, item);
  return toMailbox(item);
}

export async function listMailboxes(ctx: DynamoIndexContext, user: string): Promise<Mailbox[]> {
  const items = await queryAll(ctx.db, {
    TableName: ctx.table,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
    ExpressionAttributeValues: { ':pk': S(keys.userPk(user)), ':p': S(keys.mailboxPrefix) },
    ConsistentRead: true,
  });
  return items.map(toMailbox).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** One transaction: delete the old NAME item, put the new one, rename the MBOX item. */
export async function renameMailbox(ctx: DynamoIndexContext, user: string, oldName: string, newName: string): Promise<Mailbox> {
  checkString(newName, 'mailbox name');
  checkKeyPart(newName, 'mailbox name');
  // A legacy per-mailbox subscribed flag becomes a name in the list first: the flag would
  // otherwise travel with the mailbox, and the port says a rename leaves the list as it is.
  await migrateSubscriptions(ctx, user);
  const pk = keys.userPk(user);
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await sleep(backoffMs(attempt));
    const current = await getMailbox(ctx, user, oldName);
    if (!current) throw new IndexError('NOT_FOUND', `no such mailbox: ${oldName}`);
    if (oldName === newName || (await getItem(ctx, pk, keys.nameSk(newName)))) throw new IndexError('EXISTS', `mailbox exists: ${newName}`);
    if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', `mailbox ${oldName} could not be renamed: too much contention`);
    const out = await transactWrite(ctx.db, [
      {
        Delete: {
          TableName: ctx.table,
          Key: { pk: S(pk), sk: S(keys.nameSk(oldName)) },
          ConditionExpression: 'mailboxId = :id',
          ExpressionAttributeValues: { ':id': S(current.id) },
        },
      },
      {
        Put: {
          TableName: ctx.table,
          Item: { pk: S(pk), sk: S(keys.nameSk(newName)), mailboxId: S(current.id), name: S(newName) },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Update: {
          TableName: ctx.table,
          Key: { pk: S(pk), sk: S(keys.mailboxSk(current.id)) },
          UpdateExpression: 'SET #n = :new',
          ConditionExpression: '#n = :old',
          ExpressionAttributeNames: { '#n': 'name' },
          ExpressionAttributeValues: { ':new': S(newName), ':old': S(oldName) },
        },
      },
    ]);
    if (out.ok) {
      const renamed = await getItem(ctx, pk, keys.mailboxSk(current.id));
      return renamed ? toMailbox(renamed) : { ...current, name: newName };
    }
  }
}

export async function deleteMailbox(ctx: DynamoIndexContext, user: string, name: string): Promise<{ orphanedBlobs: string[] }> {
  const pk = keys.userPk(user);
  // A legacy subscription flag on the MBOX item must reach the list before the item goes.
  await migrateSubscriptions(ctx, user);
  let mailboxId: string | null = null;
  for (let attempt = 0; mailboxId === null; attempt++) {
    if (attempt > 0) await sleep(backoffMs(attempt));
    const current = await getMailbox(ctx, user, name);
    if (!current) throw new IndexError('NOT_FOUND', `no such mailbox: ${name}`);
    if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', `mailbox ${name} could not be deleted: too much contention`);
    // What the mailbox holds, for the user's usage: read first, and the delete is conditioned on
    // the mailbox being as read (every append, copy, expunge moves highestModseq), so the usage
    // moves by exactly its messages in the same transaction.
    const snap = await readMailbox(ctx, user, current.id);
    if (!snap) continue;
    const held = await queryAll(ctx.db, {
      TableName: ctx.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': S(pk), ':p': S(keys.messagePrefix(current.id)) },
      ProjectionExpression: '#size',
      ExpressionAttributeNames: { '#size': 'size' },
      ConsistentRead: true,
    });
    const out = await transactWrite(ctx.db, [
      {
        Delete: {
          TableName: ctx.table,
          Key: { pk: S(pk), sk: S(keys.nameSk(name)) },
          ConditionExpression: 'mailboxId = :id',
          ExpressionAttributeValues: { ':id': S(current.id) },
        },
      },
      {
        Delete: {
          TableName: ctx.table,
          Key: { pk: S(pk), sk: S(keys.mailboxSk(current.id)) },
          ConditionExpression: 'attribute_exists(pk) AND highestModseq = :m AND uidNext = :u',
          ExpressionAttributeValues: { ':m': N(snap.highestModseq), ':u': N(snap.uidNext) },
        },
      },
      ...(held.length > 0 ? [usageUpdate(ctx, pk, -held.reduce((n, i) => n + num(i, 'size'), 0), -held.length)] : []),
    ]);
    if (out.ok) mailboxId = current.id;
  }
  // The MBOX item is gone, so no append can commit any more; collect what is left.
  return dropMailboxContents(ctx, user, mailboxId);
}

export async function setSubscribed(ctx: DynamoIndexContext, user: string, name: string, subscribed: boolean): Promise<void> {
  checkString(name, 'mailbox name');
  checkKeyPart(name, 'mailbox name');
  const pk = keys.userPk(user);
  if (!(await getItem(ctx, pk, keys.profileSk))) throw new IndexError('NOT_FOUND', `no such user: ${user}`);
  await migrateSubscriptions(ctx, user);
  const key = { pk: S(pk), sk: S(keys.subscriptionSk(name)) };
  if (subscribed) await ctx.db.send(new PutItemCommand({ TableName: ctx.table, Item: { ...key, name: S(name) } }));
  else await ctx.db.send(new DeleteItemCommand({ TableName: ctx.table, Key: key }));
}

export async function listSubscriptions(ctx: DynamoIndexContext, user: string): Promise<string[]> {
  await migrateSubscriptions(ctx, user);
  const items = await queryAll(ctx.db, {
    TableName: ctx.table,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
    ExpressionAttributeValues: { ':pk': S(keys.userPk(user)), ':p': S(keys.subscriptionPrefix) },
    ProjectionExpression: '#n',
    ExpressionAttributeNames: { '#n': 'name' },
    ConsistentRead: true,
  });
  return items.map((i) => str(i, 'name')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export async function mailboxState(ctx: DynamoIndexContext, user: string, mailboxId: string): Promise<MailboxState | null> {
  const mb = await readMailbox(ctx, user, mailboxId);
  return mb ? { uidValidity: mb.uidValidity, uidNext: mb.uidNext, highestModseq: mb.highestModseq, messageCount: num(mb.item, 'messageCount') } : null;
}

/**
 * Subscriptions were once a `subscribed` flag on the MBOX item. Once per user (until the
 * SUBLIST marker exists), each flagged mailbox is converted in one transaction: Put of its
 * SUB# item + REMOVE of the flag, conditioned on the flag and the name read. A conversion
 * therefore happens at most once, so a name unsubscribed meanwhile is never brought back.
 */
async function migrateSubscriptions(ctx: DynamoIndexContext, user: string): Promise<void> {
  const pk = keys.userPk(user);
  if (await getItem(ctx, pk, keys.subscriptionsMigratedSk)) return;
  const mailboxes = await queryAll(ctx.db, {
    TableName: ctx.table,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
    ExpressionAttributeValues: { ':pk': S(pk), ':p': S(keys.mailboxPrefix) },
    ProjectionExpression: 'sk, #n, subscribed',
    ExpressionAttributeNames: { '#n': 'name' },
    ConsistentRead: true,
  });
  // No mailbox: nothing to convert, and no marker in the partition of a user who may not exist.
  if (mailboxes.length === 0) return;
  for (const first of mailboxes) {
    let item: Item | null = first;
    for (let attempt = 0; item && bool(item, 'subscribed'); attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      if (attempt >= MAX_ATTEMPTS) throw new IndexError('CONFLICT', `subscriptions of ${user} could not be converted: too much contention`);
      const name = str(item, 'name');
      const out = await transactWrite(ctx.db, [
        { Put: { TableName: ctx.table, Item: { pk: S(pk), sk: S(keys.subscriptionSk(name)), name: S(name) } } },
        {
          Update: {
            TableName: ctx.table,
            Key: { pk: S(pk), sk: item.sk },
            UpdateExpression: 'REMOVE subscribed',
            ConditionExpression: 'subscribed = :t AND #n = :name',
            ExpressionAttributeNames: { '#n': 'name' },
            ExpressionAttributeValues: { ':t': BOOL(true), ':name': S(name) },
          },
        },
      ]);
      // Cancelled: converted by another caller, renamed or deleted meanwhile, or a conflict; look again.
      item = out.ok ? null : await getItem(ctx, pk, str(item, 'sk'));
    }
  }
  await ctx.db.send(new PutItemCommand({ TableName: ctx.table, Item: { pk: S(pk), sk: S(keys.subscriptionsMigratedSk) } }));
}

async function dropMailboxContents(ctx: DynamoIndexContext, user: string, mailboxId: string): Promise<{ orphanedBlobs: string[] }> {
  const pk = keys.userPk(user);
  const prefixes = [
    keys.messagePrefix(mailboxId),
    keys.metaPrefix(mailboxId),
    keys.headerPrefix(mailboxId),
    keys.deliveryPrefix(mailboxId),
    keys.changePrefix(mailboxId),
  ];
  const found = await Promise.all(
    prefixes.map((p) =>
      queryAll(ctx.db, {
        TableName: ctx.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
        ExpressionAttributeValues: { ':pk': S(pk), ':p': S(p) },
        ProjectionExpression: 'pk, sk, blobKey',
        ConsistentRead: true,
      }),
    ),
  );
  const blobKeys = found[0].map((i) => i.blobKey?.S).filter((k): k is string => typeof k === 'string');
  await batchWriteAll(
    ctx.db,
    ctx.table,
    found.flat().map((i) => ({ DeleteRequest: { Key: { pk: i.pk, sk: i.sk } } })),
  );
  return { orphanedBlobs: await unref(ctx, blobKeys) };
}
