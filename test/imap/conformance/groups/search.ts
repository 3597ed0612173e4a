/** SEARCH (RFC 3501 §6.4.4), ESEARCH (RFC 4731), SEARCHRES (RFC 5182), WITHIN (RFC 5032). */
import { expandSet, lit, utf8, type Client } from '../client.ts';
import { group } from '../group.ts';
import { message } from '../messages.ts';
import { uidsOf } from './base.ts';

/** Four messages with distinct senders, subjects, dates, sizes and flags; INBOX selected. */
export async function searchFixture(c: Client): Promise<number[]> {
  const day = (d: number) => `0${d}-Jan-2024 12:00:00 +0000`;
  const sent = (d: number) => `Mon, ${d} Jan 2024 12:00:00 +0000`;
  await c.append(
    'INBOX',
    message(
      { From: 'Alice Anderson <alice@a.example>', To: 'bob@b.example', Cc: 'carol@c.example', Subject: 'Lunch plans', Date: sent(1) },
      'Pizza at noon.\r\n',
    ),
    { flags: '\\Seen \\Answered', date: day(1) },
  );
  await c.append(
    'INBOX',
    message(
      { From: 'Bob <bob@b.example>', To: 'alice@a.example', Subject: 'Re: Lunch plans', Date: sent(2), 'X-Priority': '1' },
      'Sounds good, pizza it is.\r\n' + 'x'.repeat(76).concat('\r\n').repeat(26),
    ),
    { flags: '\\Flagged $Important', date: day(2) },
  );
  await c.append(
    'INBOX',
    message(
      { From: 'Carol <carol@c.example>', To: 'alice@a.example', Bcc: 'dave@d.example', Subject: 'Quarterly report', Date: sent(3) },
      'Numbers attached.\r\n',
    ),
    { flags: '\\Draft \\Deleted', date: day(3) },
  );
  await c.append(
    'INBOX',
    message({ From: 'alice@a.example', To: 'carol@c.example', Subject: '=?utf-8?q?caf=C3=A9?= menu', Date: sent(4) }, 'Espresso only.\r\n'),
    { date: day(4) },
  );
  await c.ok('SELECT INBOX');
  return uidsOf(c);
}

/** Runs SEARCH `criteria` and expects exactly the messages `expected` (in any order). */
async function expectSearch(c: Client, criteria: string, expected: number[]): Promise<void> {
  const a = await c.ok(`SEARCH ${criteria}`);
  a.expectEqual(
    `SEARCH ${criteria}`,
    a.numbers().sort((x, y) => x - y),
    expected,
  );
}

export const searchGroups = [
  group('search-flags', [], 'RFC 3501 §6.4.4 flag keys', async ({ c }) => {
    await searchFixture(c);
    const cases: Array<[string, number[]]> = [
      ['ANSWERED', [1]],
      ['FLAGGED', [2]],
      ['DRAFT', [3]],
      ['DELETED', [3]],
      ['SEEN', [1]],
      ['UNSEEN', [2, 3, 4]],
      ['UNANSWERED', [2, 3, 4]],
      ['UNFLAGGED', [1, 3, 4]],
      ['UNDELETED', [1, 2, 4]],
      ['UNDRAFT', [1, 2, 4]],
      ['KEYWORD $Important', [2]],
      ['UNKEYWORD $Important', [1, 3, 4]],
      ['KEYWORD $NeverUsed', []],
    ];
    for (const [k, want] of cases) await expectSearch(c, k, want);
  }),

  group('search-header', [], 'RFC 3501 §6.4.4 address and header keys', async ({ c }) => {
    await searchFixture(c);
    const cases: Array<[string, number[]]> = [
      ['FROM alice', [1, 4]],
      ['FROM "Anderson"', [1]],
      ['TO alice', [2, 3]],
      ['CC carol', [1]],
      ['BCC dave', [3]],
      ['SUBJECT lunch', [1, 2]],
      ['SUBJECT "Re: Lunch"', [2]],
      ['HEADER X-Priority 1', [2]],
      ['HEADER X-Priority ""', [2]],
      ['HEADER Subject quarterly', [3]],
      ['FROM nobody-matches', []],
    ];
    for (const [k, want] of cases) await expectSearch(c, k, want);
  }),

  group('search-addresses', [], 'RFC 3501 §6.4.4 FROM/TO on address text, RFC 2047 names', async ({ c }) => {
    await searchFixture(c);
    await c.append('INBOX', message({ From: '=?utf-8?q?J=C3=B6rg_M=C3=BCller?= <jm@e.example>', To: '"Team, All" <team@f.example>', Subject: 'names' }));
    await c.ok('NOOP');
    await expectSearch(c, 'FROM bob@b.example', [2]);
    await expectSearch(c, 'FROM b.example', [2]);
    await expectSearch(c, 'TO "Team, All"', [5]);
    const a = await c.ok(`SEARCH CHARSET UTF-8 FROM ${lit(utf8('Jörg'))}`);
    a.expectEqual('FROM with an encoded name, searched decoded', a.numbers(), [5]);
    await expectSearch(c, 'FROM jm@e.example', [5]);
  }),

  group('search-body', [], 'RFC 3501 §6.4.4 BODY, TEXT', async ({ c }) => {
    await searchFixture(c);
    await expectSearch(c, 'BODY pizza', [1, 2]);
    await expectSearch(c, 'BODY "at noon"', [1]);
    await expectSearch(c, 'TEXT pizza', [1, 2]);
    // TEXT covers the header too; BODY does not.
    await expectSearch(c, 'TEXT quarterly', [3]);
    await expectSearch(c, 'BODY quarterly', []);
  }),

  group('search-nil', [], 'RFC 3501 §4.5 (NIL as an astring is the string "NIL")', async ({ c }) => {
    await c.append('INBOX', message({ Subject: 'a nil subject' }, 'nil body\r\n'));
    await c.append('INBOX', message({ Subject: 'other' }));
    await c.ok('SELECT INBOX');
    await expectSearch(c, 'SUBJECT NIL', [1]);
    await expectSearch(c, 'BODY nil', [1]);
    await c.ok('LIST "" NIL');
  }),

  group('search-size', [], 'RFC 3501 §6.4.4 LARGER, SMALLER', async ({ c }) => {
    await searchFixture(c);
    await expectSearch(c, 'LARGER 1000', [2]);
    await expectSearch(c, 'SMALLER 1000', [1, 3, 4]);
    const f = await c.ok('FETCH 1:4 RFC822.SIZE');
    const sizes = [1, 2, 3, 4].map((n) => Number((f.fetchOf(n)['RFC822.SIZE'] as { a: string }).a));
    // Strictly larger and strictly smaller: a message of exactly that size is neither.
    const at = sizes[0];
    await expectSearch(
      c,
      `LARGER ${at}`,
      [1, 2, 3, 4].filter((n) => sizes[n - 1] > at),
    );
    await expectSearch(
      c,
      `SMALLER ${at}`,
      [1, 2, 3, 4].filter((n) => sizes[n - 1] < at),
    );
    await expectSearch(
      c,
      `SMALLER ${at + 1} LARGER ${at - 1}`,
      [1, 2, 3, 4].filter((n) => sizes[n - 1] === at),
    );
  }),

  group('search-date', [], 'RFC 3501 §6.4.4 date keys', async ({ c }) => {
    await searchFixture(c);
    const cases: Array<[string, number[]]> = [
      ['SENTBEFORE 2-Jan-2024', [1]],
      ['SENTON 2-Jan-2024', [2]],
      ['SENTSINCE 3-Jan-2024', [3, 4]],
      ['BEFORE 2-Jan-2024', [1]],
      ['ON 3-Jan-2024', [3]],
      ['SINCE 3-Jan-2024', [3, 4]],
      ['SINCE 1-Jan-2030', []],
    ];
    for (const [k, want] of cases) await expectSearch(c, k, want);
    // SENTON takes the date as written, whatever the zone (here 1 Jan 23:00 UTC).
    await c.append('INBOX', message({ Subject: 'zone', Date: 'Tue, 2 Jan 2024 01:00:00 +0200' }), { date: '05-Jan-2024 12:00:00 +0000' });
    await c.ok('NOOP');
    await expectSearch(c, 'SENTON 2-Jan-2024', [2, 5]);
    await expectSearch(c, 'SENTBEFORE 2-Jan-2024', [1]);
    await c.bad('SEARCH SINCE 32-Foo-2024');
  }),

  group('search-sets', [], 'RFC 3501 §6.4.4 sequence sets, OR, NOT, parentheses', async ({ c }) => {
    const uids = await searchFixture(c);
    const cases: Array<[string, number[]]> = [
      ['ALL', [1, 2, 3, 4]],
      ['2:3', [2, 3]],
      ['*', [4]],
      ['2,4', [2, 4]],
      ['3:*', [3, 4]],
      ['NOT 1', [2, 3, 4]],
      ['OR 1 3', [1, 3]],
      ['FROM alice UNSEEN', [4]],
      ['(FROM alice SEEN)', [1]],
      ['OR (FROM alice) (FROM bob)', [1, 2, 4]],
      ['NOT (OR SEEN FLAGGED)', [3, 4]],
      [`UID ${uids[1]}:${uids[2]}`, [2, 3]],
      ['4:2', [2, 3, 4]],
      ['OR OR 1 2 3', [1, 2, 3]],
      ['NOT NOT 2', [2]],
    ];
    for (const [k, want] of cases) await expectSearch(c, k, want);
    const u = await c.ok(`UID SEARCH UID ${uids[2]}:*`);
    u.expectEqual(
      'UID SEARCH answers UIDs',
      u.numbers().sort((x, y) => x - y),
      uids.slice(2),
    );
    await c.bad('SEARCH NOT-A-KEY');
    await c.bad('SEARCH (FROM alice');
  }),

  group('search-charset', [], 'RFC 3501 §6.4.4 CHARSET, §7.1 BADCHARSET', async ({ c }) => {
    await searchFixture(c);
    // The subject is an encoded word (RFC 2047): searched decoded.
    const a = await c.ok(`SEARCH CHARSET UTF-8 SUBJECT ${lit(utf8('café'))}`);
    a.expectEqual('SUBJECT café', a.numbers(), [4]);
    await expectSearch(c, 'CHARSET US-ASCII SUBJECT menu', [4]);
    (await c.no('SEARCH CHARSET X-NO-SUCH-CHARSET SUBJECT x')).codeMatches(/^BADCHARSET\b/i);
  }),

  group('esearch', ['ESEARCH'], 'RFC 4731 §3.1, §3.2', async ({ c }) => {
    const uids = await searchFixture(c);
    let a = await c.ok('SEARCH RETURN (MIN MAX COUNT ALL) FROM alice');
    let e = a.esearch();
    a.expectEqual('ESEARCH correlator', e.tag, a.reply.tagged.split(' ')[0]);
    a.expectEqual('MIN MAX COUNT', [e.items.MIN, e.items.MAX, e.items.COUNT, e.uid], ['1', '4', '2', false]);
    a.expectEqual('ALL', expandSet(e.items.ALL), [1, 4]);
    a = await c.ok('SEARCH RETURN () UNSEEN');
    e = a.esearch();
    a.expectEqual('RETURN () is ALL', expandSet(e.items.ALL), [2, 3, 4]);
    a = await c.ok('UID SEARCH RETURN (COUNT MAX) ALL');
    e = a.esearch();
    a.expectEqual('UID ESEARCH', [e.uid, e.items.COUNT, e.items.MAX], [true, '4', String(uids[3])]);
    a = await c.ok('SEARCH RETURN (MIN MAX ALL) FROM nobody-matches');
    a.expectEqual('no match: no MIN, MAX or ALL', a.esearch().items, {});
    a = await c.ok('SEARCH RETURN (COUNT) FROM nobody-matches');
    a.expectEqual('no match: COUNT 0', a.esearch().items, { COUNT: '0' });
    await c.bad('SEARCH RETURN (NO-SUCH-OPTION) ALL');
  }),

  group('searchres', ['SEARCHRES'], 'RFC 5182 §2', async ({ c }) => {
    await searchFixture(c);
    // SAVE alone: nothing is returned, the result is kept as $.
    const a = await c.ok('SEARCH RETURN (SAVE) FROM alice');
    a.none(/^\* (E?SEARCH)/i);
    const f = await c.ok('FETCH $ (FLAGS)');
    f.expectEqual('FETCH $', [...f.fetch().keys()].sort(), [1, 4]);
    await expectSearch(c, '$ UNSEEN', [4]);
    // SAVE with MIN: $ is the minimum only (RFC 5182 §2.1).
    await c.ok('SEARCH RETURN (SAVE MIN) ALL');
    await expectSearch(c, '$', [1]);
    await c.ok('STORE $ +FLAGS.SILENT (\\Flagged)');
    await expectSearch(c, 'FLAGGED', [1, 2]);
  }),

  group('within', ['WITHIN'], 'RFC 5032 §3', async ({ c }) => {
    await searchFixture(c);
    await c.append('INBOX', message({ Subject: 'now' }));
    await c.ok('NOOP');
    await expectSearch(c, 'YOUNGER 3600', [5]);
    await expectSearch(c, 'OLDER 3600', [1, 2, 3, 4]);
    await c.bad('SEARCH YOUNGER soon');
  }),
];
