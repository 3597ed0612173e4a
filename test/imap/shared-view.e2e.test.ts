/**
 * The process's packed mailbox views (issue 15, fargate-listeners/src/imap/session/
 * mailbox-views.ts): a SELECT after the first one in the process starts from the process's
 * snapshot and reads only the change log since it — never a listing of the mailbox — and
 * sessions that share a snapshot still keep their own message sequence numbers until each may
 * be told of an expunge (RFC 9051 §7.5.1, §5.5). Counted at the MailIndex port, both adapter sets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import { ADAPTER_KINDS } from '../support/mail-system.ts';
import { countingIndexReads } from './support/index-reads.ts';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

const MESSAGES = 40;

describe.each(ADAPTER_KINDS)('shared mailbox views (%s adapters)', (kind) => {
  const calls = { fullLists: 0, changesSince: 0 };
  let sys: ImapTestSystem;
  const open: RawImap[] = [];

  const counting = (ad: Adapters) => countingIndexReads(ad, calls);

  async function login(): Promise<RawImap> {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    open.push(c);
    return c;
  }

  beforeAll(async () => {
    sys = await startImapSystem(kind, { wrapAdapters: counting });
    await sys.ts.adapters.index.createMailbox(sys.user, 'Shared', {});
    for (let i = 0; i < MESSAGES; i++) await sys.deliver(sampleMessage(`shared ${i}`), 'Shared', i % 2 === 0 ? ['\\Seen'] : []);
  }, 120_000);
  afterAll(async () => {
    for (const c of open) c.close();
    await sys?.stop();
  });

  it('a SELECT after the first in the process reads the change log since the process looked, not the mailbox', async () => {
    const a = await login();
    calls.fullLists = 0;
    await a.command('SELECT Shared');
    // Changes made after the process's snapshot was taken: a flag, a new message, an expunge.
    await a.command('UID STORE 5 +FLAGS (\\Flagged)');
    await sys.deliver(sampleMessage('shared new'), 'Shared');
    await a.command('UID STORE 2 +FLAGS (\\Deleted)');
    await a.command('UID EXPUNGE 2');
    const listsBefore = calls.fullLists;
    const changesBefore = calls.changesSince;
    const b = await login();
    const sel = await b.command('SELECT Shared');
    expect(calls.fullLists).toBe(listsBefore);
    expect(calls.changesSince - changesBefore).toBeLessThanOrEqual(1);
    expect(sel.untagged).toContain(`* ${MESSAGES} EXISTS`);
    // What it told is what the index holds now.
    const fetched = (await b.command('UID FETCH 1:* (FLAGS)')).untagged;
    expect(fetched).toHaveLength(MESSAGES);
    expect(fetched[0]).toBe('* 1 FETCH (UID 1 FLAGS (\\Seen))');
    expect(fetched[1]).toBe('* 2 FETCH (UID 3 FLAGS (\\Seen))');
    expect(fetched[3]).toMatch(/^\* 4 FETCH \(UID 5 FLAGS \((\\Seen \\Flagged|\\Flagged \\Seen)\)\)$/);
    expect(fetched[MESSAGES - 1]).toBe(`* ${MESSAGES} FETCH (UID ${MESSAGES + 1} FLAGS ())`);
    expect(sel.tagged).toMatch(/ OK \[READ-WRITE\]/);
  });

  it('sessions on one snapshot keep their own sequence numbers until each may hear the EXPUNGE (RFC 9051 §7.5.1)', async () => {
    const a = await login();
    const b = await login();
    await a.command('SELECT Shared');
    await b.command('SELECT Shared');
    const before = (await a.command('FETCH 3 (UID)')).untagged;
    const uid3 = Number(/UID (\d+)/.exec(before[0])![1]);
    // b expunges the third message; a is told only at a command that allows it.
    await b.command(`UID STORE ${uid3} +FLAGS (\\Deleted)`);
    const exp = await b.command(`UID EXPUNGE ${uid3}`);
    expect(exp.untagged).toContain('* 3 EXPUNGE');
    // FETCH may not tell an EXPUNGE: a's message 3 is still the expunged one.
    const during = await a.command('FETCH 3 (UID FLAGS)');
    expect(during.untagged.some((l) => l.startsWith(`* 3 FETCH (UID ${uid3} `))).toBe(true);
    expect(during.untagged.some((l) => /EXPUNGE/.test(l))).toBe(false);
    // A third session selecting now starts from the process's snapshot: without the message.
    const c = await login();
    const selC = await c.command('SELECT Shared');
    expect(selC.untagged).toContain(`* ${MESSAGES - 1} EXISTS`);
    expect((await c.command('FETCH 3 (UID)')).untagged[0]).not.toContain(`UID ${uid3})`);
    // a hears of it at NOOP, then its numbers match the others'.
    const noop = await a.command('NOOP');
    expect(noop.untagged).toContain('* 3 EXPUNGE');
    const after = (await a.command('FETCH 3 (UID)')).untagged[0];
    expect(after).toBe((await c.command('FETCH 3 (UID)')).untagged[0]);
    expect(after).toBe((await b.command('FETCH 3 (UID)')).untagged[0]);
  });

  it('a flag change one session makes is told to another session sharing its view (copy on write, RFC 9051 §7.5.1)', async () => {
    const a = await login();
    const b = await login();
    await a.command('SELECT Shared');
    await b.command('SELECT Shared');
    await a.command('STORE 1 +FLAGS (\\Answered)');
    // Had a's write landed in the shared arrays, b's view would already hold it and b would never be told.
    const told = (await b.command('NOOP')).untagged.filter((l) => l.startsWith('* 1 FETCH'));
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(/FLAGS \([^)]*\\Answered/);
    await a.command('STORE 1 -FLAGS (\\Answered)');
    const again = (await b.command('NOOP')).untagged.filter((l) => l.startsWith('* 1 FETCH'));
    expect(again).toHaveLength(1);
    expect(again[0]).not.toContain('\\Answered');
  });
});
