/** SORT and THREAD (RFC 5256), SORT=DISPLAY (RFC 5957), ESORT (RFC 5267 §3). */
import { expandSet, type Client } from '../client.ts';
import { group } from '../group.ts';
import { message } from '../messages.ts';
import { searchFixture } from './search.ts';

async function expectSort(c: Client, command: string, expected: number[]): Promise<void> {
  const a = await c.ok(command);
  a.expectEqual(command, a.numbers('SORT'), expected);
}

/** Seven messages in three threads by References, two of them joined by subject only. */
async function threadFixture(c: Client): Promise<void> {
  const t = (n: number, subject: string, refs = '') =>
    message({
      Subject: subject,
      Date: `Mon, ${n} Jan 2024 12:00:00 +0000`,
      'Message-ID': `<${n}@thread.example>`,
      ...(refs ? { References: refs, 'In-Reply-To': refs.split(' ').pop()! } : {}),
    });
  await c.append('INBOX', t(1, 'Topic A'));
  await c.append('INBOX', t(2, 'Re: Topic A', '<1@thread.example>'));
  await c.append('INBOX', t(3, 'Topic B'));
  await c.append('INBOX', t(4, 'Re: Topic A', '<1@thread.example> <2@thread.example>'));
  await c.append('INBOX', t(5, 'Re: Topic B', '<3@thread.example>'));
  await c.append('INBOX', t(6, 'Other'));
  await c.append('INBOX', t(7, 'Re: Other'));
  await c.ok('SELECT INBOX');
}

export const sortThreadGroups = [
  group('sort', ['SORT'], 'RFC 5256 §3 SORT, §2.1 base subject', async ({ c }) => {
    await searchFixture(c);
    // Base subjects: "lunch plans" (1, 2), "quarterly report" (3), "café menu" (4, decoded).
    await expectSort(c, 'SORT (SUBJECT) UTF-8 ALL', [4, 1, 2, 3]);
    await expectSort(c, 'SORT (FROM) UTF-8 ALL', [1, 4, 2, 3]);
    await expectSort(c, 'SORT (TO) UTF-8 ALL', [2, 3, 1, 4]);
    await expectSort(c, 'SORT (CC) UTF-8 ALL', [2, 3, 4, 1]);
    await expectSort(c, 'SORT (DATE) UTF-8 ALL', [1, 2, 3, 4]);
    await expectSort(c, 'SORT (REVERSE ARRIVAL) UTF-8 ALL', [4, 3, 2, 1]);
    await expectSort(c, 'SORT (FROM REVERSE DATE) UTF-8 ALL', [4, 1, 2, 3]);
    await expectSort(c, 'SORT (REVERSE SIZE) US-ASCII SMALLER 100000', [2, ...(await sizesDescending(c, [1, 3, 4]))]);
    await expectSort(c, 'SORT (SUBJECT) UTF-8 FROM alice', [4, 1]);
    const uids = (await c.ok('UID SORT (DATE) UTF-8 ALL')).numbers('SORT');
    const f = await c.ok('FETCH 1:4 UID');
    f.expectEqual(
      'UID SORT',
      uids,
      [1, 2, 3, 4].map((n) => Number((f.fetchOf(n).UID as { a: string }).a)),
    );
    (await c.no('SORT (DATE) X-NO-SUCH-CHARSET ALL')).codeMatches(/^BADCHARSET\b/i);
    await c.bad('SORT (NO-SUCH-KEY) UTF-8 ALL');
    await c.bad('SORT (DATE) ALL');
  }),

  group('sort-display', ['SORT=DISPLAY'], 'RFC 5957 §3', async ({ c }) => {
    await searchFixture(c);
    await c.append('INBOX', message({ From: 'Aaron Zed <zed@z.example>', Subject: 'display' }));
    await c.ok('NOOP');
    // The display name, or the addr-spec where there is none: "Alice Anderson", "Bob", "Carol",
    // "alice@a.example", "Aaron Zed" (last by FROM, which sorts on the mailbox "zed").
    await expectSort(c, 'SORT (FROM) UTF-8 ALL', [1, 4, 2, 3, 5]);
    await expectSort(c, 'SORT (DISPLAYFROM) UTF-8 ALL', [5, 1, 4, 2, 3]);
    // To: "bob@b.example", "alice@a.example" twice, "carol@c.example", "Alice".
    await expectSort(c, 'SORT (DISPLAYTO) UTF-8 ALL', [5, 2, 3, 1, 4]);
  }),

  group('esort', ['ESORT'], 'RFC 5267 §3.2', async ({ c }) => {
    await searchFixture(c);
    // MIN and MAX are the first and the last message in sort order (here 4 1 2 3).
    const a = await c.ok('SORT RETURN (MIN MAX COUNT) (SUBJECT) UTF-8 ALL');
    const e = a.esearch();
    a.expectEqual('ESORT', [e.tag, e.items], [a.reply.tagged.split(' ')[0], { MIN: '4', MAX: '3', COUNT: '4' }]);
    const all = await c.ok('SORT RETURN (ALL) (SUBJECT) UTF-8 ALL');
    all.expectEqual('ALL in sort order', expandSet(all.esearch().items.ALL), [4, 1, 2, 3]);
    const u = await c.ok('UID SORT RETURN (COUNT) (DATE) UTF-8 ALL');
    u.expectEqual('UID ESORT', [u.esearch().uid, u.esearch().items], [true, { COUNT: '4' }]);
  }),

  group('thread-orderedsubject', ['THREAD=ORDEREDSUBJECT'], 'RFC 5256 §3 ORDEREDSUBJECT', async ({ c }) => {
    await threadFixture(c);
    const a = await c.ok('THREAD ORDEREDSUBJECT UTF-8 ALL');
    a.one(/^\* THREAD \(1 \(2\)\(4\)\)\(3 5\)\(6 7\)$/i);
    const b = await c.ok('THREAD ORDEREDSUBJECT UTF-8 NOT 2');
    b.one(/^\* THREAD \(1 4\)\(3 5\)\(6 7\)$/i);
    (await c.no('THREAD ORDEREDSUBJECT X-NO-SUCH-CHARSET ALL')).codeMatches(/^BADCHARSET\b/i);
  }),

  group('sort-subject', ['SORT'], 'RFC 5256 §2.1 base subject extraction', async ({ c }) => {
    for (const subject of ['Re: [list] Fwd: Hello (fwd)', 'RE[2]: hello', '[Fwd: Hello]', 'Apple', '  Zebra  ', 'Re: re: Fwd: fw: hello', 'Hello'])
      await c.append('INBOX', message({ Subject: subject }));
    await c.ok('SELECT INBOX');
    // All of 1, 2, 3, 6 and 7 have the base subject "hello": ties go by message number.
    await expectSort(c, 'SORT (SUBJECT) UTF-8 ALL', [4, 1, 2, 3, 6, 7, 5]);
    // REVERSE reverses the key, not the tie-break by message number.
    await expectSort(c, 'SORT (REVERSE SUBJECT) UTF-8 ALL', [5, 1, 2, 3, 6, 7, 4]);
  }),

  group(
    'sort-thread-dates',
    ['SORT', 'THREAD=REFERENCES', 'THREAD=ORDEREDSUBJECT'],
    'RFC 5256 §2.2 sent date, §2.1 empty and tagged subjects, §3 loops',
    async ({ c }) => {
      const msgs: Array<[Record<string, string>, string]> = [
        [{ Subject: 'b', Date: 'Mon, 1 Jan 2024 12:00:00 +0500' }, '03-Jan-2024 12:00:00 +0000'],
        [{ Subject: 'Re: a', Date: '' }, '02-Jan-2024 12:00:00 +0000'],
        [{ Subject: 'Fwd: [x] A (fwd)', Date: 'Mon, 1 Jan 2024 08:00:00 +0000' }, '01-Jan-2024 12:00:00 +0000'],
        [{ Subject: 'a', Date: 'garbage date' }, '01-Jan-2024 12:00:00 +0000'],
        [{ Subject: '', Date: 'Mon, 1 Jan 2024 07:30:00 +0000', 'Message-ID': '<m5@x>' }, '05-Jan-2024 12:00:00 +0000'],
        [{ Subject: 'Re: ', Date: 'Mon, 1 Jan 2024 07:30:00 +0000', References: '<m5@x>', 'Message-ID': '<m6@x>' }, '04-Jan-2024 12:00:00 +0000'],
        [
          { Subject: '[PATCH] Re: b', Date: 'Mon, 1 Jan 2024 07:31:00 +0000', 'Message-ID': '<m7@x>', References: '<m6@x> <m5@x>' },
          '04-Jan-2024 12:00:00 +0000',
        ],
        [{ Subject: 'Re: Re: c', Date: 'Tue, 2 Jan 2024 07:31:00 -1100' }, '04-Jan-2024 12:00:00 +0000'],
      ];
      for (const [headers, date] of msgs) await c.append('INBOX', message(headers), { date });
      await c.ok('SELECT INBOX');
      // Sent dates compare in UTC; no Date or an unreadable one falls back to the INTERNALDATE.
      await expectSort(c, 'SORT (DATE) UTF-8 ALL', [1, 5, 6, 7, 3, 4, 2, 8]);
      // REVERSE turns the key around; equal keys stay in message number order.
      await expectSort(c, 'SORT (REVERSE DATE) UTF-8 ALL', [8, 2, 4, 3, 7, 5, 6, 1]);
      await expectSort(c, 'SORT (ARRIVAL) UTF-8 ALL', [3, 4, 2, 1, 6, 7, 8, 5]);
      // Base subjects "" (5, 6), "a" (2, 3, 4), "b" (1, and 7 without "[PATCH] Re:"), "c".
      await expectSort(c, 'SORT (SUBJECT) UTF-8 ALL', [5, 6, 2, 3, 4, 1, 7, 8]);
      // 7 names 6 before 5, but 6 already replies to 5: that link would make a loop.
      (await c.ok('THREAD REFERENCES UTF-8 ALL')).one(/^\* THREAD \(1\)\(5 \(6\)\(7\)\)\(4 \(3\)\(2\)\)\(8\)$/i);
      (await c.ok('THREAD ORDEREDSUBJECT UTF-8 ALL')).one(/^\* THREAD \(1 7\)\(5 6\)\(3 \(4\)\(2\)\)\(8\)$/i);
    },
  ),

  group('thread-missing-parents', ['THREAD=REFERENCES'], 'RFC 5256 §3 REFERENCES steps 1–4', async ({ c }) => {
    const t = (n: number, subject: string, refs = '', id = `<${n}@thread.example>`) =>
      message({ Subject: subject, Date: `Mon, ${n} Jan 2024 12:00:00 +0000`, 'Message-ID': id, ...(refs ? { References: refs } : {}) });
    await c.append('INBOX', t(1, 'root'));
    // A parent that is not in the mailbox between 1 and 2: 2 is still in 1's thread (step 4).
    await c.append('INBOX', t(2, 'Re: root', '<1@thread.example> <gone@thread.example>'));
    // Two replies to a message that is not there share a dummy parent.
    await c.append('INBOX', t(3, 'lost', '<lost@thread.example>'));
    await c.append('INBOX', t(4, 'Re: lost', '<lost@thread.example>'));
    // A message referring to itself is not its own parent.
    await c.append('INBOX', t(5, 'self', '<5@thread.example>'));
    await c.ok('SELECT INBOX');
    (await c.ok('THREAD REFERENCES UTF-8 ALL')).one(/^\* THREAD \(1 2\)\(\(3\)\(4\)\)\(5\)$/i);
  }),

  group('thread-references', ['THREAD=REFERENCES'], 'RFC 5256 §3 REFERENCES', async ({ c }) => {
    await threadFixture(c);
    // 4 replies to 2 (its last reference); 7 joins 6 by subject (step 5).
    const a = await c.ok('THREAD REFERENCES UTF-8 ALL');
    a.one(/^\* THREAD \(1 2 4\)\(3 5\)\(6 7\)$/i);
    const u = await c.ok('UID THREAD REFERENCES UTF-8 ALL');
    const f = await c.ok('FETCH 1:7 UID');
    const uid = (n: number) => (f.fetchOf(n).UID as { a: string }).a;
    u.one(new RegExp(`^\\* THREAD \\(${uid(1)} ${uid(2)} ${uid(4)}\\)\\(${uid(3)} ${uid(5)}\\)\\(${uid(6)} ${uid(7)}\\)$`, 'i'));
    await c.bad('THREAD NO-SUCH-ALGORITHM UTF-8 ALL');
  }),
];

/** The given messages by size, largest first (ties by number). */
async function sizesDescending(c: Client, seqs: number[]): Promise<number[]> {
  const f = await c.ok(`FETCH ${seqs.join(',')} RFC822.SIZE`);
  const size = (n: number) => Number((f.fetchOf(n)['RFC822.SIZE'] as { a: string }).a);
  return [...seqs].sort((x, y) => size(y) - size(x) || x - y);
}
