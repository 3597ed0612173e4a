/**
 * Command-level extensions: ID (RFC 2971), ENABLE (RFC 5161), UNSELECT (RFC 3691), UIDPLUS
 * (RFC 4315), MOVE (RFC 6851), IDLE (RFC 2177), LITERAL+ (RFC 7888), MULTIAPPEND (RFC 3502),
 * APPENDLIMIT (RFC 7889), COMPRESS=DEFLATE (RFC 4978), PREVIEW (RFC 8970), OBJECTID (RFC 8474),
 * UTF8=ACCEPT (RFC 6855), UNAUTHENTICATE (RFC 8437), IMAP4rev2 (RFC 9051).
 */
import { AWAIT_CONTINUATION, expandSet, lit, lit8, utf8 } from '../client.ts';
import { group } from '../group.ts';
import { message } from '../messages.ts';
import { seed, uidsOf } from './base.ts';

export const sessionExtensionGroups = [
  group('id', ['ID'], 'RFC 2971 §3.1', async ({ c }) => {
    (await c.ok('ID NIL')).one(/^\* ID (NIL|\(.*\))$/i);
    (await c.ok('ID ("name" "conformance" "version" "1")')).one(/^\* ID (NIL|\(.*\))$/i);
  }),

  group('enable', ['ENABLE', 'CONDSTORE'], 'RFC 5161 §3.1, §3.2', async ({ c }) => {
    (await c.ok('ENABLE CONDSTORE')).one(/^\* ENABLED CONDSTORE$/i);
    // Unknown extensions are ignored; each extension is told once.
    const a = await c.ok('ENABLE X-NO-SUCH-EXTENSION CONDSTORE');
    a.none(/X-NO-SUCH-EXTENSION/i);
  }),

  group('unselect', ['UNSELECT'], 'RFC 3691 §2', async ({ c }) => {
    await seed(c, 'INBOX', 2);
    await c.ok('SELECT INBOX');
    await c.ok('STORE 1 +FLAGS.SILENT (\\Deleted)');
    (await c.ok('UNSELECT')).none(/EXPUNGE/i);
    await c.bad('FETCH 1 FLAGS');
    (await c.ok('STATUS INBOX (MESSAGES)')).one(/\(MESSAGES 2\)/i);
    await c.bad('UNSELECT');
  }),

  group('uidplus', ['UIDPLUS'], 'RFC 4315 §2.1, §3', async ({ c }) => {
    await c.ok('CREATE up');
    const st = await c.ok('STATUS up (UIDVALIDITY)');
    const validity = st.one(/UIDVALIDITY (\d+)/i)[1];
    const ap = await c.append('up', message({ Subject: 'uidplus' }));
    const [, v, uid] = ap.codeMatches(/^APPENDUID (\d+) (\d+)$/i);
    ap.expectEqual('APPENDUID validity', v, validity);
    await c.ok('SELECT up');
    ap.expectEqual('APPENDUID names the UID', (await uidsOf(c))[0], Number(uid));
    await seed(c, 'up', 3);
    await c.ok('CREATE up2');
    const uids = await uidsOf(c);
    const cp = await c.ok('COPY 2:3 up2');
    const [, v2, src, dst] = cp.codeMatches(/^COPYUID (\d+) (\S+) (\S+)$/i);
    const dstValidity = (await c.ok('STATUS up2 (UIDVALIDITY)')).one(/UIDVALIDITY (\d+)/i)[1];
    cp.expectEqual('COPYUID', [v2, expandSet(src), expandSet(dst).length], [dstValidity, uids.slice(1, 3), 2]);
    await c.ok('STORE 1:3 +FLAGS.SILENT (\\Deleted)');
    // UID EXPUNGE removes only the deleted messages it names.
    const x = await c.ok(`UID EXPUNGE ${uids[1]}:${uids[3]}`);
    x.expectEqual('UID EXPUNGE', x.all(/^\* \d+ EXPUNGE$/i).length, 2);
    x.expectEqual('left', await uidsOf(c), [uids[0], uids[3]]);
  }),

  group('move', ['MOVE', 'UIDPLUS'], 'RFC 6851 §3.1–§3.3, §4.3', async ({ c }) => {
    await seed(c, 'INBOX', 3, (i) => (i === 2 ? '\\Flagged' : ''));
    await c.ok('CREATE moved');
    await c.ok('SELECT INBOX');
    const uids = await uidsOf(c);
    const a = await c.ok('MOVE 2 moved');
    a.one(/^\* 2 EXPUNGE$/i);
    // COPYUID comes in an untagged OK before the expunges, or on the tagged OK.
    const code = a.all(/^\* OK \[COPYUID (\d+) (\S+) (\S+)\]/i)[0] ?? a.codeMatches(/^COPYUID (\d+) (\S+) (\S+)$/i);
    a.expectEqual('COPYUID source', expandSet(code[2]), [uids[1]]);
    a.expectEqual('left', await uidsOf(c), [uids[0], uids[2]]);
    const u = await c.ok(`UID MOVE ${uids[2]} moved`);
    u.one(/^\* 2 EXPUNGE$/i);
    (await c.no('MOVE 1 "No such mailbox"')).codeMatches(/^TRYCREATE$/i);
    await c.ok('EXAMINE moved');
    const f = await c.ok('FETCH 1:2 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    f.expectEqual('moved with flags', f.flags(1), ['\\FLAGGED']);
    f.expectEqual('moved', f.text(2, 'BODY[HEADER.FIELDS (SUBJECT)]'), 'Subject: m3\r\n\r\n');
  }),

  group('idle', ['IDLE'], 'RFC 2177 §3', async ({ c, connect }) => {
    await seed(c, 'INBOX', 1);
    await c.ok('SELECT INBOX');
    const tag = c.tag();
    c.write(`${tag} IDLE\r\n`);
    const cont = await c.raw.response();
    if (!cont.startsWith('+')) throw new Error(`IDLE: expected a continuation request, got ${cont}`);
    const other = await connect();
    await other.append('INBOX', message({ Subject: 'while idle' }));
    await other.ok('SELECT INBOX');
    await other.ok('STORE 1 +FLAGS (\\Flagged)');
    const seen: string[] = [];
    const wait = async (what: string, done: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`IDLE told ${JSON.stringify(seen)}, not ${what}`);
        seen.push(await c.raw.response(deadline - Date.now()));
      }
    };
    await wait(
      'the new message and the flag change',
      () => seen.some((l) => /^\* 2 EXISTS$/i.test(l)) && seen.some((l) => /^\* 1 FETCH \(.*\\Flagged/i.test(l)),
    );
    // An expunge elsewhere is told during IDLE too (RFC 2177 §3, RFC 3501 §7.4.1).
    await other.ok('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await other.ok('EXPUNGE');
    await wait('the expunge', () => seen.some((l) => /^\* 1 EXPUNGE$/i.test(l)));
    c.write('DONE\r\n');
    const done = await c.raw.until(tag);
    if (!/^\S+ OK/i.test(done.tagged)) throw new Error(`IDLE ended with ${done.tagged}`);
    await c.ok('NOOP');
  }),

  group('literal-plus', ['LITERAL+'], 'RFC 7888 §3', async ({ c }) => {
    const msg = message({ Subject: 'non-synchronizing' });
    // No continuation request is awaited: the octets follow right away.
    await c.ok(`CREATE {6+}\r\nlplus!`);
    const a = await c.ok(`APPEND lplus! (\\Seen) {${msg.length}+}\r\n${msg}`);
    a.none(/^\+/);
    (await c.ok('STATUS lplus! (MESSAGES)')).one(/\(MESSAGES 1\)/i);
  }),

  group('multiappend', ['MULTIAPPEND', 'UIDPLUS'], 'RFC 3502 §6.3.11', async ({ c }) => {
    await c.ok('CREATE multi');
    const [m1, m2, m3] = ['one', 'two', 'three'].map((s) => message({ Subject: s }));
    const a = await c.ok(`APPEND multi (\\Seen) ${lit(m1)} ${lit(m2)} (\\Flagged) "01-Feb-2024 12:00:00 +0000" ${lit(m3)}`);
    const [, , set] = a.codeMatches(/^APPENDUID (\d+) (\S+)$/i);
    a.expectEqual('APPENDUID names three UIDs', expandSet(set).length, 3);
    await c.ok('EXAMINE multi');
    const f = await c.ok('FETCH 1:3 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    f.expectEqual(
      'in order, each with its flags',
      [f.flags(1), f.flags(2), f.flags(3), f.text(3, 'BODY[HEADER.FIELDS (SUBJECT)]')],
      [['\\SEEN'], [], ['\\FLAGGED'], 'Subject: three\r\n\r\n'],
    );
    // All or nothing: an error in the third message stores none of them.
    await c.refused(`APPEND multi ${lit(m1)} ${lit(m2)} "99-Bad-2024 12:00:00 +0000" ${lit(m3)}`);
    (await c.ok('STATUS multi (MESSAGES)')).one(/\(MESSAGES 3\)/i);
  }),

  group('appendlimit', ['APPENDLIMIT='], 'RFC 7889 §3, §4', async ({ c }) => {
    const limit = Number([...c.caps].find((x) => x.startsWith('APPENDLIMIT='))!.split('=')[1]);
    // Over the limit: refused at the literal's announcement, before any octet is sent.
    const a = await c.send(`APPEND INBOX {${limit + 1}}\r\n${AWAIT_CONTINUATION}`);
    a.expectEqual('over APPENDLIMIT', [a.status, a.code.toUpperCase()], ['NO', 'TOOBIG']);
    (await c.ok('STATUS INBOX (MESSAGES)')).one(/\(MESSAGES 0\)/i);
  }),

  group('compress', ['COMPRESS=DEFLATE'], 'RFC 4978 §3, §4', async ({ c }) => {
    await seed(c, 'INBOX', 2);
    await c.ok('COMPRESS DEFLATE');
    c.startDeflate();
    await c.ok('SELECT INBOX');
    const f = await c.ok('FETCH 2 BODY.PEEK[HEADER.FIELDS (SUBJECT)]');
    f.expectEqual('FETCH through deflate', f.text(2, 'BODY[HEADER.FIELDS (SUBJECT)]'), 'Subject: m2\r\n\r\n');
    await c.append('INBOX', message({ Subject: 'compressed append' }, 'z'.repeat(5000) + '\r\n'));
    (await c.no('COMPRESS DEFLATE')).codeMatches(/^COMPRESSIONACTIVE$/i);
  }),

  group('preview', ['PREVIEW'], 'RFC 8970 §3', async ({ c }) => {
    await c.append('INBOX', message({ Subject: 'preview' }, 'Pizza at noon.\r\n'));
    await c.ok('SELECT INBOX');
    const a = await c.ok('FETCH 1 (PREVIEW)');
    a.expectEqual('PREVIEW', a.text(1, 'PREVIEW'), 'Pizza at noon.');
    // Fetching a preview does not set \Seen.
    const f = await c.ok('FETCH 1 FLAGS');
    f.expectEqual('flags', f.flags(1), []);
  }),

  group('objectid', ['OBJECTID'], 'RFC 8474 §4–§7', async ({ c }) => {
    const cr = await c.ok('CREATE obj');
    const [, id] = cr.codeMatches(/^MAILBOXID \(([\w-]+)\)$/i);
    (await c.ok('STATUS obj (MAILBOXID)')).one(new RegExp(`\\(MAILBOXID \\(${id}\\)\\)`, 'i'));
    await c.append('INBOX', message({ Subject: 'ids' }));
    await c.ok('SELECT INBOX');
    const a = await c.ok('FETCH 1 (EMAILID THREADID)');
    const emailId = a.one(/EMAILID \(([\w-]+)\)/i)[1];
    a.one(/THREADID (NIL|\([\w-]+\))/i);
    // MOVE keeps the EMAILID (RFC 8474 §5.1).
    await c.ok('MOVE 1 obj');
    await c.ok('SELECT obj');
    (await c.ok('FETCH 1 EMAILID')).one(new RegExp(`EMAILID \\(${emailId}\\)`, 'i'));
  }),

  group('utf8-accept', ['UTF8=ACCEPT'], 'RFC 6855 §3, §3.2', async ({ c }) => {
    (await c.ok('ENABLE UTF8=ACCEPT')).one(/^\* ENABLED UTF8=ACCEPT$/i);
    const name = utf8('Grüße');
    await c.ok(`CREATE "${name}"`);
    // Names are UTF-8 on the wire, not modified UTF-7.
    (await c.ok('LIST "" "Gr*"')).one(new RegExp(`^\\* LIST \\([^)]*\\) "/" "?${name}"?$`));
    const msg = message({ Subject: utf8('Grüße aus Köln') });
    await c.ok(`APPEND "${name}" UTF8 (${lit8(msg)})`);
    await c.ok(`SELECT "${name}"`);
    (await c.ok('FETCH 1 ENVELOPE')).expectItem(
      1,
      'ENVELOPE',
      `("Mon, 7 Feb 1994 21:52:25 -0800" "${utf8('Grüße aus Köln')}" (("Bob" NIL "bob" "example.test")) (("Bob" NIL "bob" "example.test")) (("Bob" NIL "bob" "example.test")) (("Alice" NIL "alice" "example.test")) NIL NIL NIL NIL)`,
    );
  }),

  group('unauthenticate', ['UNAUTHENTICATE'], 'RFC 8437 §2', async ({ c }) => {
    await c.ok('SELECT INBOX');
    await c.ok('UNAUTHENTICATE');
    await c.bad('SELECT INBOX');
    await c.bad('LIST "" "*"');
    await c.ok('CAPABILITY');
  }),

  group('imap4rev2', ['IMAP4rev2'], 'RFC 9051 §6.3.2, §6.4.4', async ({ c }) => {
    await seed(c, 'INBOX', 2);
    (await c.ok('ENABLE IMAP4rev2')).one(/^\* ENABLED IMAP4rev2$/i);
    const s = await c.ok('SELECT INBOX');
    s.one(/^\* 2 EXISTS$/i);
    s.none(/RECENT/i);
    s.one(/^\* LIST \([^)]*\) "\/" "?INBOX"?$/i);
    // SEARCH answers ESEARCH (RFC 9051 §6.4.4).
    const a = await c.ok('SEARCH ALL');
    a.expectEqual('ESEARCH', expandSet(a.esearch().items.ALL), [1, 2]);
  }),
];
