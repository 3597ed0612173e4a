/**
 * What the DynamoDB change log (core/adapters/aws/dynamo-index/changes.ts) promises beyond the
 * port contract, on the emulator: changesSince costs read units in proportion to the changes,
 * not to the mailbox (counted at the SDK middleware by bench/aws-meter.ts, from item sizes by
 * the AWS rules), a flag change pays one small log item, trimming deletes old entries in its
 * second pass, and a mailbox from before the log starts one at its first logged write.
 */
import { randomBytes } from 'node:crypto';
import { QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createAwsClients, setAwsClientHook, type AwsClients } from '#core/adapters/aws/clients.ts';
import { keys } from '#core/adapters/aws/dynamo-keys.ts';
import { DynamoMailIndex } from '#core/adapters/aws/dynamo-mail-index.ts';
import { CHECKPOINT_EVERY } from '#core/adapters/aws/dynamo-index/changes.ts';
import { destroyAwsResources, provisionAwsResources, type AwsResourceRefs } from '#core/adapters/aws/provision.ts';
import type { Mailbox, NewMessage } from '#core/ports/mail-index.ts';
import { AwsMeter, totals } from '../../bench/aws-meter.ts';
import { emulatorClientConfig } from '../support/emulator.ts';
import { sampleMeta } from './mail-index.contract.ts';

const clientConfig = emulatorClientConfig(inject('awsEndpoint'));
const alice = 'alice@example.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function message(i: number): NewMessage {
  return { blobKey: `messages/cl-${i}`, size: 2000, internalDate: 1_700_000_000_000 + i, flags: [], meta: sampleMeta(`message ${i}`) };
}

describe('DynamoDB change log on the emulator', () => {
  let refs: AwsResourceRefs;
  let clients: AwsClients;
  let ix: DynamoMailIndex;
  const meter = new AwsMeter();
  /** Mailboxes of 50 and 400 messages, filled once (appends one by one take a while on the emulator). */
  const SIZES = [50, 400];
  const sized = new Map<number, Mailbox>();

  beforeAll(async () => {
    refs = await provisionAwsResources(clientConfig, `t${Date.now().toString(36)}${randomBytes(4).toString('hex')}`, { only: ['table'] });
    meter.connect(clientConfig);
    meter.enabled = false;
    setAwsClientHook(meter.hook);
    clients = createAwsClients(clientConfig);
    setAwsClientHook(undefined);
    ix = new DynamoMailIndex({ client: clients.dynamo, table: refs.table });
    await ix.addUser({ address: alice, passwordHash: 'h' });
    for (const size of SIZES) sized.set(size, await seeded(`Size${size}`, size));
  }, 300_000);
  afterAll(async () => {
    meter.close();
    clients?.destroy();
    if (refs) await destroyAwsResources(clientConfig, refs);
  });

  async function measured<T>(fn: () => Promise<T>): Promise<{ result: T; rru: number; wru: number; requests: number }> {
    meter.reset();
    meter.enabled = true;
    try {
      const result = await fn();
      const t = totals(await meter.snapshot());
      return { result, rru: t.rru, wru: t.wru, requests: t.requests };
    } finally {
      meter.enabled = false;
    }
  }

  async function seeded(name: string, count: number) {
    const mb = await ix.createMailbox(alice, name);
    for (let i = 1; i <= count; i++) await ix.appendMessage(alice, mb.id, message(i));
    return mb;
  }

  it('after one flag change made elsewhere, changesSince costs ≤ 5 RRU whatever the mailbox size (50 vs 400 messages); the change costs one log item (2 WRU)', async () => {
    const figures: Record<
      number,
      { listing: number; hinted: number; unhinted: number; flagWru: number; noChange: number; expungeWru: number; afterExpunge: number }
    > = {};
    for (const size of SIZES) {
      const mb = sized.get(size)!;
      const before = (await ix.mailboxState(alice, mb.id))!;
      const flag = await measured(() => ix.updateFlags(alice, mb.id, [Math.floor(size / 2)], 'add', ['\\Seen']));
      expect(flag.result).toHaveLength(1);
      // The NOOP of a session that knows (highestModseq, uidNext) from its last look.
      const hinted = await measured(() => ix.changesSince(alice, mb.id, before.highestModseq, { uidNext: before.uidNext }));
      expect(hinted.result!.changed.map((m) => [m.uid, m.flags])).toEqual([[Math.floor(size / 2), ['\\Seen']]]);
      // QRESYNC gives only a modseq: the appends' lower bound comes from the log (a checkpoint at most CHECKPOINT_EVERY back).
      const unhinted = await measured(() => ix.changesSince(alice, mb.id, before.highestModseq));
      expect(unhinted.result).toEqual(hinted.result);
      const noChange = await measured(() => ix.changesSince(alice, mb.id, hinted.result!.state.highestModseq, { uidNext: hinted.result!.state.uidNext }));
      expect(noChange.result).toMatchObject({ changed: [], expunged: [], complete: true });
      const expunge = await measured(() => ix.expunge(alice, mb.id, [size]));
      expect(expunge.result.expunged).toEqual([size]);
      const afterExpunge = await measured(() =>
        ix.changesSince(alice, mb.id, noChange.result!.state.highestModseq, { uidNext: noChange.result!.state.uidNext }),
      );
      expect(afterExpunge.result).toMatchObject({ changed: [], expunged: [size], complete: true });
      const listing = await measured(() => ix.listMessages(alice, mb.id));
      figures[size] = {
        listing: listing.rru,
        hinted: hinted.rru,
        unhinted: unhinted.rru,
        flagWru: flag.wru,
        noChange: noChange.rru,
        expungeWru: expunge.wru,
        afterExpunge: afterExpunge.rru,
      };
    }
    console.info(`changesSince cost (RRU; flag change WRU): ${JSON.stringify(figures)}`);
    for (const f of Object.values(figures)) {
      expect(f.hinted).toBeLessThanOrEqual(5);
      expect(f.noChange).toBeLessThanOrEqual(1);
      expect(f.afterExpunge).toBeLessThanOrEqual(2);
      // MBOX update + MSG update + the log item, each 1 KB or less, all in a transaction (2×).
      expect(f.flagWru).toBe(6);
    }
    expect(figures[400].hinted).toBe(figures[50].hinted);
    // Without the hint, fewer than CHECKPOINT_EVERY MSG items are read besides: a share of a full listing, not all of it.
    for (const size of SIZES) {
      const f = figures[size];
      expect(f.unhinted).toBeLessThanOrEqual(f.hinted + 2 + Math.ceil((f.listing * Math.min(size, CHECKPOINT_EVERY)) / size));
    }
    expect(figures[400].unhinted).toBeLessThan(figures[400].listing);
  });

  it('new messages from another session: changesSince reads only them (cost independent of the mailbox)', async () => {
    const costs: number[] = [];
    for (const size of SIZES) {
      const mb = sized.get(size)!;
      const before = (await ix.mailboxState(alice, mb.id))!;
      const r = await ix.appendMessage(alice, mb.id, message(size + 1));
      const c = await measured(() => ix.changesSince(alice, mb.id, before.highestModseq, { uidNext: before.uidNext }));
      expect(c.result!.changed.map((m) => m.uid)).toEqual([r.uid]);
      costs.push(c.rru);
    }
    expect(costs[0]).toBeLessThanOrEqual(3);
    expect(costs[1]).toBe(costs[0]);
  });

  it('trimming: the first pass raises the floor, a later pass deletes the entries below it', async () => {
    const short = new DynamoMailIndex({ client: clients.dynamo, table: refs.table, changeLogRetentionMs: 1000 });
    const mb = await seeded('Trim', 4);
    await ix.expunge(alice, mb.id, [1]);
    const changeItems = async () =>
      (
        await clients.dynamo.send(
          new QueryCommand({
            TableName: refs.table,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
            ExpressionAttributeValues: { ':pk': { S: keys.userPk(alice) }, ':p': { S: keys.changePrefix(mb.id) } },
            ConsistentRead: true,
          }),
        )
      ).Items ?? [];
    expect((await changeItems()).map((i) => [i.kind.S, i.uids.S])).toEqual([['X', '1']]);
    await sleep(1100);
    await short.updateFlags(alice, mb.id, [2], 'add', ['$A']);
    // Pass 1: the floor is raised; the entry stays for readers that read the old floor.
    expect((await changeItems()).map((i) => i.kind.S)).toEqual(['X', 'F']);
    expect(await ix.changesSince(alice, mb.id, 1)).toMatchObject({ complete: false });
    await sleep(150);
    await short.updateFlags(alice, mb.id, [3], 'add', ['$A']);
    // Pass 2: the entry below the floor is gone; the young ones stay.
    expect((await changeItems()).map((i) => [i.kind.S, i.uids.S])).toEqual([
      ['F', '2'],
      ['F', '3'],
    ]);
    // The floor is at most the first flag change (7): from there on the log is exact.
    const fromFloor = await ix.changesSince(alice, mb.id, 7);
    expect(fromFloor).toMatchObject({ complete: true, expunged: [] });
    expect(fromFloor!.changed.map((m) => m.uid)).toEqual([3]);
  });

  it('a mailbox from before the change log: complete: false until its first logged write, exact from there on', async () => {
    const mb = await seeded('Legacy', 3);
    // As older code left it: no log attributes on the MBOX item.
    await clients.dynamo.send(
      new UpdateItemCommand({
        TableName: refs.table,
        Key: { pk: { S: keys.userPk(alice) }, sk: { S: keys.mailboxSk(mb.id) } },
        UpdateExpression: 'REMOVE logFloor, floorUidNext',
      }),
    );
    const old = (await ix.mailboxState(alice, mb.id))!;
    await ix.appendMessage(alice, mb.id, message(4));
    expect(await ix.changesSince(alice, mb.id, old.highestModseq)).toMatchObject({ complete: false, changed: [], expunged: [] });
    const beforeFirst = (await ix.mailboxState(alice, mb.id))!;
    await ix.updateFlags(alice, mb.id, [1], 'add', ['\\Seen']);
    await ix.appendMessage(alice, mb.id, message(5));
    await ix.expunge(alice, mb.id, [2]);
    expect(await ix.changesSince(alice, mb.id, old.highestModseq)).toMatchObject({ complete: false });
    const c = await ix.changesSince(alice, mb.id, beforeFirst.highestModseq);
    expect(c).toMatchObject({ complete: true, expunged: [2] });
    expect(c!.changed.map((m) => m.uid)).toEqual([1, 5]);
  });
});
