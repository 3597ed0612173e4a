/**
 * SORT (RFC 5256 §3), SORT=DISPLAY (RFC 5957), ESORT (RFC 5267 §3) and THREAD (RFC 5256 §3):
 * every response form on the wire, on the local adapters and on the aws adapters (emulator);
 * then Python imaplib's sort() and thread() as a real client, and what the commands read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import { appendToMailbox } from '#core/mailbox/writes.ts';
import type { BlobStore } from '#core/ports/blob-store.ts';
import type { ListOptions, MailIndex, MetaOption } from '#core/ports/mail-index.ts';
import { python } from '../support/clients.ts';
import { ADAPTER_KINDS, override } from '../support/mail-system.ts';
import { RawImap } from './support/raw-client.ts';
import { startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

const day = (d: number) => Date.UTC(2021, 1, d, 12);

/**
 * The sort table: seq, FROM (name, mailbox), TO, CC, subject, Date:, internal date, body padding.
 * Each key orders the four differently (see the expectations).
 */
const SORT_MESSAGES: Array<{ header: string; internal: number; pad: number; flags: string[] }> = [
  {
    header:
      'From: =?utf-8?q?Alice_A?= <zed@x.test>\r\nTo: Yan <bob@y.test>\r\nCc: mike@z.test\r\nSubject: Re: beta\r\nDate: Fri, 5 Mar 2021 10:00:00 +0000\r\n',
    internal: day(2),
    pad: 0,
    flags: [],
  },
  {
    header: 'From: anna@x.test\r\nTo: Xavier <carl@y.test>\r\nSubject: alpha\r\nDate: Mon, 1 Mar 2021 12:00:00 +0500\r\n',
    internal: day(3),
    pad: 3000,
    flags: ['\\Seen'],
  },
  {
    header: 'From: "bert B" <Mark@x.test>\r\nTo: amy@y.test\r\nCc: zoe@z.test\r\nSubject: [list] gamma\r\nDate: Mon, 1 Mar 2021 08:00:00 +0000\r\n',
    internal: day(1),
    pad: 1000,
    flags: ['\\Seen'],
  },
  // No Date: field: DATE uses the internal date (1 Feb, the earliest).
  { header: 'From: Carl <anna@x.test>\r\nTo: Will <dan@y.test>\r\nCc: lee@z.test\r\nSubject: Fwd: alpha\r\n', internal: day(0), pad: 300, flags: [] },
];

/** The thread table: Message-ID, subject, References / In-Reply-To. Dates ascend with the sequence. */
const THREAD_MESSAGES: Array<[string, string, string]> = [
  ['t1', 'project', ''],
  ['t2', 'Re: project', 'References: <t1@x>\r\n'],
  ['t3', 'Re: project', 'References: <t1@x>\r\n <t2@x>\r\n'],
  ['t4', 'Re: project', 'In-Reply-To: <t1@x> (the first)\r\n'],
  ['t5', 'lunch', 'References: <gone@x>\r\n'],
  ['t6', 'Re: lunch', 'References: <gone@x>\r\n'],
  ['t7', 'Fwd: project', ''],
  ['t8', 'solo', ''],
];

async function fill(sys: ImapTestSystem, c: RawImap): Promise<void> {
  // A first message expunged in each mailbox, so that UIDs are sequence numbers + 1.
  expect((await c.command('CREATE Threads')).tagged).toMatch(/ OK /);
  for (const mailbox of ['INBOX', 'Threads']) await sys.deliver(Buffer.from('Subject: gone\r\n\r\nx\r\n'), mailbox, ['\\Deleted']);
  for (const m of SORT_MESSAGES)
    await appendToMailbox(sys.ts.adapters, sys.user, 'INBOX', Buffer.from(`${m.header}\r\n${'x'.repeat(m.pad)}\r\n`), {
      internalDate: m.internal,
      flags: m.flags,
    });
  for (const [i, [id, subject, refs]] of THREAD_MESSAGES.entries())
    await appendToMailbox(
      sys.ts.adapters,
      sys.user,
      'Threads',
      Buffer.from(`From: a@x.test\r\nMessage-ID: <${id}@x>\r\nSubject: ${subject}\r\nDate: ${i + 1} Apr 2021 10:00:00 +0000\r\n${refs}\r\nbody\r\n`),
    );
  for (const mailbox of ['INBOX', 'Threads']) {
    await c.command(`SELECT ${mailbox}`);
    expect((await c.command('EXPUNGE')).tagged).toMatch(/ OK /);
  }
}

describe.each(ADAPTER_KINDS)('SORT and THREAD (%s adapters)', (kind) => {
  let sys: ImapTestSystem;
  let c: RawImap;
  beforeAll(async () => {
    sys = await startImapSystem(kind);
    c = await RawImap.login(sys.port, sys.user, sys.password);
    await fill(sys, c);
  }, 60_000);
  afterAll(async () => {
    c?.close();
    await sys?.stop();
  });

  const one = async (cmd: string) => {
    const r = await c.command(cmd);
    expect(r.tagged, cmd).toMatch(/ OK /);
    expect(r.untagged, cmd).toHaveLength(1);
    return r.untagged[0];
  };

  it('advertises SORT, SORT=DISPLAY, ESORT, THREAD=ORDEREDSUBJECT and THREAD=REFERENCES once authenticated (RFC 5256 §1, RFC 5957 §3, RFC 5267 §3)', async () => {
    const caps = (await one('CAPABILITY')).split(' ');
    expect(caps).toEqual(expect.arrayContaining(['SORT', 'SORT=DISPLAY', 'ESORT', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES']));
    const pre = await RawImap.connect(sys.port);
    try {
      await pre.response();
      expect((await pre.command('CAPABILITY')).untagged[0]).not.toMatch(/SORT|THREAD/);
    } finally {
      pre.close();
    }
  });

  it('RFC 5256 §3: orders by each sort key, ties in mailbox order', async () => {
    await c.command('SELECT INBOX');
    expect(await one('SORT (ARRIVAL) UTF-8 ALL')).toBe('* SORT 4 3 1 2');
    // DATE applies the zone (+0500: 07:00 UTC before 08:00 UTC) and falls back to the internal date.
    expect(await one('SORT (DATE) UTF-8 ALL')).toBe('* SORT 4 2 3 1');
    // FROM/TO/CC: the first address's local part, case-insensitively; no Cc sorts first.
    expect(await one('SORT (FROM) UTF-8 ALL')).toBe('* SORT 2 4 3 1');
    expect(await one('SORT (TO) UTF-8 ALL')).toBe('* SORT 3 1 2 4');
    expect(await one('SORT (CC) UTF-8 ALL')).toBe('* SORT 2 4 1 3');
    expect(await one('SORT (SIZE) UTF-8 ALL')).toBe('* SORT 1 4 3 2');
    // SUBJECT: the base subject (§2.1): "Re:", "Fwd:" and "[list]" do not count.
    expect(await one('SORT (SUBJECT) US-ASCII ALL')).toBe('* SORT 2 4 1 3');
  });

  it('RFC 5256 §3: REVERSE turns only the key after it; several keys break ties in order', async () => {
    expect(await one('SORT (REVERSE FROM) UTF-8 ALL')).toBe('* SORT 1 3 2 4');
    expect(await one('SORT (SUBJECT DATE) UTF-8 ALL')).toBe('* SORT 4 2 1 3');
    expect(await one('SORT (SUBJECT REVERSE DATE) UTF-8 ALL')).toBe('* SORT 2 4 1 3');
    expect(await one('SORT (REVERSE SUBJECT REVERSE ARRIVAL) UTF-8 ALL')).toBe('* SORT 3 1 2 4');
    expect(await one('sort (reverse size) utf-8 all')).toBe('* SORT 2 3 4 1');
  });

  it('RFC 5957 §3: DISPLAYFROM and DISPLAYTO sort by the decoded display name, else the address', async () => {
    // "Alice A" (encoded-word), anna@x.test (no name), "bert B", "Carl".
    expect(await one('SORT (DISPLAYFROM) UTF-8 ALL')).toBe('* SORT 1 2 3 4');
    // amy@y.test (no name), "Will", "Xavier", "Yan".
    expect(await one('SORT (DISPLAYTO) UTF-8 ALL')).toBe('* SORT 3 4 2 1');
    expect(await one('SORT (REVERSE DISPLAYFROM) UTF-8 ALL')).toBe('* SORT 4 3 2 1');
  });

  it('RFC 5256 §3: sorts only what the search criteria match; UID SORT answers UIDs', async () => {
    expect(await one('SORT (DATE) UTF-8 SEEN')).toBe('* SORT 2 3');
    expect(await one('SORT (DATE) UTF-8 UNSEEN SUBJECT alpha')).toBe('* SORT 4');
    expect(await one('SORT (DATE) UTF-8 SUBJECT nothing-like-this')).toBe('* SORT');
    expect(await one('UID SORT (ARRIVAL) UTF-8 ALL')).toBe('* SORT 5 4 2 3');
    expect(await one('UID SORT (DATE) UTF-8 UID 3:4')).toBe('* SORT 3 4');
  });

  it('RFC 5267 §3.1: ESORT returns MIN, MAX (first and last in sort order), COUNT and ALL in sort order', async () => {
    expect(await one('SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL')).toMatch(/^\* ESEARCH \(TAG "T\d+"\) MIN 4 MAX 1 COUNT 4$/);
    expect(await one('UID SORT RETURN (ALL) (ARRIVAL) UTF-8 ALL')).toMatch(/^\* ESEARCH \(TAG "T\d+"\) UID ALL 5,4,2:3$/);
    // RETURN () is RETURN (ALL); 2 3 4 1 in sort order is the sequence-set 2:4,1.
    expect(await one('SORT RETURN () (REVERSE SIZE) UTF-8 ALL')).toMatch(/^\* ESEARCH \(TAG "T\d+"\) ALL 2:4,1$/);
    // Nothing matched: COUNT 0 and no MIN, MAX or ALL.
    expect(await one('SORT RETURN (MIN ALL COUNT) (DATE) UTF-8 DELETED')).toMatch(/^\* ESEARCH \(TAG "T\d+"\) COUNT 0$/);
  });

  it('RFC 5182 §2.4 with ESORT: RETURN (SAVE MIN) saves the first message in sort order as $, and answers nothing for SAVE alone', async () => {
    expect(await one('SORT RETURN (SAVE MIN) (DATE) UTF-8 ALL')).toMatch(/ MIN 4$/);
    expect(await one('UID SEARCH UID $')).toBe('* SEARCH 5');
    const r = await c.command('SORT RETURN (SAVE) (SUBJECT) UTF-8 SEEN');
    expect(r.tagged).toMatch(/ OK /);
    expect(r.untagged).toEqual([]);
    expect(await one('SEARCH $')).toBe('* SEARCH 2 3');
  });

  it('RFC 7162 §3.1.5, §3.1.10: a MODSEQ key adds the highest mod-sequence of the messages returned to SORT and ESORT', async () => {
    const uidOf = async (seq: number) => Number(/UID (\d+)/.exec((await one(`FETCH ${seq} (UID)`))!)![1]);
    const mod = async (seq: number) => Number(/MODSEQ \((\d+)\)/.exec(await one(`FETCH ${seq} (MODSEQ)`))![1]);
    const [m2, m3] = [await mod(2), await mod(3)];
    expect(await uidOf(2)).toBe(3);
    expect(await one('SORT (DATE) UTF-8 SEEN MODSEQ 1')).toBe(`* SORT 2 3 (MODSEQ ${Math.max(m2, m3)})`);
    expect(await one('SORT (REVERSE DATE) UTF-8 SEEN MODSEQ 1')).toBe(`* SORT 3 2 (MODSEQ ${Math.max(m2, m3)})`);
    expect(await one('SORT RETURN (MIN) (DATE) UTF-8 SEEN MODSEQ 1')).toMatch(new RegExp(`MIN 2 MODSEQ ${m2}$`));
    expect(await one('SORT (DATE) UTF-8 DELETED MODSEQ 1')).toBe('* SORT');
  });

  it('RFC 5256 §3: a charset we do not know gets NO [BADCHARSET]; bad syntax gets BAD and the session goes on', async () => {
    const bad = await c.command('SORT (DATE) X-UNKNOWN ALL');
    expect(bad.tagged).toMatch(/ NO \[BADCHARSET/);
    for (const cmd of [
      'SORT (FOO) UTF-8 ALL',
      'SORT () UTF-8 ALL',
      'SORT (REVERSE) UTF-8 ALL',
      'SORT (DATE) UTF-8',
      'SORT DATE UTF-8 ALL',
      'SORT RETURN (PARTIAL 1:*) (DATE) UTF-8 ALL',
      'SORT RETURN (PARTIAL 1:5 ALL) (DATE) UTF-8 ALL',
      'THREAD FOO UTF-8 ALL',
      'THREAD REFERENCES UTF-8',
    ]) {
      expect((await c.command(cmd)).tagged, cmd).toMatch(/^T\d+ BAD /);
    }
    expect(await one('SORT (ARRIVAL) UTF-8 ALL')).toBe('* SORT 4 3 1 2');
  });

  it('RFC 5256 §3: SORT and THREAD need a selected mailbox', async () => {
    const other = await RawImap.login(sys.port, sys.user, sys.password);
    try {
      expect((await other.command('SORT (DATE) UTF-8 ALL')).tagged).toMatch(/^T\d+ (BAD|NO) /);
      expect((await other.command('THREAD REFERENCES UTF-8 ALL')).tagged).toMatch(/^T\d+ (BAD|NO) /);
    } finally {
      other.close();
    }
  });

  it('RFC 5256 §3 ORDEREDSUBJECT: one thread per base subject, the first message the parent of the rest', async () => {
    await c.command('SELECT Threads');
    expect(await one('THREAD ORDEREDSUBJECT UTF-8 ALL')).toBe('* THREAD (1 (2)(3)(4)(7))(5 6)(8)');
    expect(await one('THREAD ORDEREDSUBJECT UTF-8 SUBJECT lunch')).toBe('* THREAD (5 6)');
  });

  it('RFC 5256 §3 REFERENCES: References and In-Reply-To links, a dummy root for a missing parent, a forward merged by subject', async () => {
    expect(await one('THREAD REFERENCES UTF-8 ALL')).toBe('* THREAD (1 (2 3)(4)(7))((5)(6))(8)');
    // Only what the search matched: 2's parent 1 left out, so 2 and 4 (In-Reply-To 1) stand alone and merge by subject.
    expect(await one('THREAD REFERENCES UTF-8 NOT 1')).toBe('* THREAD ((2 3)(4)(7))((5)(6))(8)');
    expect(await one('UID THREAD REFERENCES UTF-8 ALL')).toBe('* THREAD (2 (3 4)(5)(8))((6)(7))(9)');
    expect(await one('THREAD REFERENCES UTF-8 SUBJECT nothing-like-this')).toBe('* THREAD');
  });
});

describe('SORT and THREAD with Python imaplib', () => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem('local');
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    await fill(sys, c);
    c.close();
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it("imaplib's sort() and thread(), also as UID commands, parse our answers (RFC 5256 §4)", async () => {
    const script = `
import imaplib, json, sys
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
M.login(sys.argv[2], sys.argv[3])
out = {'caps': M.capability()[1][0].decode().split()}
M.select('INBOX')
out['date'] = M.sort('(DATE)', 'UTF-8', 'ALL')[1][0].decode()
out['reverse_subject'] = M.sort('(REVERSE SUBJECT)', 'UTF-8', 'ALL')[1][0].decode()
out['uid_arrival'] = M.uid('SORT', '(ARRIVAL)', 'UTF-8', 'ALL')[1][0].decode()
M.select('Threads')
out['references'] = M.thread('REFERENCES', 'UTF-8', 'ALL')[1][0].decode()
out['orderedsubject'] = M.thread('ORDEREDSUBJECT', 'UTF-8', 'ALL')[1][0].decode()
out['uid_thread'] = M.uid('THREAD', 'REFERENCES', 'UTF-8', 'ALL')[1][0].decode()
M.logout()
print(json.dumps(out))
`;
    const r = await python(script, [String(sys.port), sys.user, sys.password]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.caps).toEqual(expect.arrayContaining(['SORT', 'THREAD=REFERENCES']));
    expect(out.date).toBe('4 2 3 1');
    expect(out.reverse_subject).toBe('3 1 2 4');
    expect(out.uid_arrival).toBe('5 4 2 3');
    expect(out.references).toBe('(1 (2 3)(4)(7))((5)(6))(8)');
    expect(out.orderedsubject).toBe('(1 (2)(3)(4)(7))(5 6)(8)');
    expect(out.uid_thread).toBe('(2 (3 4)(5)(8))((6)(7))(9)');
  });
});

describe('SORT and THREAD cost', () => {
  const asked: Array<MetaOption | undefined> = [];
  let blobReads = 0;
  const counting = (a: Adapters): Adapters =>
    override(a, {
      index: override<MailIndex>(a.index, {
        listMessages: (user: string, mailboxId: string, options?: ListOptions) => {
          asked.push(options?.withMeta ?? false);
          return a.index.listMessages(user, mailboxId, options);
        },
        getMessages: (user: string, mailboxId: string, uids: number[], options?: { withMeta?: MetaOption }) => {
          asked.push(options?.withMeta ?? true);
          return a.index.getMessages(user, mailboxId, uids, options);
        },
      }),
      blobs: override<BlobStore>(a.blobs, {
        get: (key: string) => {
          blobReads++;
          return a.blobs.get(key);
        },
        getRange: (key: string, start: number, end: number) => {
          blobReads++;
          return a.blobs.getRange(key, start, end);
        },
      }),
    });
  let sys: ImapTestSystem;
  let c: RawImap;
  beforeAll(async () => {
    sys = await startImapSystem('local', { wrapAdapters: counting });
    c = await RawImap.login(sys.port, sys.user, sys.password);
    await fill(sys, c);
    await c.command('SELECT INBOX');
  }, 60_000);
  afterAll(async () => {
    c?.close();
    await sys?.stop();
  });

  const reads = async (cmd: string) => {
    asked.length = 0;
    blobReads = 0;
    expect((await c.command(cmd)).tagged, cmd).toMatch(/ OK /);
    return { asked: [...asked], blobReads };
  };

  it('reads each matching record once from the index, only as much of it as the keys need, and no message bytes', async () => {
    expect(await reads('SORT (ARRIVAL SIZE) UTF-8 ALL')).toEqual({ asked: [false], blobReads: 0 });
    expect(await reads('SORT (DATE FROM SUBJECT DISPLAYTO) UTF-8 ALL')).toEqual({ asked: ['structure'], blobReads: 0 });
    // The search read the records (with meta) already: the sort uses them.
    expect(await reads('SORT (DATE) UTF-8 SUBJECT alpha')).toEqual({ asked: [true], blobReads: 0 });
    expect(await reads('SORT (SIZE) UTF-8 LARGER 1')).toEqual({ asked: [false], blobReads: 0 });
    await c.command('SELECT Threads');
    expect(await reads('THREAD ORDEREDSUBJECT UTF-8 ALL')).toEqual({ asked: ['structure'], blobReads: 0 });
    expect(await reads('THREAD REFERENCES UTF-8 ALL')).toEqual({ asked: [true], blobReads: 0 });
    expect(await reads('THREAD REFERENCES UTF-8 FROM a@x.test')).toEqual({ asked: [true], blobReads: 0 });
  });
});
