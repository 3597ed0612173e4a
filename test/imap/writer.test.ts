/** The writer: strings, ENVELOPE and BODYSTRUCTURE from the index (RFC 9051 §4, §7.5.2, §9). */
import { describe, expect, it } from 'vitest';
import { indexMessage } from '#core/mime/index-message.ts';
import { chunksToBuffer, flagList, formatInternalDate, nstringChunks, stringChunks } from '#listeners/imap/protocol/encode.ts';
import { bodyStructureChunks, envelopeChunks } from '#listeners/imap/protocol/structure.ts';
import { encodeMailboxName } from '#listeners/imap/session/mailbox-names.ts';

const rev1 = { utf8: false };
const rev2 = { utf8: true };
const str = (v: string | Buffer | null, o = rev1) => chunksToBuffer(nstringChunks(v, o)).toString('latin1');

const MULTIPART = Buffer.from(
  [
    'From: "Joe Q. Public" <john.q.public@example.com>',
    'To: Mary Smith <mary@x.test>, jdoe@example.org',
    'Cc: undisclosed-recipients:;',
    'Subject: =?ISO-8859-1?Q?Caf=E9?=',
    'Date: Tue, 1 Jul 2003 10:52:37 +0200',
    'Message-ID: <5678.21-Nov-1997@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="XX"',
    '',
    'preamble',
    '--XX',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Caf=C3=A9',
    'line 2',
    '--XX',
    'Content-Type: application/octet-stream; name="a.bin"',
    'Content-Disposition: attachment; filename="a.bin"',
    'Content-Transfer-Encoding: base64',
    'Content-ID: <part2@x>',
    '',
    'AAEC',
    '--XX',
    'Content-Type: message/rfc822',
    '',
    'From: inner@x.test',
    'Subject: inner',
    '',
    'inner body',
    '--XX--',
    'epilogue',
    '',
  ].join('\r\n'),
);

describe('writer', () => {
  it('quotes what it can, escapes " and \\, and sends the rest as literals', () => {
    expect(str('plain')).toBe('"plain"');
    expect(str('a "b" \\c')).toBe('"a \\"b\\" \\\\c"');
    expect(str('')).toBe('""');
    expect(str(null)).toBe('NIL');
    expect(str('two\r\nlines')).toBe('{10}\r\ntwo\r\nlines');
    // 8-bit: a literal for rev1 clients, a UTF-8 quoted string once IMAP4rev2 is enabled.
    expect(str('café')).toBe('{5}\r\ncaf\xc3\xa9');
    expect(chunksToBuffer(stringChunks('café', rev2)).toString('utf8')).toBe('"café"');
    // Bytes that are not UTF-8 are never put in a quoted string.
    expect(str(Buffer.from([0x63, 0xe9]), rev2)).toBe('{2}\r\nc\xe9');
    expect(str('x'.repeat(2000)).startsWith('{2000}\r\n')).toBe(true);
  });

  it('writes flag lists, internal dates and mailbox names', () => {
    expect(flagList(['\\Seen', '$x'])).toBe('(\\Seen $x)');
    expect(formatInternalDate(Date.UTC(1996, 6, 7, 2, 44, 25))).toBe('" 7-Jul-1996 02:44:25 +0000"');
    expect(chunksToBuffer(encodeMailboxName('Entwürfe', false)).toString()).toBe('"Entw&APw-rfe"');
    expect(chunksToBuffer(encodeMailboxName('Entwürfe', true)).toString()).toBe('"Entwürfe"');
  });

  it('writes ENVELOPE with defaults for Sender/Reply-To and group syntax (RFC 3501 §7.4.2)', () => {
    const meta = indexMessage(MULTIPART);
    expect(chunksToBuffer(envelopeChunks(meta.envelope, rev1)).toString()).toBe(
      '("Tue, 1 Jul 2003 10:52:37 +0200" "=?ISO-8859-1?Q?Caf=E9?=" (("Joe Q. Public" NIL "john.q.public" "example.com")) (("Joe Q. Public" NIL "john.q.public" "example.com")) (("Joe Q. Public" NIL "john.q.public" "example.com")) (("Mary Smith" NIL "mary" "x.test")(NIL NIL "jdoe" "example.org")) ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL "<5678.21-Nov-1997@example.com>")',
    );
    const empty = { date: null, subject: null, from: null, sender: null, replyTo: null, to: null, cc: null, bcc: null, inReplyTo: null, messageId: null };
    expect(chunksToBuffer(envelopeChunks(empty, rev1)).toString()).toBe('(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)');
  });

  it('writes BODYSTRUCTURE with extension data and BODY without (RFC 9051 §7.5.2)', () => {
    const meta = indexMessage(MULTIPART);
    const inner = '(NIL "inner" ((NIL NIL "inner" "x.test")) ((NIL NIL "inner" "x.test")) ((NIL NIL "inner" "x.test")) NIL NIL NIL NIL NIL)';
    expect(chunksToBuffer(bodyStructureChunks(meta.mime, true, rev1)).toString()).toBe(
      '(("text" "plain" ("charset" "utf-8") NIL NIL "QUOTED-PRINTABLE" 17 1 NIL NIL NIL NIL)' +
        '("application" "octet-stream" ("name" "a.bin") "<part2@x>" NIL "BASE64" 4 NIL ("attachment" ("filename" "a.bin")) NIL NIL)' +
        `("message" "rfc822" NIL NIL NIL "7BIT" 48 ${inner} ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 10 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)` +
        ' "mixed" ("boundary" "XX") NIL NIL NIL)',
    );
    expect(chunksToBuffer(bodyStructureChunks(meta.mime, false, rev1)).toString()).toBe(
      '(("text" "plain" ("charset" "utf-8") NIL NIL "QUOTED-PRINTABLE" 17 1)("application" "octet-stream" ("name" "a.bin") "<part2@x>" NIL "BASE64" 4)' +
        `("message" "rfc822" NIL NIL NIL "7BIT" 48 ${inner} ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 10 0) 3) "mixed")`,
    );
  });

  it('writes a multipart without parts as one empty text/plain part (1*body)', () => {
    const meta = indexMessage(Buffer.from('Content-Type: multipart/mixed\r\n\r\nno boundary\r\n'));
    expect(chunksToBuffer(bodyStructureChunks(meta.mime, false, rev1)).toString()).toBe('(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 0 0) "mixed")');
  });
});
