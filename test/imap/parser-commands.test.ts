/** Parsing of the commands other than FETCH and SEARCH (RFC 9051 §6, §9). */
import { describe, expect, it } from 'vitest';
import { parse, req, err } from './support/parse.ts';

describe('command parser', () => {
  it('reads the tag and the command name case-insensitively', () => {
    expect(parse('a1 noop')).toMatchObject({ ok: true, tag: 'a1', request: { name: 'NOOP' } });
    expect(parse('A.B-c CAPABILITY')).toMatchObject({ ok: true, tag: 'A.B-c' });
    expect(parse('+x NOOP')).toMatchObject({ ok: false, tag: null });
    expect(parse('a XYZZY')).toMatchObject({ ok: false, tag: 'a', command: 'XYZZY' });
    expect(err('a NOOP extra')).toMatch(/extra/);
    expect(parse('a')).toMatchObject({ ok: false, tag: 'a' });
  });

  it('LOGIN takes atoms, quoted strings and literals (RFC 9051 §6.2.3)', () => {
    expect(req('a LOGIN alice secret')).toEqual({ name: 'LOGIN', user: 'alice', password: 'secret' });
    expect(req('a LOGIN "al\\"ice" "p\\\\w d"')).toEqual({ name: 'LOGIN', user: 'al"ice', password: 'p\\w d' });
    expect(req('a LOGIN {5}\r\nalice {6+}\r\nsec re')).toEqual({ name: 'LOGIN', user: 'alice', password: 'sec re' });
    expect(req('a LOGIN "ü" "пароль"')).toEqual({ name: 'LOGIN', user: 'ü', password: 'пароль' });
    expect(err('a LOGIN "a\\b" c')).toMatch(/escape/);
    expect(err('a LOGIN alice')).toMatch(/space/i);
  });

  it('AUTHENTICATE with and without an initial response (RFC 4959)', () => {
    expect(req('a AUTHENTICATE plain')).toEqual({ name: 'AUTHENTICATE', mechanism: 'PLAIN', initialResponse: null });
    expect(req('a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==')).toMatchObject({ initialResponse: 'AGFsaWNlAHNlY3JldA==' });
    expect(req('a AUTHENTICATE PLAIN =')).toMatchObject({ initialResponse: '' });
    expect(err('a AUTHENTICATE PLAIN a=b')).toMatch(/base64/);
    expect(err('a AUTHENTICATE PLAIN a*b')).toMatch(/\S/);
  });

  it('SELECT, CREATE with USE, RENAME, STATUS, ENABLE, ID', () => {
    expect(req('a SELECT INBOX').mailbox.toString()).toBe('INBOX');
    expect(req('a EXAMINE "Sent Items"')).toMatchObject({ name: 'EXAMINE' });
    expect(err('a SELECT INBOX (X-FOO)')).toMatch(/Unsupported/);
    expect(req('a CREATE Foo (USE (\\Sent))')).toMatchObject({ name: 'CREATE', specialUse: ['\\Sent'] });
    expect(req('a RENAME a b')).toMatchObject({ name: 'RENAME' });
    expect(req('a STATUS INBOX (MESSAGES UIDNEXT UNSEEN SIZE deleted)').items).toEqual(['MESSAGES', 'UIDNEXT', 'UNSEEN', 'SIZE', 'DELETED']);
    expect(err('a STATUS INBOX ()')).toMatch(/Empty/);
    expect(err('a STATUS INBOX (FOO)')).toMatch(/Unknown/);
    expect(req('a ENABLE IMAP4rev2 CONDSTORE').capabilities).toEqual(['IMAP4REV2', 'CONDSTORE']);
    expect(req('a ID ("name" "x" "version" NIL)').params).toEqual([
      ['name', 'x'],
      ['version', null],
    ]);
    expect(req('a ID NIL').params).toBeNull();
  });

  it('LIST with LIST-EXTENDED options, patterns and RETURN (RFC 5258, RFC 5819)', () => {
    const l = req('a LIST (SUBSCRIBED) "" ("INBOX" %/x *) RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))');
    expect(l.selection).toEqual(['SUBSCRIBED']);
    expect(l.patterns.map((p: Buffer) => p.toString())).toEqual(['INBOX', '%/x', '*']);
    expect(l.returnOptions).toEqual({ subscribed: false, children: true, specialUse: true, status: ['MESSAGES', 'UNSEEN'] });
    expect(req('a LIST "" %').patterns[0].toString()).toBe('%');
    expect(req('a LSUB "" *')).toMatchObject({ name: 'LSUB' });
    expect(err('a LIST (RECURSIVEMATCH) "" *')).toMatch(/RECURSIVEMATCH/);
    expect(err('a LIST (BOGUS) "" *')).toMatch(/Unknown/);
    expect(err('a LIST "" * RETURN (BOGUS)')).toMatch(/Unknown/);
  });

  it('APPEND with flags, date-time and a literal (RFC 9051 §6.3.12)', () => {
    const a = req('a APPEND INBOX (\\Seen $Work) " 7-Feb-1994 21:52:25 -0800" {5}\r\nHello');
    expect(a.flags).toEqual(['\\Seen', '$Work']);
    expect(a.date).toBe(Date.UTC(1994, 1, 8, 5, 52, 25));
    expect(a.message.toString()).toBe('Hello');
    expect(req('a APPEND INBOX {3+}\r\nabc')).toMatchObject({ flags: [], date: null, binary: false });
    expect(req('a APPEND INBOX ~{3}\r\na\0c')).toMatchObject({ binary: true, utf8: false });
    expect(req('a APPEND INBOX (\\Seen) UTF8 (~{3}\r\nabc)')).toMatchObject({ binary: true, utf8: true, flags: ['\\Seen'] });
    expect(err('a APPEND INBOX UTF8 (~{3}\r\nabc')).toMatch(/\)/);
    expect(err('a APPEND INBOX "31-Feb-2020 00:00:00 +0000" {1}\r\nx')).toMatch(/date/);
    expect(err('a APPEND INBOX "hello"')).toMatch(/\S/);
    expect(err('a APPEND INBOX (\\Seen) x')).toMatch(/literal/);
  });

  it('MULTIAPPEND: several messages, each with its own flags and date (RFC 3502 §6.3.11)', () => {
    const a = req('a APPEND INBOX {3}\r\none (\\Seen) " 7-Feb-1994 21:52:25 -0800" {3}\r\ntwo ~{5}\r\nth\0ee');
    expect(a.message.toString()).toBe('one');
    expect(a.more).toEqual([
      { flags: ['\\Seen'], date: Date.UTC(1994, 1, 8, 5, 52, 25), message: Buffer.from('two'), catenate: null, binary: false, utf8: false },
      { flags: [], date: null, message: Buffer.from('th\0ee'), catenate: null, binary: true, utf8: false },
    ]);
    expect(req('a APPEND INBOX {1}\r\nx')).toMatchObject({ more: [] });
    expect(err('a APPEND INBOX {1}\r\nx (\\Seen)')).toMatch(/\S/);
    expect(err('a APPEND INBOX {1}\r\nx {1}\r\ny extra')).toMatch(/\S/);
    expect(err('a APPEND INBOX {1}\r\nx  {1}\r\ny')).toMatch(/\S/);
  });

  it('COMPRESS takes one mechanism (RFC 4978 §5)', () => {
    expect(req('a COMPRESS deflate')).toEqual({ name: 'COMPRESS', mechanism: 'DEFLATE' });
    expect(err('a COMPRESS')).toMatch(/\S/);
    expect(err('a COMPRESS DEFLATE X')).toMatch(/\S/);
  });

  it('STORE, COPY, MOVE, UID forms and UID EXPUNGE', () => {
    expect(req('a STORE 1:3 +FLAGS.SILENT (\\Deleted)')).toEqual({
      name: 'STORE',
      uid: false,
      set: { saved: false, ranges: [[1, 3]] },
      mode: 'add',
      silent: true,
      flags: ['\\Deleted'],
      unchangedSince: null,
    });
    expect(req('a UID STORE 5 -FLAGS \\Seen foo')).toMatchObject({ uid: true, mode: 'remove', flags: ['\\Seen', 'foo'] });
    expect(req('a STORE 1 FLAGS ()')).toMatchObject({ mode: 'set', flags: [] });
    expect(req('a UID COPY 1:* Archive')).toMatchObject({ name: 'COPY', uid: true });
    expect(req('a MOVE $ Trash')).toMatchObject({ name: 'MOVE', uid: false, set: { saved: true } });
    expect(req('a UID EXPUNGE 4,7')).toMatchObject({ name: 'UID EXPUNGE' });
    expect(err('a STORE 1 +FLAG (\\Seen)')).toMatch(/FLAGS/);
    expect(err('a UID FOO 1')).toMatch(/Unknown UID command/);
  });
});
