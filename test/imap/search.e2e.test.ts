/** SEARCH (RFC 9051 §6.4.4): keys, charsets, ESEARCH (RFC 4731), SEARCHRES (RFC 5182). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawImap } from './support/raw-client.ts';
import { startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

const msg = (n: number, subject: string, body: string, extra = '', encoding: BufferEncoding = 'utf8') =>
  Buffer.from(
    `From: Sender${n} <s${n}@example.test>\r\nTo: r@example.test\r\nCc: cc${n}@example.test\r\nSubject: ${subject}\r\nDate: ${n} Mar 2021 10:00:00 +0000\r\nX-Tag: t${n}\r\n${extra}\r\n${body}`,
    encoding,
  );

describe('SEARCH', () => {
  let sys: ImapTestSystem;
  let c: RawImap;
  beforeAll(async () => {
    sys = await startImapSystem('local');
    await sys.deliver(msg(1, 'Quarterly report', 'numbers inside\r\n'), 'INBOX', ['\\Seen']);
    await sys.deliver(msg(2, '=?utf-8?q?Gr=C3=BC=C3=9Fe?= aus Köln', 'hallo\r\n'), 'INBOX', ['\\Flagged', '$Work']);
    await sys.deliver(
      msg(3, 'encoded body', 'SGVsbG8gc2VjcmV0IHdvcmxk\r\n', 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n'),
      'INBOX',
      ['\\Deleted', '\\Answered'],
    );
    await sys.deliver(
      msg(4, 'latin body', 'caf\xe9 cr\xe8me\r\n', 'Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n', 'latin1'),
    );
    c = await RawImap.login(sys.port, sys.user, sys.password);
    await c.command('SELECT INBOX');
  });
  afterAll(async () => {
    c?.close();
    await sys?.stop();
  });

  const search = async (q: string) => {
    const r = await c.command(`SEARCH ${q}`);
    expect(r.tagged, q).toMatch(/ OK /);
    return r.untagged[0];
  };

  it('matches flag, size, date, uid and sequence keys', async () => {
    expect(await search('ALL')).toBe('* SEARCH 1 2 3 4');
    expect(await search('SEEN')).toBe('* SEARCH 1');
    expect(await search('UNSEEN')).toBe('* SEARCH 2 3 4');
    expect(await search('FLAGGED KEYWORD $Work')).toBe('* SEARCH 2');
    expect(await search('UNKEYWORD $Work')).toBe('* SEARCH 1 3 4');
    expect(await search('DELETED ANSWERED')).toBe('* SEARCH 3');
    expect(await search('UNDELETED UNDRAFT UNANSWERED')).toBe('* SEARCH 1 2 4');
    expect(await search('OR SEEN FLAGGED')).toBe('* SEARCH 1 2');
    expect(await search('NOT (SEEN) NOT FLAGGED')).toBe('* SEARCH 3 4');
    expect(await search('2:3')).toBe('* SEARCH 2 3');
    expect(await search('UID 3:*')).toBe('* SEARCH 3 4');
    expect(await search('LARGER 1 SMALLER 100000')).toBe('* SEARCH 1 2 3 4');
    expect(await search('SENTON 2-Mar-2021')).toBe('* SEARCH 2');
    expect(await search('SENTBEFORE 3-Mar-2021')).toBe('* SEARCH 1 2');
    expect(await search('SENTSINCE 3-Mar-2021')).toBe('* SEARCH 3 4');
    const today = new Date();
    const d = `${today.getUTCDate()}-${['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][today.getUTCMonth()]}-${today.getUTCFullYear()}`;
    expect(await search(`ON ${d}`)).toBe('* SEARCH 1 2 3 4');
    expect(await search(`BEFORE ${d}`)).toBe('* SEARCH');
    expect(await search('SINCE 1-Jan-2000')).toBe('* SEARCH 1 2 3 4');
    // \Recent is this session's: the messages arrived before it selected, nobody claimed them.
    expect(await search('NEW')).toBe('* SEARCH');
    expect(await search('OLD')).toBe('* SEARCH 1 2 3 4');
  });

  it('matches header and body substrings case-insensitively, decoded (RFC 2047, transfer encodings, charsets)', async () => {
    expect(await search('SUBJECT report')).toBe('* SEARCH 1');
    expect(await search('FROM "sender2"')).toBe('* SEARCH 2');
    expect(await search('TO r@example')).toBe('* SEARCH 1 2 3 4');
    expect(await search('CC cc4')).toBe('* SEARCH 4');
    expect(await search('HEADER X-Tag t3')).toBe('* SEARCH 3');
    expect(await search('HEADER X-Tag ""')).toBe('* SEARCH 1 2 3 4');
    expect(await search('HEADER X-Missing ""')).toBe('* SEARCH');
    expect(await search('BODY NUMBERS')).toBe('* SEARCH 1');
    expect(await search('BODY "secret world"')).toBe('* SEARCH 3');
    expect(await search('TEXT quarterly')).toBe('* SEARCH 1');
    expect(await search('TEXT hallo')).toBe('* SEARCH 2');
    // UTF-8 search strings against an encoded-word subject and a latin-1 body.
    const r = await c.command('SEARCH CHARSET UTF-8 SUBJECT {7+}\r\ngrüße');
    expect(r.untagged[0]).toBe('* SEARCH 2');
    const l = await c.command('SEARCH CHARSET UTF-8 BODY {5+}\r\ncafé');
    expect(l.untagged[0]).toBe('* SEARCH 4');
    const iso = Buffer.concat([Buffer.from('T1 SEARCH CHARSET ISO-8859-1 BODY {4+}\r\ncr'), Buffer.from([0xe8]), Buffer.from('m\r\n')]);
    c.write(iso);
    expect((await c.until('T1')).untagged[0]).toBe('* SEARCH 4');
    expect((await c.command('SEARCH CHARSET KLINGON BODY x')).tagged).toMatch(/NO \[BADCHARSET \(UTF-8 US-ASCII\)\]/);
  });

  it('resolves string, UID and sequence keys nested under NOT, OR and parentheses (RFC 9051 §6.4.4)', async () => {
    expect(await search('OR SUBJECT report UID 4')).toBe('* SEARCH 1 4');
    expect(await search('NOT (SUBJECT report OR 1 BODY secret)')).toBe('* SEARCH 2 3 4');
    expect(await search('(OR (TEXT hallo) NOT UID 1:3) NOT FROM sender4')).toBe('* SEARCH 2');
    const r = await c.command('SEARCH CHARSET UTF-8 NOT OR SUBJECT {7+}\r\ngrüße 3:4');
    expect(r.untagged[0]).toBe('* SEARCH 1');
  });

  it('returns ESEARCH results with RETURN and saves results for $', async () => {
    const r = await c.command('UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN');
    expect(r.untagged[0]).toMatch(/^\* ESEARCH \(TAG "T\d+"\) UID MIN 2 MAX 4 COUNT 3 ALL 2:4$/);
    expect((await c.command('SEARCH RETURN () FLAGGED')).untagged[0]).toMatch(/\) ALL 2$/);
    expect((await c.command('SEARCH RETURN (COUNT) KEYWORD none')).untagged[0]).toMatch(/\) COUNT 0$/);
    expect((await c.command('SEARCH RETURN (SAVE) OR SEEN FLAGGED')).untagged).toEqual([]);
    expect((await c.command('FETCH $ (UID)')).untagged).toEqual(['* 1 FETCH (UID 1)', '* 2 FETCH (UID 2)']);
    expect(await search('NOT UID $')).toBe('* SEARCH 3 4');
    // With another option, SAVE keeps only what MIN/MAX name (RFC 5182 §2.4) and ESEARCH is sent.
    expect((await c.command('SEARCH RETURN (SAVE MIN) UNSEEN')).untagged[0]).toMatch(/\) MIN 2$/);
    expect((await c.command('UID FETCH $ (FLAGS)')).untagged).toHaveLength(1);
  });

  it('matches FROM/TO/CC/BCC against the envelope addresses, comments removed (RFC 9051 §6.4.4)', async () => {
    const addr = (from: string, extra = '') =>
      Buffer.from(`From: ${from}\r\nTo: Team: x@list.test, "Doe, Jane" <jane (work) @ Example.ORG>;\r\n${extra}Subject: a\r\n\r\nbody\r\n`);
    await sys.deliver(addr('<user-from (comment)@ (comment) domain.org>'), 'Archive');
    await sys.deliver(addr('=?utf-8?q?J=C3=B6rg?= <joerg@example.test>', 'Cc: carl@cc.test\r\nBcc: bea@bcc.test\r\n'), 'Archive');
    expect((await c.command('SELECT Archive')).tagged).toMatch(/OK/);
    try {
      expect(await search('FROM user-from@domain.org')).toBe('* SEARCH 1');
      expect(await search('FROM USER-FROM@DOMAIN')).toBe('* SEARCH 1');
      // The comment is not part of the address.
      expect(await search('FROM comment')).toBe('* SEARCH');
      expect(await search('FROM "user-from (comment)"')).toBe('* SEARCH');
      // Display names are matched decoded (RFC 2047), and with the address as "name <addr>".
      expect(await search('CHARSET UTF-8 FROM {5+}\r\njörg')).toBe('* SEARCH 2');
      expect(await search('FROM "rg <joerg@"')).toBe('* SEARCH 2');
      expect(await search('TO jane@example.org')).toBe('* SEARCH 1 2');
      expect(await search('TO "doe, jane"')).toBe('* SEARCH 1 2');
      expect(await search('TO work')).toBe('* SEARCH');
      expect(await search('TO x@list')).toBe('* SEARCH 1 2');
      expect(await search('CC carl@cc.test')).toBe('* SEARCH 2');
      expect(await search('BCC bea@bcc')).toBe('* SEARCH 2');
      expect(await search('CC ""')).toBe('* SEARCH 2');
      // HEADER keeps its meaning: a substring of the field as written.
      expect(await search('HEADER From "(comment)"')).toBe('* SEARCH 1');
    } finally {
      await c.command('SELECT INBOX');
    }
  });
});
