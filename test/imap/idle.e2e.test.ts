/**
 * IDLE (RFC 2177): an idling session is told of messages appended by another session, by the
 * ingest path (index port + events), and — by polling — of changes made without any event
 * (another process or container); also of expunges and flag changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendToMailbox } from '#core/mailbox/writes.ts';
import { ADAPTER_KINDS } from '../support/mail-system.ts';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

describe.each(ADAPTER_KINDS)('IDLE (%s adapters)', (kind) => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem(kind, { limits: { idlePollMs: 300 } });
    await sys.deliver(sampleMessage('first'));
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('pushes EXISTS for appends from another session, from ingest, and from another process', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    await c.command('SELECT INBOX');
    c.write('I1 IDLE\r\n');
    expect(await c.line()).toBe('+ idling');

    const other = await RawImap.login(sys.port, sys.user, sys.password);
    const raw = sampleMessage('from another session');
    await other.command(`APPEND INBOX {${raw.length}+}\r\n${raw.toString()}`);
    expect(await c.line(3000)).toBe('* 2 EXISTS');
    expect(await c.line()).toBe('* 1 RECENT');

    // The ingest path: index port + events.notify (what the SMTP → ingest job does).
    await sys.deliver(sampleMessage('delivered'));
    expect(await c.line(3000)).toBe('* 3 EXISTS');
    await c.line();

    // No event at all (another process/container wrote to the index): found by polling.
    const t0 = Date.now();
    await appendToMailbox(sys.ts.adapters, sys.user, 'INBOX', sampleMessage('elsewhere'));
    expect(await c.line(3000)).toBe('* 4 EXISTS');
    expect(Date.now() - t0).toBeLessThan(2500);
    await c.line();

    // Flag changes and expunges by the other session.
    await other.command('SELECT INBOX');
    await other.command('STORE 1 +FLAGS (\\Flagged)');
    expect(await c.line(3000)).toBe('* 1 FETCH (UID 1 FLAGS (\\Flagged))');
    await other.command('STORE 2 +FLAGS.SILENT (\\Deleted)');
    await other.command('EXPUNGE');
    const lines = [await c.line(3000)];
    while (!lines.includes('* 2 EXPUNGE')) lines.push(await c.line(3000));
    expect(lines).toContain('* 2 EXPUNGE');

    c.write('DONE\r\n');
    expect(await c.line()).toBe('I1 OK IDLE terminated');
    expect((await c.command('FETCH 1:* (UID)')).untagged).toEqual(['* 1 FETCH (UID 1)', '* 2 FETCH (UID 3)', '* 3 FETCH (UID 4)']);
    other.close();
    c.close();
  });

  it('ends IDLE with BAD on anything but DONE, and allows IDLE without a selected mailbox', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    c.write('I2 IDLE\r\n');
    expect(await c.line()).toBe('+ idling');
    c.write('NOOP\r\n');
    expect(await c.line()).toMatch(/^I2 BAD Expected DONE/);
    expect((await c.command('NOOP')).tagged).toMatch(/OK/);
    c.close();
  });
});
