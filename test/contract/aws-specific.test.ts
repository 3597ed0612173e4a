/**
 * What only the aws adapters promise, on the emulator: the DynamoDB item layout and its
 * limits (meta compression and splitting, 1 MB Query pages), the decisions taken on a
 * cancelled TransactWriteItems (duplicate vs lost UID race), provisioning from
 * core/resources.ts, the resource environment, and the SQS/S3 details the Lambda handlers
 * and the ingest path rely on.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync, inflateRawSync } from 'node:zlib';
import { Readable } from 'node:stream';
import {
  DeleteItemCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createAwsClients, type AwsClients } from '#core/adapters/aws/clients.ts';
import { keys } from '#core/adapters/aws/dynamo-keys.ts';
import { DynamoMailIndex } from '#core/adapters/aws/dynamo-mail-index.ts';
import { HEADER_DICTIONARY, META_ITEM_BYTES, STRUCTURE_DICTIONARY } from '#core/adapters/aws/dynamo-meta.ts';
import { createAwsAdapters } from '#core/adapters/aws/index.ts';
import { awsResourceEnv, awsResourceRefsFromEnv, destroyAwsResources, provisionAwsResources, type AwsResourceRefs } from '#core/adapters/aws/provision.ts';
import { S3BlobStore } from '#core/adapters/aws/s3-blob-store.ts';
import { JOB_ID_ATTRIBUTE, SqsWorkQueue, decodeJobMessage } from '#core/adapters/aws/sqs-work-queue.ts';
import type { MessageMeta } from '#core/mime/types.ts';
import { IndexError, type NewMessage } from '#core/ports/mail-index.ts';
import { MAIL_INDEX_TABLE, MESSAGE_BUCKET, QUEUES, RESOURCE_ENV, resourceNames } from '#core/resources.ts';
import { emulatorClientConfig } from '../support/emulator.ts';
import { sampleMeta } from './mail-index.contract.ts';

const clientConfig = emulatorClientConfig(inject('awsEndpoint'));
const prefix = () => `t${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
const alice = 'alice@example.test';

/** A meta whose JSON is about `bytes` long and barely compressible (random base64 in part descriptions). */
function bulkyMeta(subject: string, bytes: number): MessageMeta {
  const meta = sampleMeta(subject);
  const child = meta.mime.children[0];
  const parts = Math.max(1, Math.ceil(bytes / 20_000));
  meta.mime.children = Array.from({ length: parts }, (_, i) => ({ ...child, description: `${i}:${randomBytes(15_000).toString('base64')}` }));
  return meta;
}

function message(subject: string, extra: Partial<NewMessage> = {}): NewMessage {
  return { blobKey: `messages/${subject}`, size: 120, internalDate: 1_700_000_000_000, flags: [], meta: sampleMeta(subject), ...extra };
}

async function itemsWithPrefix(db: DynamoDBClient, table: string, pk: string, skPrefix: string) {
  const out = [];
  let start: Record<string, never> | undefined;
  do {
    const res = await db.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
        ExpressionAttributeValues: { ':pk': { S: pk }, ':p': { S: skPrefix } },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    out.push(...(res.Items ?? []));
    start = res.LastEvaluatedKey as typeof start;
  } while (start);
  return out;
}

describe('aws adapters on the emulator', () => {
  let refs: AwsResourceRefs;
  let clients: AwsClients;
  let ix: DynamoMailIndex;

  beforeAll(async () => {
    refs = await provisionAwsResources(clientConfig, prefix());
    clients = createAwsClients(clientConfig);
    ix = new DynamoMailIndex({ client: clients.dynamo, table: refs.table });
    await ix.addUser({ address: alice, passwordHash: 'h' });
  });
  afterAll(async () => {
    clients?.destroy();
    if (refs) await destroyAwsResources(clientConfig, refs);
  });

  describe('DynamoMailIndex item layout and limits', () => {
    it('a user from before quotas (no USAGE item, or one of deltas only) is counted once from the MSG items, then moved', async () => {
      const legacy = `legacy-${prefix()}@example.test`;
      await ix.addUser({ address: legacy, passwordHash: 'h' });
      const mb = await ix.createMailbox(legacy, 'INBOX');
      await ix.appendMessage(legacy, mb.id, message(`${legacy}-1`, { size: 100 }));
      await ix.appendMessage(legacy, mb.id, message(`${legacy}-2`, { size: 200 }));
      // As older code left it: no USAGE item; then one write of the new code ADDs a delta.
      await clients.dynamo.send(new DeleteItemCommand({ TableName: refs.table, Key: { pk: { S: keys.userPk(legacy) }, sk: { S: keys.usageSk } } }));
      await ix.appendMessage(legacy, mb.id, message(`${legacy}-3`, { size: 300 }));
      expect((await ix.getQuota(legacy))!.usage).toEqual({ storage: 600, messages: 3 });
      await ix.expunge(legacy, mb.id, [1]);
      expect((await ix.getQuota(legacy))!.usage).toEqual({ storage: 500, messages: 2 });
    });

    it('a message is a small MSG item, a MMETA item (compressed structure) and a MHDR item (compressed header block); the delivery key item records uid, uidValidity, modseq and a TTL', async () => {
      const mb = await ix.createMailbox(alice, 'Layout');
      const r = await ix.appendMessage(alice, mb.id, message('layout', { deliveryKey: 'job-1/alice', flags: ['\\Seen'] }));
      const [msg] = await itemsWithPrefix(clients.dynamo, refs.table, keys.userPk(alice), keys.messagePrefix(mb.id));
      expect(msg.sk.S).toBe(`MSG#${mb.id}#0000000001`);
      expect(msg.meta).toBeUndefined();
      expect(msg.metaZ).toBeUndefined();
      expect(msg.flags).toEqual({ L: [{ S: '\\Seen' }] });
      const [meta] = await itemsWithPrefix(clients.dynamo, refs.table, keys.userPk(alice), keys.metaPrefix(mb.id));
      const { header, ...structure } = sampleMeta('layout');
      expect(meta.meta).toBeUndefined();
      expect(JSON.parse(inflateRawSync(meta.sd1.B!, { dictionary: STRUCTURE_DICTIONARY }).toString())).toEqual(structure);
      expect(meta.sd1.B!.length).toBeLessThan(JSON.stringify(structure).length / 2);
      const [hdr] = await itemsWithPrefix(clients.dynamo, refs.table, keys.userPk(alice), keys.headerPrefix(mb.id));
      const storedHeader = hdr.hd1?.B ? inflateRawSync(hdr.hd1.B, { dictionary: HEADER_DICTIONARY }) : Buffer.from(hdr.hr!.B!);
      expect(storedHeader.toString('latin1')).toBe(header);
      const [dk] = await itemsWithPrefix(clients.dynamo, refs.table, keys.userPk(alice), keys.deliveryPrefix(mb.id));
      expect(dk).toMatchObject({ uid: { N: '1' }, uidValidity: { N: String(mb.uidValidity) }, modseq: { N: String(r.modseq) } });
      const ttl = Number(dk.ttl.N);
      expect(ttl).toBeGreaterThan(Date.now() / 1000 + 20 * 24 * 3600);
    });

    it('a large structure is compressed, an oversized one is split over chunk items; both round-trip, copy and expunge with their chunks', async () => {
      const mb = await ix.createMailbox(alice, 'Big');
      const medium = bulkyMeta('medium', 100_000); // JSON ~100 KB → metaZ
      const huge = bulkyMeta('huge', 900_000); // gzip ~700 KB > one item → split
      await ix.appendMessage(alice, mb.id, message('medium', { meta: medium }));
      await ix.appendMessage(alice, mb.id, message('huge', { meta: huge }));
      const metaItems = await itemsWithPrefix(clients.dynamo, refs.table, keys.userPk(alice), keys.metaPrefix(mb.id));
      const bySk = new Map(metaItems.map((i) => [i.sk.S, i]));
      expect(bySk.get(keys.metaSk(mb.id, 1))?.sd1?.B).toBeDefined();
      const hugeItem = bySk.get(keys.metaSk(mb.id, 2));
      expect(Number(hugeItem?.chunks?.N)).toBeGreaterThan(1);
      for (const i of metaItems) expect((i.sd1?.B ?? i.data?.B ?? new Uint8Array()).length).toBeLessThanOrEqual(META_ITEM_BYTES);
      expect(metaItems.length).toBe(1 + Number(hugeItem?.chunks?.N));

      expect((await ix.getMessages(alice, mb.id, [1, 2])).map((m) => m.meta)).toEqual([medium, huge]);
      expect((await ix.listMessages(alice, mb.id, { withMeta: true })).map((m) => m.meta)).toEqual([medium, huge]);
      expect((await ix.listMessages(alice, mb.id, { uidFrom: 2, withMeta: true })).map((m) => m.meta)).toEqual([huge]);

      const other = await ix.createMailbox(alice, 'Big copy');
      const { mapping } = await ix.copyMessages(alice, mb.id, [2], other.id);
      expect((await ix.getMessages(alice, other.id, [mapping[0].to]))[0].meta).toEqual(huge);

      await ix.expunge(alice, mb.id, [1, 2]);
      expect(await itemsWithPrefix(clients.dynamo, refs.table, keys.userPk(alice), keys.metaPrefix(mb.id))).toEqual([]);
      expect(await itemsWithPrefix(clients.dynamo, refs.table, keys.userPk(alice), keys.headerPrefix(mb.id))).toEqual([]);
      expect(await itemsWithPrefix(clients.dynamo, refs.table, keys.userPk(alice), keys.messagePrefix(mb.id))).toEqual([]);
    });

    it('messages stored in the older layout (whole meta in the MMETA item: `meta` JSON, or `metaZ` gzip split over chunks) still read, copy and expunge', async () => {
      const mb = await ix.createMailbox(alice, 'Old layout');
      const small = sampleMeta('old small');
      const big = bulkyMeta('old big', 900_000);
      const zipped = gzipSync(JSON.stringify(big));
      const pieces: Buffer[] = [];
      for (let off = 0; off < zipped.length; off += META_ITEM_BYTES) pieces.push(zipped.subarray(off, off + META_ITEM_BYTES));
      expect(pieces.length).toBeGreaterThan(1);
      // Two messages as the code before MHDR items wrote them: an append whose items are then put back in the old form.
      for (const [uid, meta] of [
        [1, small],
        [2, big],
      ] as const) {
        await ix.appendMessage(alice, mb.id, message(`old${uid}`, { meta: sampleMeta(`placeholder ${uid}`) }));
        await clients.dynamo.send(
          new DeleteItemCommand({ TableName: refs.table, Key: { pk: { S: keys.userPk(alice) }, sk: { S: keys.headerSk(mb.id, uid) } } }),
        );
        const item: Record<string, AttributeValue> =
          uid === 1 ? { meta: { S: JSON.stringify(meta) } } : { metaZ: { B: pieces[0] }, chunks: { N: String(pieces.length) } };
        await clients.dynamo.send(
          new PutItemCommand({ TableName: refs.table, Item: { pk: { S: keys.userPk(alice) }, sk: { S: keys.metaSk(mb.id, uid) }, ...item } }),
        );
      }
      for (let n = 1; n < pieces.length; n++)
        await clients.dynamo.send(
          new PutItemCommand({
            TableName: refs.table,
            Item: { pk: { S: keys.userPk(alice) }, sk: { S: keys.metaChunkSk(mb.id, 2, n) }, data: { B: pieces[n] } },
          }),
        );
      await clients.dynamo.send(
        new UpdateItemCommand({
          TableName: refs.table,
          Key: { pk: { S: keys.userPk(alice) }, sk: { S: keys.messageSk(mb.id, 2) } },
          UpdateExpression: 'SET metaChunks = :n',
          ExpressionAttributeValues: { ':n': { N: String(pieces.length) } },
        }),
      );
      expect((await ix.listMessages(alice, mb.id, { withMeta: true })).map((m) => m.meta)).toEqual([small, big]);
      expect((await ix.getMessages(alice, mb.id, [1, 2])).map((m) => m.meta)).toEqual([small, big]);
      expect((await ix.listMessages(alice, mb.id, { withMeta: 'structure' })).map((m) => m.meta)).toEqual([
        { ...small, header: null },
        { ...big, header: null },
      ]);
      const other = await ix.createMailbox(alice, 'Old layout copy');
      const { mapping } = await ix.copyMessages(alice, mb.id, [1, 2], other.id);
      expect(
        (
          await ix.getMessages(
            alice,
            other.id,
            mapping.map((m) => m.to),
          )
        ).map((m) => m.meta),
      ).toEqual([small, big]);
      expect((await ix.expunge(alice, mb.id, [1, 2])).expunged).toEqual([1, 2]);
      expect(await itemsWithPrefix(clients.dynamo, refs.table, keys.userPk(alice), keys.metaPrefix(mb.id))).toEqual([]);
    });

    it("a 'sole' message writes no blob reference item (soleRef on the MSG item); a COPY turns it into a count of 2, a take-over deletes the hold item", async () => {
      const mb = await ix.createMailbox(alice, 'Refs');
      const blobItems = async (blobKey: string) => [
        ...(await itemsWithPrefix(clients.dynamo, refs.table, keys.blobPk(blobKey), 'HOLD#')),
        ...(await itemsWithPrefix(clients.dynamo, refs.table, keys.blobPk(blobKey), keys.blobSk)),
      ];
      await ix.appendMessage(alice, mb.id, message('sole', { blobKey: 'blob/layout-sole', blobReference: 'sole' }));
      expect(await blobItems('blob/layout-sole')).toEqual([]);
      const [msg] = await itemsWithPrefix(clients.dynamo, refs.table, keys.userPk(alice), keys.messageSk(mb.id, 1));
      expect(msg.soleRef).toEqual({ BOOL: true });
      await ix.copyMessages(alice, mb.id, [1], mb.id);
      expect((await blobItems('blob/layout-sole')).map((i) => [i.sk.S, i.refs?.N])).toEqual([['REF', '2']]);
      const [after] = await itemsWithPrefix(clients.dynamo, refs.table, keys.userPk(alice), keys.messageSk(mb.id, 1));
      expect(after.soleRef).toBeUndefined();

      await ix.holdBlob('blob/layout-take', 'job-lt');
      expect((await blobItems('blob/layout-take')).map((i) => i.sk.S)).toEqual(['HOLD#job-lt', 'REF']);
      await ix.appendMessage(alice, mb.id, message('take', { blobKey: 'blob/layout-take', blobReference: { takeOver: 'job-lt' } }));
      expect((await blobItems('blob/layout-take')).map((i) => [i.sk.S, i.refs?.N])).toEqual([['REF', '1']]);
    });

    it('a meta too large even when split is refused with INVALID and leaves the mailbox unchanged', async () => {
      const mb = await ix.createMailbox(alice, 'Too big');
      const err = await ix.appendMessage(alice, mb.id, message('too-big', { meta: bulkyMeta('too-big', 4_500_000) })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IndexError);
      expect((err as IndexError).code).toBe('INVALID');
      expect(await ix.mailboxState(alice, mb.id)).toMatchObject({ uidNext: 1, messageCount: 0 });
    });

    it('copy, flag and expunge of 110 messages span several transactions (100-item limit) and keep UID order and counts', async () => {
      const src = await ix.createMailbox(alice, 'Many');
      const dst = await ix.createMailbox(alice, 'Many copy');
      for (let i = 1; i <= 110; i++) await ix.appendMessage(alice, src.id, message(`many${i}`, { blobKey: `blob/many${i % 7}` }));
      const uids = Array.from({ length: 110 }, (_, i) => i + 1);
      const { mapping } = await ix.copyMessages(alice, src.id, [...uids].reverse(), dst.id);
      expect(mapping).toEqual(uids.map((u) => ({ from: u, to: u })));
      expect(await ix.mailboxState(alice, dst.id)).toMatchObject({ uidNext: 111, messageCount: 110 });
      const copied = await ix.listMessages(alice, dst.id, { withMeta: true });
      expect(copied.map((m) => m.meta?.envelope.subject)).toEqual(uids.map((u) => `many${u}`));

      const changes = await ix.updateFlags(alice, dst.id, uids, 'add', ['\\Deleted']);
      expect(changes.map((c) => c.uid)).toEqual(uids);
      const state = await ix.mailboxState(alice, dst.id);
      expect(state!.highestModseq).toBe(Math.max(...changes.map((c) => c.modseq)));

      const r = await ix.expunge(alice, dst.id, uids);
      expect(r.expunged).toEqual(uids);
      expect(r.orphanedBlobs).toEqual([]); // the sources still reference every blob
      expect(await ix.mailboxState(alice, dst.id)).toMatchObject({ uidNext: 111, messageCount: 0 });
      expect((await ix.deleteMailbox(alice, 'Many')).orphanedBlobs).toEqual(Array.from({ length: 7 }, (_, i) => `blob/many${i}`).sort());
    });

    it('listMessages follows LastEvaluatedKey across 1 MB Query pages', async () => {
      const mb = await ix.createMailbox(alice, 'Pages');
      // 5 metas of ~300 KB gzip each: the MMETA range is more than one 1 MB page.
      const metas = Array.from({ length: 5 }, (_, i) => bulkyMeta(`page${i}`, 390_000));
      for (const [i, meta] of metas.entries()) await ix.appendMessage(alice, mb.id, message(`page${i}`, { meta }));
      const first = await clients.dynamo.send(
        new QueryCommand({
          TableName: refs.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
          ExpressionAttributeValues: { ':pk': { S: keys.userPk(alice) }, ':p': { S: keys.metaPrefix(mb.id) } },
          ConsistentRead: true,
        }),
      );
      expect(first.LastEvaluatedKey).toBeDefined(); // the emulator pages like DynamoDB
      const listed = await ix.listMessages(alice, mb.id, { withMeta: true });
      expect(listed.map((m) => m.uid)).toEqual([1, 2, 3, 4, 5]);
      expect(listed.map((m) => m.meta)).toEqual(metas);
    });
  });

  describe('DynamoMailIndex subscriptions', () => {
    it('subscriptions are SUB# items; a legacy `subscribed` flag on an MBOX item is moved into the list once, also before DELETE', async () => {
      const user = `legacy-${Date.now()}@example.test`;
      await ix.addUser({ address: user, passwordHash: 'h' });
      const inbox = await ix.createMailbox(user, 'INBOX');
      const lists = await ix.createMailbox(user, 'Lists');
      await ix.createMailbox(user, 'Other');
      // Data as older code wrote it: the subscription is a flag on the mailbox item.
      for (const mb of [inbox, lists]) {
        await clients.dynamo.send(
          new UpdateItemCommand({
            TableName: refs.table,
            Key: { pk: { S: keys.userPk(user) }, sk: { S: keys.mailboxSk(mb.id) } },
            UpdateExpression: 'SET subscribed = :t',
            ExpressionAttributeValues: { ':t': { BOOL: true } },
          }),
        );
      }
      // DELETE first: the flag of the deleted mailbox must not go with it.
      await ix.deleteMailbox(user, 'Lists');
      expect(await ix.listSubscriptions(user)).toEqual(['INBOX', 'Lists']);
      const subs = await itemsWithPrefix(clients.dynamo, refs.table, keys.userPk(user), keys.subscriptionPrefix);
      expect(subs.map((i) => i.sk.S)).toEqual(['SUB#INBOX', 'SUB#Lists']);
      const [mbox] = await itemsWithPrefix(clients.dynamo, refs.table, keys.userPk(user), keys.mailboxSk(inbox.id));
      expect(mbox.subscribed).toBeUndefined();
      // Converted once: an unsubscribe is not undone by a later read.
      await ix.setSubscribed(user, 'INBOX', false);
      expect(await ix.listSubscriptions(user)).toEqual(['Lists']);
      await ix.removeUser(user);
      expect(await itemsWithPrefix(clients.dynamo, refs.table, keys.userPk(user), 'SUB')).toEqual([]);
    });
  });

  describe('DynamoMailIndex decisions on a cancelled transaction', () => {
    /** An index whose next TransactWriteItems first lets `between` run (another writer winning the race). */
    function racingIndex(between: () => Promise<void>): { index: DynamoMailIndex; transactions: () => number; close: () => void } {
      const c = createAwsClients(clientConfig);
      let armed = true;
      let count = 0;
      const send = c.dynamo.send.bind(c.dynamo) as (cmd: unknown) => Promise<unknown>;
      (c.dynamo as unknown as { send: (cmd: unknown) => Promise<unknown> }).send = async (cmd: unknown) => {
        if ((cmd as object).constructor.name === 'TransactWriteItemsCommand') {
          count += 1;
          if (armed) {
            armed = false;
            await between();
          }
        }
        return send(cmd);
      };
      return { index: new DynamoMailIndex({ client: c.dynamo, table: refs.table }), transactions: () => count, close: () => c.destroy() };
    }

    it('another writer took the UID between our read and our transaction: we retry and get the next UID', async () => {
      const mb = await ix.createMailbox(alice, 'Race UID');
      const racer = racingIndex(async () => {
        expect((await ix.appendMessage(alice, mb.id, message('winner'))).uid).toBe(1);
      });
      const r = await racer.index.appendMessage(alice, mb.id, message('loser', { deliveryKey: 'job-loser/alice' }));
      expect(r).toMatchObject({ uid: 2, duplicate: false });
      expect(racer.transactions()).toBe(2);
      expect((await ix.listMessages(alice, mb.id, { withMeta: true })).map((m) => [m.uid, m.meta?.envelope.subject])).toEqual([
        [1, 'winner'],
        [2, 'loser'],
      ]);
      expect(await ix.mailboxState(alice, mb.id)).toMatchObject({ uidNext: 3, messageCount: 2 });
      racer.close();
    });

    it('a UID taken and expunged between our read and our transaction is not reused (RFC 3501 §2.3.1.1)', async () => {
      const mb = await ix.createMailbox(alice, 'Race expunged');
      const racer = racingIndex(async () => {
        await ix.appendMessage(alice, mb.id, message('gone'));
        await ix.expunge(alice, mb.id, [1]);
      });
      expect((await racer.index.appendMessage(alice, mb.id, message('next'))).uid).toBe(2);
      expect((await ix.listMessages(alice, mb.id)).map((m) => m.uid)).toEqual([2]);
      racer.close();
    });

    it('the same delivery key was used between our read and our transaction: we return its UID as a duplicate', async () => {
      const mb = await ix.createMailbox(alice, 'Race key');
      let winner = 0;
      const racer = racingIndex(async () => {
        winner = (await ix.appendMessage(alice, mb.id, message('first', { deliveryKey: 'job-7/alice', blobKey: 'blob/job-7' }))).uid;
      });
      const r = await racer.index.appendMessage(alice, mb.id, message('first', { deliveryKey: 'job-7/alice', blobKey: 'blob/job-7' }));
      expect(r).toMatchObject({ uid: winner, uidValidity: mb.uidValidity, duplicate: true });
      expect(await ix.mailboxState(alice, mb.id)).toMatchObject({ uidNext: 2, messageCount: 1 });
      // One reference to the blob, not two.
      expect(await ix.expunge(alice, mb.id, [winner])).toEqual({ expunged: [winner], orphanedBlobs: ['blob/job-7'] });
      racer.close();
    });

    it('the mailbox was deleted between our read and our transaction: NOT_FOUND, nothing written', async () => {
      const mb = await ix.createMailbox(alice, 'Race delete');
      const racer = racingIndex(async () => {
        await ix.deleteMailbox(alice, 'Race delete');
      });
      const err = await racer.index.appendMessage(alice, mb.id, message('late', { deliveryKey: 'job-late/alice' })).catch((e: unknown) => e);
      expect((err as IndexError).code).toBe('NOT_FOUND');
      expect(await itemsWithPrefix(clients.dynamo, refs.table, keys.userPk(alice), keys.messagePrefix(mb.id))).toEqual([]);
      expect(await itemsWithPrefix(clients.dynamo, refs.table, keys.userPk(alice), keys.deliveryPrefix(mb.id))).toEqual([]);
      racer.close();
    });
  });

  describe('provisioning and the resource environment', () => {
    it('provisions from core/resources.ts: key schema, TTL, redrive policies with maxReceiveCount; idempotent', async () => {
      const again = await provisionAwsResources(clientConfig, refs.table.replace(/-mail-index$/, ''));
      expect(again).toEqual(refs);
      const table = (await clients.dynamo.send(new DescribeTableCommand({ TableName: refs.table }))).Table;
      expect(table?.TableStatus).toBe('ACTIVE');
      expect(table?.KeySchema).toEqual([
        { AttributeName: MAIL_INDEX_TABLE.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: MAIL_INDEX_TABLE.sortKey.name, KeyType: 'RANGE' },
      ]);
      const ttl = await clients.dynamo.send(new DescribeTimeToLiveCommand({ TableName: refs.table }));
      expect(ttl.TimeToLiveDescription).toMatchObject({ TimeToLiveStatus: 'ENABLED', AttributeName: MAIL_INDEX_TABLE.timeToLiveAttribute });
      for (const q of ['ingest', 'outbound'] as const) {
        const attrs = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: refs.queueUrls[q], AttributeNames: ['All'] }))).Attributes ?? {};
        const dlqArn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: refs.deadLetterQueueUrls[q], AttributeNames: ['QueueArn'] })))
          .Attributes?.QueueArn;
        expect(JSON.parse(attrs.RedrivePolicy ?? '{}')).toMatchObject({ deadLetterTargetArn: dlqArn, maxReceiveCount: QUEUES[q].maxReceiveCount });
        expect(Number(attrs.VisibilityTimeout)).toBe(QUEUES[q].visibilityTimeoutSeconds);
        expect(refs.queueUrls[q]).toContain(resourceNames(refs.table.replace(/-mail-index$/, '')).queues[q].name);
      }
    });

    it('awsResourceRefsFromEnv reads RESOURCE_ENV (the inverse of awsResourceEnv) and names what is missing', () => {
      const env = awsResourceEnv(refs);
      expect(Object.keys(env).sort()).toEqual(Object.values(RESOURCE_ENV).sort());
      expect(awsResourceRefsFromEnv(env)).toEqual(refs);
      const partial = { ...env, [RESOURCE_ENV.outboundDeadLetterQueueUrl]: '' };
      expect(() => awsResourceRefsFromEnv(partial)).toThrow(RESOURCE_ENV.outboundDeadLetterQueueUrl);
    });

    it('destroyAwsResources by prefix removes everything, also a bucket that still holds objects', async () => {
      const p = prefix();
      const r = await provisionAwsResources(clientConfig, p);
      const blobs = new S3BlobStore({ client: clients.s3, bucket: r.bucket });
      await blobs.put('x', Buffer.from('x'));
      await destroyAwsResources(clientConfig, p);
      await expect(clients.dynamo.send(new DescribeTableCommand({ TableName: r.table }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
      await expect(clients.s3.send(new ListObjectsV2Command({ Bucket: r.bucket }))).rejects.toMatchObject({ name: 'NoSuchBucket' });
      await destroyAwsResources(clientConfig, p); // idempotent
    });
  });

  describe('createAwsAdapters, S3 and SQS details', () => {
    it('createAwsAdapters gives kind aws; a blob key is the S3 object key, as callers build it under MESSAGE_BUCKET.messagePrefix; close is idempotent', async () => {
      const adapters = await createAwsAdapters({ refs, clientConfig });
      expect(adapters.kind).toBe('aws');
      const key = `${MESSAGE_BUCKET.messagePrefix}2024/one.eml`;
      await adapters.blobs.put(key, Buffer.from('Subject: x\r\n\r\nbody\r\n'));
      const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: refs.bucket, Prefix: MESSAGE_BUCKET.messagePrefix }));
      expect(listed.Contents?.map((o) => o.Key)).toEqual([key]);
      expect(await adapters.index.getUser(alice)).toMatchObject({ address: alice });
      const id = await adapters.queue.send('ingest', { blobKey: key });
      const [job] = await adapters.queue.receive('ingest', { waitSeconds: 2 });
      expect(job.id).toBe(id);
      await adapters.queue.ack('ingest', job.receipt);
      await adapters.close();
      await adapters.close();
    });

    it('a streamed put above one part (multipart upload) round-trips; a failing one leaves no object and no open upload', async () => {
      const blobs = new S3BlobStore({ client: clients.s3, bucket: refs.bucket, keyPrefix: 'mp/' });
      const data = randomBytes(9 * 1024 * 1024);
      const parts = Array.from({ length: Math.ceil(data.length / 65_536) }, (_, i) => data.subarray(i * 65_536, (i + 1) * 65_536));
      expect(await blobs.put('big', Readable.from(parts))).toEqual({ size: data.length });
      expect((await blobs.get('big')).equals(data)).toBe(true);
      let sent = 0;
      const failing = new Readable({
        read() {
          if (sent >= 10 * 1024 * 1024) return this.destroy(new Error('client went away'));
          sent += 1024 * 1024;
          this.push(randomBytes(1024 * 1024));
        },
      });
      await expect(blobs.put('broken', failing)).rejects.toThrow();
      expect(await blobs.exists('broken')).toBe(false);
      const uploads = await clients.s3.send(new ListMultipartUploadsCommand({ Bucket: refs.bucket, Prefix: 'mp/' }));
      expect(uploads.Uploads ?? []).toEqual([]);
    });

    it('the SQS body is the job JSON itself and the job id travels as a message attribute (what a Lambda SQS record carries)', async () => {
      const queue = new SqsWorkQueue({ client: clients.sqs, queueUrls: refs.queueUrls, deadLetterQueueUrls: refs.deadLetterQueueUrls });
      const id = await queue.send('outbound', { to: 'x@example.test' }, { delaySeconds: 5000 });
      const attrs = (
        await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: refs.queueUrls.outbound, AttributeNames: ['ApproximateNumberOfMessagesDelayed'] }))
      ).Attributes;
      expect(attrs?.ApproximateNumberOfMessagesDelayed).toBe('1'); // 5000 s was capped at SQS's 900 s, not refused
      // A message sent by something else (no jobId attribute) gets its MessageId as id.
      const raw = await clients.sqs.send(new SendMessageCommand({ QueueUrl: refs.queueUrls.ingest, MessageBody: '{"n":1}' }));
      const [job] = await queue.receive<{ n: number }>('ingest', { waitSeconds: 2 });
      expect(job).toMatchObject({ id: raw.MessageId, body: { n: 1 }, receiveCount: 1 });
      await queue.ack('ingest', job.receipt);
      const sentId = await queue.send('ingest', { n: 2 });
      const res = await clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: refs.queueUrls.ingest,
          WaitTimeSeconds: 2,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
      );
      const m = res.Messages?.[0];
      expect(JSON.parse(m?.Body ?? '')).toEqual({ n: 2 });
      expect(m?.MessageAttributes?.[JOB_ID_ATTRIBUTE]?.StringValue).toBe(sentId);
      expect(decodeJobMessage(m ?? {})).toMatchObject({ id: sentId, body: { n: 2 }, receiveCount: 1 });
      expect(id).not.toBe(sentId);
    });
  });
});
