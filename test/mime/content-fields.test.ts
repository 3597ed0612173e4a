import { describe, expect, it } from 'vitest';
import { parseContentType, parseDisposition, parseLanguage, parseTransferEncoding } from '#core/mime/content-fields.ts';

describe('Content-Type (RFC 2045 §5.1)', () => {
  it('lower-cases type, subtype and parameter names, keeps value case, unquotes', () => {
    const ct = parseContentType('Text/HTML; Charset="UTF-8"; Format=Flowed');
    expect(ct).toMatchObject({ type: 'text', subtype: 'html', boundary: null });
    expect(ct.params).toEqual([
      ['charset', 'UTF-8'],
      ['format', 'Flowed'],
    ]);
  });

  it('skips comments (the RFC 2045 example)', () => {
    expect(parseContentType('text/plain; charset=us-ascii (Plain text)').params).toEqual([['charset', 'us-ascii']]);
    expect(parseContentType('(c) text / plain (c)').subtype).toBe('plain');
  });

  it('returns the exact boundary bytes; unquoted boundaries may contain "="', () => {
    expect(parseContentType('multipart/mixed; boundary=----=_NextPart_000_0031').boundary?.toString('latin1')).toBe('----=_NextPart_000_0031');
    expect(parseContentType('multipart/mixed; boundary="foo bar"').boundary?.toString('latin1')).toBe('foo bar');
    expect(parseContentType('multipart/mixed; boundary=""').boundary).toBeNull();
  });

  it('marks a type without subtype as invalid (empty type) but still reads parameters', () => {
    const ct = parseContentType('text; charset=utf-8');
    expect(ct).toMatchObject({ type: '', subtype: '' });
    expect(ct.params).toEqual([['charset', 'utf-8']]);
    expect(parseContentType('; name="x.jpg"').type).toBe('');
  });

  it('tolerates missing separators, trailing semicolons and unquoted values with spaces', () => {
    expect(parseContentType('image/png; name="a.png" filename="b.png";').params).toEqual([
      ['name', 'a.png'],
      ['filename', 'b.png'],
    ]);
    expect(parseContentType('application/pdf; name=my report (1).pdf; x=y').params).toEqual([
      ['name', 'my report (1).pdf'],
      ['x', 'y'],
    ]);
    expect(parseContentType('text/plain; garbage; charset=utf-8').params).toEqual([['charset', 'utf-8']]);
    expect(parseContentType('text/plain; name="unterminated').params).toEqual([['name', 'unterminated']]);
  });

  it('keeps the first of duplicate parameters', () => {
    expect(parseContentType('text/plain; charset=utf-8; charset=latin1').params).toEqual([['charset', 'utf-8']]);
  });

  it('decodes 8-bit parameter values as UTF-8 when valid, else latin1', () => {
    const utf8 = Buffer.from('name="café.txt"', 'utf8').toString('latin1');
    expect(parseContentType(`text/plain; ${utf8}`).params).toEqual([['name', 'café.txt']]);
    expect(parseContentType('text/plain; name="caf\u00e9.txt"').params).toEqual([['name', 'café.txt']]);
  });
});

describe('RFC 2231 parameters', () => {
  it('joins continuations in section order', () => {
    expect(parseContentType('message/external-body; URL*1="/pub/file"; url*0="ftp://example.com"').params).toEqual([['url', 'ftp://example.com/pub/file']]);
  });

  it("decodes charset'language'value and mixes encoded and plain sections", () => {
    expect(parseContentType("application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A").params).toEqual([['title', 'This is ***fun***']]);
    expect(
      parseContentType("application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\"").params,
    ).toEqual([['title', "This is even more ***fun*** isn't it!"]]);
  });

  it('converts from the declared charset; unknown charsets fall back to UTF-8/latin1', () => {
    expect(parseDisposition("attachment; filename*=iso-8859-1''f%FCr.txt")?.params).toEqual([['filename', 'für.txt']]);
    expect(parseDisposition("attachment; filename*=ISO-2022-JP''%1B%24B%24%22%1B%28B.txt")?.params).toEqual([['filename', 'あ.txt']]);
    expect(parseDisposition("attachment; filename*=x-unknown''%C3%A9")?.params).toEqual([['filename', 'é']]);
  });

  it('prefers the RFC 2231 form over a plain duplicate', () => {
    expect(parseDisposition('attachment; filename="fallback.txt"; filename*=utf-8\'\'r%C3%A9el.txt')?.params).toEqual([['filename', 'réel.txt']]);
  });
});

describe('Content-Disposition (RFC 2183), Content-Language (RFC 3282), Content-Transfer-Encoding', () => {
  it('parses the disposition type and parameters; null without a type', () => {
    expect(parseDisposition('INLINE; filename=a.png')).toEqual({ type: 'inline', params: [['filename', 'a.png']] });
    expect(parseDisposition('attachment filename="x.pdf"')).toEqual({ type: 'attachment', params: [['filename', 'x.pdf']] });
    expect(parseDisposition('; filename=x')).toBeNull();
  });

  it('lists language tags', () => {
    expect(parseLanguage('en, fr-CA (Canadian)')).toEqual(['en', 'fr-CA']);
    expect(parseLanguage('  ')).toBeNull();
  });

  it('upper-cases the transfer encoding; absent, empty or non-token values are 7BIT', () => {
    expect(parseTransferEncoding('quoted-printable')).toBe('QUOTED-PRINTABLE');
    expect(parseTransferEncoding(' base64 ; ')).toBe('BASE64');
    expect(parseTransferEncoding(null)).toBe('7BIT');
    expect(parseTransferEncoding('')).toBe('7BIT');
    expect(parseTransferEncoding('text/html')).toBe('7BIT');
    expect(parseTransferEncoding('?invalid')).toBe('7BIT');
  });
});
