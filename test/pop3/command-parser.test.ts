import { describe, expect, it } from 'vitest';
import { Pop3ParseError, parseCommand } from '#listeners/pop3/protocol/command.ts';
import { LineReader } from '#listeners/pop3/protocol/line-reader.ts';
import { decodePlain, encodePlain } from '#listeners/pop3/protocol/sasl-plain.ts';
import { parseExpirePolicy } from '#listeners/pop3/protocol/capabilities.ts';
import { multiline, err } from '#listeners/pop3/protocol/response.ts';
import { fuzzRuns } from '../support/prng.ts';

describe('POP3 command parser (RFC 1939 §3, RFC 2449 §3)', () => {
  it('parses every command into a typed request, keywords case-insensitive', () => {
    expect(parseCommand('user alice@example.test')).toEqual({ name: 'USER', user: 'alice@example.test' });
    expect(parseCommand('STAT')).toEqual({ name: 'STAT' });
    expect(parseCommand('list')).toEqual({ name: 'LIST', msg: null });
    expect(parseCommand('LIST 3')).toEqual({ name: 'LIST', msg: 3 });
    expect(parseCommand('Uidl 12')).toEqual({ name: 'UIDL', msg: 12 });
    expect(parseCommand('RETR 1')).toEqual({ name: 'RETR', msg: 1 });
    expect(parseCommand('TOP 2 0')).toEqual({ name: 'TOP', msg: 2, lines: 0 });
    expect(parseCommand('DELE 7')).toEqual({ name: 'DELE', msg: 7 });
    for (const c of ['NOOP', 'RSET', 'QUIT', 'CAPA', 'STLS']) expect(parseCommand(c)).toEqual({ name: c });
    expect(parseCommand('AUTH plain dGVzdA==')).toEqual({ name: 'AUTH', mechanism: 'PLAIN', initialResponse: 'dGVzdA==' });
    expect(parseCommand('AUTH PLAIN')).toEqual({ name: 'AUTH', mechanism: 'PLAIN', initialResponse: null });
    expect(parseCommand('AUTH')).toEqual({ name: 'AUTH', mechanism: null, initialResponse: null });
  });

  it('takes the rest of the PASS line verbatim, spaces included (RFC 1939 §7)', () => {
    expect(parseCommand('PASS  two  spaces ')).toEqual({ name: 'PASS', password: ' two  spaces ' });
    expect(() => parseCommand('PASS')).toThrow(Pop3ParseError);
  });

  it('rejects bad message numbers and argument counts', () => {
    const bad = [
      'RETR',
      'RETR 0',
      'RETR -1',
      'RETR 1a',
      'RETR 99999999999',
      'RETR 1 2',
      'TOP 1',
      'TOP 1 -1',
      'TOP 0 1',
      'DELE x',
      'STAT 1',
      'QUIT now',
      'LIST 1 2',
      'USER',
      'USER a b',
      'AUTH a b c',
      'USER a\x01b',
    ];
    for (const line of bad) {
      expect(() => parseCommand(line), line).toThrow(Pop3ParseError);
    }
  });

  it('tells unknown commands from syntax errors', () => {
    const unknown = (() => {
      try {
        parseCommand('XYZZY 1');
      } catch (e) {
        return e as Pop3ParseError;
      }
    })();
    expect(unknown?.command).toBeNull();
    expect(unknown?.message).toMatch(/unknown/);
    const syntax = (() => {
      try {
        parseCommand('RETR zero');
      } catch (e) {
        return e as Pop3ParseError;
      }
    })();
    expect(syntax?.command).toBe('RETR');
    expect(() => parseCommand('')).toThrow(/empty/);
    expect(() => parseCommand('APOP user digest')).toThrow(/unknown/);
  });

  it('never throws anything but Pop3ParseError on random input (fuzz)', async () => {
    const words = ['USER', 'PASS', 'LIST', 'RETR', 'TOP', 'UIDL', 'DELE', 'AUTH', 'STAT', ' ', '1', '0', '-', '999999999999', 'PLAIN', '=', '\t', '\x00', 'é'];
    await fuzzRuns('pop3 command parser', { seed: 12345, runs: 5000 }, (rnd) => {
      let line = '';
      const n = rnd.int(6);
      for (let j = 0; j < n; j++) line += rnd.int(3) === 0 ? String.fromCharCode(rnd.int(256)) : rnd.pick(words);
      try {
        const cmd = parseCommand(line);
        expect(typeof cmd.name).toBe('string');
      } catch (e) {
        expect(e).toBeInstanceOf(Pop3ParseError);
      }
    });
  });
});

describe('line reader (RFC 2449 §4 line limit)', () => {
  it('splits CRLF and bare-LF lines across chunk boundaries', () => {
    const r = new LineReader(100);
    expect(r.push(Buffer.from('US'))).toEqual([]);
    const ev = r.push(Buffer.from('ER a\r\nSTAT\nNO'));
    expect(ev.map((e) => ('line' in e ? e.line.toString() : 'overflow'))).toEqual(['USER a', 'STAT']);
    expect(r.push(Buffer.from('OP\r\n')).map((e) => ('line' in e ? e.line.toString() : '!'))).toEqual(['NOOP']);
  });

  it('reports an overlong line once, even without its LF, then stays silent', () => {
    const r = new LineReader(10);
    expect(r.push(Buffer.from('STAT\r\n0123456789abc'))).toEqual([{ line: Buffer.from('STAT') }, { overflow: true }]);
    expect(r.push(Buffer.from('\r\nSTAT\r\n'))).toEqual([]);
  });

  it('counts the CRLF in the limit', () => {
    const r = new LineReader(6);
    expect(r.push(Buffer.from('STAT\r\n'))).toEqual([{ line: Buffer.from('STAT') }]);
    expect(r.push(Buffer.from('STATS\r\n'))).toEqual([{ overflow: true }]);
  });
});

describe('SASL PLAIN (RFC 4616, RFC 5034)', () => {
  it('decodes authzid, authcid and password', () => {
    expect(decodePlain(encodePlain('alice@example.test', 'pw with spaces'))).toEqual({
      authzid: '',
      authcid: 'alice@example.test',
      password: 'pw with spaces',
    });
    expect(decodePlain(encodePlain('a', 'p', 'a'))).toEqual({ authzid: 'a', authcid: 'a', password: 'p' });
    expect(decodePlain(encodePlain('ünïcode', 'pässwörd'))?.password).toBe('pässwörd');
  });

  it('rejects malformed responses', () => {
    expect(decodePlain('=')).toBeNull();
    expect(decodePlain('not base64!')).toBeNull();
    expect(decodePlain('YWJj')).toBeNull(); // "abc": no NULs
    expect(decodePlain(Buffer.from('a\0b\0c\0d').toString('base64'))).toBeNull();
    expect(decodePlain(Buffer.from('\0user\0').toString('base64'))).toBeNull();
    expect(decodePlain(Buffer.from([0, 0x61, 0, 0xff, 0xfe]).toString('base64'))).toBeNull();
  });
});

describe('responses and settings', () => {
  it('byte-stuffs multi-line text responses and ends them with a dot line', () => {
    expect(multiline('x', ['.hidden', 'plain'])).toBe('+OK x\r\n..hidden\r\nplain\r\n.\r\n');
    expect(err('nope', 'IN-USE')).toBe('-ERR [IN-USE] nope\r\n');
  });

  it('parses POP3_EXPIRE_DAYS', () => {
    expect(parseExpirePolicy(undefined)).toBe('NEVER');
    expect(parseExpirePolicy('never')).toBe('NEVER');
    expect(parseExpirePolicy('0')).toBe(0);
    expect(parseExpirePolicy('30')).toBe(30);
    expect(() => parseExpirePolicy('-1')).toThrow();
    expect(() => parseExpirePolicy('soon')).toThrow();
  });
});
