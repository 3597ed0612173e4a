/** Parsing the CONDSTORE and QRESYNC additions (RFC 7162 §3.1, §3.2, grammar §7). */
import { describe, expect, it } from 'vitest';
import { err, req } from './support/parse.ts';

describe('RFC 7162 syntax', () => {
  it('SELECT/EXAMINE (CONDSTORE) and (QRESYNC (uidvalidity modseq [known-uids] [seq-match-data])) (§3.1.8, §3.2.5)', () => {
    expect(req('a SELECT INBOX')).toMatchObject({ condstore: false, qresync: null });
    expect(req('a SELECT INBOX (CONDSTORE)')).toMatchObject({ condstore: true, qresync: null });
    expect(req('a EXAMINE INBOX (QRESYNC (67890007 20050715194045000))').qresync).toEqual({
      uidValidity: 67890007,
      modseq: Number.MAX_SAFE_INTEGER,
      knownUids: null,
      seqMatch: null,
    });
    const q = req('a SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))').qresync;
    expect(q.knownUids).toEqual({
      saved: false,
      ranges: [
        [41, 211],
        [214, 541],
      ],
    });
    const m = req('a SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000 15000,22500,27000)))').qresync;
    expect(m.seqMatch).toEqual({
      seqs: {
        saved: false,
        ranges: [
          [5000, 5000],
          [7500, 7500],
          [9000, 9000],
        ],
      },
      uids: {
        saved: false,
        ranges: [
          [15000, 15000],
          [22500, 22500],
          [27000, 27000],
        ],
      },
    });
    expect(req('a SELECT INBOX (QRESYNC (1 2 (1:2 5:6)))').qresync).toMatchObject({ knownUids: null, seqMatch: { seqs: { ranges: [[1, 2]] } } });
    expect(req('a SELECT INBOX (CONDSTORE QRESYNC (1 2))')).toMatchObject({ condstore: true, qresync: { uidValidity: 1, modseq: 2 } });
  });

  it('refuses malformed select parameters with a clear BAD text', () => {
    expect(err('a SELECT INBOX (QRESYNC (0 5))')).toMatch(/non-zero/);
    expect(err('a SELECT INBOX (QRESYNC (1 0))')).toMatch(/QRESYNC mod-sequence must not be 0/);
    expect(err('a SELECT INBOX (QRESYNC (1))')).toMatch(/space/i);
    expect(err('a SELECT INBOX (QRESYNC (1 5 1:*))')).toMatch(/must not contain \*/);
    expect(err('a SELECT INBOX (QRESYNC (1 5 1:9 (1:3 4,5)))')).toMatch(/as many UIDs as sequence numbers/);
    expect(err('a SELECT INBOX (QRESYNC (1 5 1:9 (1:3 4:6) x))')).toMatch(/\)/);
    expect(err('a SELECT INBOX (QRESYNC (1 9223372036854775808))')).toMatch(/too large/);
    expect(req('a SELECT INBOX (QRESYNC (1 9223372036854775807))').qresync.modseq).toBe(Number.MAX_SAFE_INTEGER);
    expect(err('a SELECT INBOX (CONDSTORE CONDSTORE)')).toMatch(/CONDSTORE given twice/);
    expect(err('a SELECT INBOX (X-FOO)')).toMatch(/Unsupported SELECT parameter X-FOO/);
  });

  it('FETCH MODSEQ, (CHANGEDSINCE n) and UID FETCH (CHANGEDSINCE n VANISHED) (§3.1.4, §3.2.6)', () => {
    expect(req('a FETCH 1:* (FLAGS MODSEQ)')).toMatchObject({ items: [{ k: 'FLAGS' }, { k: 'MODSEQ' }], changedSince: null, vanished: false });
    expect(req('a FETCH 1:* MODSEQ').items).toEqual([{ k: 'MODSEQ' }]);
    expect(req('a FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)')).toMatchObject({ changedSince: 12345, vanished: false });
    expect(req('a FETCH 1:* FLAGS (CHANGEDSINCE 0)')).toMatchObject({ changedSince: 0 });
    expect(req('a UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)')).toMatchObject({ uid: true, changedSince: 12345, vanished: true });
    expect(req('a UID FETCH 1:* (FLAGS) (VANISHED CHANGEDSINCE 7)')).toMatchObject({ changedSince: 7, vanished: true });
  });

  it('refuses malformed FETCH modifiers with a clear BAD text', () => {
    expect(err('a FETCH 1:* (FLAGS) (CHANGEDSINCE 5 VANISHED)')).toMatch(/VANISHED is allowed only in UID FETCH/);
    expect(err('a UID FETCH 1:* (FLAGS) (VANISHED)')).toMatch(/VANISHED needs CHANGEDSINCE/);
    expect(err('a FETCH 1:* (FLAGS) (CHANGEDSINCE)')).toMatch(/space/i);
    expect(err('a FETCH 1:* (FLAGS) (CHANGEDSINCE x)')).toMatch(/Expected CHANGEDSINCE mod-sequence/);
    expect(err('a FETCH 1:* (FLAGS) (CHANGEDSINCE 1 CHANGEDSINCE 2)')).toMatch(/CHANGEDSINCE given twice/);
    expect(err('a FETCH 1:* (FLAGS) (FOO 1)')).toMatch(/Unsupported FETCH modifier FOO/);
    expect(err('a FETCH 1:* (FLAGS) ()')).toMatch(/Empty/);
    expect(err('a FETCH 1:* (FLAGS) (CHANGEDSINCE 1) x')).toMatch(/extra/);
  });

  it('STORE (UNCHANGEDSINCE n) (§3.1.3)', () => {
    expect(req('a STORE 1:3 (UNCHANGEDSINCE 12345) +FLAGS.SILENT (\\Seen)')).toMatchObject({
      unchangedSince: 12345,
      mode: 'add',
      silent: true,
      flags: ['\\Seen'],
    });
    expect(req('a UID STORE 7 (UNCHANGEDSINCE 0) FLAGS ()')).toMatchObject({ uid: true, unchangedSince: 0, mode: 'set' });
    expect(req('a STORE 1 +FLAGS x')).toMatchObject({ unchangedSince: null });
    expect(err('a STORE 1 (UNCHANGEDSINCE) +FLAGS x')).toMatch(/space/i);
    expect(err('a STORE 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) +FLAGS x')).toMatch(/given twice/);
    expect(err('a STORE 1 (FOO 1) +FLAGS x')).toMatch(/Unsupported STORE modifier FOO/);
    expect(err('a STORE 1 (UNCHANGEDSINCE 5)+FLAGS x')).toMatch(/space/i);
  });

  it('SEARCH MODSEQ [entry-name entry-type-req] n (§3.1.5) and STATUS HIGHESTMODSEQ (§3.1.7)', () => {
    expect(req('a SEARCH MODSEQ 620162338').criteria).toEqual({ k: 'modseq', modseq: 620162338 });
    expect(req('a SEARCH MODSEQ "/flags/\\\\draft" all 620162338').criteria).toEqual({ k: 'modseq', modseq: 620162338 });
    expect(req('a UID SEARCH OR NOT MODSEQ 5 SEEN').criteria).toMatchObject({ k: 'or', a: { k: 'not', key: { k: 'modseq', modseq: 5 } } });
    expect(err('a SEARCH MODSEQ "/flags/\\\\draft" mine 5')).toMatch(/priv, shared or all/);
    expect(err('a SEARCH MODSEQ "/annotate/x" all 5')).toMatch(/\/flags\//);
    expect(err('a SEARCH MODSEQ')).toMatch(/space/i);
    expect(err('a SEARCH MODSEQ x')).toMatch(/Expected MODSEQ mod-sequence/);
    expect(req('a STATUS INBOX (MESSAGES HIGHESTMODSEQ)').items).toEqual(['MESSAGES', 'HIGHESTMODSEQ']);
  });
});
