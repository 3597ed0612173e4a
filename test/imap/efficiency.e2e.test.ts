/**
 * Costs that must not grow with the mailbox or with hostile input:
 *  - the session's own writes (STORE, FETCH BODY[] setting \Seen, EXPUNGE, APPEND) do not make
 *    the next command re-list the whole mailbox, while other sessions' changes still show (read
 *    from the change log, test/imap/refresh-cost.e2e.test.ts);
 *  - LIST patterns are bounded (count, wildcards) and matched without blow-up; mailboxes per
 *    user are capped at CREATE; a pattern that is not valid modified UTF-7 is matched as given;
 *  - SEARCH TEXT/BODY reads and decodes each message once, however many keys ask.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import type { ListOptions, MailIndex, MetaOption } from '#core/ports/mail-index.ts';
import type { BlobStore } from '#core/ports/blob-store.ts';
import { override } from '../support/mail-system.ts';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

/** Calls the IMAP listener makes, and a hook to run another writer's change just before ours. */
const calls = { fullLists: 0, blobReads: 0, metaAsked: [] as Array<MetaOption | undefined> };
let beforeOwnUpdate: (() => Promise<void>) | null = null;
let afterOwnUpdate: (() => Promise<void>) | null = null;

function counting(a: Adapters): Adapters {
  const index = override<MailIndex>(a.index, {
    listMessages: (user: string, mailboxId: string, options?: ListOptions) => {
      if (options?.uidFrom === undefined && options?.uidTo === undefined) calls.fullLists++;
      calls.metaAsked.push(options?.withMeta);
      return a.index.listMessages(user, mailboxId, options);
    },
    getMessages: (user: string, mailboxId: string, uids: number[], options?: { withMeta?: MetaOption }) => {
      calls.metaAsked.push(options?.withMeta ?? true);
      return a.index.getMessages(user, mailboxId, uids, options);
    },
    updateFlags: async (...args: Parameters<MailIndex['updateFlags']>) => {
      const hook = beforeOwnUpdate;
      beforeOwnUpdate = null;
      if (hook) await hook();
      const out = await a.index.updateFlags(...args);
      const after = afterOwnUpdate;
      afterOwnUpdate = null;
      if (after) await after();
      return out;
    },
  });
  const blobs = override<BlobStore>(a.blobs, {
    get: (key: string) => {
      calls.blobReads++;
      return a.blobs.get(key);
    },
    getRange: (key: string, start: number, end: number) => {
      calls.blobReads++;
      return a.blobs.getRange(key, start, end);
    },
  });
  return override(a, { index, blobs });
}

describe('IMAP efficiency', () => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem('local', { wrapAdapters: counting });
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it("does not re-list the mailbox after the session's own writes, yet sees other sessions' changes", async () => {
    await sys.ts.adapters.index.createMailbox(sys.user, 'Own', {});
    for (let i = 0; i < 30; i++) await sys.deliver(sampleMessage(`m${i}`), 'Own');
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    try {
      expect((await c.command('SELECT Own')).tagged).toMatch(/OK/);
      calls.fullLists = 0;
      for (let i = 1; i <= 20; i++) {
        const r = await c.command(`STORE ${i} +FLAGS (\\Flagged)`);
        expect(r.untagged).toEqual([`* ${i} FETCH (FLAGS (\\Flagged))`]);
      }
      for (let i = 1; i <= 20; i++) {
        const r = await c.command(`FETCH ${i} (FLAGS BODY[])`);
        expect(r.tagged).toMatch(/OK/);
        expect(r.untagged).toHaveLength(1);
        expect(r.untagged[0]).toMatch(/FLAGS \(\\Flagged \\Seen\)|FLAGS \(\\Seen \\Flagged\)/);
      }
      expect((await c.command('STORE 21 +FLAGS.SILENT (\\Deleted)')).untagged).toEqual([]);
      expect((await c.command('EXPUNGE')).untagged).toEqual(['* 21 EXPUNGE']);
      const app = await c.command(`APPEND Own {${sampleMessage('own').length}+}\r\n${sampleMessage('own').toString('latin1')}`);
      expect(app.tagged).toMatch(/OK \[APPENDUID \d+ 31\]/);
      expect(app.untagged).toContain('* 30 EXISTS');
      expect((await c.command('NOOP')).untagged).toEqual([]);
      expect(calls.fullLists).toBe(0);

      // Another writer, between commands: the next command tells it, from the change log
      // (changesSince), still without listing the mailbox (issue 11 item 1).
      const mb = (await sys.ts.adapters.index.getMailbox(sys.user, 'Own'))!;
      await sys.ts.adapters.index.updateFlags(sys.user, mb.id, [25], 'add', ['$Other']);
      const n1 = await c.command('NOOP');
      expect(n1.untagged).toContain('* 24 FETCH (UID 25 FLAGS ($Other))');
      expect(calls.fullLists).toBe(0);

      // Another writer racing just before our own write: still told, not mistaken for ours.
      beforeOwnUpdate = async () => {
        await sys.ts.adapters.index.updateFlags(sys.user, mb.id, [26], 'add', ['$Race']);
      };
      expect((await c.command('STORE 1 -FLAGS (\\Flagged)')).untagged).toEqual(['* 1 FETCH (FLAGS (\\Seen))']);
      const n2 = await c.command('NOOP');
      expect(n2.untagged).toContain('* 25 FETCH (UID 26 FLAGS ($Race))');
      // …and just after it (before the next command).
      afterOwnUpdate = async () => {
        await sys.ts.adapters.index.updateFlags(sys.user, mb.id, [27], 'add', ['$After']);
      };
      expect((await c.command('STORE 3 +FLAGS.SILENT ($Own)')).tagged).toMatch(/OK/);
      const n3 = await c.command('NOOP');
      expect(n3.untagged).toContain('* 26 FETCH (UID 27 FLAGS ($After))');
    } finally {
      c.close();
    }
  });

  describe('LIST', () => {
    const deep = (i: number) => [...Array.from({ length: 15 }, () => 'a'.repeat(30)), 'a'.repeat(28) + String(i).padStart(2, '0')].join('/');
    let c: RawImap;
    beforeAll(async () => {
      for (let i = 0; i < 40; i++) await sys.ts.adapters.index.createMailbox(sys.user, deep(i), {});
      c = await RawImap.login(sys.port, sys.user, sys.password);
    });
    afterAll(() => c?.close());

    it('refuses too many patterns and answers hostile ones correctly', async () => {
      const hostile = '"' + '*a'.repeat(60) + '%"';
      expect((await c.command(`LIST "" (${Array.from({ length: 60 }, () => hostile).join(' ')})`)).tagged).toMatch(/^T\d+ BAD/);
      // 30 wildcards per pattern, 16 patterns: every deep name and its parents (each ≥ 30 'a').
      const p30 = '"' + '*a'.repeat(30) + '%"';
      const r = await c.command(`LIST "" (${Array.from({ length: 16 }, () => p30).join(' ')})`);
      expect(r.tagged).toMatch(/OK/);
      const names = r.untagged.map((l) => /"\/" "?([^"]*)"?$/.exec(l)![1]);
      const expected = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const levels = deep(i).split('/');
        for (let k = 1; k <= levels.length; k++) expected.add(levels.slice(0, k).join('/'));
      }
      expect(new Set(names)).toEqual(expected);
      // Too many wildcards in one pattern is refused, not ground through.
      expect((await c.command(`LIST "" "${'%a'.repeat(100)}"`)).tagged).toMatch(/^T\d+ NO/);
    });

    it('still matches ordinary patterns', async () => {
      const top = await c.command('LIST "" "%"');
      expect(top.untagged).toContain('* LIST (\\HasNoChildren) "/" "INBOX"');
      expect(top.untagged).toContain(`* LIST (\\Noselect \\HasChildren) "/" "${'a'.repeat(30)}"`);
      expect(top.untagged.some((l) => l.includes('/a'))).toBe(false);
      const one = await c.command(`LIST "" "*%07"`);
      expect(one.untagged).toEqual([`* LIST (\\HasNoChildren) "/" "${deep(7)}"`]);
      const level2 = await c.command(`LIST "${'a'.repeat(30)}/" "%"`);
      expect(level2.untagged).toEqual([`* LIST (\\Noselect \\HasChildren) "/" "${'a'.repeat(30)}/${'a'.repeat(30)}"`]);
    });

    it("matches a pattern with '&' beside a wildcard as given (not valid modified UTF-7)", async () => {
      expect((await c.command('CREATE "R&-D"')).tagged).toMatch(/OK/);
      const r = await c.command('LIST "" "*&*"');
      expect(r.tagged).toMatch(/OK/);
      expect(r.untagged).toEqual(['* LIST (\\HasNoChildren) "/" "R&-D"']);
      const none = await c.command('LIST "" "&"');
      expect(none.tagged).toMatch(/OK/);
      expect(none.untagged).toEqual([]);
      // A valid mUTF-7 pattern is still decoded.
      expect((await c.command('LIST "" "R&-*"')).untagged).toEqual(['* LIST (\\HasNoChildren) "/" "R&-D"']);
    });
  });

  it('caps mailboxes per user at CREATE with NO [LIMIT]', async () => {
    const user = `quota-${Math.random().toString(36).slice(2, 8)}@example.test`;
    await sys.ts.addUser(user, 'pw quota');
    const have = (await sys.ts.adapters.index.listMailboxes(user)).length;
    for (let i = have; i < 999; i++) await sys.ts.adapters.index.createMailbox(user, `box${i}`, {});
    const c = await RawImap.login(sys.port, user, 'pw quota');
    try {
      expect((await c.command('CREATE a/b')).tagged).toMatch(/NO \[LIMIT\]/);
      expect((await c.command('CREATE last')).tagged).toMatch(/OK/);
      expect((await c.command('CREATE more')).tagged).toMatch(/NO \[LIMIT\]/);
      expect(await sys.ts.adapters.index.getMailbox(user, 'a')).toBeNull();
    } finally {
      c.close();
    }
  });

  it('SEARCH with many TEXT/BODY keys reads and decodes each message once', async () => {
    await sys.ts.adapters.index.createMailbox(sys.user, 'Words', {});
    const words = Array.from({ length: 50 }, (_, i) => `word${i}x`);
    await sys.deliver(sampleMessage('none', 'nothing here\r\n'), 'Words');
    await sys.deliver(sampleMessage('almost', words.slice(1).join(' ') + '\r\n'), 'Words');
    await sys.deliver(sampleMessage(words[0], words.slice(1).join('\r\n') + '\r\n'), 'Words');
    await sys.deliver(sampleMessage('all', `=?utf-8?q?${words[0]}?=\r\n` + words.join(' ') + '\r\n'), 'Words');
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    try {
      await c.command('EXAMINE Words');
      calls.blobReads = 0;
      const r = await c.command(`SEARCH ${words.map((w) => `TEXT ${w}`).join(' ')}`);
      expect(r.untagged).toEqual(['* SEARCH 3 4']);
      expect(calls.blobReads).toBe(4);
      calls.blobReads = 0;
      const b = await c.command(`SEARCH ${words.map((w) => `BODY ${w}`).join(' ')}`);
      expect(b.untagged).toEqual(['* SEARCH 4']);
      expect(calls.blobReads).toBe(4);
      calls.blobReads = 0;
      const o = await c.command(`SEARCH OR BODY nothing (${words.map((w) => `TEXT ${w}`).join(' ')})`);
      expect(o.untagged).toEqual(['* SEARCH 1 3 4']);
      expect(calls.blobReads).toBe(4);
    } finally {
      c.close();
    }
  });

  it('a header sync FETCH asks the index for the structure only; header fields come from the index header block; neither reads a blob', async () => {
    await sys.ts.adapters.index.createMailbox(sys.user, 'Headers', {});
    for (let i = 0; i < 3; i++) await sys.deliver(sampleMessage(`h${i}`), 'Headers');
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    try {
      await c.command('SELECT Headers');
      calls.metaAsked = [];
      calls.blobReads = 0;
      const sync = await c.command('UID FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE BODYSTRUCTURE)');
      expect(sync.untagged).toHaveLength(3);
      expect(sync.untagged[0]).toMatch(/ENVELOPE \(.*"h0"/);
      expect(calls.metaAsked).toEqual(['structure']);
      calls.metaAsked = [];
      const fields = await c.command('FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
      expect(fields.untagged).toHaveLength(3);
      expect(fields.literals.map((l) => l.toString('latin1'))).toEqual(['Subject: h0\r\n\r\n', 'Subject: h1\r\n\r\n', 'Subject: h2\r\n\r\n']);
      expect(calls.metaAsked).toEqual([true]);
      calls.metaAsked = [];
      await c.command('FETCH 1:* (UID RFC822.SIZE)');
      expect(calls.metaAsked).toEqual([false]);
      expect(calls.blobReads).toBe(0);
    } finally {
      c.close();
    }
  });
});
