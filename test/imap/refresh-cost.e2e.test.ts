/**
 * What a selected session pays to hear of another session's change (issue 11 item 1): NOOP,
 * IDLE and every command's refresh read the index's change log since the last known
 * mod-sequence (selected-mailbox.ts), never a listing of the whole mailbox. Counted at the
 * MailIndex port on both adapter sets, and in DynamoDB read units on the emulator
 * (bench/aws-meter.ts at the SDK middleware).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import { setAwsClientHook } from '#core/adapters/aws/clients.ts';
import { AwsMeter, totals } from '../../bench/aws-meter.ts';
import { emulatorClientConfig } from '../support/emulator.ts';
import { ADAPTER_KINDS } from '../support/mail-system.ts';
import { countingIndexReads } from './support/index-reads.ts';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

const MESSAGES = 150;

describe.each(ADAPTER_KINDS)('refresh after a change made elsewhere (%s adapters)', (kind) => {
  const calls = { fullLists: 0, changesSince: 0 };
  const meter = new AwsMeter();
  let sys: ImapTestSystem;
  let a: RawImap;
  let b: RawImap;

  const counting = (ad: Adapters) => countingIndexReads(ad, calls);

  beforeAll(async () => {
    if (kind === 'aws') {
      meter.connect(emulatorClientConfig(inject('awsEndpoint')));
      meter.enabled = false;
      setAwsClientHook(meter.hook);
    }
    sys = await startImapSystem(kind, { wrapAdapters: counting });
    await sys.ts.adapters.index.createMailbox(sys.user, 'Big', {});
    for (let i = 0; i < MESSAGES; i++) await sys.deliver(sampleMessage(`big ${i}`), 'Big');
    a = await RawImap.login(sys.port, sys.user, sys.password);
    b = await RawImap.login(sys.port, sys.user, sys.password);
    await a.command('SELECT Big');
    await b.command('SELECT Big');
  }, 120_000);
  afterAll(async () => {
    a?.close();
    b?.close();
    setAwsClientHook(undefined);
    await sys?.stop();
  });

  /** Runs `change` in session B, then `look` in A, counting what A's refresh cost. */
  async function costOf(change: () => Promise<unknown>, look: () => Promise<string[]>): Promise<{ seen: string[]; rru: number }> {
    await change();
    calls.fullLists = 0;
    calls.changesSince = 0;
    meter.reset();
    meter.enabled = true;
    const seen = await look();
    const rru = totals(await meter.snapshot()).rru;
    meter.enabled = false;
    return { seen, rru };
  }

  it('NOOP after another session changed one flag reads the change log, not the mailbox', async () => {
    const { seen, rru } = await costOf(
      () => b.command('UID STORE 100 +FLAGS (\\Flagged)'),
      async () => (await a.command('NOOP')).untagged,
    );
    expect(seen).toEqual(['* 100 FETCH (UID 100 FLAGS (\\Flagged))']);
    expect(calls).toEqual({ fullLists: 0, changesSince: 1 });
    // Issue 11's goal: ≤ 5 RRU where the re-listing cost hundreds (10,000 messages: 371).
    if (kind === 'aws') expect(rru).toBeLessThanOrEqual(5);
  });

  it('a new message and an expunge elsewhere are told without listing the mailbox', async () => {
    const delivered = await costOf(
      () => sys.deliver(sampleMessage('one more'), 'Big'),
      async () => (await a.command('NOOP')).untagged,
    );
    expect(delivered.seen).toEqual([`* ${MESSAGES + 1} EXISTS`, '* 1 RECENT']);
    expect(calls).toEqual({ fullLists: 0, changesSince: 1 });
    if (kind === 'aws') expect(delivered.rru).toBeLessThanOrEqual(5);
    const expunged = await costOf(
      async () => {
        await b.command('UID STORE 7 +FLAGS.SILENT (\\Deleted)');
        await b.command('EXPUNGE');
      },
      async () => (await a.command('NOOP')).untagged,
    );
    expect(expunged.seen).toEqual(['* 7 EXPUNGE']);
    expect(calls).toEqual({ fullLists: 0, changesSince: 1 });
    if (kind === 'aws') expect(expunged.rru).toBeLessThanOrEqual(5);
  });

  it('an idle session hears of a flag change through the change log', async () => {
    a.write('I1 IDLE\r\n');
    expect(await a.line()).toMatch(/^\+ /);
    calls.fullLists = 0;
    calls.changesSince = 0;
    await b.command('UID STORE 50 +FLAGS (\\Answered)');
    expect(await a.line(5000)).toBe('* 49 FETCH (UID 50 FLAGS (\\Answered))');
    a.write('DONE\r\n');
    expect(await a.line()).toMatch(/^I1 OK/);
    expect(calls.fullLists).toBe(0);
    expect(calls.changesSince).toBeGreaterThanOrEqual(1);
  });
});
