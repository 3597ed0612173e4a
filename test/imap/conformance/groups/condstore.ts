/** CONDSTORE and QRESYNC (RFC 7162 §3.1, §3.2, with the examples of §3.1.3–§3.2.5). */
import { expandSet, type Answer, type Client } from '../client.ts';
import { group } from '../group.ts';
import { seed, uidsOf } from './base.ts';

function modseqOf(a: Answer, seq: number): number {
  const m = a.fetchOf(seq).MODSEQ;
  if (!Array.isArray(m) || m.length !== 1) a.fail(`MODSEQ of message ${seq}`);
  return Number((m[0] as { a: string }).a);
}

async function highest(c: Client, select = 'SELECT INBOX (CONDSTORE)'): Promise<{ a: Answer; modseq: number; validity: number }> {
  const a = await c.ok(select);
  return { a, modseq: Number(a.one(/^\* OK \[HIGHESTMODSEQ (\d+)\]/i)[1]), validity: Number(a.one(/^\* OK \[UIDVALIDITY (\d+)\]/i)[1]) };
}

export const condstoreGroups = [
  group('condstore', ['CONDSTORE'], 'RFC 7162 §3.1.2–§3.1.6', async ({ c }) => {
    await seed(c, 'INBOX', 4);
    const start = (await highest(c)).modseq;
    let a = await c.ok('FETCH 1:4 (MODSEQ)');
    const m = [1, 2, 3, 4].map((n) => modseqOf(a, n));
    if (m.some((x) => !(x > 0 && x <= start))) a.fail(`modseqs ${m} against HIGHESTMODSEQ ${start}`);
    a = await c.ok('STORE 2 +FLAGS (\\Seen)');
    const m2 = modseqOf(a, 2);
    if (!(m2 > start)) a.fail('a flag change raises the modseq above HIGHESTMODSEQ');
    // UNCHANGEDSINCE older than the message's modseq: not stored, MODIFIED (§3.1.3 example).
    a = await c.ok(`STORE 1:2 (UNCHANGEDSINCE ${m2 - 1}) +FLAGS (\\Flagged)`);
    const [, modified] = a.codeMatches(/^MODIFIED (\S+)$/i);
    a.expectEqual('MODIFIED', expandSet(modified), [2]);
    a = await c.ok('FETCH 1:2 (FLAGS)');
    a.expectEqual('not stored on 2, stored on 1', [a.flags(1), a.flags(2)], [['\\FLAGGED'], ['\\SEEN']]);
    // FETCH CHANGEDSINCE: only what changed after, with MODSEQ (§3.1.4.1).
    a = await c.ok(`FETCH 1:4 (FLAGS) (CHANGEDSINCE ${start})`);
    a.expectEqual('CHANGEDSINCE', [...a.fetch().keys()].sort(), [1, 2]);
    modseqOf(a, 1);
    // SEARCH MODSEQ ends with the highest modseq of the matches (§3.1.5).
    a = await c.ok(`SEARCH MODSEQ ${start + 1}`);
    a.expectEqual('SEARCH MODSEQ', a.numbers().sort(), [1, 2]);
    const all = await c.ok('FETCH 1:2 (MODSEQ)');
    a.one(new RegExp(`^\\* SEARCH .*\\(MODSEQ ${Math.max(modseqOf(all, 1), modseqOf(all, 2))}\\)$`, 'i'));
    (await c.ok('STATUS INBOX (HIGHESTMODSEQ)')).one(new RegExp(`\\(HIGHESTMODSEQ ${Math.max(modseqOf(all, 1), modseqOf(all, 2))}\\)`, 'i'));
    a = await c.ok(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${start})`);
    a.expectEqual('UID FETCH CHANGEDSINCE', [...a.fetch().keys()].sort(), [1, 2]);
  }),

  group('esearch-condstore', ['ESEARCH', 'CONDSTORE'], 'RFC 7162 §3.1.10, RFC 4731', async ({ c }) => {
    await seed(c, 'INBOX', 4);
    await highest(c);
    const mods: number[] = [];
    for (const n of [1, 3, 2, 4]) mods[n] = modseqOf(await c.ok(`STORE ${n} +FLAGS (\\Seen)`), n);
    const esearch = async (criteria: string, what: string, expected: (items: Record<string, string>) => [unknown, unknown]) => {
      const r = await c.ok(`SEARCH ${criteria}`);
      const [actual, want] = expected(r.esearch().items);
      r.expectEqual(what, actual, want);
    };
    // The MODSEQ of the answer is the highest of the messages it returns (RFC 4731 §3.2 with §3.1.10).
    await esearch('RETURN (MIN) 1:3 MODSEQ "/flags/\\\\seen" all 1', 'RETURN (MIN)', (i) => [i, { MIN: '1', MODSEQ: String(mods[1]) }]);
    await esearch('RETURN (MAX) 1:3 MODSEQ 1', 'RETURN (MAX)', (i) => [i, { MAX: '3', MODSEQ: String(mods[3]) }]);
    await esearch('RETURN (ALL) 1:3 MODSEQ 1', 'RETURN (ALL)', (i) => [
      [expandSet(i.ALL), i.MODSEQ],
      [[1, 2, 3], String(Math.max(mods[1], mods[2], mods[3]))],
    ]);
    await esearch(`RETURN (ALL) 1:3 MODSEQ ${mods[4]}`, 'nothing matches: no MODSEQ either', (i) => [i, {}]);
  }),

  group('qresync', ['QRESYNC'], 'RFC 7162 §3.2.3–§3.2.10', async ({ c, connect }) => {
    (await c.ok('ENABLE QRESYNC')).one(/^\* ENABLED (CONDSTORE )?QRESYNC( CONDSTORE)?$/i);
    await seed(c, 'INBOX', 4);
    const { modseq: start, validity } = await highest(c, 'SELECT INBOX');
    const uids = await uidsOf(c);
    // Changes made elsewhere while this client is away.
    const other = await connect();
    await other.ok('SELECT INBOX');
    await other.ok('STORE 2 +FLAGS.SILENT (\\Flagged)');
    await other.ok('STORE 3 +FLAGS.SILENT (\\Deleted)');
    await other.ok('EXPUNGE');
    other.close();
    await c.ok('UNSELECT');
    // SELECT with QRESYNC: the expunged as VANISHED (EARLIER), the changed as FETCH (§3.2.5).
    const a = await c.ok(`SELECT INBOX (QRESYNC (${validity} ${start}))`);
    const [, vanished] = a.one(/^\* VANISHED \(EARLIER\) (\S+)$/i);
    a.expectEqual('VANISHED (EARLIER)', expandSet(vanished), [uids[2]]);
    a.expectItem(2, 'UID', String(uids[1]));
    a.expectEqual('changed flags', a.flags(2), ['\\FLAGGED']);
    modseqOf(a, 2);
    // Selecting with QRESYNC while selected closes the first with [CLOSED] (§3.2.11).
    (await c.ok('SELECT INBOX')).one(/^\* OK \[CLOSED\]/i);
    // Once enabled, expunges are told as VANISHED, not EXPUNGE (§3.2.10).
    await c.ok('STORE 1 +FLAGS.SILENT (\\Deleted)');
    const x = await c.ok('EXPUNGE');
    x.none(/^\* \d+ EXPUNGE/i);
    x.expectEqual('VANISHED', expandSet(x.one(/^\* VANISHED (\d\S*)$/i)[1]), [uids[0]]);
    // UID FETCH … (CHANGEDSINCE m VANISHED) tells what vanished since m (§3.2.6).
    const f = await c.ok(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${start} VANISHED)`);
    f.expectEqual('UID FETCH VANISHED', expandSet(f.one(/^\* VANISHED \(EARLIER\) (\S+)$/i)[1]), [uids[0], uids[2]]);
    await c.bad(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${start} VANISHED)`);
  }),
];
