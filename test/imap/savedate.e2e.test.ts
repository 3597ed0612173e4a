/**
 * SAVEDATE (RFC 8514): FETCH SAVEDATE and the SAVEDBEFORE / SAVEDON / SAVEDSINCE /
 * SAVEDATESUPPORTED search keys, raw (the RFC's examples as models) and with Python imaplib.
 * The save date is when the message was put into its mailbox (delivery, APPEND, COPY, MOVE),
 * whatever its internal date says; the index stamps it (test/contract/save-date.contract.ts).
 */
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { python } from '../support/clients.ts';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** An IMAP date (RFC 9051 §9 `date`) of a UTC day `offset` days from today. */
function imapDay(offset: number): string {
  const d = new Date(Date.now() + offset * 86_400_000);
  return `${d.getUTCDate()}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()}`;
}
/** Epoch ms of a `SAVEDATE "…"` / `INTERNALDATE "…"` value in a FETCH line. */
function dateOf(line: string, item: 'SAVEDATE' | 'INTERNALDATE'): number {
  const m = new RegExp(`${item} "( ?\\d+)-(\\w{3})-(\\d{4}) (\\d\\d):(\\d\\d):(\\d\\d) \\+0000"`).exec(line);
  if (!m) throw new Error(`no ${item} in ${line}`);
  return Date.UTC(Number(m[3]), MONTHS.indexOf(m[2]), Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SAVEDATE (RFC 8514)', () => {
  let sys: ImapTestSystem;
  let c: RawImap;
  let started: number;
  beforeAll(async () => {
    sys = await startImapSystem('local');
    started = Math.floor(Date.now() / 1000) * 1000;
    await sys.deliver(sampleMessage('delivered'));
    c = await RawImap.login(sys.port, sys.user, sys.password);
    // An APPEND with an internal date long ago (RFC 9051 §6.3.12 date-time).
    const msg = sampleMessage('appended');
    c.write(`A1 APPEND INBOX "02-Jan-2001 03:04:05 +0000" {${msg.length}+}\r\n`);
    c.write(Buffer.concat([msg, Buffer.from('\r\n')]));
    expect((await c.until('A1')).tagged).toMatch(/^A1 OK /);
    await c.command('SELECT INBOX');
  }, 60_000);
  afterAll(async () => {
    c?.close();
    await sys?.stop();
  });

  it('RFC 8514 §4.1: SAVEDATE is advertised once authenticated, not before', async () => {
    expect((await c.command('CAPABILITY')).untagged[0]).toMatch(/ SAVEDATE( |$)/);
    const anon = await RawImap.connect(sys.port);
    expect(await anon.line()).not.toMatch(/SAVEDATE/);
    expect((await anon.command('CAPABILITY')).untagged[0]).not.toMatch(/SAVEDATE/);
    anon.close();
  });

  it('RFC 8514 §4.2: FETCH SAVEDATE is a date-time string, the time of saving, not the internal date (A101 FETCH 998 (SAVEDATE))', async () => {
    const r = await c.command('FETCH 1:2 (SAVEDATE INTERNALDATE)');
    expect(r.tagged).toMatch(/ OK /);
    expect(r.untagged).toHaveLength(2);
    for (const line of r.untagged) {
      expect(line).toMatch(/^\* \d FETCH \(SAVEDATE "[ \d]\d-\w{3}-\d{4} \d\d:\d\d:\d\d \+0000" INTERNALDATE "/);
      expect(dateOf(line, 'SAVEDATE')).toBeGreaterThanOrEqual(started);
      expect(dateOf(line, 'SAVEDATE')).toBeLessThanOrEqual(Date.now());
    }
    expect(dateOf(r.untagged[1], 'INTERNALDATE')).toBe(Date.UTC(2001, 0, 2, 3, 4, 5));
    // UID FETCH and a single item without parentheses.
    expect((await c.command('UID FETCH 2 SAVEDATE')).untagged[0]).toMatch(/^\* 2 FETCH \(UID 2 SAVEDATE "/);
  });

  it('RFC 8514 §3: COPY and MOVE give the new message the time of the copy; the source keeps its save date', async () => {
    await c.command('CREATE Saved');
    const before = (await c.command('FETCH 1 (SAVEDATE)')).untagged[0];
    await sleep(1100); // date-time has whole seconds
    const copiedAt = Math.floor(Date.now() / 1000) * 1000;
    expect((await c.command('COPY 1 Saved')).tagged).toMatch(/ OK /);
    expect((await c.command('FETCH 1 (SAVEDATE)')).untagged[0]).toBe(before);
    const other = await RawImap.login(sys.port, sys.user, sys.password);
    await other.command('SELECT Saved');
    const copy = (await other.command('FETCH 1 (SAVEDATE INTERNALDATE)')).untagged[0];
    expect(dateOf(copy, 'SAVEDATE')).toBeGreaterThanOrEqual(copiedAt);
    expect(dateOf(copy, 'SAVEDATE')).toBeGreaterThan(dateOf(before, 'SAVEDATE'));
    // MOVE back into INBOX: a new message there, saved now.
    await sleep(1100);
    const movedAt = Math.floor(Date.now() / 1000) * 1000;
    expect((await other.command('MOVE 1 INBOX')).tagged).toMatch(/ OK /);
    other.close();
    const r = await c.command('FETCH 3 (SAVEDATE INTERNALDATE)');
    const moved = r.untagged.find((l) => l.startsWith('* 3 FETCH'))!;
    expect(dateOf(moved, 'SAVEDATE')).toBeGreaterThanOrEqual(movedAt);
    expect(dateOf(moved, 'INTERNALDATE')).toBe(dateOf(copy, 'INTERNALDATE'));
    await c.command('STORE 3 +FLAGS.SILENT (\\Deleted)');
    await c.command('EXPUNGE');
  });

  it('RFC 8514 §4.3: SAVEDON / SAVEDSINCE / SAVEDBEFORE compare the save date by day; BEFORE/ON/SINCE still use the internal date', async () => {
    // A102 SEARCH SAVEDON 28-Dec-2014, A103 SEARCH SAVEDSINCE 28-Dec-2014 (the RFC's forms).
    expect((await c.command(`SEARCH SAVEDON ${imapDay(0)}`)).untagged).toEqual(['* SEARCH 1 2']);
    expect((await c.command(`SEARCH SAVEDSINCE ${imapDay(0)}`)).untagged).toEqual(['* SEARCH 1 2']);
    expect((await c.command(`SEARCH SAVEDSINCE "${imapDay(1)}"`)).untagged).toEqual(['* SEARCH']);
    expect((await c.command(`SEARCH SAVEDBEFORE ${imapDay(1)}`)).untagged).toEqual(['* SEARCH 1 2']);
    expect((await c.command(`SEARCH SAVEDBEFORE ${imapDay(0)}`)).untagged).toEqual(['* SEARCH']);
    expect((await c.command(`SEARCH SAVEDON 2-Jan-2001`)).untagged).toEqual(['* SEARCH']);
    expect((await c.command(`SEARCH ON 2-Jan-2001`)).untagged).toEqual(['* SEARCH 2']);
    expect((await c.command(`UID SEARCH NOT SAVEDBEFORE ${imapDay(0)} BEFORE 1-Jan-2002`)).untagged).toEqual(['* SEARCH 2']);
    expect((await c.command(`UID SEARCH RETURN (COUNT) SAVEDSINCE ${imapDay(-1)}`)).untagged).toEqual([
      expect.stringMatching(/^\* ESEARCH \(TAG "T\d+"\) UID COUNT 2$/),
    ]);
  });

  it('RFC 8514 §4.3: SAVEDATESUPPORTED matches every message (every mailbox here keeps save dates)', async () => {
    expect((await c.command('SEARCH SAVEDATESUPPORTED')).untagged).toEqual(['* SEARCH 1 2']);
    expect((await c.command('SEARCH NOT SAVEDATESUPPORTED')).untagged).toEqual(['* SEARCH']);
    expect((await c.command('SEARCH OR SAVEDATESUPPORTED DELETED')).untagged).toEqual(['* SEARCH 1 2']);
  });

  it('bad SAVED* arguments are BAD, and the session goes on', async () => {
    for (const cmd of [
      'SEARCH SAVEDON',
      'SEARCH SAVEDON 31-Foo-2020',
      'SEARCH SAVEDSINCE yesterday',
      'SEARCH SAVEDBEFORE 1-Jan-20x0',
      'FETCH 1 (SAVEDATE.PEEK)',
    ]) {
      expect((await c.command(cmd)).tagged).toMatch(/^T\d+ BAD /);
    }
    expect((await c.command('NOOP')).tagged).toMatch(/ OK /);
  });

  it('a message stored before the index kept save dates answers with its internal date, never NIL (RFC 8514 §4.2)', async () => {
    const uid = await sys.deliver(sampleMessage('legacy'));
    const inbox = await sys.ts.adapters.index.getMailbox(sys.user, 'INBOX');
    const db = new DatabaseSync(path.join(sys.ts.dataDir, 'index.sqlite'));
    // As a row written by older code: no saved_at.
    db.prepare('UPDATE messages SET saved_at = NULL, internal_date = ? WHERE mailbox_id = ? AND uid = ?').run(Date.UTC(2010, 4, 6, 7, 8, 9), inbox!.id, uid);
    db.close();
    await c.command('NOOP');
    const line = (await c.command(`UID FETCH ${uid} (SAVEDATE)`)).untagged.find((l) => l.includes('SAVEDATE'))!;
    expect(line).toMatch(/SAVEDATE " 6-May-2010 07:08:09 \+0000"/);
    expect((await c.command('UID SEARCH SAVEDON 6-May-2010')).untagged).toEqual([`* SEARCH ${uid}`]);
    expect((await c.command('UID SEARCH SAVEDATESUPPORTED')).untagged[0]).toContain(` ${uid}`);
  });

  it('Python imaplib fetches SAVEDATE and searches by it', async () => {
    const script = `
import imaplib, json, sys
M = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
M.login(sys.argv[3], sys.argv[4])
caps = M.capability()[1][0].decode().split()
M.select('INBOX')
typ, data = M.fetch('1', '(SAVEDATE)')
typ2, found = M.search(None, 'SAVEDSINCE', sys.argv[5])
typ3, none = M.search(None, 'SAVEDBEFORE', sys.argv[5])
M.logout()
print(json.dumps({'caps': caps, 'fetch': [typ, data[0].decode()], 'since': [typ2, found[0].decode()], 'before': [typ3, none[0].decode()]}))
`;
    const r = await python(script, ['127.0.0.1', String(sys.port), sys.user, sys.password, imapDay(0)], { timeoutMs: 20_000 });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.caps).toContain('SAVEDATE');
    expect(out.fetch[0]).toBe('OK');
    expect(out.fetch[1]).toMatch(/^1 \(SAVEDATE "[ \d]\d-\w{3}-\d{4} \d\d:\d\d:\d\d \+0000"\)$/);
    expect(out.since).toEqual(['OK', expect.stringMatching(/^1 2( \d+)*$/)]);
    expect(out.before).toEqual(['OK', expect.stringMatching(/^(\d+)?$/)]);
  });
});
