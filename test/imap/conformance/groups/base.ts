/**
 * IMAP4rev1 itself (RFC 3501, as RFC 9051 keeps it): state and mailbox commands, APPEND,
 * COPY, EXPUNGE, CLOSE, STORE, UID, literals.
 */
import { lit, type Client } from '../client.ts';
import { group } from '../group.ts';
import { message } from '../messages.ts';

/** APPENDs `count` small messages (subjects m1…) to `mailbox`. */
export async function seed(c: Client, mailbox: string, count: number, flags: (i: number) => string = () => ''): Promise<void> {
  for (let i = 1; i <= count; i++) await c.append(mailbox, message({ Subject: `m${i}` }), { flags: flags(i) });
}

/** The UIDs of messages 1:* in the selected mailbox, in order. */
export async function uidsOf(c: Client): Promise<number[]> {
  const a = await c.ok('FETCH 1:* (UID)');
  return [...a.fetch().entries()].sort(([x], [y]) => x - y).map(([, r]) => Number((r.UID as { a: string }).a));
}

/** An IMAP date-time (`17-Jul-1996 02:44:25 -0700`) as milliseconds since the epoch. */
export function dateTime(s: string): number {
  const m = /^ ?(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(s);
  if (!m) throw new Error(`not a date-time: ${s}`);
  const month = 'JanFebMarAprMayJunJulAugSepOctNovDec'.indexOf(m[2]) / 3;
  const offset = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  return Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])) - offset * 60_000;
}

export const baseGroups = [
  group('connection', [], 'RFC 3501 §6.1, §6.2.3, §7.1.5', async ({ c }) => {
    if (!c.caps.has('IMAP4REV1')) (await c.ok('CAPABILITY')).fail('IMAP4rev1 is not announced');
    await c.ok('NOOP');
    await c.bad('NO-SUCH-COMMAND');
    // FETCH is valid only in the selected state.
    await c.bad('FETCH 1 FLAGS');
    await c.bad('SELECT');
    const bye = await c.ok('LOGOUT');
    bye.one(/^\* BYE/i);
  }),

  group('select', [], 'RFC 3501 §6.3.1, §6.3.2', async ({ c }) => {
    await seed(c, 'INBOX', 3, (i) => (i === 1 ? '\\Seen' : ''));
    const a = await c.ok('SELECT INBOX');
    a.one(/^\* 3 EXISTS$/i);
    a.one(/^\* \d+ RECENT$/i);
    a.one(/^\* FLAGS \(.*\\Seen.*\)$/i);
    a.one(/^\* OK \[PERMANENTFLAGS \(.*\\Deleted.*\)\]/i);
    a.one(/^\* OK \[UIDVALIDITY [1-9]\d*\]/i);
    const uidNext = Number(a.one(/^\* OK \[UIDNEXT (\d+)\]/i)[1]);
    a.one(/^\* OK \[UNSEEN 2\]/i);
    a.codeMatches(/^READ-WRITE$/i);
    const uids = await uidsOf(c);
    if (!(uidNext > Math.max(...uids))) a.fail(`UIDNEXT ${uidNext} is not above the UIDs ${uids}`);
    const e = await c.ok('EXAMINE INBOX');
    e.one(/^\* 3 EXISTS$/i);
    e.codeMatches(/^READ-ONLY$/i);
    // EXAMINE is read-only: no flag changes (refused, or ignored as Dovecot does), and FETCH
    // BODY[] does not set \Seen.
    await c.send('STORE 2 +FLAGS (\\Flagged)');
    await c.ok('FETCH 2 BODY[]');
    const peeked = await c.ok('FETCH 2 FLAGS');
    peeked.expectEqual('flags after FETCH BODY[] under EXAMINE', peeked.flags(2), []);
    // A failed SELECT leaves no mailbox selected (RFC 3501 §6.3.1).
    await c.no('SELECT "No such mailbox"');
    await c.bad('FETCH 1 FLAGS');
  }),

  group('mailboxes', [], 'RFC 3501 §6.3.3–§6.3.5', async ({ c }) => {
    await c.ok('CREATE conf');
    await c.ok('CREATE conf/a');
    await c.no('CREATE conf');
    await c.no('DELETE "No such mailbox"');
    await c.no('DELETE INBOX');
    await seed(c, 'conf/a', 2);
    await c.ok('RENAME conf renamed');
    (await c.ok('STATUS renamed/a (MESSAGES)')).one(/^\* STATUS "?renamed\/a"? \(MESSAGES 2\)$/i);
    await c.no('STATUS conf/a (MESSAGES)');
    await c.no('RENAME "No such mailbox" other');
    await c.ok('CREATE other');
    await c.no('RENAME renamed/a other');
    await c.ok('DELETE renamed/a');
    await c.no('SELECT renamed/a');
    (await c.ok('LIST "" renamed/*')).none(/renamed\/a/i);
  }),

  group('list', ['CHILDREN'], 'RFC 3501 §6.3.8, RFC 3348', async ({ c }) => {
    for (const m of ['tree', 'tree/a', 'tree/b', 'tree/b/c']) await c.ok(`CREATE ${m}`);
    (await c.ok('LIST "" ""')).one(/^\* LIST \(\\Noselect\) "\/" ""$/i);
    const all = await c.ok('LIST "" tree*');
    const names = all.all(/^\* LIST \([^)]*\) "\/" "?([^"]*)"?$/i).map((m) => m[1]);
    all.expectEqual('LIST "" tree*', names.sort(), ['tree', 'tree/a', 'tree/b', 'tree/b/c']);
    const top = await c.ok('LIST "" tree/%');
    top.expectEqual(
      'LIST "" tree/%',
      top
        .all(/^\* LIST \([^)]*\) "\/" "?([^"]*)"?$/i)
        .map((m) => m[1])
        .sort(),
      ['tree/a', 'tree/b'],
    );
    top.one(/^\* LIST \([^)]*\\HasChildren[^)]*\) "\/" "?tree\/b"?$/i);
    top.one(/^\* LIST \([^)]*\\HasNoChildren[^)]*\) "\/" "?tree\/a"?$/i);
    // The reference is prefixed to the pattern (RFC 3501 §6.3.8).
    const ref = await c.ok('LIST tree/ %');
    ref.expectEqual('LIST tree/ %', ref.all(/^\* LIST /i).length, 2);
    (await c.ok('LIST "" INBOX')).one(/^\* LIST \([^)]*\) "\/" "?INBOX"?$/i);
    // INBOX is case-insensitive.
    (await c.ok('LIST "" inbox')).one(/^\* LIST \([^)]*\) "\/" "?INBOX"?$/i);
    (await c.ok('LIST "" nothing-here*')).none(/^\* LIST/i);
    // CREATE makes the superiors a name needs (RFC 3501 §6.3.3); LIST shows them (§6.3.8).
    await c.ok('CREATE deep/er/est');
    const d = await c.ok('LIST "" deep/%');
    d.one(/^\* LIST \([^)]*\) "\/" "?deep\/er"?$/i);
    (await c.ok('LIST "" %')).one(/^\* LIST \([^)]*\) "\/" "?deep"?$/i);
    (await c.ok('LIST "" deep/%/%')).one(/^\* LIST \([^)]*\) "\/" "?deep\/er\/est"?$/i);
  }),

  group('subscribe', [], 'RFC 3501 §6.3.6, §6.3.7, §6.3.9', async ({ c }) => {
    await c.ok('CREATE sub');
    await c.ok('CREATE sub/one');
    await c.ok('SUBSCRIBE sub/one');
    (await c.ok('LSUB "" sub/*')).one(/^\* LSUB \([^)]*\) "\/" "?sub\/one"?$/i);
    await c.ok('UNSUBSCRIBE sub/one');
    (await c.ok('LSUB "" sub/*')).none(/^\* LSUB/i);
    // Deleting a mailbox does not take it off the subscriptions (RFC 3501 §6.3.6).
    await c.ok('CREATE gone');
    await c.ok('SUBSCRIBE gone');
    await c.ok('DELETE gone');
    (await c.ok('LSUB "" gone')).one(/^\* LSUB \([^)]*\) "\/" "?gone"?$/i);
  }),

  group('status', [], 'RFC 3501 §6.3.10', async ({ c }) => {
    await c.ok('CREATE st');
    await seed(c, 'st', 3, (i) => (i === 2 ? '\\Seen' : ''));
    const a = await c.ok('STATUS st (MESSAGES UNSEEN UIDNEXT UIDVALIDITY RECENT)');
    const [, data] = a.one(/^\* STATUS "?st"? \((.*)\)$/i);
    const items = Object.fromEntries(data.match(/\w+ \d+/g)!.map((p) => p.split(' ')));
    a.expectEqual('MESSAGES', items.MESSAGES, '3');
    a.expectEqual('UNSEEN', items.UNSEEN, '2');
    if (!(Number(items.UIDNEXT) >= 4) || !(Number(items.UIDVALIDITY) > 0) || items.RECENT === undefined) a.fail('UIDNEXT, UIDVALIDITY, RECENT');
    await c.no('STATUS "No such mailbox" (MESSAGES)');
    await c.bad('STATUS st (NO-SUCH-ITEM)');
  }),

  group('append', [], 'RFC 3501 §6.3.11', async ({ c }) => {
    await c.ok('CREATE ap');
    const msg = message({ Subject: 'appended' });
    await c.append('ap', msg, { flags: '\\Seen \\Flagged', date: '17-Jul-1996 02:44:25 -0700' });
    await c.ok('SELECT ap');
    const f = await c.ok('FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE)');
    f.expectEqual('flags', f.flags(1), ['\\FLAGGED', '\\SEEN']);
    f.expectEqual('INTERNALDATE', dateTime(f.text(1, 'INTERNALDATE')), dateTime('17-Jul-1996 02:44:25 -0700'));
    f.expectItem(1, 'RFC822.SIZE', String(msg.length));
    f.expectEqual('the message', (await c.ok('FETCH 1 BODY.PEEK[]')).text(1, 'BODY[]'), msg);
    // Appending to the selected mailbox tells its new size.
    (await c.append('ap', msg)).one(/^\* 2 EXISTS$/i);
    const t = await c.no(`APPEND "No such mailbox" ${lit(msg)}`);
    t.codeMatches(/^TRYCREATE$/i);
    await c.bad(`APPEND ap (\\Seen "not a flag") ${lit(msg)}`);
    await c.bad(`APPEND ap "99-Foo-1996 02:44:25 -0700" ${lit(msg)}`);
    (await c.ok('NOOP')).none(/^\* 3 EXISTS$/i);
  }),

  group('copy', [], 'RFC 3501 §6.4.7', async ({ c }) => {
    await c.ok('CREATE dest');
    await seed(c, 'INBOX', 2, (i) => (i === 2 ? '\\Flagged $Work' : ''));
    await c.append('INBOX', message({ Subject: 'm3' }), { date: '01-Jun-2023 12:00:00 +0000' });
    await c.ok('SELECT INBOX');
    await c.ok('COPY 2:3 dest');
    (await c.ok('STATUS dest (MESSAGES)')).one(/\(MESSAGES 2\)/i);
    (await c.no('COPY 1 "No such mailbox"')).codeMatches(/^TRYCREATE$/i);
    (await c.ok('NOOP')).none(/EXPUNGE/i);
    await c.ok('EXAMINE dest');
    const f = await c.ok('FETCH 1:2 (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    f.expectEqual('flags copied', f.flags(1), ['$WORK', '\\FLAGGED']);
    f.expectEqual('internal date kept', dateTime(f.text(2, 'INTERNALDATE')), Date.UTC(2023, 5, 1, 12));
    f.expectEqual('order kept', f.text(2, 'BODY[HEADER.FIELDS (SUBJECT)]'), 'Subject: m3\r\n\r\n');
  }),

  group('expunge', [], 'RFC 3501 §6.4.3, §7.4.1', async ({ c, connect }) => {
    await seed(c, 'INBOX', 11);
    await c.ok('SELECT INBOX');
    const before = await uidsOf(c);
    const other = await connect();
    await other.ok('SELECT INBOX');
    await c.ok('STORE 3,4,7,11 +FLAGS.SILENT (\\Deleted)');
    const x = await c.ok('EXPUNGE');
    // Each EXPUNGE renumbers the messages after it: applying them in the order sent must remove
    // exactly 3, 4, 7 and 11 (the RFC's example sends 3 3 5 8).
    const apply = (a: typeof x, list: number[]) => {
      const left = [...list];
      for (const m of a.all(/^\* (\d+) EXPUNGE$/i)) {
        const n = Number(m[1]);
        if (n < 1 || n > left.length) a.fail(`EXPUNGE ${n} of ${left.length} messages`);
        left.splice(n - 1, 1);
      }
      return left;
    };
    const expected = before.filter((_, i) => ![3, 4, 7, 11].includes(i + 1));
    x.expectEqual('messages left', apply(x, before), expected);
    x.expectEqual('the UIDs left', await uidsOf(c), expected);
    // Another session learns of the expunges at its next command (RFC 3501 §7.4.1).
    const n = await other.ok('NOOP');
    n.expectEqual('the other session', apply(n, before), expected);
    other.close();
    await c.ok('STORE 1 +FLAGS.SILENT (\\Deleted)');
    // CLOSE expunges silently; after it no mailbox is selected (RFC 3501 §6.4.2).
    (await c.ok('CLOSE')).none(/EXPUNGE/i);
    await c.bad('FETCH 1 FLAGS');
    (await c.ok('STATUS INBOX (MESSAGES)')).one(/\(MESSAGES 6\)/i);
    // EXAMINE then CLOSE expunges nothing.
    await c.ok('SELECT INBOX');
    await c.ok('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await c.ok('EXAMINE INBOX');
    await c.ok('CLOSE');
    (await c.ok('STATUS INBOX (MESSAGES)')).one(/\(MESSAGES 6\)/i);
  }),

  group('sessions', [], 'RFC 3501 §7.4.1, §5.2, §5.5 (what a second session is told, and when)', async ({ c, connect }) => {
    await seed(c, 'INBOX', 3);
    await c.ok('SELECT INBOX');
    const other = await connect();
    await other.ok('SELECT INBOX');
    await other.append('INBOX', message({ Subject: 'from the other session' }));
    (await c.ok('NOOP')).one(/^\* 4 EXISTS$/i);
    await other.ok('STORE 2 +FLAGS.SILENT (\\Flagged)');
    const n = await c.ok('NOOP');
    n.expectEqual('flag change told', n.flags(2), ['\\FLAGGED']);
    await other.ok('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await other.ok('EXPUNGE');
    // No EXPUNGE while answering FETCH, STORE or SEARCH: the numbers must stay as the client
    // knows them (RFC 3501 §7.4.1).
    for (const cmd of ['FETCH 2 (FLAGS)', 'STORE 3 +FLAGS.SILENT (\\Seen)', 'SEARCH ALL']) (await c.ok(cmd)).none(/EXPUNGE/i);
    const f = await c.ok('NOOP');
    f.one(/^\* 1 EXPUNGE$/i);
    const r = await c.ok('FETCH 1 (FLAGS)');
    r.expectEqual('renumbered', r.flags(1), ['\\FLAGGED']);
  }),

  group('recent', [], 'RFC 3501 §2.3.2 \\Recent, §6.4.4 NEW, OLD, RECENT', async ({ c, connect }) => {
    await seed(c, 'INBOX', 2);
    // Another session sees the first two first: they are not recent for this one.
    const other = await connect();
    await other.ok('SELECT INBOX');
    await other.ok('CLOSE');
    (await c.ok('SELECT INBOX')).one(/^\* 0 RECENT$/i);
    // A message that arrives while this session has the mailbox selected is recent here only.
    await other.append('INBOX', message({ Subject: 'new one' }));
    const n = await c.ok('NOOP');
    n.one(/^\* 3 EXISTS$/i);
    n.one(/^\* 1 RECENT$/i);
    for (const [key, want] of [
      ['RECENT', [3]],
      ['NEW', [3]],
      ['OLD', [1, 2]],
    ] as const) {
      const a = await c.ok(`SEARCH ${key}`);
      a.expectEqual(`SEARCH ${key}`, a.numbers(), want);
    }
    const f = await c.ok('FETCH 3 FLAGS');
    if (!f.has(/\\Recent/i)) f.fail('\\Recent not in FLAGS');
    await other.ok('SELECT INBOX');
    const o = await other.ok('FETCH 3 FLAGS');
    if (o.has(/\\Recent/i)) o.fail('\\Recent in two sessions');
  }),

  group('mailbox-names', [], 'RFC 3501 §5.1.3 modified UTF-7', async ({ c }) => {
    // "Été" and "日本" in modified UTF-7.
    for (const name of ['&AMk-t&AOk-', '&ZeVnLA-']) {
      await c.ok(`CREATE "${name}"`);
      (await c.ok(`LIST "" "${name}"`)).one(new RegExp(`^\\* LIST \\([^)]*\\) "/" "?${name.replace(/[&-]/g, (x) => '\\' + x)}"?$`));
      await c.ok(`SELECT "${name}"`);
    }
    await c.refused('CREATE "&Jjo"');
  }),

  group('store', [], 'RFC 3501 §6.4.6', async ({ c }) => {
    await seed(c, 'INBOX', 3);
    await c.ok('SELECT INBOX');
    const uids = await uidsOf(c);
    let a = await c.ok('STORE 1 +FLAGS (\\Flagged)');
    a.expectEqual('+FLAGS', a.flags(1), ['\\FLAGGED']);
    a = await c.ok('STORE 1 +FLAGS ($Label1 \\Seen)');
    a.expectEqual('+FLAGS keyword', a.flags(1), ['$LABEL1', '\\FLAGGED', '\\SEEN']);
    a = await c.ok('STORE 1 -FLAGS (\\Flagged)');
    a.expectEqual('-FLAGS', a.flags(1), ['$LABEL1', '\\SEEN']);
    a = await c.ok('STORE 1:2 FLAGS (\\Answered)');
    a.expectEqual('FLAGS replaces (1)', a.flags(1), ['\\ANSWERED']);
    a.expectEqual('FLAGS replaces (2)', a.flags(2), ['\\ANSWERED']);
    (await c.ok('STORE 3 +FLAGS.SILENT (\\Draft)')).none(/^\* 3 FETCH/i);
    a = await c.ok(`UID STORE ${uids[2]} -FLAGS (\\Draft)`);
    a.expectItem(3, 'UID', String(uids[2]));
    a.expectEqual('UID STORE', a.flags(3), []);
    a = await c.ok('FETCH 1:3 FLAGS');
    a.expectEqual('after all', [a.flags(1), a.flags(2), a.flags(3)], [['\\ANSWERED'], ['\\ANSWERED'], []]);
    // A keyword a message carries is one of the mailbox's FLAGS (RFC 3501 §7.2.6).
    await c.ok('STORE 2 +FLAGS.SILENT ($Label2)');
    (await c.ok('EXAMINE INBOX')).one(/^\* FLAGS \(.*\$Label2.*\)$/i);
    await c.ok('SELECT INBOX');
    await c.bad('STORE 1 +FLAGS (\\NoSuchSystemFlag)');
    await c.bad('STORE 1 FROBNICATE (\\Seen)');
  }),

  group('uid', [], 'RFC 3501 §6.4.8', async ({ c }) => {
    await seed(c, 'INBOX', 3);
    await c.ok('SELECT INBOX');
    const uids = await uidsOf(c);
    const f = await c.ok(`UID FETCH ${uids[1]}:${uids[2]} FLAGS`);
    f.expectItem(2, 'UID', String(uids[1]));
    f.expectItem(3, 'UID', String(uids[2]));
    f.none(/^\* 1 FETCH/i);
    // n:* with n above every UID still names the last message.
    (await c.ok(`UID FETCH ${uids[2] + 100}:* FLAGS`)).expectItem(3, 'UID', String(uids[2]));
    // A UID that does not exist is not an error.
    (await c.ok(`UID FETCH ${uids[2] + 50} FLAGS`)).none(/FETCH/i);
    const s = await c.ok(`UID SEARCH UID ${uids[0]},${uids[2]}`);
    s.expectEqual('UID SEARCH', s.numbers(), [uids[0], uids[2]]);
    await c.ok('CREATE uidcopy');
    await c.ok(`UID COPY ${uids[0]} uidcopy`);
    (await c.ok('STATUS uidcopy (MESSAGES)')).one(/\(MESSAGES 1\)/i);
  }),

  group('pipelining', [], 'RFC 3501 §5.5', async ({ c }) => {
    await seed(c, 'INBOX', 3);
    await c.ok('SELECT INBOX');
    // Commands sent without waiting (none affecting another's result): each answered with its
    // own tag, not necessarily in order (a server may run them in parallel).
    c.write('P1 FETCH 1 (FLAGS)\r\nP2 SEARCH ALL\r\nP3 STATUS Sent (MESSAGES)\r\nP4 NOOP\r\n');
    const lines: string[] = [];
    const tagged = new Map<string, string>();
    while (tagged.size < 4) {
      const l = await c.raw.response();
      const m = /^(P[1-4]) /.exec(l);
      if (m) tagged.set(m[1], l);
      else lines.push(l);
    }
    const seen = (re: RegExp) => lines.some((l) => re.test(l));
    if (
      ![...tagged.values()].every((t) => / OK/i.test(t)) ||
      !seen(/^\* 1 FETCH \(FLAGS/i) ||
      !seen(/^\* SEARCH 1 2 3$/i) ||
      !seen(/^\* STATUS "?Sent"? \(MESSAGES 0\)$/i)
    )
      throw new Error(`pipelined commands: ${JSON.stringify({ lines, tagged: [...tagged.values()] })}`);
  }),

  group('keywords', [], 'RFC 3501 §2.3.2 (keywords are case-insensitive)', async ({ c }) => {
    await seed(c, 'INBOX', 2);
    await c.ok('SELECT INBOX');
    await c.ok('STORE 1 +FLAGS ($Work)');
    await c.ok('STORE 1 +FLAGS ($WORK)');
    const a = await c.ok('FETCH 1 FLAGS');
    a.expectEqual('one keyword', a.flags(1), ['$WORK']);
    const s = await c.ok('SEARCH KEYWORD $work');
    s.expectEqual('SEARCH KEYWORD', s.numbers(), [1]);
    await c.ok('STORE 1 -FLAGS ($wOrK)');
    const b = await c.ok('FETCH 1 FLAGS');
    b.expectEqual('removed', b.flags(1), []);
  }),

  group('literals', [], 'RFC 3501 §4.3, §7.5', async ({ c }) => {
    // A synchronizing literal gets a continuation request before its octets.
    await c.ok(`CREATE ${lit('literal box')}`);
    (await c.ok(`LIST "" ${lit('literal box')}`)).one(/^\* LIST \([^)]*\) "\/" ("literal box"|\{11\}literal box)$/i);
    (await c.ok('STATUS "literal box" (MESSAGES)')).one(/\(MESSAGES 0\)/i);
    // Quoted strings carry escaped quotes and backslashes.
    await c.ok('CREATE "quote\\"d"');
    (await c.ok('LIST "" "quote*"')).one(/^\* LIST \([^)]*\) "\/" ("quote\\"d"|\{7\}quote"d)$/i);
  }),
];
