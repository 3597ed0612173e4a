/** Messages the scenarios APPEND, as latin1 strings of their octets (CRLF line ends). */

const crlf = (lines: string[]) => lines.join('\r\n');

/** A plain text message with the given header fields and body. */
export function message(headers: Record<string, string>, body = 'Hello.\r\n'): string {
  const h = { From: 'Bob <bob@example.test>', To: 'Alice <alice@example.test>', Subject: 'test', Date: 'Mon, 7 Feb 1994 21:52:25 -0800', ...headers };
  return (
    Object.entries(h)
      .filter(([, v]) => v !== '')
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    '\r\n' +
    body
  );
}

/** The message behind RFC 3501 §8's ENVELOPE example (the IMAP4rev1 WG minutes). */
export const WG_MINUTES = crlf([
  'Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)',
  'From: Terry Gray <gray@cac.washington.edu>',
  'Subject: IMAP4rev1 WG mtg summary and minutes',
  'To: imap@cac.washington.edu',
  'cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>',
  'Message-Id: <B27397-0100000@cac.washington.edu>',
  'MIME-Version: 1.0',
  'Content-Type: TEXT/PLAIN; CHARSET=US-ASCII',
  '',
  'The meeting minutes are attached.',
  'Terry',
  '',
]);

/** The ENVELOPE RFC 3501 §8 shows for WG_MINUTES. */
export const WG_MINUTES_ENVELOPE =
  '("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ((NIL NIL "minutes" "CNRI.Reston.VA.US") ("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL "<B27397-0100000@cac.washington.edu>")';

export const TEXT_PART = crlf(['Here is the report.', 'Second line.', '']);
/** "attachment-bytes\n" in base64. */
export const ATTACHMENT_B64 = 'YXR0YWNobWVudC1ieXRlcwo=';
export const INNER_MESSAGE = crlf(['From: Carol <carol@example.test>', 'Subject: inner', 'Date: Tue, 8 Feb 1994 10:00:00 +0000', '', 'Inner body.', '']);

/**
 * multipart/mixed: 1 text/plain, 2 application/octet-stream (base64, attachment), 3
 * message/rfc822 (its own text body): the shapes RFC 3501 §6.4.5's section numbers walk.
 */
export const MULTIPART = crlf([
  'From: Bob <bob@example.test>',
  'To: Alice <alice@example.test>',
  'Subject: multipart',
  'Date: Mon, 7 Feb 1994 21:52:25 -0800',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  'preamble',
  '--b1',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  TEXT_PART,
  '--b1',
  'Content-Type: application/octet-stream; name="a.bin"',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment; filename="a.bin"',
  '',
  ATTACHMENT_B64,
  '--b1',
  'Content-Type: message/rfc822',
  '',
  INNER_MESSAGE,
  '--b1--',
  '',
]);

/** A quoted-printable text part and a base64 text part, for BINARY (RFC 3516). */
export const ENCODED = crlf([
  'From: Bob <bob@example.test>',
  'Subject: encoded',
  'Date: Mon, 7 Feb 1994 21:52:25 -0800',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="e1"',
  '',
  '--e1',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'caf=C3=A9 au lait=',
  ' soft break',
  '--e1',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('grüße\r\n', 'utf8').toString('base64'),
  '--e1--',
  '',
]);
