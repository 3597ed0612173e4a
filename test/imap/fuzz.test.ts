/**
 * Fuzzing the tokenizer and parser: random bytes and mutated real commands, fed in random
 * chunk sizes, must only ever produce events and ParseResults — never an exception — and
 * must keep memory bounded (mox's fuzz_test.go, STYLE.md).
 */
import { describe, expect, it } from 'vitest';
import { parseCommand } from '#listeners/imap/protocol/parser/index.ts';
import { Receiver } from '#listeners/imap/protocol/receiver.ts';
import { fuzzRuns } from '../support/prng.ts';

const SEEDS = [
  'a LOGIN "alice@example.test" "p\\"w"',
  'a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==',
  'a SELECT INBOX',
  'a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" %/x *) RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))',
  'a UID FETCH 1:*,5,7:9 (UID FLAGS ENVELOPE RFC822.SIZE BODY.PEEK[1.2.HEADER.FIELDS.NOT (From "To")]<0.1024> BINARY[2]<5.10> BODYSTRUCTURE)',
  'a SEARCH RETURN (MIN MAX COUNT SAVE) CHARSET UTF-8 OR (FROM "bob" NOT SEEN) SUBJECT {3}\r\nabc SINCE 7-Feb-1994 UID $ LARGER 100',
  'a UID STORE 1:5 +FLAGS.SILENT (\\Seen \\Deleted $Junk)',
  'a APPEND INBOX (\\Seen) " 7-Feb-1994 21:52:25 -0800" {11+}\r\nHello world',
  'a UID MOVE 1:* Trash',
  'a STATUS "Entw&APw-rfe" (MESSAGES UIDNEXT SIZE)',
  'a ID ("name" "x" "version" NIL)',
  'a CREATE Foo/Bar (USE (\\Archive))',
  'a RENAME "a" {1}\r\nb',
  'a SELECT INBOX (CONDSTORE QRESYNC (67890007 90060115194045000 41:211,214:541 (1:3,5 4:6,9)))',
  'a UID FETCH 300:500 (FLAGS MODSEQ) (CHANGEDSINCE 12345 VANISHED)',
  'a STORE 1:3 (UNCHANGEDSINCE 12345) +FLAGS.SILENT (\\Seen)',
  'a SEARCH MODSEQ "/flags/\\\\draft" all 620162338 UNSEEN',
  'a UID SORT RETURN (MIN MAX COUNT ALL SAVE) (REVERSE DATE SUBJECT DISPLAYFROM) UTF-8 OR FROM {3}\r\nbob SEEN 1:5',
  'a UID SEARCH RETURN (PARTIAL -1:-100 UPDATE CONTEXT COUNT) UNDELETED UNKEYWORD $Junk',
  'a SORT RETURN (PARTIAL 500:400 UPDATE) (DATE) UTF-8 ALL',
  'a CANCELUPDATE "B01" "B02"',
  'a UID FETCH 1:* (FLAGS) (PARTIAL 1:50 CHANGEDSINCE 5)',
  'a THREAD REFERENCES US-ASCII SUBJECT "x" NOT DELETED',
];

function mutate(input: Buffer, rnd: () => number): Buffer {
  const b = [...input];
  const n = 1 + Math.floor(rnd() * 6);
  const specials = [0x28, 0x29, 0x5b, 0x5d, 0x7b, 0x7d, 0x22, 0x5c, 0x20, 0x0d, 0x0a, 0x2a, 0x25, 0x3c, 0x3e, 0x2e, 0x30, 0x39, 0x2b, 0x7e, 0x00, 0xff];
  for (let i = 0; i < n; i++) {
    const pos = Math.floor(rnd() * (b.length + 1));
    const op = rnd();
    const byte = rnd() < 0.6 ? specials[Math.floor(rnd() * specials.length)] : Math.floor(rnd() * 256);
    if (op < 0.33) b.splice(pos, 0, byte);
    else if (op < 0.66) b.splice(pos, 1);
    else b[pos] = byte;
  }
  return Buffer.from(b);
}

/** Feeds bytes in random chunks, accepting literals up to a bound; returns the number of commands. */
function drive(bytes: Buffer, rnd: () => number): number {
  const r = new Receiver({ maxLineLength: 4096, maxCommandText: 16384, maxLiterals: 8 });
  let commands = 0;
  let pos = 0;
  while (pos < bytes.length) {
    const len = 1 + Math.floor(rnd() * 64);
    r.push(bytes.subarray(pos, pos + len));
    pos += len;
    for (;;) {
      const ev = r.next();
      if (ev.type === 'need-more') break;
      if (ev.type === 'literal') {
        if (ev.size <= 1024 && rnd() < 0.9) r.acceptLiteral();
        else r.rejectLiteral();
      } else if (ev.type === 'command') {
        commands++;
        const res = parseCommand(ev.parts);
        if (!res.ok && res.error.name !== 'ParseError') throw new Error(`non-ParseError: ${res.error.name}`);
      }
    }
    if (r.bufferedBytes > 4096 + 128) throw new Error(`unbounded buffer: ${r.bufferedBytes}`);
  }
  return commands;
}

describe('tokenizer/parser fuzz', () => {
  it('never throws on mutated real commands', async () => {
    let parsed = 0;
    await fuzzRuns('imap parser mutations', { seed: 42, runs: 10000 }, (r, i) => {
      const seed = Buffer.from(SEEDS[i % SEEDS.length] + '\r\n');
      parsed += drive(mutate(seed, r.next), r.next);
    });
    expect(parsed).toBeGreaterThan(process.env.FUZZ_RUNS ? 0 : 5000);
  });

  it('never throws on random bytes', async () => {
    await fuzzRuns('imap parser random bytes', { seed: 7, runs: 2000 }, (r) => {
      const rnd = r.next;
      const len = Math.floor(rnd() * 300);
      const bytes = Buffer.alloc(len);
      for (let j = 0; j < len; j++) bytes[j] = rnd() < 0.1 ? 0x0a : Math.floor(rnd() * 256);
      drive(bytes, rnd);
    });
  });

  it('parses every seed unmutated', () => {
    for (const s of SEEDS) {
      const r = new Receiver();
      r.push(Buffer.from(s + '\r\n'));
      let ev = r.next();
      while (ev.type === 'literal') {
        r.acceptLiteral();
        ev = r.next();
      }
      expect(ev.type).toBe('command');
      const res = ev.type === 'command' ? parseCommand(ev.parts) : null;
      expect(res?.ok, s).toBe(true);
    }
  });
});
