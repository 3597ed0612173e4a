import { describe, expect, it } from 'vitest';
import { indexMessage, MAX_DEPTH, MAX_PARTS, walkParts } from '#core/mime/index-message.ts';
import { META_HEADER_LIMIT } from '#core/mime/types.ts';
import type { MimePart } from '#core/mime/types.ts';
import { checkInvariants } from './invariants.ts';

const crlf = (...lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'latin1');
const lf = (...lines: string[]): Buffer => Buffer.from(lines.join('\n'), 'latin1');

function index(raw: Buffer) {
  const meta = indexMessage(raw);
  checkInvariants(raw, meta, { reslice: true });
  return meta;
}

/** Offset of the first occurrence of `s` in raw (test-side, independent of the parser). */
const at = (raw: Buffer, s: string, from = 0): number => {
  const i = raw.indexOf(s, from, 'latin1');
  if (i < 0) throw new Error(`marker ${s} not found`);
  return i;
};

describe('single-part messages', () => {
  it('splits header and body at the blank line, with exact offsets (CRLF)', () => {
    const raw = crlf('From: Alice <alice@example.com>', 'Subject: Hi', '', 'line1', 'line2', '');
    const m = index(raw);
    expect(m.size).toBe(62);
    expect(m.mime).toMatchObject({ headerStart: 0, bodyStart: 48, bodyEnd: 62, size: 14, lines: 2 });
    // RFC 2045 §5.2: no Content-Type means text/plain; charset=us-ascii, 7bit.
    expect(m.mime).toMatchObject({ type: 'text', subtype: 'plain', params: [['charset', 'us-ascii']], encoding: '7BIT' });
    expect(m.header).toBe('From: Alice <alice@example.com>\r\nSubject: Hi\r\n\r\n');
    expect(m.envelope.subject).toBe('Hi');
    expect(m.envelope.from).toEqual([{ name: 'Alice', adl: null, mailbox: 'alice', host: 'example.com' }]);
  });

  it('accepts a header block ended by LF LF (bare LF)', () => {
    const raw = lf('Subject: x', 'Content-Type: text/html; charset=utf-8', '', '<p>hi</p>', '');
    const m = index(raw);
    expect(m.mime.bodyStart).toBe(at(raw, '<p>'));
    expect(m.mime).toMatchObject({ type: 'text', subtype: 'html', params: [['charset', 'utf-8']], size: 10, lines: 1 });
  });

  it('counts lines as LF octets in the body: a last line without terminator is not counted', () => {
    // Dovecot and Cyrus both report the number of LFs within the body.
    expect(index(crlf('Subject: a', '', 'one', 'two')).mime.lines).toBe(1);
    expect(index(crlf('Subject: a', '', 'one', 'two', '')).mime.lines).toBe(2);
    expect(index(lf('Subject: a', '', '', '', '')).mime.lines).toBe(2);
    expect(index(crlf('Subject: a', '', '')).mime.lines).toBe(0);
  });

  it('treats a message without a header/body separator as all header with an empty body', () => {
    const raw = crlf('From: a@example.com', 'Subject: no body', '');
    const m = index(raw);
    expect(m.mime).toMatchObject({ bodyStart: raw.length, bodyEnd: raw.length, size: 0, lines: 0 });
    expect(m.envelope.subject).toBe('no body');
    const noEol = Buffer.from('Subject: cut', 'latin1');
    expect(index(noEol).mime).toMatchObject({ bodyStart: 12, bodyEnd: 12 });
    expect(index(noEol).envelope.subject).toBe('cut');
  });

  it('gives an empty header when the message starts with a blank line', () => {
    const raw = crlf('', 'Subject: this is body', '');
    const m = index(raw);
    expect(m.mime.bodyStart).toBe(2);
    expect(m.envelope.subject).toBeNull();
    expect(m.header).toBe('\r\n');
  });

  it('indexes empty input without throwing', () => {
    const m = index(Buffer.alloc(0));
    expect(m).toMatchObject({ size: 0, header: '' });
    expect(m.mime).toMatchObject({ type: 'text', subtype: 'plain', bodyStart: 0, bodyEnd: 0 });
  });

  it('falls back to text/plain for an invalid Content-Type but keeps its parameters (RFC 2045 §5.2)', () => {
    const m = index(crlf('Content-Type: application-x-gzip; name="doc.gz"', '', 'x'));
    expect(m.mime).toMatchObject({ type: 'text', subtype: 'plain' });
    expect(m.mime.params).toEqual([
      ['charset', 'us-ascii'],
      ['name', 'doc.gz'],
    ]);
  });

  it('reads the content fields: id, description, md5, disposition, language, location, encoding', () => {
    const m = index(
      crlf(
        'Content-Type: Application/PDF; Name="r.pdf"',
        'Content-ID: <c1@example.com>',
        'Content-Description: the report',
        'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
        'Content-Disposition: ATTACHMENT; filename="r.pdf"; size=3',
        'Content-Language: en, de (German)',
        'Content-Location: http://example.com/r.pdf',
        'Content-Transfer-Encoding: Base64',
        '',
        'AAA=',
      ),
    );
    expect(m.mime).toMatchObject({
      type: 'application',
      subtype: 'pdf',
      params: [['name', 'r.pdf']],
      id: '<c1@example.com>',
      description: 'the report',
      md5: 'Q2hlY2sgSW50ZWdyaXR5IQ==',
      disposition: {
        type: 'attachment',
        params: [
          ['filename', 'r.pdf'],
          ['size', '3'],
        ],
      },
      language: ['en', 'de'],
      location: 'http://example.com/r.pdf',
      encoding: 'BASE64',
    });
  });

  it('decodes 8-bit header values as UTF-8 when valid, else latin1; header keeps every byte', () => {
    const utf8 = Buffer.concat([Buffer.from('Subject: '), Buffer.from('Grüße', 'utf8'), Buffer.from('\r\n\r\nx')]);
    expect(index(utf8).envelope.subject).toBe('Grüße');
    const latin1 = Buffer.concat([Buffer.from('Subject: '), Buffer.from('Grüße', 'latin1'), Buffer.from('\r\n\r\nx')]);
    const m = index(latin1);
    expect(m.envelope.subject).toBe('Grüße');
    expect(Buffer.from(m.header as string, 'latin1').equals(latin1.subarray(0, m.mime.bodyStart))).toBe(true);
  });

  it('stores the header only up to META_HEADER_LIMIT bytes', () => {
    const big = crlf('Subject: big', `X-Filler: ${'a'.repeat(META_HEADER_LIMIT)}`, '', 'body');
    const m = index(big);
    expect(m.header).toBeNull();
    expect(m.mime.bodyStart).toBe(at(big, 'body'));
    expect(m.envelope.subject).toBe('big');
  });

  it('keeps NUL bytes in the body and counts them in size', () => {
    const raw = Buffer.concat([Buffer.from('Subject: n\n\n'), Buffer.from([0, 1, 0, 10, 0])]);
    expect(index(raw).mime).toMatchObject({ size: 5, lines: 1 });
  });
});

describe('multipart (RFC 2046 §5.1)', () => {
  it('gives exact offsets for multipart/alternative; the CRLF before a delimiter is not body', () => {
    const raw = crlf(
      'Content-Type: multipart/alternative; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      'plain',
      '--b1',
      'Content-Type: text/html',
      '',
      '<p>html</p>',
      '--b1--',
      '',
    );
    const m = index(raw);
    expect(raw.length).toBe(149);
    expect(m.mime).toMatchObject({ type: 'multipart', subtype: 'alternative', bodyStart: 54, bodyEnd: 149 });
    expect(m.mime.params).toEqual([['boundary', 'b1']]);
    const [a, b] = m.mime.children;
    expect(a).toMatchObject({ subtype: 'plain', headerStart: 60, bodyStart: 88, bodyEnd: 93, size: 5, lines: 0 });
    expect(b).toMatchObject({ subtype: 'html', headerStart: 101, bodyStart: 128, bodyEnd: 139, size: 11, lines: 0 });
    expect(raw.toString('latin1', a.bodyStart, a.bodyEnd)).toBe('plain');
  });

  it('matches Dovecot physical sizes and line counts on its bodystructure test message', () => {
    // dovecot src/lib-imap/test-imap-bodystructure.c; Dovecot reports CRLF sizes
    // (physical + one per LF): 7/1, 412/21, 20/1, 21/1. Ours are physical octets.
    const raw = lf(
      'From: user@domain.org',
      'Date: Sat, 24 Mar 2007 23:00:00 +0200',
      'Mime-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="foo',
      ' bar"',
      '',
      'Root MIME prologue',
      '',
      '--foo bar',
      'Content-Type: text/x-myown; charset=us-ascii; foo="quoted\\"string"',
      'Content-ID: <foo@example.com>',
      'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
      'Content-Disposition: inline; foo=bar',
      'Content-Description: hellodescription',
      'Content-Language: en, fi, se',
      'Content-Location: http://example.com/test.txt',
      '',
      'hello',
      '',
      '--foo bar',
      'Content-Type: message/rfc822',
      '',
      'From: sub@domain.org',
      'To: sub-to1@domain.org, sub-to2@domain.org',
      'Date: Sun, 12 Aug 2012 12:34:56 +0300',
      'Subject: submsg',
      'Content-Type: multipart/alternative; boundary="sub1"',
      '',
      'Sub MIME prologue',
      '--sub1',
      'Content-Type: text/html',
      'Content-Transfer-Encoding: 8bit',
      '',
      '<p>Hello world</p>',
      '',
      '--sub1',
      'Content-Type: text/plain',
      'Content-Transfer-Encoding: ?invalid',
      '',
      'Hello another world',
      '',
      '--sub1--',
      'Sub MIME epilogue',
      '',
      '--foo bar--',
      'Root MIME epilogue',
      '',
    );
    const m = index(raw);
    expect(m.mime.params).toEqual([['boundary', 'foo bar']]);
    const [text, msg] = m.mime.children;
    expect(text).toMatchObject({
      type: 'text',
      subtype: 'x-myown',
      params: [
        ['charset', 'us-ascii'],
        ['foo', 'quoted"string'],
      ],
      size: 6,
      lines: 1,
      disposition: { type: 'inline', params: [['foo', 'bar']] },
      language: ['en', 'fi', 'se'],
    });
    expect(msg).toMatchObject({ type: 'message', subtype: 'rfc822', size: 412 - 21, lines: 21 });
    const inner = msg.message!;
    expect(inner.envelope).toMatchObject({ date: 'Sun, 12 Aug 2012 12:34:56 +0300', subject: 'submsg' });
    expect(inner.envelope.to).toEqual([
      { name: null, adl: null, mailbox: 'sub-to1', host: 'domain.org' },
      { name: null, adl: null, mailbox: 'sub-to2', host: 'domain.org' },
    ]);
    expect(inner.envelope.sender).toEqual(inner.envelope.from);
    const [html, plain] = inner.body.children;
    expect(html).toMatchObject({ subtype: 'html', encoding: '8BIT', size: 19, lines: 1 });
    // "?invalid" is not a token: 7bit, as Dovecot reports.
    expect(plain).toMatchObject({ subtype: 'plain', encoding: '7BIT', size: 20, lines: 1 });
  });

  it('nests multipart/mixed with an attached message/rfc822 (CRLF)', () => {
    const raw = crlf(
      'Subject: outer',
      'Content-Type: multipart/mixed; boundary=outer',
      '',
      '--outer',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'see attached',
      '--outer',
      'Content-Type: message/rfc822',
      'Content-Disposition: attachment',
      '',
      'Subject: inner',
      'From: "Bob B." <bob@example.org>',
      'Content-Type: multipart/alternative; boundary=inner',
      '',
      '--inner',
      '',
      'inner plain',
      '--inner',
      'Content-Type: text/html',
      '',
      '<b>inner</b>',
      '--inner--',
      '--outer--',
      '',
    );
    const m = index(raw);
    const [text, att] = m.mime.children;
    expect(text).toMatchObject({ bodyStart: at(raw, 'see attached'), bodyEnd: at(raw, 'see attached') + 12 });
    expect(att).toMatchObject({ type: 'message', subtype: 'rfc822', disposition: { type: 'attachment', params: [] } });
    expect(att.bodyStart).toBe(at(raw, 'Subject: inner'));
    // The enclosed message ends after its close delimiter; the CRLF before --outer-- is the delimiter's.
    expect(att.bodyEnd).toBe(at(raw, '--inner--') + 9);
    const inner = att.message!;
    expect(inner.envelope.subject).toBe('inner');
    expect(inner.envelope.from).toEqual([{ name: 'Bob B.', adl: null, mailbox: 'bob', host: 'example.org' }]);
    expect(inner.body).toMatchObject({ type: 'multipart', subtype: 'alternative', headerStart: att.bodyStart });
    const [p1, p2] = inner.body.children;
    // A part with no header at all: the blank line right after the delimiter.
    expect(p1).toMatchObject({ type: 'text', subtype: 'plain', headerStart: p1.bodyStart - 2, size: 11 });
    expect(p2).toMatchObject({ subtype: 'html', bodyStart: at(raw, '<b>'), size: 12 });
  });

  it('keeps preamble and epilogue in the multipart body but in no child', () => {
    const raw = crlf('Content-Type: multipart/mixed; boundary=x', '', 'This is the preamble.', '--x', '', 'one', '--x--', 'This is the epilogue.', '');
    const m = index(raw);
    expect(m.mime.bodyStart).toBe(at(raw, 'This is the preamble'));
    expect(m.mime.bodyEnd).toBe(raw.length);
    expect(m.mime.children).toHaveLength(1);
    expect(m.mime.children[0]).toMatchObject({ bodyStart: at(raw, 'one'), size: 3 });
  });

  it('runs a part without close delimiter to the end of the enclosing body', () => {
    const raw = lf(
      'Content-Type: multipart/mixed; boundary=outer',
      '',
      '--outer',
      'Content-Type: multipart/alternative; boundary=inner',
      '',
      '--inner',
      '',
      'inner text',
      '--outer',
      '',
      'second',
    );
    const m = index(raw);
    const [alt, second] = m.mime.children;
    expect(alt.children).toHaveLength(1);
    // Both the inner part and the unterminated multipart end before "\n--outer".
    const end = at(raw, '\n--outer', at(raw, 'inner text'));
    expect(alt.children[0].bodyEnd).toBe(end);
    expect(alt.bodyEnd).toBe(end);
    // The outer multipart never closes: its last part runs to the end of the message.
    expect(second).toMatchObject({ bodyStart: at(raw, 'second'), bodyEnd: raw.length, size: 6 });
    expect(m.mime.bodyEnd).toBe(raw.length);
  });

  it('accepts delimiters with trailing whitespace and ignores longer boundaries that share a prefix', () => {
    const raw = crlf(
      'Content-Type: multipart/mixed; boundary="abc"',
      '',
      '--abc \t',
      'Content-Type: multipart/alternative; boundary="abc-def"',
      '',
      '--abc-def',
      '',
      'A',
      '--abcd is not a delimiter',
      '--abc-def--  ',
      '--abc',
      '',
      'B',
      '--abc-- ',
      '',
    );
    const m = index(raw);
    expect(m.mime.children).toHaveLength(2);
    const [alt, b] = m.mime.children;
    expect(alt.params).toEqual([['boundary', 'abc-def']]);
    expect(alt.children).toHaveLength(1);
    expect(raw.toString('latin1', alt.children[0].bodyStart, alt.children[0].bodyEnd)).toBe('A\r\n--abcd is not a delimiter');
    expect(raw.toString('latin1', b.bodyStart, b.bodyEnd)).toBe('B');
  });

  it('prefers the innermost multipart when an enclosed one reuses the same boundary', () => {
    const raw = lf(
      'Content-Type: multipart/mixed; boundary=a',
      '',
      '--a',
      'Content-Type: multipart/mixed; boundary=a',
      '',
      '--a',
      '',
      'x',
      '--a--',
      '--a',
      '',
      'y',
      '--a--',
      '',
    );
    const m = index(raw);
    // The first "--a" after the inner header opens the inner multipart's part; its close
    // delimiter ends it, and the next "--a" belongs to the outer one again.
    const [inner, y] = m.mime.children;
    expect(inner.children).toHaveLength(1);
    expect(raw.toString('latin1', inner.children[0].bodyStart, inner.children[0].bodyEnd)).toBe('x');
    expect(raw.toString('latin1', y.bodyStart, y.bodyEnd)).toBe('y');
  });

  it('defaults parts of multipart/digest to message/rfc822 (RFC 2046 §5.1.5)', () => {
    const raw = lf(
      'Content-Type: multipart/digest; boundary=d',
      '',
      '--d',
      '',
      'Subject: first',
      '',
      'body 1',
      '--d',
      'Content-Type: text/plain',
      '',
      'not a message',
      '--d--',
      '',
    );
    const m = index(raw);
    const [first, second] = m.mime.children;
    expect(first).toMatchObject({ type: 'message', subtype: 'rfc822', params: [] });
    expect(first.message!.envelope.subject).toBe('first');
    expect(first.message!.body).toMatchObject({ type: 'text', subtype: 'plain', size: 6 });
    expect(second).toMatchObject({ type: 'text', subtype: 'plain' });
  });

  it('ends a part header at a delimiter line when the blank line is missing', () => {
    const raw = lf(
      'Content-Type: multipart/mixed; boundary=q',
      '',
      '--q',
      'Content-Type: text/html',
      '--q',
      '--q',
      'Content-Type: text/plain',
      '',
      'last',
      '--q--',
    );
    const m = index(raw);
    const [html, empty, plain] = m.mime.children;
    // The LF before "--q" belongs to the delimiter: the header stops before it; empty body.
    expect(html).toMatchObject({ subtype: 'html', bodyStart: at(raw, '\n--q', at(raw, 'text/html')), size: 0 });
    expect(empty).toMatchObject({ subtype: 'plain', size: 0 });
    expect(empty.headerStart).toBe(empty.bodyStart);
    expect(plain).toMatchObject({ bodyStart: at(raw, 'last'), size: 4 });
  });

  it('gives a multipart without boundary no children; its body is opaque', () => {
    const raw = lf('Content-Type: multipart/mixed', '', '--x', '', 'text', '');
    const m = index(raw);
    expect(m.mime).toMatchObject({ type: 'multipart', subtype: 'mixed', children: [], bodyEnd: raw.length });
  });

  it('parses RFC 2231 continuations and charset/language encoding in parameters', () => {
    const raw = crlf(
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      "Content-Type: application/octet-stream; name*0*=utf-8'en'%E2%82%AC%20rates;",
      ' name*1=".pdf"',
      "Content-Disposition: attachment; filename*=iso-8859-1''f%FCr.txt",
      '',
      'x',
      '--b--',
    );
    const part = index(raw).mime.children[0];
    expect(part.params).toEqual([['name', '€ rates.pdf']]);
    expect(part.disposition).toEqual({ type: 'attachment', params: [['filename', 'für.txt']] });
  });

  it('parses message/rfc822 whatever its transfer encoding, as Dovecot does', () => {
    const raw = lf(
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      'Content-Type: message/rfc822',
      'Content-Transfer-Encoding: base64',
      '',
      'U3ViamVjdDogaGkKCmJvZHkK',
      '--b--',
    );
    const part = index(raw).mime.children[0];
    expect(part.encoding).toBe('BASE64');
    expect(part.message).not.toBeNull();
    expect(part.message!.body.headerStart).toBe(part.bodyStart);
  });

  it('treats message/global like message/rfc822 (RFC 6532 §3.7)', () => {
    const raw = Buffer.concat([Buffer.from('Content-Type: message/global\n\nSubject: '), Buffer.from('日本語', 'utf8'), Buffer.from('\n\nbody\n')]);
    const m = index(raw);
    expect(m.mime.message!.envelope.subject).toBe('日本語');
    expect(m.mime.message!.body.size).toBe(5);
  });
});

describe('limits', () => {
  const stats = (root: MimePart) => {
    let parts = 0;
    let depth = 0;
    const visit = (p: MimePart, d: number) => {
      parts++;
      depth = Math.max(depth, d);
      for (const c of p.children) visit(c, d + 1);
      if (p.message) visit(p.message.body, d + 1);
    };
    visit(root, 0);
    return { parts, depth };
  };

  it('stops nesting multiparts at MAX_DEPTH; deeper content is an opaque body', () => {
    let s = 'Content-Type: multipart/mixed; boundary=b0\n\n';
    for (let i = 0; i < 300; i++) s += `--b${i}\nContent-Type: multipart/mixed; boundary=b${i + 1}\n\n`;
    s += 'deep\n';
    const raw = Buffer.from(s);
    const m = index(raw);
    const { depth } = stats(m.mime);
    expect(depth).toBe(MAX_DEPTH);
    let p = m.mime;
    while (p.children.length > 0) p = p.children[0];
    expect(p).toMatchObject({ type: 'multipart', children: [], bodyEnd: raw.length });
  });

  it('stops nesting message/rfc822 at MAX_DEPTH with an opaque leaf', () => {
    const raw = Buffer.from('Content-Type: message/rfc822\n\n'.repeat(300) + 'x\n');
    const m = index(raw);
    expect(stats(m.mime).depth).toBeLessThanOrEqual(MAX_DEPTH + 1);
    let p = m.mime;
    while (p.message) p = p.message.body;
    expect(p).toMatchObject({ type: 'text', subtype: 'plain', bodyEnd: raw.length });
  });

  it('creates at most MAX_PARTS parts; later delimiters are skipped', () => {
    const raw = Buffer.from('Content-Type: multipart/mixed; boundary=a\n\n' + '--a\n\nx\n'.repeat(MAX_PARTS + 500) + '--a--\n');
    const m = index(raw);
    let parts = 0;
    walkParts(m.mime, () => parts++);
    expect(parts).toBe(MAX_PARTS);
    expect(m.mime.bodyEnd).toBe(raw.length);
  });
});
