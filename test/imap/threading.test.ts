/** Base subject extraction (RFC 5256 §2.1) and the THREAD algorithms (RFC 5256 §3), pure. */
import { describe, expect, it } from 'vitest';
import { baseSubject } from '#core/mime/base-subject.ts';
import { sentTime } from '#listeners/imap/session/sort-keys.ts';
import { formatThreads, orderedSubject, referencesThreads, type ThreadMessage } from '#listeners/imap/session/threading.ts';

const msg = (seq: number, subject: string, id: string | null, references: string[] = [], date = seq * 1000): ThreadMessage => ({
  n: seq,
  seq,
  date,
  subject: baseSubject(subject),
  messageId: id,
  references,
});

describe('base subject (RFC 5256 §2.1)', () => {
  it.each([
    ['Re: hello', 'HELLO', true],
    ['RE:re: Fwd:  hello', 'HELLO', true],
    ['Fw: hello', 'HELLO', true],
    ['re [2]: hello', 'HELLO', true],
    ['[list] Re: hello', 'HELLO', true],
    ['Re: [list] hello', 'HELLO', true],
    ['[list] hello', 'HELLO', false],
    ['hello (fwd)', 'HELLO', true],
    ['hello (FWD) (fwd)  ', 'HELLO', true],
    ['[Fwd: Re: hello]', 'HELLO', true],
    ['[fwd: [fwd: hello]]', 'HELLO', true],
    ['  hello \t  world  ', 'HELLO WORLD', false],
    ['=?utf-8?q?Re=3A_Gr=C3=BC=C3=9Fe?=', 'GRüßE', true],
    ['', '', false],
    ['Re:', '', true],
    ['reply', 'REPLY', false],
  ])('%j → %j (reply or forward: %s)', (subject, key, reply) => {
    expect(baseSubject(subject)).toEqual({ key, replyOrForward: reply });
  });

  it('step 4: keeps a leading blob that is the whole subject', () => {
    expect(baseSubject('[list]').key).toBe('[LIST]');
    expect(baseSubject('Re: [list]').key).toBe('[LIST]');
    expect(baseSubject('[a][b] x').key).toBe('X');
  });
});

describe('sent date for SORT DATE (RFC 5256 §3, RFC 5322 §3.3)', () => {
  it('applies the zone, accepts obsolete forms, rejects what is no date', () => {
    expect(sentTime('Mon, 1 Mar 2021 10:00:00 +0100')).toBe(Date.UTC(2021, 2, 1, 9));
    expect(sentTime('1 Mar 21 10:00 EST')).toBe(Date.UTC(2021, 2, 1, 15));
    expect(sentTime('Mon, 01 Mar 2021 10:00:00 -0000 (UTC)')).toBe(Date.UTC(2021, 2, 1, 10));
    expect(sentTime('tomorrow')).toBeNull();
    expect(sentTime(null)).toBeNull();
  });
});

describe('THREAD=ORDEREDSUBJECT (RFC 5256 §3)', () => {
  it('groups by base subject under the earliest message, threads ordered by their first date', () => {
    const threads = orderedSubject([
      msg(1, 'b topic', null, [], 5000),
      msg(2, 'a topic', null, [], 1000),
      msg(3, 'Re: b topic', null, [], 2000),
      msg(4, 'Re: a topic', null, [], 3000),
      msg(5, 're: A TOPIC', null, [], 4000),
      msg(6, 'c', null, [], 1500),
      msg(7, 'Re: c', null, [], 1200),
    ]);
    // "a topic" starts at 1000 (2), "c" at 1200 (7), "b topic" at 2000 (3).
    expect(formatThreads(threads)).toBe('(2 (4)(5))(7 6)(3 1)');
  });
});

describe('THREAD=REFERENCES (RFC 5256 §3)', () => {
  it('links by References and In-Reply-To, keeps a dummy root for siblings whose parent is missing, merges a reply by subject (steps 1-6)', () => {
    const threads = referencesThreads([
      msg(1, 'topic', 'a'),
      msg(2, 'Re: topic', 'b', ['a']),
      msg(3, 'Re: topic', 'c', ['a', 'b']),
      msg(4, 'other', 'd', ['x']),
      msg(5, 'Re: other', 'e', ['x']),
      // No references, but "Re:" of a root's subject: a child of that root (step 5C).
      msg(6, 'Re: topic', 'f'),
      msg(7, 'lonely', 'g'),
    ]);
    expect(formatThreads(threads)).toBe('(1 (2 3)(6))((4)(5))(7)');
  });

  it('step 4: drops dummies inside a thread and promotes their children; a dummy root with one child goes', () => {
    const threads = referencesThreads([msg(1, 'x', 'a'), msg(2, 'Re: x', 'c', ['a', 'missing']), msg(3, 'y', 'd', ['gone'])]);
    expect(formatThreads(threads)).toBe('(1 2)(3)');
  });

  it('step 5: two originals with one base subject go under a new dummy; a dummy thread takes in a same-subject root', () => {
    expect(formatThreads(referencesThreads([msg(1, 'news', 'a'), msg(2, 'News', 'b')]))).toBe('((1)(2))');
    // The dummy (parent of 2 and 3) is in the table; 1 (a plain root, same subject) becomes its child.
    const threads = referencesThreads([msg(1, 'Re: plan', 'a'), msg(2, 'plan', 'b', ['p']), msg(3, 'Re: plan', 'c', ['p'])]);
    expect(formatThreads(threads)).toBe('((1)(2)(3))');
  });

  it('step 5: a reply whose table entry is a reply too gets a dummy with it, not a parent', () => {
    expect(formatThreads(referencesThreads([msg(1, 'Re: z', 'a'), msg(2, 'Re: z', 'b')]))).toBe('((1)(2))');
  });

  it('step 1: breaks loops, treats a duplicate or missing Message-ID as unique, prefers a message own references', () => {
    const loop = referencesThreads([msg(1, 'p', 'm1', ['m2']), msg(2, 'q', 'm2', ['m1'])]);
    expect(formatThreads(loop)).toBe('(2 1)');
    const dup = referencesThreads([msg(1, 'p', 'same'), msg(2, 'q', 'same'), msg(3, 'r', null), msg(4, 's', null)]);
    expect(formatThreads(dup)).toBe('(1)(2)(3)(4)');
    // 3's References say b's parent is a, but b itself (2) says its parent is z.
    const own = referencesThreads([msg(1, 'a', 'a'), msg(3, 'c', 'c', ['a', 'b']), msg(2, 'b', 'b', ['z']), msg(4, 'z', 'z')]);
    expect(formatThreads(own)).toBe('(1)(4 2 3)');
  });

  it('step 6: sorts siblings and threads by sent date, ties by mailbox order', () => {
    const threads = referencesThreads([
      msg(1, 'r', 'r', [], 10),
      msg(2, 'c1', 'c1', ['r'], 50),
      msg(3, 'c2', 'c2', ['r'], 20),
      msg(4, 'late', 'l', [], 5),
      msg(5, 'tie', 't', [], 5),
    ]);
    expect(formatThreads(threads)).toBe('(4)(5)(1 (3)(2))');
  });

  it('threads a reply chain 50,000 deep without running out of stack', () => {
    const chain = Array.from({ length: 50_000 }, (_, i) => msg(i + 1, 'Re: long', `m${i}`, i > 0 ? [`m${i - 1}`] : []));
    const out = formatThreads(referencesThreads(chain));
    expect(out.startsWith('(1 2 3 ')).toBe(true);
    expect(out.endsWith(' 49999 50000)')).toBe(true);
  });
});
