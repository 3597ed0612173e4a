/**
 * Extensions of APPEND and SEARCH: CATENATE (RFC 4469), SAVEDATE (RFC 8514), CONTEXT=SEARCH and
 * CONTEXT=SORT (RFC 5267 §4), PARTIAL (RFC 9394).
 */
import { atomOrString, expandSet, lit, parseData, type Answer, type Client } from '../client.ts';
import { group } from '../group.ts';
import { message, MULTIPART, TEXT_PART } from '../messages.ts';
import { dateTime, seed, uidsOf } from './base.ts';

/** UIDVALIDITY and the UIDs of `mailbox` (left selected). */
async function selectUids(c: Client, mailbox: string): Promise<{ validity: string; uids: number[] }> {
  const s = await c.ok(`SELECT ${mailbox}`);
  return { validity: s.one(/^\* OK \[UIDVALIDITY (\d+)\]/i)[1], uids: await uidsOf(c) };
}

/** The ADDTO and REMOVEFROM sets (positions left out) of the ESEARCH updates for context `tag`. */
function updates(a: Answer, tag: string): { addto: number[]; removefrom: number[] } {
  const out = { addto: [] as number[], removefrom: [] as number[] };
  for (const [, rest] of a.all(/^\* ESEARCH (.*)$/i)) {
    const data = parseData(rest);
    const corr = data[0];
    if (!Array.isArray(corr) || atomOrString(corr[1]) !== tag) continue;
    for (let k = 1; k < data.length; k++) {
      const item = data[k];
      if (Array.isArray(item) || !('a' in item)) continue;
      const key = item.a.toUpperCase();
      if (key !== 'ADDTO' && key !== 'REMOVEFROM') continue;
      const pairs = data[++k];
      if (!Array.isArray(pairs) || pairs.length % 2) a.fail(`malformed ${key}`);
      for (let p = 1; p < pairs.length; p += 2) out[key === 'ADDTO' ? 'addto' : 'removefrom'].push(...expandSet(atomOrString(pairs[p])));
    }
  }
  out.addto.sort((x, y) => x - y);
  out.removefrom.sort((x, y) => x - y);
  return out;
}

/** The PARTIAL return item of the one ESEARCH response: its range and the numbers in it. */
function partialOf(a: Answer): { range: string; set: number[] | null } {
  const m = a.one(/^\* ESEARCH .*\bPARTIAL \((\S+) (\S+)\)/i);
  return { range: m[1], set: m[2].toUpperCase() === 'NIL' ? null : expandSet(m[2]) };
}

/** Date-time item `name` of message 1 as milliseconds since the epoch. */
function timeOf(a: Answer, name: string): number {
  const s = a.text(1, name);
  try {
    return dateTime(s);
  } catch {
    a.fail(`${name} ${JSON.stringify(s)} is not a date-time`);
  }
}

/** The IMAP date (`1-Jan-2024`) of a date-time as the server wrote it. */
const dayOf = (dt: string) => dt.trim().split(' ')[0];

/** The date `days` after an IMAP date, in the same form. */
function shiftDay(day: string, days: number): string {
  const t = dateTime(`${day} 12:00:00 +0000`) + days * 86_400_000;
  const d = new Date(t);
  return `${d.getUTCDate()}-${'JanFebMarAprMayJunJulAugSepOctNovDec'.slice(d.getUTCMonth() * 3, d.getUTCMonth() * 3 + 3)}-${d.getUTCFullYear()}`;
}

async function expectSearch(c: Client, criteria: string, expected: number[]): Promise<void> {
  const a = await c.ok(`SEARCH ${criteria}`);
  a.expectEqual(
    `SEARCH ${criteria}`,
    a.numbers().sort((x, y) => x - y),
    expected,
  );
}

export const appendSearchExtensionGroups = [
  group('catenate', ['CATENATE'], 'RFC 4469 §3, §5, Appendix A', async ({ c }) => {
    await c.append('INBOX', MULTIPART);
    const { validity, uids } = await selectUids(c, 'INBOX');
    await c.ok('CREATE cat');
    const head = 'From: Alice <alice@example.test>\r\nSubject: catenated\r\n\r\n';
    const tail = '\r\n-- \r\nAlice\r\n';
    // TEXT, a URL to part 1 of a message of INBOX, TEXT again: the bytes one after another.
    await c.ok(`APPEND cat (\\Seen) CATENATE (TEXT ${lit(head)} URL "/INBOX;UIDVALIDITY=${validity}/;UID=${uids[0]}/;SECTION=1" TEXT ${lit(tail)})`);
    // A URL to a whole message, without UIDVALIDITY.
    await c.ok(`APPEND cat CATENATE (URL "/INBOX/;UID=${uids[0]}")`);
    await c.ok('EXAMINE cat');
    const f = await c.ok('FETCH 1:2 (FLAGS BODY.PEEK[])');
    f.expectEqual('the parts together', [f.text(1, 'BODY[]'), f.flags(1)], [head + TEXT_PART + tail, ['\\SEEN']]);
    f.expectEqual('a whole message by URL', f.text(2, 'BODY[]'), MULTIPART);
    // The mailbox name percent-encoded (RFC 5092 §6), a HEADER.FIELDS section.
    await c.ok('CREATE "cat src"');
    await c.append('"cat src"', message({ Subject: 'spaced', 'X-Extra': 'dropped' }));
    const src = await selectUids(c, '"cat src"');
    await c.ok(`APPEND cat CATENATE (URL "/cat%20src/;UID=${src.uids[0]}/;SECTION=HEADER.FIELDS%20(Subject)" TEXT ${lit('Body.\r\n')})`);
    await c.ok('EXAMINE cat');
    const h = await c.ok('FETCH 3 BODY.PEEK[]');
    h.expectEqual('HEADER.FIELDS by URL', h.text(3, 'BODY[]'), 'Subject: spaced\r\n\r\nBody.\r\n');
    // A URL that names no message, or a mailbox that does not exist: BADURL, nothing stored.
    (await c.no(`APPEND cat CATENATE (TEXT ${lit(head)} URL "/INBOX;UIDVALIDITY=${validity}/;UID=${uids[0] + 100}")`)).codeMatches(/^BADURL\b/i);
    (await c.no(`APPEND cat CATENATE (URL "/No-such-box/;UID=1" TEXT ${lit(tail)})`)).codeMatches(/^BADURL\b/i);
    (await c.ok('STATUS cat (MESSAGES)')).one(/\(MESSAGES 3\)/i);
    // A URL to a message of a mailbox with another UIDVALIDITY is not that message.
    (await c.no(`APPEND cat CATENATE (URL "/INBOX;UIDVALIDITY=${Number(validity) + 1}/;UID=${uids[0]}")`)).codeMatches(/^BADURL\b/i);
  }),

  group('catenate-multiappend', ['CATENATE', 'MULTIAPPEND'], 'RFC 4469 §5, RFC 3502 §6.3.11', async ({ c }) => {
    await c.append('INBOX', message({ Subject: 'source' }));
    const { uids } = await selectUids(c, 'INBOX');
    await c.ok('CREATE catm');
    const plain = message({ Subject: 'plain' });
    await c.ok(`APPEND catm ${lit(plain)} CATENATE (URL "/INBOX/;UID=${uids[0]}/;SECTION=HEADER" TEXT ${lit('Body.\r\n')})`);
    await c.ok('EXAMINE catm');
    const f = await c.ok('FETCH 2 BODY.PEEK[]');
    f.expectEqual('second message', f.text(2, 'BODY[]'), message({ Subject: 'source' }, 'Body.\r\n'));
    // All or nothing: the bad URL of the second message stores neither.
    (await c.no(`APPEND catm ${lit(plain)} CATENATE (URL "/INBOX/;UID=${uids[0] + 100}")`)).codeMatches(/^BADURL\b/i);
    (await c.ok('STATUS catm (MESSAGES)')).one(/\(MESSAGES 2\)/i);
  }),

  group('savedate', ['SAVEDATE'], 'RFC 8514 §3, §4.2, §4.3', async ({ c }) => {
    const before = Date.now();
    await c.append('INBOX', message({ Subject: 'old' }), { date: '01-Feb-2020 12:00:00 +0000' });
    await c.ok('SELECT INBOX');
    const f = await c.ok('FETCH 1 (SAVEDATE INTERNALDATE)');
    // date-day-fixed is " 1" or "01" (RFC 3501 §9): compared as the time it names.
    f.expectEqual('INTERNALDATE', timeOf(f, 'INTERNALDATE'), dateTime('01-Feb-2020 12:00:00 +0000'));
    // The time the message was saved, not its internal date (§4.2).
    const saved = f.text(1, 'SAVEDATE');
    const at = timeOf(f, 'SAVEDATE');
    if (at < before - 120_000 || at > Date.now() + 120_000) f.fail(`SAVEDATE ${saved} is not the time of the APPEND`);
    const today = dayOf(saved);
    await expectSearch(c, `SAVEDON ${today}`, [1]);
    await expectSearch(c, `SAVEDSINCE ${today}`, [1]);
    await expectSearch(c, `SAVEDBEFORE ${today}`, []);
    await expectSearch(c, `SAVEDBEFORE ${shiftDay(today, 1)}`, [1]);
    await expectSearch(c, `SAVEDSINCE ${shiftDay(today, 1)}`, []);
    await expectSearch(c, 'SAVEDSINCE 1-Feb-2020 BEFORE 2-Feb-2020', [1]);
    await expectSearch(c, 'SAVEDON 1-Feb-2020', []);
    await expectSearch(c, 'SAVEDATESUPPORTED', [1]);
    // A copy is saved when it is copied (§3): from the second after the source's save date on,
    // the two differ.
    await new Promise((r) => setTimeout(r, Math.max(0, at + 1020 - Date.now())));
    await c.ok('CREATE saved');
    await c.ok('COPY 1 saved');
    const again = await c.ok('FETCH 1 SAVEDATE');
    again.expectEqual('the source keeps its save date', timeOf(again, 'SAVEDATE'), at);
    await c.ok('SELECT saved');
    const copy = await c.ok('FETCH 1 SAVEDATE');
    if (!(timeOf(copy, 'SAVEDATE') > at)) copy.fail(`the copy's SAVEDATE is not later than the source's ${saved}`);
    await c.bad('SEARCH SAVEDSINCE 99-Foo-2020');
  }),

  group('context-search', ['CONTEXT=SEARCH', 'ESEARCH'], 'RFC 5267 §4.3, §4.3.3–§4.3.5', async ({ c, connect }) => {
    await seed(c, 'INBOX', 3, (i) => (i === 2 ? '\\Flagged' : ''));
    const { uids } = await selectUids(c, 'INBOX');
    const s = await c.ok('UID SEARCH RETURN (ALL UPDATE) UNFLAGGED');
    const tag = s.reply.tagged.split(' ')[0];
    s.expectEqual('initial result', [s.esearch().tag, expandSet(s.esearch().items.ALL)], [tag, [uids[0], uids[2]]]);
    const other = await connect();
    await other.ok('SELECT INBOX');
    // A new message that matches: ADDTO (§4.3.3).
    await other.append('INBOX', message({ Subject: 'new' }));
    let n = await c.ok('NOOP');
    n.one(/^\* 4 EXISTS$/i);
    const uid4 = (await uidsOf(c))[3];
    n.expectEqual('ADDTO after an APPEND', updates(n, tag), { addto: [uid4], removefrom: [] });
    // A flag change that makes a member stop matching: REMOVEFROM (§4.3.4).
    await other.ok('STORE 1 +FLAGS.SILENT (\\Flagged)');
    n = await c.ok('NOOP');
    n.expectEqual('REMOVEFROM after a STORE', updates(n, tag), { addto: [], removefrom: [uids[0]] });
    // And one that makes a message match: ADDTO.
    await other.ok('STORE 2 -FLAGS.SILENT (\\Flagged)');
    n = await c.ok('NOOP');
    n.expectEqual('ADDTO after a STORE', updates(n, tag), { addto: [uids[1]], removefrom: [] });
    // This session's own STORE updates the context too, during the STORE or by the next NOOP.
    const st = await c.ok('STORE 4 +FLAGS.SILENT (\\Flagged)');
    n = await c.ok('NOOP');
    const own = [updates(st, tag), updates(n, tag)];
    st.expectEqual(
      'REMOVEFROM after our own STORE',
      { addto: own.flatMap((u) => u.addto), removefrom: own.flatMap((u) => u.removefrom) },
      { addto: [], removefrom: [uid4] },
    );
    // An expunged member leaves the result.
    await other.ok('STORE 3 +FLAGS.SILENT (\\Deleted)');
    await other.ok('EXPUNGE');
    n = await c.ok('NOOP');
    n.one(/^\* 3 EXPUNGE$/i);
    n.expectEqual('REMOVEFROM after an EXPUNGE', updates(n, tag), { addto: [], removefrom: [uids[2]] });
    // CANCELUPDATE ends the context: no more updates (§4.3.5).
    await c.ok(`CANCELUPDATE "${tag}"`);
    await other.append('INBOX', message({ Subject: 'after cancel' }));
    n = await c.ok('NOOP');
    n.one(/^\* 4 EXISTS$/i);
    n.none(/^\* ESEARCH/i);
  }),

  group('context-search-numbers', ['CONTEXT=SEARCH', 'ESEARCH'], 'RFC 5267 §4.3.3, §4.3.4', async ({ c, connect }) => {
    await seed(c, 'INBOX', 3);
    await c.ok('CREATE elsewhere');
    await c.ok('SELECT INBOX');
    const s = await c.ok('SEARCH RETURN (ALL UPDATE) UNFLAGGED');
    const tag = s.reply.tagged.split(' ')[0];
    s.expectEqual('initial result', expandSet(s.esearch().items.ALL), [1, 2, 3]);
    const other = await connect();
    await other.ok('SELECT INBOX');
    await other.ok('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await other.ok('EXPUNGE');
    await other.append('INBOX', message({ Subject: 'new' }));
    // Without UID the sets are sequence numbers: the REMOVEFROM names the expunged message by
    // the number it had, before its EXPUNGE; the ADDTO the new one by its number, after EXISTS.
    const n = await c.ok('NOOP');
    n.expectEqual('updates in sequence numbers', updates(n, tag), { addto: [3], removefrom: [1] });
    const at = (re: RegExp) => n.untagged.findIndex((l) => re.test(l));
    const order = [at(/REMOVEFROM/i), at(/^\* 1 EXPUNGE$/i), at(/^\* 3 EXISTS$/i), at(/ADDTO/i)];
    n.expectEqual('REMOVEFROM before EXPUNGE, EXISTS before ADDTO', [order[0] < order[1], order[2] < order[3]], [true, true]);
    // Selecting another mailbox ends the context.
    await c.ok('SELECT elsewhere');
    await c.ok('SELECT INBOX');
    await other.append('INBOX', message({ Subject: 'unseen by the context' }));
    (await c.ok('NOOP')).none(/^\* ESEARCH/i);
  }),

  group('context-sort', ['CONTEXT=SORT', 'ESORT'], 'RFC 5267 §4.3.3, §4.3.4', async ({ c, connect }) => {
    for (const s of ['b', 'd', 'f']) await c.append('INBOX', message({ Subject: s }));
    const { uids } = await selectUids(c, 'INBOX');
    const s = await c.ok('UID SORT RETURN (ALL UPDATE) (SUBJECT) UTF-8 ALL');
    const tag = s.reply.tagged.split(' ')[0];
    s.expectEqual('initial result', expandSet(s.esearch().items.ALL), uids);
    const other = await connect();
    // "c" sorts second: ADDTO at position 2 in sort order.
    await other.append('INBOX', message({ Subject: 'c' }));
    let n = await c.ok('NOOP');
    const uid4 = (await uidsOf(c))[3];
    n.one(new RegExp(`^\\* ESEARCH \\(TAG "${tag}"\\) UID ADDTO \\(2 ${uid4}\\)$`, 'i'));
    await other.ok('SELECT INBOX');
    await other.ok('STORE 2 +FLAGS.SILENT (\\Deleted)');
    await other.ok('EXPUNGE');
    // "d" was third in b c d f.
    n = await c.ok('NOOP');
    n.one(new RegExp(`^\\* ESEARCH \\(TAG "${tag}"\\) UID REMOVEFROM \\(3 ${uids[1]}\\)$`, 'i'));
    await c.ok(`CANCELUPDATE "${tag}"`);
  }),

  group('partial', ['PARTIAL', 'ESEARCH'], 'RFC 9394 §3.1–§3.3', async ({ c }) => {
    await seed(c, 'INBOX', 5, (i) => (i === 3 ? '\\Seen' : ''));
    const { uids } = await selectUids(c, 'INBOX');
    let a = await c.ok('SEARCH RETURN (PARTIAL 2:3) UNSEEN');
    a.expectEqual('PARTIAL 2:3', partialOf(a), { range: '2:3', set: [2, 4] });
    // -1 is the last result.
    a = await c.ok('UID SEARCH RETURN (PARTIAL -1:-2) ALL');
    a.expectEqual('PARTIAL -1:-2', partialOf(a), { range: '-1:-2', set: [uids[3], uids[4]] });
    a = await c.ok('SEARCH RETURN (COUNT PARTIAL 4:10) UNSEEN');
    a.expectEqual('past the end', [partialOf(a), a.one(/\bCOUNT (\d+)/i)[1]], [{ range: '4:10', set: [5] }, '4']);
    a = await c.ok('SEARCH RETURN (PARTIAL 10:20) ALL');
    a.expectEqual('no result in the range', partialOf(a).set, null);
    const f = await c.ok('UID FETCH 1:* (FLAGS) (PARTIAL -1:-2)');
    f.expectEqual('UID FETCH PARTIAL', [...f.fetch().keys()].sort(), [4, 5]);
    await c.bad('SEARCH RETURN (PARTIAL 0:3) ALL');
  }),

  group('partial-esort', ['PARTIAL', 'ESORT'], 'RFC 9394 §3.1 with RFC 5267 §3', async ({ c }) => {
    for (const s of ['d', 'a', 'c', 'b']) await c.append('INBOX', message({ Subject: s }));
    await c.ok('SELECT INBOX');
    // The page is of the results in sort order (a b c d = 2 4 3 1), and in that order.
    const a = await c.ok('SORT RETURN (PARTIAL 2:3 COUNT) (SUBJECT) UTF-8 ALL');
    a.expectEqual('SORT PARTIAL 2:3', [partialOf(a), a.one(/\bCOUNT (\d+)/i)[1]], [{ range: '2:3', set: [4, 3] }, '4']);
    const r = await c.ok('SORT RETURN (PARTIAL -1:-2) (SUBJECT) UTF-8 ALL');
    r.expectEqual('SORT PARTIAL -1:-2', partialOf(r), { range: '-1:-2', set: [3, 1] });
  }),
];
