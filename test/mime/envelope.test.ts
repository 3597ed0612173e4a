import { describe, expect, it } from 'vitest';
import { envelopeFromHeader, parseAddressList } from '#core/mime/envelope.ts';

const hdr = (...lines: string[]): Buffer => Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
const addr = (name: string | null, mailbox: string | null, host: string | null, adl: string | null = null) => ({
  name,
  adl,
  mailbox,
  host,
});
const groupStart = (name: string) => addr(null, name, null);
const groupEnd = addr(null, null, null);

describe('ENVELOPE strings (RFC 3501 §7.4.2)', () => {
  it('takes the raw, unfolded, trimmed first occurrence of each field; null when absent', () => {
    const env = envelopeFromHeader(
      hdr(
        'Date: Fri, 21 Nov 1997 09:55:06 -0600',
        'Subject: =?utf-8?q?caf=C3=A9?= is',
        '   folded',
        'Subject: second subject is ignored',
        'Message-ID:   <1234@local.machine.example>  ',
        'In-Reply-To: <3456@example.net>',
      ),
    );
    expect(env).toMatchObject({
      date: 'Fri, 21 Nov 1997 09:55:06 -0600',
      subject: '=?utf-8?q?caf=C3=A9?= is   folded',
      messageId: '<1234@local.machine.example>',
      inReplyTo: '<3456@example.net>',
      from: null,
      sender: null,
      replyTo: null,
      to: null,
      cc: null,
      bcc: null,
    });
  });

  it('keeps an empty Subject as the empty string', () => {
    expect(envelopeFromHeader(hdr('Subject:', 'To: a@b.example')).subject).toBe('');
  });

  it('matches field names case-insensitively and accepts WSP before the colon (RFC 5322 §4.5)', () => {
    const env = envelopeFromHeader(hdr('SUBJECT : shouting', 'from  : John Doe <jdoe@machine(comment).  example>'));
    expect(env.subject).toBe('shouting');
    expect(env.from).toEqual([addr('John Doe', 'jdoe', 'machine.example')]);
  });

  it('decodes 8-bit values as UTF-8 when valid, else as latin1', () => {
    const utf8 = Buffer.concat([Buffer.from('From: '), Buffer.from('Jürgen <j@example.de>', 'utf8'), Buffer.from('\r\n\r\n')]);
    expect(envelopeFromHeader(utf8).from).toEqual([addr('Jürgen', 'j', 'example.de')]);
    const latin1 = Buffer.concat([Buffer.from('From: '), Buffer.from('Jürgen <j@example.de>', 'latin1'), Buffer.from('\r\n\r\n')]);
    expect(envelopeFromHeader(latin1).from).toEqual([addr('Jürgen', 'j', 'example.de')]);
  });
});

describe('Sender and Reply-To defaults (RFC 3501 §7.4.2)', () => {
  it('copies From when Sender/Reply-To are absent', () => {
    const env = envelopeFromHeader(hdr('From: a@example.com'));
    expect(env.sender).toEqual([addr(null, 'a', 'example.com')]);
    expect(env.replyTo).toEqual(env.from);
  });

  it('copies From when Sender/Reply-To are present but empty', () => {
    const env = envelopeFromHeader(hdr('From: a@example.com', 'Sender:', 'Reply-To:   '));
    expect(env.sender).toEqual(env.from);
    expect(env.replyTo).toEqual(env.from);
  });

  it('keeps Sender/Reply-To when given', () => {
    const env = envelopeFromHeader(hdr('From: a@example.com', 'Sender: s@example.com', 'Reply-To: r@example.com'));
    expect(env.sender).toEqual([addr(null, 's', 'example.com')]);
    expect(env.replyTo).toEqual([addr(null, 'r', 'example.com')]);
  });

  it('leaves To/Cc/Bcc null when empty', () => {
    expect(envelopeFromHeader(hdr('To:', 'Cc: ', 'Bcc: (nobody)')).to).toBeNull();
  });
});

describe('address lists (RFC 5322 §3.4, appendix A)', () => {
  it('parses display names, quoted strings and plain addr-specs (A.1.2)', () => {
    expect(parseAddressList('Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>')).toEqual([
      addr('Mary Smith', 'mary', 'x.test'),
      addr(null, 'jdoe', 'example.org'),
      addr('Who?', 'one', 'y.test'),
    ]);
    expect(parseAddressList('<boss@nil.test>, "Giant; \\"Big\\" Box" <sysservices@example.net>')).toEqual([
      addr(null, 'boss', 'nil.test'),
      addr('Giant; "Big" Box', 'sysservices', 'example.net'),
    ]);
  });

  it('represents groups with start and end markers (A.1.3)', () => {
    expect(parseAddressList('A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;')).toEqual([
      groupStart('A Group'),
      addr('Ed Jones', 'c', 'a.test'),
      addr(null, 'joe', 'where.test'),
      addr('John', 'jdoe', 'one.test'),
      groupEnd,
    ]);
    expect(parseAddressList('Undisclosed recipients:;')).toEqual([groupStart('Undisclosed recipients'), groupEnd]);
    expect(parseAddressList('undisclosed-recipients:; (no To-header on input)')).toEqual([groupStart('undisclosed-recipients'), groupEnd]);
  });

  it('drops comments and folding whitespace (A.5)', () => {
    expect(parseAddressList('Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>')).toEqual([addr('Pete', 'pete', 'silly.test')]);
    expect(
      parseAddressList(
        "A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)",
      ),
    ).toEqual([
      groupStart('A Group'),
      addr('Chris Jones', 'c', 'public.example'),
      addr(null, 'joe', 'example.org'),
      addr('John', 'jdoe', 'one.test'),
      groupEnd,
    ]);
    expect(parseAddressList('(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;')).toEqual([groupStart('Hidden recipients'), groupEnd]);
  });

  it('accepts obsolete syntax: routes, empty list members, spaced dots (A.6)', () => {
    expect(parseAddressList('Joe Q. Public <john.q.public@example.com>')).toEqual([addr('Joe Q. Public', 'john.q.public', 'example.com')]);
    expect(parseAddressList('Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example')).toEqual([
      addr('Mary Smith', 'mary', 'example.net', '@node.test'),
      addr(null, 'jdoe', 'test.example'),
    ]);
    expect(parseAddressList('<@a.test,@b.test:user@c.test>')).toEqual([addr(null, 'user', 'c.test', '@a.test,@b.test')]);
  });

  it('uses a trailing comment as the name of a bare addr-spec', () => {
    expect(parseAddressList('jdoe@example.org (John Doe)')).toEqual([addr('John Doe', 'jdoe', 'example.org')]);
  });

  it('keeps encoded-words in display names as they are', () => {
    expect(parseAddressList('=?UTF-8?B?w4lsb2R5?= =?UTF-8?B?IEQu?= <e@x.test>')).toEqual([addr('=?UTF-8?B?w4lsb2R5?= =?UTF-8?B?IEQu?=', 'e', 'x.test')]);
    expect(parseAddressList('"=?iso-8859-1?q?J=F6rg?=" <j@x.test>')).toEqual([addr('=?iso-8859-1?q?J=F6rg?=', 'j', 'x.test')]);
  });

  it('keeps a quoted local part quoted so the address stays valid', () => {
    expect(parseAddressList('"john doe"@example.com')).toEqual([addr(null, '"john doe"', 'example.com')]);
  });

  it('gives addresses without a domain an empty (non-NIL) host: NIL would mean a group', () => {
    expect(parseAddressList('postmaster')).toEqual([addr(null, 'postmaster', '')]);
    expect(parseAddressList('Mailer <>')).toEqual([addr('Mailer', '', '')]);
    expect(parseAddressList('<>')).toEqual([]);
  });

  it('keeps an unquoted display name containing @ and dots', () => {
    expect(parseAddressList('foo@bar.com <foo@bar.com>')).toEqual([addr('foo@bar.com', 'foo', 'bar.com')]);
  });

  it('is best effort on garbage and never throws', () => {
    expect(parseAddressList('a@b@c.example')).toEqual([addr(null, 'a', 'b@c.example')]);
    const junk = [',,,<<<>>>@@@;;;:::"unterminated', '(((', '"', '<', 'a <b@c', ':', ';', 'x:y:z;', '\u0000\u00ff'];
    for (const s of junk) expect(Array.isArray(parseAddressList(s))).toBe(true);
    expect(parseAddressList('a <b@c')).toEqual([addr('a', 'b', 'c')]);
  });
});
