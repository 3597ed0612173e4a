/** FETCH (RFC 3501 §6.4.5, §7.4.2): attributes, body sections, ENVELOPE, BODYSTRUCTURE, BINARY. */
import { canon, lit8, utf8, type Node } from '../client.ts';
import { group } from '../group.ts';
import { ATTACHMENT_B64, ENCODED, INNER_MESSAGE, MULTIPART, TEXT_PART, WG_MINUTES, WG_MINUTES_ENVELOPE, message } from '../messages.ts';
import { dateTime } from './base.ts';

const lines = (s: string) => s.split('\r\n').length - 1;
const headerOf = (m: string) => m.slice(0, m.indexOf('\r\n\r\n') + 4);
const textOf = (m: string) => m.slice(m.indexOf('\r\n\r\n') + 4);

const INNER_ENVELOPE =
  '("Tue, 8 Feb 1994 10:00:00 +0000" "inner" (("Carol" NIL "carol" "example.test")) (("Carol" NIL "carol" "example.test")) (("Carol" NIL "carol" "example.test")) NIL NIL NIL NIL NIL)';
const TEXT_BODY = `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" ${TEXT_PART.length} ${lines(TEXT_PART)}`;
const ATTACHMENT_BODY = `("APPLICATION" "OCTET-STREAM" ("NAME" "a.bin") NIL NIL "BASE64" ${ATTACHMENT_B64.length}`;
const INNER_TEXT = textOf(INNER_MESSAGE);
const INNER_BODY = `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" ${INNER_TEXT.length} ${lines(INNER_TEXT)}`;
const MESSAGE_PART = (inner: string, ext: string) =>
  `("MESSAGE" "RFC822" NIL NIL NIL "7BIT" ${INNER_MESSAGE.length} ${INNER_ENVELOPE} ${inner} ${lines(INNER_MESSAGE)}${ext})`;

/** BODYSTRUCTURE of MULTIPART, extension data included (RFC 3501 §7.4.2). */
export const MULTIPART_BODYSTRUCTURE = `(${TEXT_BODY} NIL NIL NIL NIL)${ATTACHMENT_BODY} NIL ("ATTACHMENT" ("FILENAME" "a.bin")) NIL NIL)${MESSAGE_PART(`${INNER_BODY} NIL NIL NIL NIL)`, ' NIL NIL NIL NIL')} "MIXED" ("BOUNDARY" "b1") NIL NIL NIL)`;
/** BODY of MULTIPART: the same without extension data. */
export const MULTIPART_BODY = `(${TEXT_BODY})${ATTACHMENT_BODY})${MESSAGE_PART(`${INNER_BODY})`, '')} "MIXED")`;

export const fetchGroups = [
  group('fetch', [], 'RFC 3501 §6.4.5', async ({ c }) => {
    const msg = message({ Subject: 'attrs' });
    await c.append('INBOX', msg, { flags: '\\Flagged', date: '01-Feb-2024 12:00:00 +0000' });
    await c.ok('SELECT INBOX');
    const fast = await c.ok('FETCH 1 FAST');
    fast.expectEqual('FAST', Object.keys(fast.fetchOf(1)).sort(), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE']);
    fast.expectEqual('INTERNALDATE', dateTime(fast.text(1, 'INTERNALDATE')), Date.UTC(2024, 1, 1, 12));
    fast.expectItem(1, 'RFC822.SIZE', String(msg.length));
    const all = await c.ok('FETCH 1 ALL');
    all.expectEqual('ALL', Object.keys(all.fetchOf(1)).sort(), ['ENVELOPE', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE']);
    const full = await c.ok('FETCH 1 FULL');
    full.expectEqual('FULL', Object.keys(full.fetchOf(1)).sort(), ['BODY', 'ENVELOPE', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE']);
    const uid = await c.ok('FETCH 1 (UID RFC822.SIZE)');
    if (!/^[1-9]\d*$/.test((uid.fetchOf(1).UID as { a: string }).a)) uid.fail('UID');
    await c.bad('FETCH 1 (NO-SUCH-ITEM)');
    await c.bad('FETCH 1 BODY[NOT-A-SECTION]');
  }),

  group('fetch-body', [], 'RFC 3501 §6.4.5 BODY[<section>]<<partial>>', async ({ c }) => {
    const msg = message({ Subject: 'sections', 'X-Extra': 'one' }, 'Line one.\r\nLine two.\r\n');
    await c.append('INBOX', msg);
    await c.ok('SELECT INBOX');
    let a = await c.ok('FETCH 1 (BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT])');
    a.expectEqual('BODY[]', a.text(1, 'BODY[]'), msg);
    a.expectEqual('BODY[HEADER]', a.text(1, 'BODY[HEADER]'), headerOf(msg));
    a.expectEqual('BODY[TEXT]', a.text(1, 'BODY[TEXT]'), textOf(msg));
    a = await c.ok('FETCH 1 BODY.PEEK[1]');
    a.expectEqual('BODY[1] of a single-part message', a.text(1, 'BODY[1]'), textOf(msg));
    a = await c.ok('FETCH 1 (BODY.PEEK[]<0.10> BODY.PEEK[]<5.4>)');
    a.expectEqual('BODY[]<0.10>', a.text(1, 'BODY[]<0>'), msg.slice(0, 10));
    a.expectEqual('BODY[]<5.4>', a.text(1, 'BODY[]<5>'), msg.slice(5, 9));
    a = await c.ok(`FETCH 1 BODY.PEEK[]<${msg.length + 10}.5>`);
    a.expectEqual('a partial beyond the end', a.text(1, `BODY[]<${msg.length + 10}>`), '');
    a = await c.ok('FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT X-EXTRA)]');
    a.expectEqual('HEADER.FIELDS', a.text(1, 'BODY[HEADER.FIELDS (SUBJECT X-EXTRA)]'), 'Subject: sections\r\nX-Extra: one\r\n\r\n');
    a = await c.ok('FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (FROM TO DATE MESSAGE-ID X-EXTRA)]');
    a.expectEqual('HEADER.FIELDS.NOT', a.text(1, 'BODY[HEADER.FIELDS.NOT (FROM TO DATE MESSAGE-ID X-EXTRA)]'), 'Subject: sections\r\n\r\n');
    a = await c.ok('FETCH 1 (RFC822.HEADER RFC822.TEXT)');
    a.expectEqual('RFC822.HEADER', a.text(1, 'RFC822.HEADER'), headerOf(msg));
    a.expectEqual('RFC822.TEXT', a.text(1, 'RFC822.TEXT'), textOf(msg));
    // PEEK and RFC822.HEADER leave \Seen alone; BODY[] and RFC822.TEXT set it (RFC 3501 §6.4.5).
    await c.append('INBOX', msg);
    await c.ok('FETCH 2 (BODY.PEEK[] RFC822.HEADER)');
    a = await c.ok('FETCH 2 FLAGS');
    a.expectEqual('flags after PEEK', a.flags(2), []);
    a = await c.ok('FETCH 2 BODY[]');
    a.expectEqual('flags told after BODY[]', a.flags(2), ['\\SEEN']);
    await c.append('INBOX', msg);
    a = await c.ok('FETCH 3 RFC822');
    a.expectEqual('RFC822', a.text(3, 'RFC822'), msg);
    a.expectEqual('flags told after RFC822', a.flags(3), ['\\SEEN']);
  }),

  group('fetch-body-mime', [], 'RFC 3501 §6.4.5 section parts, MIME, message/rfc822', async ({ c }) => {
    await c.append('INBOX', MULTIPART);
    await c.ok('SELECT INBOX');
    const a = await c.ok(
      'FETCH 1 (BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2] BODY.PEEK[3] BODY.PEEK[3.HEADER] BODY.PEEK[3.TEXT] BODY.PEEK[3.1] BODY.PEEK[TEXT])',
    );
    a.expectEqual('BODY[1]', a.text(1, 'BODY[1]'), TEXT_PART);
    a.expectEqual('BODY[1.MIME]', a.text(1, 'BODY[1.MIME]'), 'Content-Type: text/plain; charset=us-ascii\r\n\r\n');
    a.expectEqual('BODY[2]', a.text(1, 'BODY[2]'), ATTACHMENT_B64);
    a.expectEqual('BODY[3]', a.text(1, 'BODY[3]'), INNER_MESSAGE);
    a.expectEqual('BODY[3.HEADER]', a.text(1, 'BODY[3.HEADER]'), headerOf(INNER_MESSAGE));
    a.expectEqual('BODY[3.TEXT]', a.text(1, 'BODY[3.TEXT]'), INNER_TEXT);
    a.expectEqual('BODY[3.1]', a.text(1, 'BODY[3.1]'), INNER_TEXT);
    a.expectEqual('BODY[TEXT]', a.text(1, 'BODY[TEXT]'), textOf(MULTIPART));
  }),

  group('fetch-body-nested', [], 'RFC 3501 §6.4.5 section numbers of nested parts', async ({ c }) => {
    const alt = ['--b2', 'Content-Type: text/plain', '', 'plain', '--b2', 'Content-Type: text/html', '', '<p>html</p>', '--b2--', ''].join('\r\n');
    const inner = ['Subject: inner multipart', 'MIME-Version: 1.0', 'Content-Type: multipart/alternative; boundary="b2"', '', alt].join('\r\n');
    const msg = [
      'From: Bob <bob@example.test>',
      'Subject: nested',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: multipart/alternative; boundary="b2"',
      '',
      alt,
      '--b1',
      'Content-Type: message/rfc822',
      '',
      inner,
      '--b1--',
      '',
    ].join('\r\n');
    await c.append('INBOX', msg);
    await c.ok('SELECT INBOX');
    const a = await c.ok('FETCH 1 (BODY.PEEK[1.1] BODY.PEEK[1.2] BODY.PEEK[1.2.MIME] BODY.PEEK[2.HEADER] BODY.PEEK[2.1] BODY.PEEK[2.2] BODY.PEEK[2.2.MIME])');
    a.expectEqual('BODY[1.1]', a.text(1, 'BODY[1.1]'), 'plain');
    a.expectEqual('BODY[1.2]', a.text(1, 'BODY[1.2]'), '<p>html</p>');
    a.expectEqual('BODY[1.2.MIME]', a.text(1, 'BODY[1.2.MIME]'), 'Content-Type: text/html\r\n\r\n');
    a.expectEqual('BODY[2.HEADER]', a.text(1, 'BODY[2.HEADER]'), headerOf(inner));
    // Parts of a multipart inside message/rfc822 are numbered below the message/rfc822 part.
    a.expectEqual('BODY[2.1]', a.text(1, 'BODY[2.1]'), 'plain');
    a.expectEqual('BODY[2.2]', a.text(1, 'BODY[2.2]'), '<p>html</p>');
    a.expectEqual('BODY[2.2.MIME]', a.text(1, 'BODY[2.2.MIME]'), 'Content-Type: text/html\r\n\r\n');
    const h = await c.ok('FETCH 1 (BODY.PEEK[HEADER.FIELDS (X-ABSENT)] BODY.PEEK[HEADER]<0.5>)');
    h.expectEqual('a field that is not there', h.text(1, 'BODY[HEADER.FIELDS (X-ABSENT)]'), '\r\n');
    h.expectEqual('BODY[HEADER]<0.5>', h.text(1, 'BODY[HEADER]<0>'), 'From:');
  }),

  group('fetch-header-fields', [], 'RFC 3501 §6.4.5 HEADER.FIELDS', async ({ c }) => {
    const msg = 'From: a@b.example\r\nX-Multi: first\r\nsubject: folded\r\n  onto two lines\r\nX-Multi: second\r\nTo: c@d.example\r\n\r\nbody\r\n';
    await c.append('INBOX', msg);
    await c.ok('SELECT INBOX');
    // Field names match case-insensitively; each occurrence and its folding lines come back.
    const a = await c.ok('FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject x-multi)])');
    a.expectEqual(
      'HEADER.FIELDS',
      a.text(1, 'BODY[HEADER.FIELDS (SUBJECT X-MULTI)]'),
      'X-Multi: first\r\nsubject: folded\r\n  onto two lines\r\nX-Multi: second\r\n\r\n',
    );
  }),

  group('fetch-bodystructure', [], 'RFC 3501 §7.4.2 BODY, BODYSTRUCTURE', async ({ c }) => {
    await c.append('INBOX', MULTIPART);
    await c.append('INBOX', message({ Subject: 'plain' }, 'One line.\r\n'));
    await c.ok('SELECT INBOX');
    const a = await c.ok('FETCH 1:2 (BODYSTRUCTURE BODY)');
    // Type, subtype and parameter names are case-insensitive (RFC 2045 §5.1).
    a.expectItem(1, 'BODYSTRUCTURE', MULTIPART_BODYSTRUCTURE, true);
    a.expectItem(1, 'BODY', MULTIPART_BODY, true);
    // No Content-Type: text/plain; charset=us-ascii (RFC 2045 §5.2).
    a.expectItem(2, 'BODY', '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 11 1)', true);
  }),

  group('fetch-envelope', [], 'RFC 3501 §7.4.2 ENVELOPE, §8 example', async ({ c }) => {
    await c.append('INBOX', WG_MINUTES);
    await c.append('INBOX', 'From: x@y.example\r\nTo: undisclosed-recipients:;\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\r\nbody\r\n');
    await c.ok('SELECT INBOX');
    const a = await c.ok('FETCH 1:2 ENVELOPE');
    a.expectItem(1, 'ENVELOPE', WG_MINUTES_ENVELOPE);
    // No Date, no Message-ID: NIL; Sender and Reply-To default to From; an empty group is a
    // start and an end marker; the subject stays encoded.
    a.expectItem(
      2,
      'ENVELOPE',
      '(NIL "=?utf-8?q?caf=C3=A9?=" ((NIL NIL "x" "y.example")) ((NIL NIL "x" "y.example")) ((NIL NIL "x" "y.example")) ((NIL NIL "undisclosed-recipients" NIL) (NIL NIL NIL NIL)) NIL NIL NIL NIL)',
    );
  }),

  group('fetch-envelope-addresses', [], 'RFC 3501 §7.4.2 ENVELOPE addresses (RFC 5322 §3.4 groups, quoted names, comments)', async ({ c }) => {
    await c.append(
      'INBOX',
      [
        'From: "Smith, John" <j@s.example> (the boss)',
        'Sender: sec@s.example',
        'Reply-To: list@l.example',
        'To: Friends: a@b.example, "C D" <c@d.example>;, e@f.example',
        'In-Reply-To: <parent@s.example>',
        'Message-ID: <child@s.example>',
        'Subject: addresses',
        '',
        'x',
        '',
      ].join('\r\n'),
    );
    await c.ok('SELECT INBOX');
    (await c.ok('FETCH 1 ENVELOPE')).expectItem(
      1,
      'ENVELOPE',
      '(NIL "addresses" (("Smith, John" NIL "j" "s.example")) ((NIL NIL "sec" "s.example")) ((NIL NIL "list" "l.example")) ((NIL NIL "Friends" NIL) (NIL NIL "a" "b.example") ("C D" NIL "c" "d.example") (NIL NIL NIL NIL) (NIL NIL "e" "f.example")) NIL NIL "<parent@s.example>" "<child@s.example>")',
    );
  }),

  group('fetch-bodystructure-fields', [], 'RFC 3501 §7.4.2 body fields and extension data (RFC 2045, 2183, 3066, 2557, 1864)', async ({ c }) => {
    const body = 'Caf=C3=A9\r\nline two\r\n';
    await c.append(
      'INBOX',
      [
        'From: a@b.example',
        'Subject: fields',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset="utf-8"; format=flowed',
        'Content-ID: <part@b.example>',
        'Content-Description: a description',
        'Content-Transfer-Encoding: quoted-printable',
        'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
        'Content-Disposition: inline; filename="t.txt"',
        'Content-Language: en, fr',
        'Content-Location: http://b.example/t.txt',
        '',
        body,
      ].join('\r\n'),
    );
    await c.ok('SELECT INBOX');
    const a = await c.ok('FETCH 1 BODYSTRUCTURE');
    const item = a.fetchOf(1).BODYSTRUCTURE;
    if (!Array.isArray(item)) return a.fail('BODYSTRUCTURE is not a list');
    const bs: Node[] = item;
    // Values are compared as sent except the type, subtype and parameter names, which are
    // case-insensitive; the language list is case-insensitive too (RFC 3066 §2.1).
    const ci = (n: number) => canon(bs[n], true);
    const exact = (n: number) => canon(bs[n]);
    a.expectEqual('type, subtype, parameters', [ci(0), ci(1), ci(2)], ['TEXT', 'PLAIN', ['CHARSET', 'UTF-8', 'FORMAT', 'FLOWED']]);
    a.expectEqual(
      'id, description, encoding, size, lines, md5',
      [exact(3), exact(4), ci(5), exact(6), exact(7), exact(8)],
      ['<part@b.example>', 'a description', 'QUOTED-PRINTABLE', String(body.length), '2', 'Q2hlY2sgSW50ZWdyaXR5IQ=='],
    );
    a.expectEqual('disposition, language, location', [ci(9), ci(10), exact(11)], [['INLINE', ['FILENAME', 'T.TXT']], ['EN', 'FR'], 'http://b.example/t.txt']);
  }),

  group('binary', ['BINARY'], 'RFC 3516 §4.1–§4.3', async ({ c }) => {
    await c.append('INBOX', ENCODED);
    await c.ok('SELECT INBOX');
    const a = await c.ok('FETCH 1 (BINARY.PEEK[1] BINARY.PEEK[2] BINARY.SIZE[1] BINARY.SIZE[2])');
    const qp = utf8('café au lait soft break');
    const b64 = utf8('grüße\r\n');
    a.expectEqual('BINARY[1] (quoted-printable decoded)', a.text(1, 'BINARY[1]'), qp);
    a.expectEqual('BINARY[2] (base64 decoded)', a.text(1, 'BINARY[2]'), b64);
    a.expectItem(1, 'BINARY.SIZE[1]', String(qp.length));
    a.expectItem(1, 'BINARY.SIZE[2]', String(b64.length));
    const p = await c.ok('FETCH 1 BINARY.PEEK[2]<2.3>');
    p.expectEqual('partial BINARY', p.text(1, 'BINARY[2]<2>'), b64.slice(2, 5));
    // APPEND of a literal8 with binary content (RFC 3516 §4.3); BINARY[] gives it back as sent.
    const raw =
      'From: x@y.example\r\nSubject: nul\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\nab\x00cd\r\n';
    await c.ok(`APPEND INBOX ${lit8(raw)}`);
    const n = await c.ok('FETCH 2 BINARY.PEEK[1]');
    n.expectEqual('BINARY[1] with a NUL', n.text(2, 'BINARY[1]'), 'ab\x00cd\r\n');
    const x = 'From: x@y.example\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-unknown\r\n\r\nzzz\r\n';
    await c.append('INBOX', x);
    (await c.no('FETCH 3 BINARY.PEEK[1]')).codeMatches(/^UNKNOWN-CTE$/i);
  }),
];
