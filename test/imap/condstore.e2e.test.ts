/**
 * CONDSTORE (RFC 7162 §3.1) on raw sessions: every response form, checked against the index
 * (the mod-sequences a client hears are the ones stored), and bad input refused with BAD and
 * nothing changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import type { MailIndex, MessageRecord } from '#core/ports/mail-index.ts';
import { override } from '../support/mail-system.ts';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

/** Another writer's change run just before the session's own flag write (after its refresh). */
let beforeOwnUpdate: (() => Promise<void>) | null = null;

function racing(a: Adapters): Adapters {
  const index = override<MailIndex>(a.index, {
    updateFlags: async (...args: Parameters<MailIndex['updateFlags']>) => {
      const hook = beforeOwnUpdate;
      beforeOwnUpdate = null;
      if (hook) await hook();
      return a.index.updateFlags(...args);
    },
  });
  return override(a, { index });
}

describe('CONDSTORE (RFC 7162 §3.1)', () => {
  let sys: ImapTestSystem;
  const open: RawImap[] = [];
  beforeAll(async () => {
    sys = await startImapSystem('local', { wrapAdapters: racing });
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await sys?.stop();
  });

  async function login(): Promise<RawImap> {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    open.push(c);
    return c;
  }
  async function mailboxWith(name: string, n: number): Promise<void> {
    await sys.ts.adapters.index.createMailbox(sys.user, name, {});
    for (let i = 0; i < n; i++) await sys.deliver(sampleMessage(`${name} ${i}`), name);
  }
  async function records(name: string): Promise<MessageRecord[]> {
    const mb = await sys.ts.adapters.index.getMailbox(sys.user, name);
    return sys.ts.adapters.index.listMessages(sys.user, mb!.id);
  }
  async function highest(name: string): Promise<number> {
    const mb = await sys.ts.adapters.index.getMailbox(sys.user, name);
    return (await sys.ts.adapters.index.mailboxState(sys.user, mb!.id))!.highestModseq;
  }

  it('ENABLE CONDSTORE / QRESYNC answers ENABLED once each (§3.1, §3.2.3)', async () => {
    const c = await login();
    expect((await c.command('ENABLE CONDSTORE')).untagged).toEqual(['* ENABLED CONDSTORE']);
    expect((await c.command('ENABLE CONDSTORE QRESYNC')).untagged).toEqual(['* ENABLED QRESYNC']);
    expect((await c.command('ENABLE QRESYNC')).untagged).toEqual(['* ENABLED']);
  });

  it('SELECT and EXAMINE report HIGHESTMODSEQ, STATUS the HIGHESTMODSEQ item (§3.1.2.1, §3.1.7)', async () => {
    await mailboxWith('Hms', 3);
    const h = await highest('Hms');
    const c = await login();
    expect((await c.command('STATUS Hms (MESSAGES HIGHESTMODSEQ)')).untagged).toEqual([`* STATUS "Hms" (MESSAGES 3 HIGHESTMODSEQ ${h})`]);
    for (const verb of ['SELECT', 'EXAMINE']) {
      const r = await c.command(`${verb} Hms`);
      expect(r.untagged).toContain(`* OK [HIGHESTMODSEQ ${h}] Highest`);
    }
    // An empty, new mailbox: a positive value, never 0 (which clients read as "no mod-sequences").
    await sys.ts.adapters.index.createMailbox(sys.user, 'Empty', {});
    expect((await c.command('SELECT Empty')).untagged).toContain(`* OK [HIGHESTMODSEQ ${Math.max(1, await highest('Empty'))}] Highest`);
    expect(await highest('Empty')).toBeGreaterThanOrEqual(1);
    const r = await c.command('EXAMINE Hms (CONDSTORE)');
    expect(r.tagged).toMatch(/OK \[READ-ONLY\]/);
    expect(r.untagged).toContain(`* OK [HIGHESTMODSEQ ${h}] Highest`);
  });

  it('FETCH MODSEQ gives each stored mod-sequence; CHANGEDSINCE only what moved, with MODSEQ implied (§3.1.4)', async () => {
    await mailboxWith('Fm', 4);
    const c = await login();
    await c.command('SELECT Fm');
    const recs = await records('Fm');
    expect((await c.command('FETCH 1:* (MODSEQ)')).untagged).toEqual(recs.map((m, i) => `* ${i + 1} FETCH (MODSEQ (${m.modseq}))`));
    const before = await highest('Fm');
    const other = await login();
    await other.command('SELECT Fm');
    await other.command('STORE 2,4 +FLAGS (\\Flagged)');
    const after = await records('Fm');
    expect(after[1].modseq).toBeGreaterThan(before);
    const r = await c.command(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${before})`);
    // The NOOP-style refresh before the command tells the change, then FETCH answers it.
    expect(r.untagged.filter((l) => !/UID/.test(l))).toEqual([
      `* 2 FETCH (FLAGS (\\Flagged) MODSEQ (${after[1].modseq}))`,
      `* 4 FETCH (FLAGS (\\Flagged) MODSEQ (${after[3].modseq}))`,
    ]);
    expect((await c.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${after[3].modseq})`)).untagged).toEqual([]);
    const u = await c.command(`UID FETCH 1:* (UID FLAGS MODSEQ) (CHANGEDSINCE ${before})`);
    expect(u.untagged).toEqual([
      `* 2 FETCH (UID ${after[1].uid} FLAGS (\\Flagged) MODSEQ (${after[1].modseq}))`,
      `* 4 FETCH (UID ${after[3].uid} FLAGS (\\Flagged) MODSEQ (${after[3].modseq}))`,
    ]);
  });

  it('once enabled, flag changes of any origin carry UID and MODSEQ; before, they do not (§3.1)', async () => {
    await mailboxWith('Un', 3);
    const plain = await login();
    const cs = await login();
    const writer = await login();
    await plain.command('SELECT Un');
    await cs.command('ENABLE CONDSTORE');
    await cs.command('SELECT Un');
    await writer.command('SELECT Un');
    await writer.command('STORE 1 +FLAGS (\\Answered)');
    const m = (await records('Un'))[0].modseq;
    expect((await plain.command('NOOP')).untagged).toEqual(['* 1 FETCH (UID 1 FLAGS (\\Answered))']);
    expect((await cs.command('NOOP')).untagged).toEqual([`* 1 FETCH (UID 1 FLAGS (\\Answered) MODSEQ (${m}))`]);
    // Its own STORE: UID and MODSEQ; .SILENT still tells the new MODSEQ (§3.1.3).
    const st = await cs.command('STORE 2 +FLAGS (\\Seen)');
    const m2 = (await records('Un'))[1].modseq;
    expect(st.untagged).toEqual([`* 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ (${m2}))`]);
    const si = await cs.command('STORE 3 +FLAGS.SILENT (\\Seen)');
    expect(si.untagged).toEqual([`* 3 FETCH (UID 3 MODSEQ (${(await records('Un'))[2].modseq}))`]);
    expect((await cs.command('STORE 3 +FLAGS.SILENT (\\Seen)')).untagged).toEqual([]);
    // A FETCH that sets \Seen tells UID, FLAGS and MODSEQ.
    const f = await cs.command('FETCH 1 (BODY[TEXT])');
    const m1 = (await records('Un'))[0].modseq;
    expect(f.untagged[0]).toMatch(
      new RegExp(`^\\* 1 FETCH \\(UID 1 BODY\\[TEXT\\] \\{\\d+\\}Hello there\\.\\r\\n FLAGS \\(\\\\Answered \\\\Seen\\) MODSEQ \\(${m1}\\)\\)$`, 's'),
    );
    expect((await plain.command('NOOP')).untagged).toEqual([
      '* 1 FETCH (UID 1 FLAGS (\\Answered \\Seen))',
      '* 2 FETCH (UID 2 FLAGS (\\Seen))',
      '* 3 FETCH (UID 3 FLAGS (\\Seen))',
    ]);
  });

  it('STORE (UNCHANGEDSINCE n) changes only messages not modified since, naming the others in MODIFIED (§3.1.3)', async () => {
    await mailboxWith('Cs', 4);
    const c = await login();
    const other = await login();
    await c.command('SELECT Cs');
    await other.command('SELECT Cs');
    const seen = await highest('Cs');
    await other.command('STORE 2 +FLAGS ($Label)');
    const r = await c.command(`STORE 1:3 (UNCHANGEDSINCE ${seen}) +FLAGS (\\Flagged)`);
    const recs = await records('Cs');
    expect(recs.map((m) => m.flags)).toEqual([['\\Flagged'], ['$Label'], ['\\Flagged'], []]);
    expect(r.tagged).toMatch(/^T\d+ OK \[MODIFIED 2\] Conditional STORE failed/);
    expect(r.untagged.filter((l) => /FETCH/.test(l))).toEqual([
      `* 2 FETCH (UID 2 FLAGS ($Label) MODSEQ (${recs[1].modseq}))`,
      `* 1 FETCH (UID 1 FLAGS (\\Flagged) MODSEQ (${recs[0].modseq}))`,
      `* 3 FETCH (UID 3 FLAGS (\\Flagged) MODSEQ (${recs[2].modseq}))`,
    ]);
    // UID STORE names UIDs; .SILENT still answers every message that passed, with its MODSEQ.
    const u = await c.command(`UID STORE 1:4 (UNCHANGEDSINCE ${recs[1].modseq}) +FLAGS.SILENT (\\Flagged)`);
    expect(u.tagged).toMatch(/OK \[MODIFIED 1,3\]/);
    const now = await records('Cs');
    expect(u.untagged).toEqual([`* 2 FETCH (UID 2 MODSEQ (${now[1].modseq}))`, `* 4 FETCH (UID 4 MODSEQ (${now[3].modseq}))`]);
    expect(now.map((m) => m.flags)).toEqual([['\\Flagged'], ['$Label', '\\Flagged'], ['\\Flagged'], ['\\Flagged']]);
    // "Use of UNCHANGEDSINCE with a modification sequence of 0 always fails".
    const z = await c.command('STORE 1:4 (UNCHANGEDSINCE 0) -FLAGS (\\Flagged)');
    expect(z.tagged).toMatch(/OK \[MODIFIED 1:4\]/);
    expect(z.untagged).toEqual([]);
    expect((await records('Cs')).map((m) => m.flags)).toEqual(now.map((m) => m.flags));
  });

  it('UNCHANGEDSINCE is tested in the same atomic write: a change landing after the refresh still fails it (§3.1.3)', async () => {
    await mailboxWith('Race', 2);
    const c = await login();
    await c.command('SELECT Race');
    const seen = await highest('Race');
    const mb = (await sys.ts.adapters.index.getMailbox(sys.user, 'Race'))!;
    beforeOwnUpdate = async () => {
      await sys.ts.adapters.index.updateFlags(sys.user, mb.id, [1], 'add', ['$Race']);
    };
    const r = await c.command(`STORE 1:2 (UNCHANGEDSINCE ${seen}) +FLAGS (\\Seen)`);
    expect(r.tagged).toMatch(/OK \[MODIFIED 1\]/);
    expect((await records('Race')).map((m) => m.flags)).toEqual([['$Race'], ['\\Seen']]);
    // The client then hears of the change that beat it.
    expect((await c.command('NOOP')).untagged).toContain(`* 1 FETCH (UID 1 FLAGS ($Race) MODSEQ (${(await records('Race'))[0].modseq}))`);
  });

  it('SEARCH MODSEQ selects by mod-sequence and tells the highest one found (§3.1.5, §3.1.6, §3.1.10)', async () => {
    await mailboxWith('Sm', 4);
    const c = await login();
    await c.command('SELECT Sm');
    const base = await highest('Sm');
    await c.command('STORE 2 +FLAGS (\\Seen)');
    await c.command('STORE 3 +FLAGS (\\Seen)');
    const recs = await records('Sm');
    expect((await c.command(`SEARCH MODSEQ ${base + 1}`)).untagged).toEqual([`* SEARCH 2 3 (MODSEQ ${recs[2].modseq})`]);
    expect((await c.command(`UID SEARCH MODSEQ "/flags/\\\\Seen" all ${recs[2].modseq} SEEN`)).untagged).toEqual([`* SEARCH 3 (MODSEQ ${recs[2].modseq})`]);
    expect((await c.command(`SEARCH MODSEQ ${recs[2].modseq + 1}`)).untagged).toEqual(['* SEARCH']);
    const es = await c.command(`UID SEARCH RETURN (MIN COUNT) MODSEQ ${base + 1}`);
    expect(es.untagged).toEqual([`* ESEARCH (TAG "${es.tagged.split(' ')[0]}") UID MIN 2 COUNT 2 MODSEQ ${recs[2].modseq}`]);
    const mn = await c.command(`SEARCH RETURN (MIN) MODSEQ ${base + 1}`);
    expect(mn.untagged).toEqual([`* ESEARCH (TAG "${mn.tagged.split(' ')[0]}") MIN 2 MODSEQ ${recs[1].modseq}`]);
  });

  it('refuses bad CONDSTORE/QRESYNC input with BAD and changes nothing', async () => {
    await mailboxWith('Bad', 2);
    const c = await login();
    await c.command('SELECT Bad');
    const before = await records('Bad');
    const r1 = await c.command('STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)');
    expect(r1.tagged).toMatch(/BAD Expected UNCHANGEDSINCE mod-sequence/);
    expect((await c.command('STORE 1 (UNCHANGEDSINCE 5 FOO 1) +FLAGS (\\Seen)')).tagged).toMatch(/BAD Unsupported STORE modifier FOO/);
    expect((await c.command('UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)')).tagged).toMatch(/BAD VANISHED needs ENABLE QRESYNC first/);
    expect((await c.command('FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)')).tagged).toMatch(/BAD VANISHED is allowed only in UID FETCH/);
    expect((await c.command('SEARCH MODSEQ -1')).tagged).toMatch(/BAD Expected MODSEQ mod-sequence/);
    // SELECT with QRESYNC without ENABLE QRESYNC: BAD, and the mailbox stays selected.
    const sel = await c.command('SELECT INBOX (QRESYNC (1 1))');
    expect(sel.tagged).toMatch(/BAD SELECT with QRESYNC needs ENABLE QRESYNC first/);
    expect(sel.untagged).toEqual([]);
    expect((await c.command('FETCH 1 (FLAGS)')).tagged).toMatch(/OK/);
    expect(await records('Bad')).toEqual(before);
  });
});
