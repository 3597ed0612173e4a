/**
 * CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4): RETURN (UPDATE) contexts and their ADDTO /
 * REMOVEFROM updates when another session or this one changes flags, when mail arrives and when
 * messages are expunged, at NOOP, after any command and under IDLE; CANCELUPDATE; NOUPDATE when
 * refused; tag reuse; on the local and the aws adapters (emulator). Then Python imaplib, which
 * can send the commands (it has no CONTEXT API but keeps the ESEARCH responses it does not know).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { python } from '../support/clients.ts';
import type { BlobStore } from '#core/ports/blob-store.ts';
import { ADAPTER_KINDS, override, type AdapterKind } from '../support/mail-system.ts';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

/**
 * A running system with a second session `w`; setup() makes a mailbox of its own (six messages,
 * UIDs 2..7 = sequence numbers 1..6, subjects "f".."a", the first two flagged), selected by `w`
 * and by a new session `c`.
 */
function fixture(kind: AdapterKind) {
  const f = {
    sys: undefined as unknown as ImapTestSystem,
    w: undefined as unknown as RawImap,
    n: 0,
    async setup(): Promise<{ c: RawImap; box: string }> {
      const { sys, w } = f;
      const box = `ctx${++f.n}`;
      expect((await w.command(`CREATE ${box}`)).tagged).toMatch(/ OK /);
      await sys.deliver(sampleMessage('gone'), box, ['\\Deleted']);
      for (let i = 0; i < 6; i++) await sys.deliver(sampleMessage(String.fromCharCode(0x66 - i)), box, i < 2 ? ['\\Flagged'] : []);
      expect((await w.command(`SELECT ${box}`)).tagged).toMatch(/ OK /);
      expect((await w.command('EXPUNGE')).tagged).toMatch(/ OK /);
      const c = await RawImap.login(sys.port, sys.user, sys.password);
      expect((await c.command(`SELECT ${box}`)).tagged).toMatch(/ OK /);
      return { c, box };
    },
  };
  beforeAll(async () => {
    // The other sessions' changes reach the view through the index's change log, which each
    // adapter implements on its own.
    f.sys = await startImapSystem(kind);
    f.w = await RawImap.login(f.sys.port, f.sys.user, f.sys.password);
  }, 60_000);
  afterAll(async () => {
    f.w?.close();
    await f.sys?.stop();
  });
  return f;
}

describe.each(ADAPTER_KINDS)('CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4), %s adapters', (kind) => {
  const f = fixture(kind);

  const tagged = async (c: RawImap, tag: string, command: string) => {
    c.write(`${tag} ${command}\r\n`);
    return c.until(tag);
  };
  const esearch = (lines: string[]) => lines.filter((l) => l.startsWith('* ESEARCH'));
  const changeFlags = async (command: string) => expect((await f.w.command(command)).tagged).toMatch(/ OK /);

  it('RFC 5267 §4.1: advertises CONTEXT=SEARCH and CONTEXT=SORT (with ESORT and SORT) once authenticated', async () => {
    const caps = (await f.w.command('CAPABILITY')).untagged[0].split(' ');
    expect(caps).toEqual(expect.arrayContaining(['CONTEXT=SEARCH', 'CONTEXT=SORT', 'ESORT', 'SORT', 'ESEARCH']));
  });

  it('RFC 5267 §4.2: RETURN (CONTEXT COUNT) is a hint; the answer is the COUNT alone', async () => {
    const { c } = await f.setup();
    const r = await tagged(c, 'A01', 'SEARCH RETURN (CONTEXT COUNT) UNFLAGGED');
    expect(r.untagged).toEqual(['* ESEARCH (TAG "A01") COUNT 4']);
    expect(r.tagged).toMatch(/^A01 OK /);
    c.close();
  });

  it('RFC 5267 §4.3, §4.3.3, §4.3.4: flags changed by another session give ADDTO after the FETCH; by this session REMOVEFROM within STORE', async () => {
    const { c } = await f.setup();
    const r = await tagged(c, 'B01', 'UID SEARCH RETURN (UPDATE COUNT) FLAGGED');
    expect(r.untagged).toEqual(['* ESEARCH (TAG "B01") UID COUNT 2']);
    await changeFlags('UID STORE 4,5 +FLAGS (\\Flagged)');
    const noop = await c.command('NOOP');
    expect(noop.untagged).toEqual([
      expect.stringMatching(/^\* 3 FETCH \(UID 4 FLAGS \(\\Flagged/),
      expect.stringMatching(/^\* 4 FETCH \(UID 5 FLAGS \(\\Flagged/),
      '* ESEARCH (TAG "B01") UID ADDTO (0 4:5)',
    ]);
    // Only the ADDTO, not the (now changed) COUNT (§4.3.3).
    const store = await c.command('UID STORE 2 -FLAGS (\\Flagged)');
    expect(store.tagged).toMatch(/ OK /);
    expect(store.untagged).toEqual([expect.stringMatching(/^\* 1 FETCH \(/), '* ESEARCH (TAG "B01") UID REMOVEFROM (0 2)']);
    // A change that does not touch the result says nothing more.
    expect(esearch((await c.command('UID STORE 6 +FLAGS (\\Seen)')).untagged)).toEqual([]);
    c.close();
  });

  it('RFC 5267 §4.3.4, Appendix A.3: an expunge gives REMOVEFROM with the sequence number before the EXPUNGE', async () => {
    const { c } = await f.setup();
    expect((await tagged(c, 'C01', 'SEARCH RETURN (UPDATE) ALL')).untagged).toEqual(['* ESEARCH (TAG "C01") ALL 1:6']);
    await changeFlags('UID STORE 4 +FLAGS.SILENT (\\Deleted)');
    await changeFlags('EXPUNGE');
    const noop = await c.command('NOOP');
    const removal = noop.untagged.indexOf('* ESEARCH (TAG "C01") REMOVEFROM (0 3)');
    expect(removal).toBeGreaterThanOrEqual(0);
    expect(noop.untagged.indexOf('* 3 EXPUNGE')).toBeGreaterThan(removal);
    // This session's own EXPUNGE: the same order within its response.
    await c.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
    const own = await c.command('EXPUNGE');
    expect(own.untagged).toEqual(['* ESEARCH (TAG "C01") REMOVEFROM (0 1)', '* 1 EXPUNGE']);
    c.close();
  });

  it('RFC 5267 §4.3.3: new mail gives ADDTO after the EXISTS, so that its sequence number is valid', async () => {
    const { c, box } = await f.setup();
    expect((await tagged(c, 'D01', 'SEARCH RETURN (UPDATE MIN) UNFLAGGED')).untagged).toEqual(['* ESEARCH (TAG "D01") MIN 3']);
    await f.sys.deliver(sampleMessage('new'), box);
    const noop = await c.command('NOOP');
    const exists = noop.untagged.indexOf('* 7 EXISTS');
    expect(exists).toBeGreaterThanOrEqual(0);
    // UPDATE with MIN notifies about every change, not about the minimum (§4.3).
    expect(noop.untagged.indexOf('* ESEARCH (TAG "D01") ADDTO (0 7)')).toBeGreaterThan(exists);
    c.close();
  });

  it('RFC 5267 §4.3.2: updates reach a session in IDLE', async () => {
    const { c, box } = await f.setup();
    await tagged(c, 'E01', 'UID SEARCH RETURN (UPDATE) UNSEEN');
    c.write('E02 IDLE\r\n');
    expect(await c.line()).toMatch(/^\+ /);
    await f.sys.deliver(sampleMessage('pushed'), box);
    const lines: string[] = [];
    while (!lines.some((l) => l.startsWith('* ESEARCH'))) lines.push(await c.line());
    expect(lines).toContain('* 7 EXISTS');
    expect(lines[lines.length - 1]).toBe('* ESEARCH (TAG "E01") UID ADDTO (0 8)');
    await changeFlags('UID STORE 8 +FLAGS (\\Seen)');
    const more: string[] = [];
    while (!more.some((l) => l.startsWith('* ESEARCH'))) more.push(await c.line());
    expect(more[more.length - 1]).toBe('* ESEARCH (TAG "E01") UID REMOVEFROM (0 8)');
    c.write('DONE\r\n');
    expect((await c.until('E02')).tagged).toMatch(/^E02 OK /);
    c.close();
  });

  it('RFC 5267 §4.3.3, §4.3.4 with CONTEXT=SORT: ADDTO and REMOVEFROM carry positions in sort order', async () => {
    const { c, box } = await f.setup();
    // SUBJECT order: a (UID 7), b (6), c (5), d (4), e (3), f (2).
    const r = await tagged(c, 'F01', 'UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 UNSEEN');
    expect(r.untagged).toEqual(['* ESEARCH (TAG "F01") UID ALL 7,6,5,4,3,2']);
    await f.sys.deliver(sampleMessage('c2'), box);
    expect(esearch((await c.command('NOOP')).untagged)).toEqual(['* ESEARCH (TAG "F01") UID ADDTO (4 8)']);
    // Now a, b, c, c2, d, e, f; b and c (positions 2, 3) and f (7) are read elsewhere. The last
    // run comes first, so that each position is still right when the client applies it.
    await changeFlags('UID STORE 6,5,2 +FLAGS (\\Seen)');
    expect(esearch((await c.command('NOOP')).untagged)).toEqual(['* ESEARCH (TAG "F01") UID REMOVEFROM (7 2 2 6,5)']);
    // Now a, c2, d, e: "b" and "z" arrive (one per pair), then "a1" and "a2" (one pair, as 2731:2733 in §4.3.3).
    await f.sys.deliver(sampleMessage('b'), box);
    await f.sys.deliver(sampleMessage('z'), box);
    expect(esearch((await c.command('NOOP')).untagged)).toEqual(['* ESEARCH (TAG "F01") UID ADDTO (2 9 6 10)']);
    await f.sys.deliver(sampleMessage('a1'), box);
    await f.sys.deliver(sampleMessage('a2'), box);
    expect(esearch((await c.command('NOOP')).untagged)).toEqual(['* ESEARCH (TAG "F01") UID ADDTO (2 11:12)']);
    // What the client has built from the updates is what the search answers now.
    expect((await c.command('UID SORT RETURN (ALL) (SUBJECT) UTF-8 UNSEEN')).untagged[0]).toMatch(/ UID ALL 7,11:12,9,8,4,3,10$/);
    c.close();
  });

  it('RFC 5267 §4.3.3, §4.3.4 with SORT by sequence number: positions and numbers as the client holds them around an EXPUNGE', async () => {
    const { c, box } = await f.setup();
    expect((await tagged(c, 'M01', 'SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 ALL')).untagged).toEqual(['* ESEARCH (TAG "M01") ALL 6,5,4,3,2,1']);
    // UID 5 ("c", sequence number 4, third in sort order) is expunged elsewhere.
    await changeFlags('UID STORE 5 +FLAGS.SILENT (\\Deleted)');
    await changeFlags('EXPUNGE');
    expect((await c.command('NOOP')).untagged).toEqual(['* ESEARCH (TAG "M01") REMOVEFROM (3 4)', '* 4 EXPUNGE']);
    // "bb" arrives as sequence number 6 and sorts third: a, b, bb, d, e, f.
    await f.sys.deliver(sampleMessage('bb'), box);
    expect(esearch((await c.command('NOOP')).untagged)).toEqual(['* ESEARCH (TAG "M01") ADDTO (3 6)']);
    expect((await c.command('SORT RETURN (ALL) (SUBJECT) UTF-8 ALL')).untagged[0]).toMatch(/ ALL 5,4,6,3,2,1$/);
    c.close();
  });

  it('RFC 5267 §4.3.4 with QRESYNC (RFC 7162 §3.2.10): REMOVEFROM comes before the VANISHED', async () => {
    const { c, box } = await f.setup();
    c.close();
    const q = await RawImap.login(f.sys.port, f.sys.user, f.sys.password);
    expect((await q.command('ENABLE QRESYNC')).tagged).toMatch(/ OK /);
    expect((await q.command(`SELECT ${box}`)).tagged).toMatch(/ OK /);
    await tagged(q, 'K01', 'UID SEARCH RETURN (UPDATE) ALL');
    await changeFlags('UID STORE 3 +FLAGS.SILENT (\\Deleted)');
    await changeFlags('EXPUNGE');
    expect((await q.command('NOOP')).untagged).toEqual(['* ESEARCH (TAG "K01") UID REMOVEFROM (0 3)', '* VANISHED 3']);
    q.close();
  });

  it('RFC 5267 §4.3.5: CANCELUPDATE ends the updates; an unknown tag is NO, no tag is BAD', async () => {
    const { c } = await f.setup();
    await tagged(c, 'G01', 'UID SEARCH RETURN (UPDATE) FLAGGED');
    expect((await tagged(c, 'G02', 'CANCELUPDATE "G01"')).tagged).toMatch(/^G02 OK /);
    await changeFlags('UID STORE 4 +FLAGS (\\Flagged)');
    const noop = await c.command('NOOP');
    expect(noop.untagged.some((l) => / FETCH /.test(l))).toBe(true);
    expect(esearch(noop.untagged)).toEqual([]);
    expect((await c.command('CANCELUPDATE "G01"')).tagged).toMatch(/ NO /);
    expect((await c.command('CANCELUPDATE')).tagged).toMatch(/ BAD /);
    // Several tags at once.
    await tagged(c, 'G03', 'SEARCH RETURN (UPDATE) ALL');
    await tagged(c, 'G04', 'SORT RETURN (UPDATE) (DATE) UTF-8 ALL');
    expect((await c.command('CANCELUPDATE "G03" "G04"')).tagged).toMatch(/ OK /);
    await changeFlags('UID STORE 4 +FLAGS.SILENT (\\Deleted)');
    await changeFlags('EXPUNGE');
    expect(esearch((await c.command('NOOP')).untagged)).toEqual([]);
    c.close();
    const fresh = await RawImap.login(f.sys.port, f.sys.user, f.sys.password);
    expect((await fresh.command('CANCELUPDATE "G01"')).tagged).toMatch(/ BAD /);
    fresh.close();
  });

  it('RFC 5267 §4.3: UPDATE under the tag of a live context is BAD and has no effect', async () => {
    const { c } = await f.setup();
    await tagged(c, 'B01', 'UID SEARCH RETURN (UPDATE COUNT) DELETED KEYWORD $Junk');
    const reuse = await tagged(c, 'B01', 'SORT RETURN (UPDATE) (DATE) UTF-8 FLAGGED');
    expect(reuse.tagged).toMatch(/^B01 BAD /);
    expect(reuse.untagged).toEqual([]);
    expect((await tagged(c, 'B02', 'CANCELUPDATE "B01"')).tagged).toMatch(/^B02 OK /);
    expect((await tagged(c, 'B01', 'SORT RETURN (UPDATE) (DATE) UTF-8 FLAGGED')).untagged).toEqual(['* ESEARCH (TAG "B01") ALL 1:2']);
    c.close();
  });

  it('RFC 5267 §4.3.1: beyond 8 SEARCH and 4 SORT contexts the server answers NO [NOUPDATE "tag"], other results still given', async () => {
    const { c } = await f.setup();
    for (let i = 1; i <= 8; i++) expect(esearch((await tagged(c, `L${i}`, 'SEARCH RETURN (UPDATE COUNT) ALL')).untagged)).toHaveLength(1);
    const refused = await tagged(c, 'L9', 'SEARCH RETURN (UPDATE COUNT) ALL');
    expect(refused.untagged).toEqual(['* ESEARCH (TAG "L9") COUNT 6', expect.stringMatching(/^\* NO \[NOUPDATE "L9"\] /)]);
    expect(refused.tagged).toMatch(/^L9 OK /);
    // SORT contexts are counted apart (refusing one kind does not imply the other, §4.3.1).
    for (let i = 1; i <= 4; i++) expect((await tagged(c, `S${i}`, 'SORT RETURN (UPDATE COUNT) (DATE) UTF-8 ALL')).untagged).toHaveLength(1);
    const sortRefused = await tagged(c, 'S5', 'UID SORT RETURN (UPDATE COUNT) (DATE) UTF-8 KEYWORD $Junk');
    expect(sortRefused.untagged).toEqual(['* ESEARCH (TAG "S5") UID COUNT 0', expect.stringMatching(/^\* NO \[NOUPDATE "S5"\] /)]);
    // After a CANCELUPDATE there is room again; L9 was refused, so its tag is free.
    await c.command('CANCELUPDATE "L1"');
    expect((await tagged(c, 'L9', 'SEARCH RETURN (UPDATE COUNT) ALL')).untagged).toEqual(['* ESEARCH (TAG "L9") COUNT 6']);
    // The refused L9 never updated, the accepted ones do.
    await changeFlags('UID STORE 2 +FLAGS.SILENT (\\Deleted)');
    await changeFlags('EXPUNGE');
    const noop = await c.command('NOOP');
    expect(
      esearch(noop.untagged)
        .map((l) => /TAG "(\w+)"/.exec(l)![1])
        .sort(),
    ).toEqual(['L2', 'L3', 'L4', 'L5', 'L6', 'L7', 'L8', 'L9', 'S1', 'S2', 'S3', 'S4']);
    c.close();
  });

  it('RFC 5267 §4.3.1 with RFC 5032: OLDER/YOUNGER searches change with the clock, so UPDATE is refused', async () => {
    const { c } = await f.setup();
    const r = await tagged(c, 'W01', 'SEARCH RETURN (UPDATE COUNT) YOUNGER 3600');
    expect(r.untagged).toEqual(['* ESEARCH (TAG "W01") COUNT 6', expect.stringMatching(/^\* NO \[NOUPDATE "W01"\] /)]);
    expect(r.tagged).toMatch(/^W01 OK /);
    c.close();
  });

  it('RFC 5267 §4.3: updates cease when the mailbox is no longer selected', async () => {
    const { c, box } = await f.setup();
    await tagged(c, 'H01', 'SEARCH RETURN (UPDATE) ALL');
    expect((await c.command(`SELECT ${box}`)).tagged).toMatch(/ OK /);
    await f.sys.deliver(sampleMessage('after'), box);
    const noop = await c.command('NOOP');
    expect(noop.untagged).toContain('* 7 EXISTS');
    expect(esearch(noop.untagged)).toEqual([]);
    // The tag is free again.
    expect((await tagged(c, 'H01', 'SEARCH RETURN (UPDATE COUNT) ALL')).untagged).toEqual(['* ESEARCH (TAG "H01") COUNT 7']);
    c.close();
  });

  it('RFC 5267 §4.3: sequence numbers in the program mean the messages they meant when the command ran', async () => {
    const { c, box } = await f.setup();
    expect((await tagged(c, 'I01', 'UID SEARCH RETURN (UPDATE) 5:* UNFLAGGED')).untagged).toEqual(['* ESEARCH (TAG "I01") UID ALL 6:7']);
    // A new message is not "5:*" of then; a message of then that leaves the result is told.
    await f.sys.deliver(sampleMessage('new'), box);
    expect(esearch((await c.command('NOOP')).untagged)).toEqual([]);
    await changeFlags('UID STORE 6 +FLAGS (\\Flagged)');
    expect(esearch((await c.command('NOOP')).untagged)).toEqual(['* ESEARCH (TAG "I01") UID REMOVEFROM (0 6)']);
    // Numbers past the last message select nothing, as in the search itself (no BAD after the answer).
    const past = await tagged(c, 'I02', 'SEARCH RETURN (UPDATE) 6:100');
    expect(past.untagged).toEqual(['* ESEARCH (TAG "I02") ALL 6:7']);
    expect(past.tagged).toMatch(/^I02 OK /);
    c.close();
  });

  it('RFC 9394 §3.1 (RFC 5267 §4.4): PARTIAL with UPDATE notifies about every matching message, not only the page', async () => {
    const { c, box } = await f.setup();
    expect((await tagged(c, 'J01', 'UID SEARCH RETURN (PARTIAL 1:1 UPDATE) ALL')).untagged).toEqual(['* ESEARCH (TAG "J01") UID PARTIAL (1:1 2)']);
    await f.sys.deliver(sampleMessage('late'), box);
    expect(esearch((await c.command('NOOP')).untagged)).toEqual(['* ESEARCH (TAG "J01") UID ADDTO (0 8)']);
    c.close();
  });

  it('RFC 5267 §5: bad UPDATE and CANCELUPDATE syntax gets BAD and the session goes on', async () => {
    const { c } = await f.setup();
    for (const cmd of ['SEARCH RETURN (UPDATE UPDATE) ALL', 'SEARCH RETURN (CONTEXT CONTEXT) ALL', 'CANCELUPDATE ()', 'CANCELUPDATE "a" ""']) {
      expect((await c.command(cmd)).tagged, cmd).toMatch(/^T\d+ BAD /);
      expect((await c.command('NOOP')).tagged).toMatch(/ OK /);
    }
    c.close();
  });
});

describe('CONTEXT=SEARCH with a real client (local adapters)', () => {
  const f = fixture('local');

  it('Python imaplib sends UID SEARCH RETURN (UPDATE COUNT) and CANCELUPDATE and receives the ESEARCH updates at NOOP', async () => {
    const { c, box } = await f.setup();
    c.close();
    const script = `
import imaplib, json, re, sys
port, user, password, box = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
M = imaplib.IMAP4('127.0.0.1', port)
M.login(user, password)
W = imaplib.IMAP4('127.0.0.1', port)
W.login(user, password)
out = {'caps': M.capability()[1][0].decode().split()}
M.select(box)
W.select(box)
M.uid('SEARCH', 'RETURN', '(UPDATE COUNT)', 'FLAGGED')
out['created'] = [x.decode() for x in M.response('ESEARCH')[1]]
tag = re.search(r'TAG "([^"]+)"', out['created'][0]).group(1)
W.uid('STORE', '4', '+FLAGS', '(\\\\Flagged)')
M.noop()
out['update'] = [x.decode() for x in M.response('ESEARCH')[1]]
imaplib.Commands['CANCELUPDATE'] = ('SELECTED',)
out['cancel'] = M._simple_command('CANCELUPDATE', '"%s"' % tag)[0]
W.uid('STORE', '5', '+FLAGS', '(\\\\Flagged)')
M.noop()
out['after'] = M.response('ESEARCH')[1]
M.logout()
W.logout()
print(json.dumps({**out, 'tag': tag, 'after': [x if x is None else x.decode() for x in out['after']]}))
`;
    const r = await python(script, [String(f.sys.port), f.sys.user, f.sys.password, box]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.caps).toEqual(expect.arrayContaining(['CONTEXT=SEARCH', 'CONTEXT=SORT']));
    expect(out.created).toEqual([`(TAG "${out.tag}") UID COUNT 2`]);
    expect(out.update).toEqual([`(TAG "${out.tag}") UID ADDTO (0 4)`]);
    expect(out.cancel).toBe('OK');
    expect(out.after).toEqual([null]);
  });
});

describe('CONTEXT=SEARCH when a blob cannot be read (local adapters)', () => {
  let failing = false;
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem('local', {
      wrapAdapters: (a) =>
        override(a, {
          blobs: override<BlobStore>(a.blobs, {
            get: (key: string) => (failing ? Promise.reject(new Error('blob store unavailable')) : a.blobs.get(key)),
          }),
        }),
    });
    for (let i = 0; i < 3; i++) await sys.deliver(sampleMessage(`m${i}`, 'the needle is here\r\n'));
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('RFC 5267 §4.3 with RFC 9051 §7.1: a message of a BODY context whose blob fails at the re-check keeps its place (no REMOVEFROM)', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    const w = await RawImap.login(sys.port, sys.user, sys.password);
    try {
      await c.command('SELECT INBOX');
      await w.command('SELECT INBOX');
      c.write('U01 UID SEARCH RETURN (UPDATE ALL) BODY needle\r\n');
      expect((await c.until('U01')).untagged).toEqual(['* ESEARCH (TAG "U01") UID ALL 1:3']);
      failing = true;
      expect((await w.command('UID STORE 2 +FLAGS (\\Seen)')).tagged).toMatch(/ OK /);
      const noop = await c.command('NOOP');
      expect(noop.untagged).toEqual([expect.stringMatching(/^\* NO \[UNAVAILABLE\] message 2 /), expect.stringMatching(/^\* 2 FETCH \(UID 2 FLAGS \(\\Seen/)]);
      failing = false;
      // Readable again: the message still matches, so nothing is to be told; a real change is.
      expect((await w.command('UID STORE 2 +FLAGS ($seen2)')).tagged).toMatch(/ OK /);
      expect((await c.command('NOOP')).untagged.filter((l) => l.startsWith('* ESEARCH'))).toEqual([]);
      await sys.deliver(sampleMessage('m3', 'no such word\r\n'));
      await sys.deliver(sampleMessage('m4', 'a needle again\r\n'));
      expect((await c.command('NOOP')).untagged.filter((l) => l.startsWith('* ESEARCH'))).toEqual(['* ESEARCH (TAG "U01") UID ADDTO (0 5)']);
    } finally {
      failing = false;
      c.close();
      w.close();
    }
  });
});
