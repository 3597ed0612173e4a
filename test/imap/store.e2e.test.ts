/** STORE (RFC 9051 §6.4.6): modes, .SILENT, keywords announced in FLAGS, read-only refusal. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

describe('STORE', () => {
  let sys: ImapTestSystem;
  let c: RawImap;
  beforeAll(async () => {
    sys = await startImapSystem('local');
    for (let i = 0; i < 3; i++) await sys.deliver(sampleMessage(`m${i}`));
    c = await RawImap.login(sys.port, sys.user, sys.password);
    await c.command('SELECT INBOX');
  });
  afterAll(async () => {
    c?.close();
    await sys?.stop();
  });

  it('adds, removes and replaces flags, answering with the new flags of each message', async () => {
    expect((await c.command('STORE 1:2 +FLAGS (\\Seen \\flagged)')).untagged).toEqual([
      '* 1 FETCH (FLAGS (\\Seen \\Flagged))',
      '* 2 FETCH (FLAGS (\\Seen \\Flagged))',
    ]);
    expect((await c.command('STORE 2 -FLAGS \\Seen')).untagged).toEqual(['* 2 FETCH (FLAGS (\\Flagged))']);
    expect((await c.command('UID STORE 3 FLAGS (\\Draft)')).untagged).toEqual(['* 3 FETCH (UID 3 FLAGS (\\Draft))']);
    expect((await c.command('STORE 1:* FLAGS.SILENT ()')).untagged).toEqual([]);
    const m = await sys.ts.adapters.index.getMailbox(sys.user, 'INBOX');
    expect((await sys.ts.adapters.index.listMessages(sys.user, m!.id)).map((r) => r.flags)).toEqual([[], [], []]);
  });

  it('announces new keywords in FLAGS and PERMANENTFLAGS before using them', async () => {
    const r = await c.command('STORE 1 +FLAGS ($Work)');
    expect(r.untagged).toEqual([
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)',
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] Flags permitted',
      '* 1 FETCH (FLAGS ($Work))',
    ]);
    expect((await c.command('STORE 2 +FLAGS ($Work)')).untagged).toEqual(['* 2 FETCH (FLAGS ($Work))']);
  });

  it('refuses unknown system flags, ignores \\Recent, and refuses to write in EXAMINE', async () => {
    expect((await c.command('STORE 1 +FLAGS (\\Bogus)')).tagged).toMatch(/BAD/);
    expect((await c.command('STORE 1 FLAGS (\\Recent \\Seen)')).untagged[0]).toMatch(/^\* 1 FETCH \(FLAGS \(\\Seen( \\Recent)?\)\)$/);
    const ro = await RawImap.login(sys.port, sys.user, sys.password);
    const sel = await ro.command('EXAMINE INBOX');
    expect(sel.tagged).toMatch(/OK \[READ-ONLY\]/);
    expect(sel.untagged).toContain('* OK [PERMANENTFLAGS ()] Read-only mailbox');
    expect((await ro.command('STORE 1 +FLAGS (\\Deleted)')).tagged).toMatch(/NO \[READ-ONLY\]/);
    expect((await ro.command('EXPUNGE')).tagged).toMatch(/NO \[READ-ONLY\]/);
    ro.close();
  });
});
