/**
 * PARTIAL (RFC 9394): paged SEARCH and SORT results counted from the first or the last result,
 * their interplay with MIN, MAX, COUNT and SAVE (§3.2), the UID FETCH modifier (§3.3), bad
 * ranges; then imapflow, which sends RETURN (PARTIAL …) itself. The logic is above the
 * adapters (it pages the matches the search found), so the local adapters serve.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

describe('PARTIAL (RFC 9394), local adapters', () => {
  let sys: ImapTestSystem;
  let c: RawImap;
  beforeAll(async () => {
    sys = await startImapSystem('local');
    // A first message expunged, so that UIDs are sequence numbers + 1 (UID 2..11 = seq 1..10).
    await sys.deliver(sampleMessage('gone'), 'INBOX', ['\\Deleted']);
    // Subjects run backwards (seq 1 is "j", seq 10 is "a"); even sequence numbers are \Flagged.
    for (let i = 1; i <= 10; i++) await sys.deliver(sampleMessage(String.fromCharCode(0x6a - i + 1)), 'INBOX', i % 2 === 0 ? ['\\Flagged'] : []);
    c = await RawImap.login(sys.port, sys.user, sys.password);
    await c.command('SELECT INBOX');
    expect((await c.command('EXPUNGE')).tagged).toMatch(/ OK /);
  }, 60_000);
  afterAll(async () => {
    c?.close();
    await sys?.stop();
  });

  const one = async (cmd: string) => {
    const r = await c.command(cmd);
    expect(r.tagged, cmd).toMatch(/ OK /);
    expect(r.untagged, cmd).toHaveLength(1);
    return r.untagged[0].replace(/^\* ESEARCH \(TAG "T\d+"\) /, '');
  };

  it('RFC 9394 §3: advertises PARTIAL once authenticated', async () => {
    expect((await c.command('CAPABILITY')).untagged[0].split(' ')).toContain('PARTIAL');
  });

  it('RFC 9394 §3.1: PARTIAL m:n returns the m-th to n-th result in mailbox order, UIDs or sequence numbers', async () => {
    expect(await one('UID SEARCH RETURN (PARTIAL 1:3) ALL')).toBe('UID PARTIAL (1:3 2:4)');
    expect(await one('SEARCH RETURN (PARTIAL 1:3) ALL')).toBe('PARTIAL (1:3 1:3)');
    expect(await one('UID SEARCH RETURN (PARTIAL 2:3) FLAGGED')).toBe('UID PARTIAL (2:3 5,7)');
  });

  it('RFC 9394 §3.1: -1 is the last result; -1:-3 returns the last three', async () => {
    expect(await one('UID SEARCH RETURN (PARTIAL -1:-3) ALL')).toBe('UID PARTIAL (-1:-3 9:11)');
    expect(await one('SEARCH RETURN (PARTIAL -2:-2) FLAGGED')).toBe('PARTIAL (-2:-2 8)');
  });

  it('RFC 9394 §4: 500:400 is 400:500, and the range comes back as written', async () => {
    expect(await one('UID SEARCH RETURN (PARTIAL 5:3) ALL')).toBe('UID PARTIAL (5:3 4:6)');
    expect(await one('UID SEARCH RETURN (PARTIAL -3:-1) ALL')).toBe('UID PARTIAL (-3:-1 9:11)');
  });

  it('RFC 9394 §3.1: a range past the results returns those there are, or NIL when none', async () => {
    expect(await one('UID SEARCH RETURN (PARTIAL 8:20) ALL')).toBe('UID PARTIAL (8:20 9:11)');
    expect(await one('UID SEARCH RETURN (PARTIAL -4:-100) FLAGGED')).toBe('UID PARTIAL (-4:-100 3,5)');
    expect(await one('UID SEARCH RETURN (PARTIAL 24000:24500) ALL')).toBe('UID PARTIAL (24000:24500 NIL)');
    expect(await one('UID SEARCH RETURN (PARTIAL 1:5) SUBJECT nothing-like-this')).toBe('UID PARTIAL (1:5 NIL)');
  });

  it('RFC 9394 §3.2: MIN, MAX and COUNT are over all results, beside the page', async () => {
    expect(await one('UID SEARCH RETURN (COUNT PARTIAL 1:2 MIN MAX) FLAGGED')).toBe('UID MIN 3 MAX 11 COUNT 5 PARTIAL (1:2 3,5)');
  });

  it('RFC 9394 §3.2 (Table 1): SAVE with PARTIAL keeps the page, with MIN/MAX also those, with COUNT every match', async () => {
    const saved = async () => one('UID SEARCH RETURN (ALL) $');
    expect((await c.command('UID SEARCH RETURN (SAVE PARTIAL 2:3) ALL')).untagged).toEqual([expect.stringMatching(/UID PARTIAL \(2:3 3:4\)$/)]);
    expect(await saved()).toBe('UID ALL 3:4');
    await c.command('UID SEARCH RETURN (SAVE PARTIAL 2:3 MAX) ALL');
    expect(await saved()).toBe('UID ALL 3:4,11');
    await c.command('UID SEARCH RETURN (SAVE PARTIAL -1:-1 MIN MAX) FLAGGED');
    expect(await saved()).toBe('UID ALL 3,11');
    await c.command('UID SEARCH RETURN (SAVE PARTIAL 1:1 COUNT) FLAGGED');
    expect(await saved()).toBe('UID ALL 3,5,7,9,11');
  });

  it('RFC 9394 §3.1 with ESORT (RFC 5267 §3): PARTIAL pages the results in sort order', async () => {
    // SUBJECT order is the reverse of mailbox order.
    expect(await one('UID SORT RETURN (PARTIAL 1:3) (SUBJECT) UTF-8 ALL')).toBe('UID PARTIAL (1:3 11,10,9)');
    expect(await one('SORT RETURN (PARTIAL -1:-2 COUNT) (SUBJECT) UTF-8 FLAGGED')).toBe('COUNT 5 PARTIAL (-1:-2 4,2)');
    expect(await one('SORT RETURN (PARTIAL 6:9) (SUBJECT) UTF-8 FLAGGED')).toBe('PARTIAL (6:9 NIL)');
  });

  it('RFC 9394 §3.3: UID FETCH with the PARTIAL modifier answers only those positions of the set', async () => {
    const r = await c.command('UID FETCH 1:* (FLAGS) (PARTIAL -1:-3)');
    expect(r.tagged).toMatch(/ OK /);
    expect(r.untagged).toEqual(['* 8 FETCH (UID 9 FLAGS (\\Flagged))', '* 9 FETCH (UID 10 FLAGS ())', '* 10 FETCH (UID 11 FLAGS (\\Flagged))']);
    const r2 = await c.command('UID FETCH 4:8 (UID) (PARTIAL 2:3)');
    expect(r2.untagged).toEqual(['* 4 FETCH (UID 5)', '* 5 FETCH (UID 6)']);
    expect((await c.command('UID FETCH 1:* (UID) (PARTIAL 50:60)')).untagged).toEqual([]);
  });

  it('RFC 9394 §3.4: PARTIAL combines with CHANGEDSINCE (the page of the changed messages)', async () => {
    const before = await c.command('UID FETCH 11 (MODSEQ)');
    const modseq = Number(/MODSEQ \((\d+)\)/.exec(before.untagged[0])![1]);
    await c.command('UID STORE 3,5,7 +FLAGS.SILENT (\\Seen)');
    const r = await c.command(`UID FETCH 1:* (UID) (CHANGEDSINCE ${modseq} PARTIAL -1:-2)`);
    expect(r.untagged.map((l) => /UID (\d+)/.exec(l)![1])).toEqual(['5', '7']);
  });

  it('RFC 9394 §3.1, §4: bad PARTIAL forms get BAD and the session goes on', async () => {
    for (const cmd of [
      'SEARCH RETURN (PARTIAL) ALL',
      'SEARCH RETURN (PARTIAL 0:5) ALL',
      'SEARCH RETURN (PARTIAL 1:*) ALL',
      'SEARCH RETURN (PARTIAL -1:5) ALL',
      'SEARCH RETURN (PARTIAL 5) ALL',
      'SEARCH RETURN (PARTIAL "1:5") ALL',
      'SEARCH RETURN (PARTIAL 1:4294967296) ALL',
      'SEARCH RETURN (PARTIAL 1:5 ALL) ALL',
      'SEARCH RETURN (ALL PARTIAL 1:5) ALL',
      'SEARCH RETURN (PARTIAL 1:5 PARTIAL 6:9) ALL',
      'SEARCH RETURN (ALL ALL) ALL',
      'SORT RETURN (PARTIAL 1:5 ALL) (DATE) UTF-8 ALL',
      'UID FETCH 1:* (UID) (PARTIAL)',
      'UID FETCH 1:* (UID) (PARTIAL 0:1)',
      'UID FETCH 1:* (UID) (PARTIAL 1:2 PARTIAL 3:4)',
      'FETCH 1:* (UID) (PARTIAL 1:2)',
    ]) {
      expect((await c.command(cmd)).tagged, cmd).toMatch(/^T\d+ BAD /);
      // A good command between, so that the BADs are not "in a row" (the session would say BYE).
      expect(await one('UID SEARCH RETURN (PARTIAL 1:1) ALL')).toBe('UID PARTIAL (1:1 2)');
    }
  });

  it('imapflow pages a UID SEARCH with returnOptions [{ partial }] and COUNT (RFC 9394 §3.1)', async () => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: sys.port,
      secure: false,
      auth: { user: sys.user, pass: sys.password },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await client.connect();
    try {
      const lock = await client.getMailboxLock('INBOX');
      try {
        const last = (await client.search({ flagged: true }, { uid: true, returnOptions: [{ partial: '-1:-2' }, 'COUNT'] })) as any;
        expect(last).toEqual({ count: 5, partial: { range: '-1:-2', messages: '9,11' } });
        const none = (await client.search({ all: true }, { uid: true, returnOptions: [{ partial: '100:200' }] })) as any;
        expect(none.partial).toEqual({ range: '100:200', messages: '' });
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
  });
});
