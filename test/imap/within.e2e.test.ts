/** WITHIN (RFC 5032): the OLDER and YOUNGER search keys, relative to the internal date. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendToMailbox } from '#core/mailbox/writes.ts';
import { RawImap } from './support/raw-client.ts';
import { startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

describe('WITHIN', () => {
  let sys: ImapTestSystem;
  let c: RawImap;
  beforeAll(async () => {
    sys = await startImapSystem('local');
    const now = Date.now();
    // Two days, two hours and one minute old.
    for (const age of [2 * 86400, 2 * 3600, 60])
      await appendToMailbox(sys.ts.adapters, sys.user, 'INBOX', Buffer.from(`Subject: ${age}\r\n\r\nx\r\n`), { internalDate: now - age * 1000 });
    c = await RawImap.login(sys.port, sys.user, sys.password);
    await c.command('SELECT INBOX');
  });
  afterAll(async () => {
    c?.close();
    await sys?.stop();
  });

  const search = async (q: string) => {
    const r = await c.command(q);
    expect(r.tagged, q).toMatch(/ OK /);
    return r.untagged[0];
  };

  it('is advertised (RFC 5032 §2)', async () => {
    expect((await c.command('CAPABILITY')).untagged[0].split(' ')).toContain('WITHIN');
  });

  it('RFC 5032 §3: OLDER n matches internal dates more than n seconds ago, YOUNGER n those within n seconds', async () => {
    expect(await search('SEARCH OLDER 86400')).toBe('* SEARCH 1');
    expect(await search('SEARCH OLDER 3600')).toBe('* SEARCH 1 2');
    expect(await search('SEARCH YOUNGER 3600')).toBe('* SEARCH 3');
    expect(await search('SEARCH YOUNGER 86400')).toBe('* SEARCH 2 3');
    expect(await search('SEARCH OLDER 600 YOUNGER 86400')).toBe('* SEARCH 2');
    expect(await search('SEARCH NOT YOUNGER 3600')).toBe('* SEARCH 1 2');
    expect(await search('UID SEARCH RETURN (COUNT) OLDER 1')).toMatch(/ UID COUNT 3$/);
    expect(await search('SEARCH YOUNGER 1')).toBe('* SEARCH');
  });

  it('RFC 5032 §4: the interval is an nz-number; anything else is BAD', async () => {
    for (const q of ['SEARCH OLDER', 'SEARCH OLDER 0', 'SEARCH YOUNGER -5', 'SEARCH YOUNGER 1h']) expect((await c.command(q)).tagged, q).toMatch(/^T\d+ BAD /);
  });
});
