/** Parsing CATENATE (RFC 4469 §5) and the IMAP URLs it takes (RFC 5092; protocol/imap-url.ts). */
import { describe, expect, it } from 'vitest';
import { ImapUrlError, parseImapUrl, urlForResponse } from '#listeners/imap/protocol/imap-url.ts';
import { fuzzRuns } from '../support/prng.ts';
import { err, parse, req } from './support/parse.ts';

describe('CATENATE parser (RFC 4469 §5)', () => {
  it('append-data =/ "CATENATE" SP "(" cat-part *(SP cat-part) ")", with flags, date and MULTIAPPEND', () => {
    const a = req(
      'a APPEND Drafts (\\Seen) "07-Feb-1994 21:52:25 -0800" CATENATE (URL "/Drafts/;UID=20/;section=HEADER" TEXT {4}\r\nabcd URL /INBOX/;UID=1) {3}\r\nxyz',
    );
    expect(a.flags).toEqual(['\\Seen']);
    expect(a.date).toBe(Date.UTC(1994, 1, 8, 5, 52, 25));
    expect(a.catenate).toEqual([
      { kind: 'url', url: '/Drafts/;UID=20/;section=HEADER' },
      { kind: 'text', bytes: Buffer.from('abcd'), binary: false, utf8: false },
      { kind: 'url', url: '/INBOX/;UID=1' },
    ]);
    expect(a.more).toEqual([{ flags: [], date: null, message: Buffer.from('xyz'), catenate: null, binary: false, utf8: false }]);
    const b = req('a APPEND INBOX {1}\r\nx catenate (text ~{2}\r\n\0a UTF8 (~{1}\r\nb))');
    expect(b.catenate).toBeNull();
    expect(b.more[0].catenate).toEqual([
      { kind: 'text', bytes: Buffer.from('\0a'), binary: true, utf8: false },
      { kind: 'text', bytes: Buffer.from('b'), binary: true, utf8: true },
    ]);
  });

  it('an empty list, an unknown part, a TEXT without literal, a missing ")" are errors', () => {
    for (const cmd of [
      'a APPEND INBOX CATENATE ()',
      'a APPEND INBOX CATENATE (FOO "x")',
      'a APPEND INBOX CATENATE (URL)',
      'a APPEND INBOX CATENATE (TEXT "abc")',
      'a APPEND INBOX CATENATE (URL "/INBOX/;UID=1"',
      'a APPEND INBOX CATENATE (URL "/INBOX/;UID=1") extra',
      'a APPEND INBOX CATENATE (UTF8 ({1}\r\nx))',
      `a APPEND INBOX CATENATE (${Array.from({ length: 65 }, () => 'URL /INBOX/;UID=1').join(' ')})`,
      `a APPEND INBOX ${Array.from({ length: 5 }, () => `CATENATE (${Array.from({ length: 60 }, () => 'URL /INBOX/;UID=1').join(' ')})`).join(' ')}`,
    ]) {
      expect(err(cmd), cmd).toMatch(/\S/);
    }
  });
});

describe('IMAP URLs for CATENATE (RFC 5092, RFC 4469 §3)', () => {
  it('reads mailbox, UIDVALIDITY, UID, SECTION and PARTIAL, names in any case', () => {
    expect(parseImapUrl('/INBOX;UIDVALIDITY=785799047/;UID=113330/;SECTION=1.5.9')).toEqual({
      mailbox: 'INBOX',
      uidValidity: 785799047,
      uid: 113330,
      section: { part: [1, 5, 9], text: null, fields: [] },
      partial: null,
    });
    expect(parseImapUrl('/Drafts/;uid=20/;section=1.MIME').section).toEqual({ part: [1], text: 'MIME', fields: [] });
    expect(parseImapUrl('/a%2Fb/c/;UID=1/;SECTION=HEADER.FIELDS%20(To%20From)')).toMatchObject({
      mailbox: 'a/b/c',
      section: { part: [], text: 'HEADER.FIELDS', fields: ['To', 'From'] },
    });
    expect(parseImapUrl('/Entw%C3%BCrfe/;UID=3/;PARTIAL=0.1024').partial).toEqual({ start: 0, length: 1024 });
    expect(parseImapUrl('/Entw%C3%BCrfe/;UID=3/;PARTIAL=7')).toMatchObject({ mailbox: 'Entwürfe', partial: { start: 7, length: null } });
  });

  it('refuses absolute, URLAUTH, malformed URLs (each becomes BADURL)', () => {
    for (const url of [
      '',
      'imap://bob@mx.test/INBOX/;UID=1',
      '//mx.test/INBOX/;UID=1',
      'INBOX/;UID=1',
      ';UID=1',
      '/INBOX',
      '/;UID=1',
      '/INBOX/;UID=0',
      '/INBOX/;UID=4294967296',
      '/INBOX/;UID=1;URLAUTH=anonymous:internal:00',
      '/INBOX/;UID=1;EXPIRE=2030-01-01T00:00:00Z',
      '/INBOX/;SECTION=1/;UID=1',
      '/INBOX/;UID=1/;PARTIAL=1/;SECTION=1',
      '/INBOX/;UID=1/;SECTION=',
      '/INBOX/;UID=1/;SECTION=1.FOO',
      '/INBOX;UIDVALIDITY=x/;UID=1',
      '/INBOX;FOO=1/;UID=1',
      '/IN%ZZBOX/;UID=1',
      '/IN%FFBOX/;UID=1',
      '/IN BOX/;UID=1',
      '/INBOX/;UID=1/;PARTIAL=1.0',
      '/INBOX/;UID=1/;UID=2',
    ]) {
      expect(() => parseImapUrl(url), url).toThrow();
    }
  });

  it('the URL in a BADURL code is url-resp-text: no "]", no CTL, no 8-bit (RFC 4469 §5)', () => {
    expect(urlForResponse('/IN]BOX/;UID=1')).toBe('/IN%5DBOX/;UID=1');
    expect(urlForResponse('/a\r\nb c')).toBe('/a%0D%0Ab%20c');
    expect(urlForResponse('/Entwürfe')).toBe('/Entw%C3%BCrfe');
    expect(urlForResponse('/Entw%C3%BCrfe')).toBe('/Entw%C3%BCrfe');
  });
});

describe('CATENATE and IMAP URL fuzzing (STYLE.md: a fuzz test for every parser)', () => {
  const URLS = ['/INBOX;UIDVALIDITY=785799047/;UID=113330/;SECTION=1.5.9/;PARTIAL=0.1024', '/Entw%C3%BCrfe/;UID=3/;SECTION=HEADER.FIELDS%20(To)'];
  const CHARS = '/;=%.()[]0123456789AZaz \u00ff\r';
  const mutate = (text: string, rnd: () => number): string => {
    const a = [...text];
    for (let n = 1 + Math.floor(rnd() * 4); n > 0; n--) {
      const pos = Math.floor(rnd() * (a.length + 1));
      const ch = CHARS[Math.floor(rnd() * CHARS.length)];
      if (rnd() < 0.5) a.splice(pos, 0, ch);
      else a.splice(pos, 1);
    }
    return a.join('');
  };

  it('parseImapUrl throws nothing but ImapUrlError, and urlForResponse is always url-resp-text', async () => {
    await fuzzRuns('imap url mutations', { seed: 4469, runs: 5000 }, (r) => {
      const url = mutate(r.pick(URLS), r.next);
      try {
        parseImapUrl(url);
      } catch (e) {
        if (!(e instanceof ImapUrlError)) throw e;
      }
      expect(urlForResponse(url)).toMatch(/^[\x21-\x5c\x5e-\x7e]+$/);
    });
  });

  it('mutated CATENATE commands parse or fail with a ParseResult, never an exception', async () => {
    const seed = 'a APPEND Drafts (\\Seen) CATENATE (URL "/Drafts/;UID=20/;section=HEADER" TEXT {4}\r\nabcd URL /INBOX/;UID=1) CATENATE (UTF8 (~{1}\r\nb))';
    await fuzzRuns('catenate command mutations', { seed: 3502, runs: 3000 }, (r) => {
      const text = mutate(seed, r.next);
      try {
        const result = parse(text);
        expect(typeof result.ok).toBe('boolean');
      } catch (e) {
        // The test framing (not the parser) may meet a literal it cannot frame.
        if (!/unexpected/.test((e as Error).message)) throw e;
      }
    });
  });
});
