/**
 * One bad blob must not break a mailbox (issue 18 item 6), on the local and the aws adapters:
 * message 2's blob is unreadable (an I/O error: a directory in its place on local, a failing
 * read on S3) and message 4's blob is missing (deleted from the store, still in the index).
 * IMAP FETCH/SEARCH and POP3 (poplib) serve the other messages and name the bad ones; a
 * missing blob is never called an expunge (RFC 9051 §7.1 UNAVAILABLE / CORRUPTION, RFC 5530
 * EXPUNGEISSUED only for real expunges); `mailctl message show` fails in one line and
 * `mailctl check` reports what is wrong.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import { runMailctl } from '#core/admin/mailctl.ts';
import { createLogger } from '#core/log.ts';
import type { BlobStore } from '#core/ports/blob-store.ts';
import type { MessageRecord } from '#core/ports/mail-index.ts';
import { startPop3Listeners } from '#listeners/pop3/pop3-listener.ts';
import type { RunningListener } from '#listeners/listener.ts';
import { python, run } from '../support/clients.ts';
import { makeStoredBlobUnreadable, rewriteStoredBlob } from '../support/local-blobs.ts';
import { ADAPTER_KINDS } from '../support/mail-system.ts';
import { RawImap } from '../imap/support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from '../imap/support/imap-system.ts';

const MAILCTL = path.resolve(import.meta.dirname, '../../bin/mailctl.js');

const POPLIB = `
import json, poplib, sys
p = poplib.POP3(sys.argv[1], int(sys.argv[2]), timeout=20)
p.user(sys.argv[3]); p.pass_(sys.argv[4])
out = {"stat": list(p.stat()), "list": [l.decode() for l in p.list()[1]], "retr": {}}
for n in range(1, 6):
    try:
        out["retr"][str(n)] = b"\\r\\n".join(p.retr(n)[1]).decode()
    except poplib.error_proto as e:
        out["retr"][str(n)] = "ERR " + e.args[0].decode()
out["quit"] = p.quit().decode()
print(json.dumps(out))
`;

/** A blob store whose reads of the keys in `failing` fail as an I/O error would (and all reads while `down`). */
function failingReads(blobs: BlobStore, failing: Set<string>, state: { down: boolean }): BlobStore {
  const check = (key: string) => {
    if (state.down || failing.has(key)) throw Object.assign(new Error(`EIO: i/o error, read '${key}'`), { code: 'EIO' });
  };
  return {
    put: (k, b) => blobs.put(k, b),
    get: async (k) => (check(k), blobs.get(k)),
    getRange: async (k, a, b) => (check(k), blobs.getRange(k, a, b)),
    stream: async (k) => (check(k), blobs.stream(k)),
    exists: (k) => blobs.exists(k),
    delete: (k) => blobs.delete(k),
  };
}

describe.each(ADAPTER_KINDS)('one bad blob in a mailbox (%s adapters)', (kind) => {
  let sys: ImapTestSystem;
  let pop3: RunningListener[] = [];
  let records: MessageRecord[];
  const raws = [1, 2, 3, 4, 5].map((i) => sampleMessage(`message ${i}`, `hello number ${i}\r\n`));
  const logLines: Array<Record<string, unknown>> = [];
  const failing = new Set<string>();
  const state = { down: false };
  const ctl = (args: string[]) => {
    const io = { lines: [] as string[], errs: [] as string[], raw: [] as Buffer[] };
    return {
      io,
      // The adapters the listeners see (with the failing reads of the aws case).
      code: runMailctl(
        args,
        { ...sys.ts.adapters, blobs: failingReads(sys.ts.adapters.blobs, failing, state) },
        {
          out: (l) => io.lines.push(l),
          err: (l) => io.errs.push(l),
          readPassword: async () => '',
          writeRaw: (b) => io.raw.push(b),
        },
      ),
    };
  };

  beforeAll(async () => {
    const logger = createLogger({}, 'warn', (l) => logLines.push(JSON.parse(l)));
    sys = await startImapSystem(kind, { logger, wrapAdapters: (a: Adapters) => ({ ...a, blobs: failingReads(a.blobs, failing, state) }) });
    for (const raw of raws) await sys.deliver(raw);
    pop3 = await startPop3Listeners(sys.ts.system.deps, { port: 0, tlsPort: 0 });
    const mb = await sys.ts.adapters.index.getMailbox(sys.user, 'INBOX');
    records = await sys.ts.adapters.index.listMessages(sys.user, mb!.id);
    const unreadable = records[1].blobKey;
    if (kind === 'local') {
      // No row, and a directory where the file would be: every read is EISDIR.
      makeStoredBlobUnreadable(sys.ts.dataDir, unreadable);
    } else failing.add(unreadable);
    // Missing: gone from the store (the S3 object deleted), still in the index.
    await sys.ts.adapters.blobs.delete(records[3].blobKey);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(pop3.map((l) => l.close(500)));
    await sys?.stop();
  });

  it('IMAP FETCH 1:* sends every other message and ends NO [UNAVAILABLE] naming the bad ones; the log has their blob keys', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    await c.command('SELECT INBOX');
    logLines.length = 0;
    const r = await c.command('FETCH 1:* (UID BODY.PEEK[])');
    expect(r.untagged.map((l) => l.slice(0, l.indexOf(' BODY')))).toEqual(['* 1 FETCH (UID 1', '* 3 FETCH (UID 3', '* 5 FETCH (UID 5']);
    expect(r.literals.map((b) => b.toString())).toEqual([raws[0], raws[2], raws[4]].map((b) => b.toString()));
    expect(r.tagged).toMatch(/ NO \[UNAVAILABLE\] FETCH: messages 2 \(UID 2\), 4 \(UID 4\) could not be read/);
    expect(logLines.map((l) => [l.msg, l.uid, l.blobKey]).sort()).toEqual([
      ['message blob missing', 4, records[3].blobKey],
      ['message blob unreadable', 2, records[1].blobKey],
    ]);
    // A missing blob alone: CORRUPTION, never EXPUNGEISSUED (nothing was expunged); ranged reads too.
    for (const item of ['BODY.PEEK[]', 'BODY.PEEK[TEXT]', 'BODY.PEEK[]<0.10>', 'BINARY.PEEK[1]']) {
      const one = await c.command(`UID FETCH 4 (${item})`);
      expect(one.untagged, item).toEqual([]);
      expect(one.tagged, item).toMatch(/ NO \[CORRUPTION\] UID FETCH: message 4 \(UID 4\) could not be read \(stored copy missing\)/);
    }
    expect((await c.command('FETCH 2 (BODY.PEEK[])')).tagged).toMatch(/ NO \[UNAVAILABLE\] FETCH: message 2 \(UID 2\)/);
    // BODY[] (not PEEK) of a message it could not send leaves it unseen (RFC 9051 §6.4.5 sets
    // \Seen for a body that was fetched; this one was not).
    expect((await c.command('FETCH 1:3 (BODY[])')).tagged).toMatch(/ NO \[UNAVAILABLE\]/);
    expect((await c.command('FETCH 1:3 (FLAGS)')).untagged).toEqual(['* 1 FETCH (FLAGS (\\Seen))', '* 2 FETCH (FLAGS ())', '* 3 FETCH (FLAGS (\\Seen))']);
    const again = await RawImap.login(sys.port, sys.user, sys.password);
    await again.command('EXAMINE INBOX');
    expect((await again.command('FETCH 2 (FLAGS)')).untagged).toEqual(['* 2 FETCH (FLAGS ())']);
    again.close();
    // What the index holds is served for all five.
    const meta = await c.command('FETCH 1:* (FLAGS ENVELOPE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (Subject)])');
    expect(meta.tagged).toMatch(/ OK /);
    expect(meta.untagged).toHaveLength(5);
    c.close();
  });

  it('IMAP SEARCH TEXT leaves the unreadable messages out with an untagged NO warning and completes OK', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    await c.command('SELECT INBOX');
    const r = await c.command('SEARCH TEXT hello');
    expect(r.untagged).toEqual(['* NO [UNAVAILABLE] messages 2 (UID 2), 4 (UID 4) could not be read and are left out of the result', '* SEARCH 1 3 5']);
    expect(r.tagged).toMatch(/ OK /);
    expect((await c.command('SEARCH NOT BODY nothing-like-this')).untagged.at(-1)).toBe('* SEARCH 1 3 5');
    expect((await c.command('SEARCH BODY "number 3"')).untagged.at(-1)).toBe('* SEARCH 3');
    // Keys answered from the index are not affected.
    expect((await c.command('SEARCH SUBJECT message')).untagged).toEqual(['* SEARCH 1 2 3 4 5']);
    c.close();
  });

  it('IMAP stops early when the whole store fails (not one warning per message), and a real expunge is still EXPUNGEISSUED', async () => {
    for (let i = 0; i < 12; i++) await sys.deliver(sampleMessage(`bulk ${i}`), 'Archive');
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    await c.command('SELECT Archive');
    await c.command('SEARCH RETURN (SAVE) ALL');
    state.down = true;
    logLines.length = 0;
    try {
      const r = await c.command('FETCH 1:* (BODY.PEEK[])');
      expect(r.untagged).toEqual([]);
      expect(r.tagged).toMatch(/ NO \[UNAVAILABLE\] FETCH stopped: the message store is not answering/);
      expect(logLines.length).toBeLessThanOrEqual(10 + 4);
      // RFC 5182 §2.1: the failed SEARCH ... SAVE leaves $ empty, not the earlier result.
      expect((await c.command('SEARCH RETURN (SAVE) TEXT bulk')).tagged).toMatch(/ NO \[UNAVAILABLE\] SEARCH stopped/);
      // A FETCH BODY[] that stopped sets \Seen on no message: none of them was sent.
      expect((await c.command('FETCH 1:* (BODY[])')).tagged).toMatch(/ NO \[UNAVAILABLE\] FETCH stopped/);
    } finally {
      state.down = false;
    }
    expect((await c.command('UID SEARCH $')).untagged).toEqual(['* SEARCH']);
    expect((await c.command('SEARCH SEEN')).untagged).toEqual(['* SEARCH']);
    // Another session expunges message 1; this one still has it in its view (RFC 2180 §4.1).
    const other = await RawImap.login(sys.port, sys.user, sys.password);
    await other.command('SELECT Archive');
    await other.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await other.command('EXPUNGE');
    other.close();
    expect((await c.command('FETCH 1 (BODY.PEEK[])')).tagged).toMatch(/ NO \[EXPUNGEISSUED\]/);
    c.close();
  });

  it('POP3 (poplib): STAT and LIST answer, the others are retrieved, RETR of the bad ones is -ERR naming them', async () => {
    logLines.length = 0;
    const port = pop3.find((l) => l.name === 'pop3')!.port;
    const r = await python(POPLIB, ['127.0.0.1', String(port), sys.user, sys.password], { timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    // Each message counts; a bad one with its stored size.
    expect(out.stat).toEqual([5, records.reduce((a, m) => a + m.size, 0)]);
    expect(out.list).toEqual(records.map((m, i) => `${i + 1} ${m.size}`));
    for (const n of [1, 3, 5]) expect(out.retr[n] + '\r\n').toBe(raws[n - 1].toString());
    expect(out.retr[2]).toBe('ERR -ERR [SYS/TEMP] message 2 cannot be read now; try again later');
    expect(out.retr[4]).toBe('ERR -ERR [SYS/PERM] message 4 cannot be read: its stored copy is missing');
    expect(out.quit).toMatch(/^\+OK/);
    expect(logLines.map((l) => [l.msg, l.blobKey]).sort()).toEqual([
      ['pop3 message blob missing', records[3].blobKey],
      ['pop3 message blob unreadable', records[1].blobKey],
    ]);
  });

  it('mailctl message show fails with one line; mailctl check reports the missing and unreadable blobs and exits 1', async () => {
    const show = ctl(['message', 'show', sys.user, '4']);
    expect(await show.code).toBe(1);
    expect(show.io.errs).toEqual([
      `mailctl: message UID 4 in INBOX of ${sys.user}: its stored copy (blob ${records[3].blobKey}) is missing; see 'mailctl check'`,
    ]);
    const bad = ctl(['message', 'show', sys.user, '2']);
    expect(await bad.code).toBe(1);
    expect(bad.io.errs).toHaveLength(1);
    expect(bad.io.errs[0]).toMatch(new RegExp(`^mailctl: message UID 2 in INBOX of ${sys.user}: cannot read blob ${records[1].blobKey}: E`));
    const good = ctl(['message', 'show', sys.user, '3']);
    expect(await good.code).toBe(0);
    expect(Buffer.concat(good.io.raw).equals(raws[2])).toBe(true);

    const check = ctl(['check', sys.user]);
    const code = await check.code;
    const lines = check.io.lines;
    expect(lines[0]).toBe('PROBLEM\tADDRESS\tMAILBOX\tUID\tBLOB\tDETAIL');
    const problems = lines.slice(1, -1).map((l) => l.split('\t').slice(0, 5));
    expect(problems).toEqual([
      ['unreadable', sys.user, 'INBOX', '2', records[1].blobKey],
      ['missing', sys.user, 'INBOX', '4', records[3].blobKey],
    ]);
    expect(lines.at(-1)).toMatch(/^checked \d+ messages in 6 mailboxes of 1 users: 2 problems$/);
    expect(code).toBe(1);
    expect(await ctl(['check', 'nobody@example.test']).code).toBe(1);
  });
});

describe('mailctl check and message show as a process (local)', () => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem('local');
  });
  afterAll(async () => {
    await sys?.stop();
  });
  const mailctl = (args: string[]) => run(process.execPath, [MAILCTL, ...args], { env: { ...process.env, MAIL_DATA_DIR: sys.ts.dataDir } });

  it('reports truncated and extended blobs (framing stays what is sent), exit 0 when all is well', async () => {
    const raw = sampleMessage('sized', 'twenty bytes of body\r\n');
    for (let i = 0; i < 3; i++) await sys.deliver(raw);
    let r = await mailctl(['check']);
    expect(r.stdout).toMatch(/^checked 3 messages in 6 mailboxes of 1 users: no problems\n$/);
    expect(r.code).toBe(0);
    const mb = await sys.ts.adapters.index.getMailbox(sys.user, 'INBOX');
    const recs = await sys.ts.adapters.index.listMessages(sys.user, mb!.id);
    rewriteStoredBlob(sys.ts.dataDir, recs[0].blobKey, (b) => b.subarray(0, raw.length - 5));
    rewriteStoredBlob(sys.ts.dataDir, recs[2].blobKey, (b) => Buffer.concat([b, Buffer.from('extra')]));
    // IMAP serves them as they are now, with literals that frame exactly the bytes sent.
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    await c.command('SELECT INBOX');
    const served = await c.command('FETCH 1:3 (BODY.PEEK[])');
    expect(served.tagged).toMatch(/ OK /);
    expect(served.literals.map((b) => b.length)).toEqual([raw.length - 5, raw.length, raw.length + 5]);
    expect(served.literals[2].toString()).toBe(raw.toString() + 'extra');
    c.close();
    r = await mailctl(['check', sys.user]);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n')).toEqual([
      'PROBLEM\tADDRESS\tMAILBOX\tUID\tBLOB\tDETAIL',
      `truncated\t${sys.user}\tINBOX\t1\t${recs[0].blobKey}\tindex ${raw.length} bytes, blob ${raw.length - 5} bytes`,
      `extended\t${sys.user}\tINBOX\t3\t${recs[2].blobKey}\tindex ${raw.length} bytes, blob ${raw.length + 5} bytes`,
      'checked 3 messages in 6 mailboxes of 1 users: 2 problems',
      '',
    ]);
    // message show of a missing blob: one line on stderr, no stack trace, exit 1.
    await sys.ts.adapters.blobs.delete(recs[1].blobKey);
    const show = await mailctl(['message', 'show', sys.user, '2']);
    expect(show.code).toBe(1);
    expect(show.stdout).toBe('');
    expect(show.stderr).toBe(`mailctl: message UID 2 in INBOX of ${sys.user}: its stored copy (blob ${recs[1].blobKey}) is missing; see 'mailctl check'\n`);
  });
});
