/**
 * QRESYNC (RFC 7162 §3.2) on raw sessions: SELECT … (QRESYNC …) with VANISHED (EARLIER) and
 * the changed messages, UID FETCH … (CHANGEDSINCE n VANISHED), VANISHED in place of EXPUNGE
 * (never while a FETCH, STORE or SEARCH by sequence number runs), HIGHESTMODSEQ in the tagged
 * OK of EXPUNGE, [CLOSED]; and the same answers when the change log no longer reaches back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import type { MailIndex } from '#core/ports/mail-index.ts';
import { override } from '../support/mail-system.ts';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

/** When set, the change log answers "does not reach back" (as after trimming). */
let logTrimmed = false;

function trimmable(a: Adapters): Adapters {
  const index = override<MailIndex>(a.index, {
    changesSince: async (...args: Parameters<MailIndex['changesSince']>) => {
      const out = await a.index.changesSince(...args);
      return out && logTrimmed ? { ...out, changed: [], expunged: [], complete: false } : out;
    },
  });
  return override(a, { index });
}

describe('QRESYNC (RFC 7162 §3.2)', () => {
  let sys: ImapTestSystem;
  const open: RawImap[] = [];
  beforeAll(async () => {
    sys = await startImapSystem('local', { wrapAdapters: trimmable });
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await sys?.stop();
  });

  async function login(enable = true): Promise<RawImap> {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    open.push(c);
    if (enable) expect((await c.command('ENABLE QRESYNC')).untagged).toEqual(['* ENABLED QRESYNC']);
    return c;
  }
  async function mailboxWith(name: string, n: number): Promise<{ uidValidity: number }> {
    const mb = await sys.ts.adapters.index.createMailbox(sys.user, name, {});
    for (let i = 0; i < n; i++) await sys.deliver(sampleMessage(`${name} ${i}`), name);
    // A first look takes \Recent of these (RFC 3501 §2.3.2), so the sessions below see only later mail as recent.
    const first = await login(false);
    await first.command(`SELECT ${name}`);
    await first.command('LOGOUT');
    return { uidValidity: mb.uidValidity };
  }
  async function state(name: string) {
    const mb = await sys.ts.adapters.index.getMailbox(sys.user, name);
    return (await sys.ts.adapters.index.mailboxState(sys.user, mb!.id))!;
  }
  async function modseqOf(name: string, uid: number): Promise<number> {
    const mb = await sys.ts.adapters.index.getMailbox(sys.user, name);
    return (await sys.ts.adapters.index.getMessages(sys.user, mb!.id, [uid]))[0].modseq;
  }
  /** Another device: flags UID 2, expunges UIDs 3 and 5, and a new message arrives (UID 7). */
  async function changeElsewhere(name: string): Promise<void> {
    const other = await login(false);
    await other.command(`SELECT ${name}`);
    await other.command('UID STORE 2 +FLAGS (\\Flagged)');
    await other.command('UID STORE 3,5 +FLAGS.SILENT (\\Deleted)');
    await other.command('EXPUNGE');
    await sys.deliver(sampleMessage('new one'), name);
  }

  for (const trimmed of [false, true]) {
    const how = trimmed ? 'the change log trimmed: from the mailbox listing' : 'from the change log';
    it(`SELECT (QRESYNC (uidvalidity modseq)) tells VANISHED (EARLIER) and FETCHes of what changed, ${how} (§3.2.5.1)`, async () => {
      const name = trimmed ? 'QsT' : 'Qs';
      const { uidValidity } = await mailboxWith(name, 6);
      const seen = (await state(name)).highestModseq;
      await changeElsewhere(name);
      logTrimmed = trimmed;
      try {
        const c = await login();
        const r = await c.command(`SELECT ${name} (QRESYNC (${uidValidity} ${seen}))`);
        expect(r.tagged).toMatch(/OK \[READ-WRITE\]/);
        const st = await state(name);
        const i = r.untagged.indexOf(`* OK [HIGHESTMODSEQ ${st.highestModseq}] Highest`);
        expect(i).toBeGreaterThan(0);
        expect(r.untagged).toContain('* 5 EXISTS');
        expect(r.untagged.slice(i + 1)).toEqual([
          '* VANISHED (EARLIER) 3,5',
          `* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (${await modseqOf(name, 2)}))`,
          `* 5 FETCH (UID 7 FLAGS (\\Recent) MODSEQ (${await modseqOf(name, 7)}))`,
        ]);
        // Known UIDs limit both (here: 1:3): UID 5's expunge and UID 7 are not reported.
        const k = await c.command(`EXAMINE ${name} (QRESYNC (${uidValidity} ${seen} 1:3))`);
        expect(k.untagged[0]).toBe('* OK [CLOSED] Previous mailbox closed');
        expect(k.untagged.filter((l) => /VANISHED|FETCH/.test(l))).toEqual([
          '* VANISHED (EARLIER) 3',
          `* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (${await modseqOf(name, 2)}))`,
        ]);
        // With sequence match data (accepted, §3.2.5.2) the answer is the same.
        const m = await c.command(`EXAMINE ${name} (QRESYNC (${uidValidity} ${seen} 1:6 (1:3 1:3)))`);
        expect(m.untagged.filter((l) => /VANISHED/.test(l))).toEqual(['* VANISHED (EARLIER) 3,5']);
        // Another UIDVALIDITY: the client's cache is void; nothing but the plain responses.
        const v = await c.command(`EXAMINE ${name} (QRESYNC (${uidValidity + 1} ${seen}))`);
        expect(v.untagged.filter((l) => /VANISHED|FETCH/.test(l))).toEqual([]);
        // Up to date: nothing to tell.
        const u = await c.command(`EXAMINE ${name} (QRESYNC (${uidValidity} ${st.highestModseq}))`);
        expect(u.untagged.filter((l) => /VANISHED|FETCH/.test(l))).toEqual([]);
      } finally {
        logTrimmed = false;
      }
    });

    it(`UID FETCH … (CHANGEDSINCE n VANISHED) tells the UIDs of the set expunged since, ${how} (§3.2.6)`, async () => {
      const name = trimmed ? 'QfT' : 'Qf';
      await mailboxWith(name, 6);
      const c = await login();
      await c.command(`SELECT ${name}`);
      const seen = (await state(name)).highestModseq;
      await changeElsewhere(name);
      logTrimmed = trimmed;
      try {
        const r = await c.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${seen} VANISHED)`);
        // The session hears of the changes first (a UID command may hear expunges), expunges
        // as VANISHED; then the answer: VANISHED (EARLIER) for the set, FETCH of what changed.
        const f2 = `* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (${await modseqOf(name, 2)}))`;
        expect(r.untagged).toEqual([
          '* VANISHED 3,5',
          '* 5 EXISTS',
          '* 1 RECENT',
          f2,
          '* VANISHED (EARLIER) 3,5',
          f2,
          `* 5 FETCH (UID 7 FLAGS (\\Recent) MODSEQ (${await modseqOf(name, 7)}))`,
        ]);
        // A set that names only some UIDs gets only those.
        const p = await c.command(`UID FETCH 4:5 (FLAGS) (CHANGEDSINCE ${seen} VANISHED)`);
        expect(p.untagged).toEqual(['* VANISHED (EARLIER) 5']);
      } finally {
        logTrimmed = false;
      }
    });
  }

  it('tells expunges as VANISHED, never during FETCH/STORE/SEARCH by number; EXPUNGE ends OK [HIGHESTMODSEQ] (§3.2.7, §3.2.10)', async () => {
    await mailboxWith('Qv', 5);
    const c = await login();
    await c.command('SELECT Qv');
    const other = await login(false);
    await other.command('SELECT Qv');
    await other.command('UID STORE 2,4 +FLAGS.SILENT (\\Deleted)');
    await other.command('EXPUNGE');
    // By sequence number: not now (the client's numbers must not shift under it).
    expect((await c.command('FETCH 1:* (UID)')).untagged).toEqual([
      '* 1 FETCH (UID 1)',
      '* 2 FETCH (UID 2)',
      '* 3 FETCH (UID 3)',
      '* 4 FETCH (UID 4)',
      '* 5 FETCH (UID 5)',
    ]);
    // SEARCH leaves out the messages expunged meanwhile, numbering as the client still does.
    expect((await c.command('SEARCH ALL')).untagged).toEqual(['* SEARCH 1 3 5']);
    expect((await c.command('NOOP')).untagged).toEqual(['* VANISHED 2,4']);
    // Its own EXPUNGE: VANISHED, and the new HIGHESTMODSEQ in the tagged OK.
    await c.command('UID STORE 5 +FLAGS.SILENT (\\Deleted)');
    const e = await c.command('EXPUNGE');
    expect(e.untagged).toEqual(['* VANISHED 5']);
    expect(e.tagged).toMatch(new RegExp(`OK \\[HIGHESTMODSEQ ${(await state('Qv')).highestModseq}\\]`));
    // A plain session still hears EXPUNGE.
    const plain = await login(false);
    await plain.command('SELECT Qv');
    await other.command('UID STORE 1 +FLAGS.SILENT (\\Deleted)');
    await other.command('EXPUNGE');
    expect((await plain.command('NOOP')).untagged).toEqual(['* 1 EXPUNGE']);
    expect((await c.command('NOOP')).untagged).toEqual(['* VANISHED 1']);
  });
});
