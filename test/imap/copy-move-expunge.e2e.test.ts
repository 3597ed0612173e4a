/**
 * COPY (COPYUID), MOVE (RFC 6851), EXPUNGE, UID EXPUNGE (RFC 4315), CLOSE, UNSELECT, and
 * blob cleanup after expunge (orphaned blobs are deleted, shared ones kept).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

describe('COPY, MOVE, EXPUNGE', () => {
  let sys: ImapTestSystem;
  let c: RawImap;
  beforeAll(async () => {
    sys = await startImapSystem('local');
    for (let i = 1; i <= 6; i++) await sys.deliver(sampleMessage(`m${i}`));
    c = await RawImap.login(sys.port, sys.user, sys.password);
    await c.command('SELECT INBOX');
  });
  afterAll(async () => {
    c?.close();
    await sys?.stop();
  });

  const blobOf = async (mailbox: string, uid: number) => {
    const mb = await sys.ts.adapters.index.getMailbox(sys.user, mailbox);
    return (await sys.ts.adapters.index.getMessages(sys.user, mb!.id, [uid]))[0].blobKey;
  };

  it('COPY answers COPYUID; a missing target is NO [TRYCREATE]', async () => {
    expect((await c.command('COPY 2:3 Archive')).tagged).toMatch(/OK \[COPYUID \d+ 2:3 1:2\] COPY completed/);
    expect((await c.command('UID COPY 5,1 Archive')).tagged).toMatch(/OK \[COPYUID \d+ 1,5 3:4\]/);
    expect((await c.command('COPY 1 Nowhere')).tagged).toMatch(/NO \[TRYCREATE\]/);
    expect((await c.command('UID COPY 99 Archive')).tagged).toMatch(/OK UID COPY completed/);
    expect(await sys.uids('Archive')).toEqual([1, 2, 3, 4]);
  });

  it('MOVE sends COPYUID, then EXPUNGE for each moved message, then OK', async () => {
    const r = await c.command('MOVE 2:3 Trash');
    expect(r.untagged).toEqual([expect.stringMatching(/^\* OK \[COPYUID \d+ 2:3 1:2\]/), '* 3 EXPUNGE', '* 2 EXPUNGE']);
    expect(r.tagged).toMatch(/OK MOVE completed/);
    expect(await sys.uids('INBOX')).toEqual([1, 4, 5, 6]);
    const u = await c.command('UID MOVE 6 Trash');
    expect(u.untagged).toEqual([expect.stringMatching(/COPYUID \d+ 6 3\]/), '* 4 EXPUNGE']);
  });

  it('EXPUNGE removes \\Deleted messages with EXPUNGE responses in an order that keeps numbers valid', async () => {
    // View: seq 1..3 = uid 1, 4, 5.
    await c.command('STORE 1,3 +FLAGS.SILENT (\\Deleted)');
    const shared = await blobOf('INBOX', 1); // also in Archive (copied)
    const own = await blobOf('INBOX', 5); // referenced only here
    const r = await c.command('EXPUNGE');
    expect(r.untagged).toEqual(['* 3 EXPUNGE', '* 1 EXPUNGE']);
    expect(await sys.uids('INBOX')).toEqual([4]);
    expect(await sys.ts.adapters.blobs.exists(shared)).toBe(true);
    expect(await sys.ts.adapters.blobs.exists(own)).toBe(true); // copied to Archive as uid 4
  });

  it('UID EXPUNGE removes only the given \\Deleted UIDs; orphaned blobs are deleted', async () => {
    await sys.deliver(sampleMessage('x1'));
    await sys.deliver(sampleMessage('x2'));
    expect((await c.command('NOOP')).untagged).toContain('* 3 EXISTS');
    await c.command('STORE 1:* +FLAGS.SILENT (\\Deleted)');
    const x1 = await blobOf('INBOX', 7);
    const r = await c.command('UID EXPUNGE 7');
    expect(r.untagged).toEqual(['* 2 EXPUNGE']);
    expect(await sys.uids('INBOX')).toEqual([4, 8]);
    expect(await sys.ts.adapters.blobs.exists(x1)).toBe(false);
  });

  it('CLOSE expunges silently; UNSELECT does not', async () => {
    await c.command('SELECT INBOX');
    const u = await c.command('UNSELECT');
    expect(u.untagged).toEqual([]);
    expect(await sys.uids('INBOX')).toEqual([4, 8]);
    await c.command('SELECT INBOX');
    const r = await c.command('CLOSE');
    expect(r.untagged).toEqual([]);
    expect(r.tagged).toMatch(/OK/);
    expect(await sys.uids('INBOX')).toEqual([]);
    expect((await c.command('FETCH 1 FLAGS')).tagged).toMatch(/BAD/);
  });

  it('APPEND to the selected mailbox is announced with EXISTS before the tagged OK', async () => {
    await c.command('SELECT INBOX');
    const raw = sampleMessage('appended');
    const r = await c.command(`APPEND INBOX (\\Seen) {${raw.length}+}\r\n${raw.toString()}`);
    expect(r.untagged).toEqual(['* 1 EXISTS', '* 1 RECENT']);
    expect(r.tagged).toMatch(/OK \[APPENDUID \d+ 9\]/);
    expect((await c.command('APPEND Nowhere {1+}\r\nx')).tagged).toMatch(/NO \[TRYCREATE\]/);
    expect((await c.command('FETCH 1 FLAGS')).untagged).toEqual(['* 1 FETCH (FLAGS (\\Seen \\Recent))']);
  });
});

describe('COPY/MOVE of messages another session expunged', () => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem('local');
    for (let i = 1; i <= 4; i++) await sys.deliver(sampleMessage(`x${i}`));
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('answers NO [EXPUNGEISSUED] and copies or moves nothing (RFC 9051 §7.1, RFC 5530)', async () => {
    const a = await RawImap.login(sys.port, sys.user, sys.password);
    const b = await RawImap.login(sys.port, sys.user, sys.password);
    await a.command('SELECT INBOX');
    await b.command('SELECT INBOX');
    expect((await b.command('STORE 2 +FLAGS.SILENT (\\Deleted)')).tagged).toMatch(/OK/);
    expect((await b.command('EXPUNGE')).untagged).toEqual(['* 2 EXPUNGE']);
    // A still numbers UID 2 as message 2 (it has not been told: RFC 9051 §7.5.1).
    const copy = await a.command('COPY 1:3 Archive');
    expect(copy.tagged).toMatch(/NO \[EXPUNGEISSUED\]/);
    expect(await sys.uids('Archive')).toEqual([]);
    // The EXPUNGE may follow once the command is done (RFC 3501 §7.4.1); A's view is [1, 3, 4].
    expect(copy.untagged).toEqual(['* 2 EXPUNGE']);
    expect((await b.command('STORE 2 +FLAGS.SILENT (\\Deleted)')).tagged).toMatch(/OK/);
    expect((await b.command('EXPUNGE')).untagged).toEqual(['* 2 EXPUNGE']);
    const move = await a.command('MOVE 1:2 Trash');
    expect(move.tagged).toMatch(/NO \[EXPUNGEISSUED\]/);
    expect(move.untagged.some((l) => l.startsWith('* OK [COPYUID'))).toBe(false);
    expect(await sys.uids('Trash')).toEqual([]);
    expect(await sys.uids('INBOX')).toEqual([1, 4]);
    // Messages that still exist are copied as usual.
    expect((await a.command('COPY 2 Archive')).tagged).toMatch(/OK \[COPYUID \d+ 4 1\]/);
    // A UID COPY naming a vanished UID ignores it (RFC 9051 §6.4.9).
    expect((await a.command('UID COPY 2 Archive')).tagged).toMatch(/OK UID COPY completed/);
    a.close();
    b.close();
  });
});
