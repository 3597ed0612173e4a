/**
 * The cost benchmark's meter (bench/aws-meter.ts): DynamoDB item sizes and capacity units by
 * the AWS rules (developer guide: "item sizes", "read and write operations", "transactions"),
 * and the counts it takes at the SDK middleware of the clients core/adapters/aws/clients.ts
 * builds, on the emulator (which reports no capacity itself).
 */
import { DeleteItemCommand, GetItemCommand, PutItemCommand, QueryCommand, TransactWriteItemsCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAwsClients, setAwsClientHook, type AwsClients } from '#core/adapters/aws/clients.ts';
import { destroyAwsResources, provisionAwsResources, type AwsResourceRefs } from '#core/adapters/aws/index.ts';
import { AwsMeter, itemBytes, readUnits, totals, valueBytes, writeUnits } from '../../bench/aws-meter.ts';
import { emulatorClientConfig } from '../support/emulator.ts';
import { uniquePrefix } from '../support/mail-system.ts';

describe('item sizes and units', () => {
  it('sizes attributes by name and value as DynamoDB does', () => {
    expect(valueBytes({ S: 'héllo' })).toBe(6);
    // Numbers: 1 byte per two significant digits, plus 1; leading and trailing zeros trimmed.
    expect(valueBytes({ N: '12345' })).toBe(4);
    expect(valueBytes({ N: '1000' })).toBe(2);
    expect(valueBytes({ BOOL: true })).toBe(1);
    // Lists and maps: 3 bytes, plus 1 per element (and the map keys).
    expect(valueBytes({ L: [{ S: 'ab' }, { S: 'c' }] })).toBe(3 + 1 + 2 + 1 + 1);
    expect(valueBytes({ M: { k: { S: 'v' } } })).toBe(3 + 1 + 1 + 1);
    expect(itemBytes({ pk: { S: 'u#a' }, n: { N: '7' } })).toBe(2 + 3 + 1 + 2);
  });
  it('rounds reads to 4 KB (half when eventually consistent) and writes to 1 KB, with a minimum unit', () => {
    expect(readUnits(0, true)).toBe(1);
    expect(readUnits(4096, true)).toBe(1);
    expect(readUnits(4097, true)).toBe(2);
    expect(readUnits(5000, false)).toBe(1);
    expect(writeUnits(0)).toBe(1);
    expect(writeUnits(1025)).toBe(2);
  });
});

describe('AwsMeter on the emulator', () => {
  const clientConfig = () => emulatorClientConfig(inject('awsEndpoint'));
  let refs: AwsResourceRefs;
  let clients: AwsClients;
  const meter = new AwsMeter();

  beforeAll(async () => {
    refs = await provisionAwsResources(clientConfig(), uniquePrefix(), { only: ['table'] });
    meter.connect(clientConfig());
    setAwsClientHook(meter.hook);
    clients = createAwsClients(clientConfig());
  });
  afterAll(async () => {
    setAwsClientHook(undefined);
    clients?.destroy();
    meter.close();
    if (refs) await destroyAwsResources(clientConfig(), refs).catch(() => {});
  });

  it('counts requests and computes units from item sizes, hidden by projections or not', async () => {
    const db = clients.dynamo;
    const TableName = refs.table;
    const big = 'x'.repeat(3000);
    meter.reset();
    // A 3 KB item: 3 WRU to put, 1 RRU to read strongly, 0.5 eventually.
    await db.send(new PutItemCommand({ TableName, Item: { pk: { S: 'p' }, sk: { S: 'a' }, body: { S: big } } }));
    await db.send(new GetItemCommand({ TableName, Key: { pk: { S: 'p' }, sk: { S: 'a' } }, ConsistentRead: true, ProjectionExpression: 'pk' }));
    await db.send(new GetItemCommand({ TableName, Key: { pk: { S: 'p' }, sk: { S: 'a' } } }));
    // Growing it to 5 KB: the larger of before and after.
    await db.send(
      new UpdateItemCommand({
        TableName,
        Key: { pk: { S: 'p' }, sk: { S: 'a' } },
        UpdateExpression: 'SET more = :m',
        ExpressionAttributeValues: { ':m': { S: 'y'.repeat(2000) } },
      }),
    );
    await db.send(new PutItemCommand({ TableName, Item: { pk: { S: 'p' }, sk: { S: 'b' }, body: { S: big } } }));
    // A Query evaluates both items (5 KB + 3 KB, summed, then in 4 KB units: 2 RRU strongly
    // consistent) although it returns only their keys (a few bytes: 1 RRU).
    await db.send(
      new QueryCommand({
        TableName,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': { S: 'p' } },
        ProjectionExpression: 'pk, sk',
        ConsistentRead: true,
      }),
    );
    const s = await meter.snapshot();
    expect(s.get('dynamodb:PutItem')).toMatchObject({ requests: 2, wru: 6 });
    expect(s.get('dynamodb:GetItem')).toMatchObject({ requests: 2, rru: 1.5 });
    expect(s.get('dynamodb:UpdateItem')).toMatchObject({ requests: 1, wru: 5 });
    expect(s.get('dynamodb:Query')).toMatchObject({ requests: 1, rru: 2 });
  });

  it('charges transactions twice, counts a cancelled one apart, and a failed condition still costs', async () => {
    const db = clients.dynamo;
    const TableName = refs.table;
    meter.reset();
    await db.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName, Item: { pk: { S: 't' }, sk: { S: '1' }, v: { N: '1' } }, ConditionExpression: 'attribute_not_exists(pk)' } },
          { Update: { TableName, Key: { pk: { S: 't' }, sk: { S: '2' } }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { N: '1' } } } },
        ],
      }),
    );
    await expect(
      db.send(
        new TransactWriteItemsCommand({
          TransactItems: [{ Put: { TableName, Item: { pk: { S: 't' }, sk: { S: '1' } }, ConditionExpression: 'attribute_not_exists(pk)' } }],
        }),
      ),
    ).rejects.toThrow();
    await expect(
      db.send(new DeleteItemCommand({ TableName, Key: { pk: { S: 't' }, sk: { S: '1' } }, ConditionExpression: 'attribute_not_exists(pk)' })),
    ).rejects.toThrow();
    const s = await meter.snapshot();
    // Committed: 2 items × 1 KB × 2; cancelled: its prepare phase, 1 item × 1.
    expect(s.get('dynamodb:TransactWriteItems')).toMatchObject({ requests: 2, wru: 5, cancelled: 1 });
    expect(s.get('dynamodb:DeleteItem')).toMatchObject({ requests: 1, wru: 1 });
    expect(totals(s)).toMatchObject({ dynamodb: 3, cancelled: 1 });
  });
});
