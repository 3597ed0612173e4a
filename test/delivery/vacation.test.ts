/**
 * The rules a vacation auto-reply follows (core/delivery/vacation.ts): RFC 3834 §2 (whom not to
 * answer), §3.1 (what the reply carries), RFC 8621 §8.1 (the fromDate/toDate window), and one
 * reply per sender per period through the index's lease, on the local adapters.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import libmime from 'libmime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import {
  VACATION_ID,
  VACATION_KIND,
  VACATION_OFF,
  composeVacationReply,
  markVacation,
  noReplyReason,
  sendVacationReplies,
  vacationActive,
} from '#core/delivery/vacation.ts';
import type { IngestJob } from '#core/ingest/ingest-job.ts';
import { silentLogger } from '#core/log.ts';

const alice = 'alice@example.test';
const msg = (headers: string) =>
  Buffer.from(`${headers}\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <m1@example.net>\r\nReferences: <r0@example.net>\r\n\r\nHello\r\n`);
const plain = msg(`From: bob@example.net\r\nTo: Alice <${alice}>`);

describe('whom a vacation reply never goes to (RFC 3834 §2)', () => {
  it('answers an ordinary message that names the user in To: or Cc:', () => {
    expect(noReplyReason(plain, 'bob@example.net', alice)).toBeNull();
    expect(noReplyReason(msg(`From: bob@example.net\r\nTo: x@example.net\r\nCc: ${alice.toUpperCase()}`), 'bob@example.net', alice)).toBeNull();
  });
  it('not a bounce: null return path (§3.3) or MAILER-DAEMON', () => {
    expect(noReplyReason(plain, '', alice)).toBe('null return path');
    expect(noReplyReason(plain, 'MAILER-DAEMON@example.net', alice)).toMatch(/robot/);
  });
  it('not list mail: List-* fields (RFC 2369, RFC 2919), Precedence bulk/list/junk, -request and owner- senders', () => {
    expect(noReplyReason(msg(`From: bob@example.net\r\nTo: ${alice}\r\nList-Id: <team.example.net>`), 'bob@example.net', alice)).toMatch(/list message/);
    expect(noReplyReason(msg(`From: bob@example.net\r\nTo: ${alice}\r\nList-Unsubscribe: <mailto:u@example.net>`), 'bob@example.net', alice)).toMatch(/list/);
    for (const p of ['bulk', 'list', 'junk', 'Bulk']) {
      expect(noReplyReason(msg(`From: bob@example.net\r\nTo: ${alice}\r\nPrecedence: ${p}`), 'bob@example.net', alice)).toMatch(/Precedence/);
    }
    expect(noReplyReason(plain, 'team-request@example.net', alice)).toMatch(/robot/);
    expect(noReplyReason(plain, 'owner-team@example.net', alice)).toMatch(/robot/);
  });
  it('not automatic mail: Auto-Submitted other than "no" (§5.2)', () => {
    expect(noReplyReason(msg(`From: bob@example.net\r\nTo: ${alice}\r\nAuto-Submitted: auto-replied`), 'bob@example.net', alice)).toMatch(/Auto-Submitted/);
    expect(noReplyReason(msg(`From: bob@example.net\r\nTo: ${alice}\r\nAuto-Submitted: auto-generated; x=1`), 'bob@example.net', alice)).toMatch(
      /Auto-Submitted/,
    );
    expect(noReplyReason(msg(`From: bob@example.net\r\nTo: ${alice}\r\nAuto-Submitted: no`), 'bob@example.net', alice)).toBeNull();
  });
  it("not mail that does not name the user in To:/Cc: (a list or Bcc), nor the user's own", () => {
    expect(noReplyReason(msg('From: bob@example.net\r\nTo: team@example.net'), 'bob@example.net', alice)).toMatch(/not in To/);
    expect(noReplyReason(plain, alice, alice)).toBe('sent by the user');
  });
});

describe('the vacation window (RFC 8621 §8.1)', () => {
  const on = { ...VACATION_OFF, isEnabled: true };
  it('is off unless enabled, and on only from fromDate until before toDate', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    expect(vacationActive(VACATION_OFF, now)).toBe(false);
    expect(vacationActive(on, now)).toBe(true);
    expect(vacationActive({ ...on, fromDate: '2026-12-02T00:00:00Z' }, now)).toBe(false);
    expect(vacationActive({ ...on, toDate: '2026-12-01T12:00:00Z' }, now)).toBe(false);
    expect(vacationActive({ ...on, fromDate: '2026-12-01T00:00:00Z', toDate: '2026-12-08T00:00:00Z' }, now)).toBe(true);
  });
});

describe('the reply (RFC 3834 §3.1)', () => {
  it('is from the user to the return path, Auto-Submitted: auto-replied, threaded by In-Reply-To/References, "Auto:" + the subject by default', async () => {
    const reply = (await composeVacationReply({ ...VACATION_OFF, isEnabled: true, textBody: 'Back on Monday.' }, plain, alice, 'bob@example.net')).toString(
      'utf8',
    );
    expect(reply).toMatch(/^From: alice@example\.test\r$/m);
    expect(reply).toMatch(/^To: bob@example\.net\r$/m);
    expect(reply).toMatch(/^Auto-Submitted: auto-replied\r$/m);
    expect(reply).toMatch(/^In-Reply-To: <m1@example\.net>\r$/m);
    expect(reply).toMatch(/^References: <r0@example\.net> <m1@example\.net>\r$/m);
    expect(libmime.decodeWords(/^Subject: (.*)\r$/m.exec(reply)![1])).toBe('Auto: Grüße');
    expect(reply).toContain('Back on Monday.');
  });
});

describe('one reply per sender per period', () => {
  let dir: string;
  let adapters: Adapters;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vacation-'));
    adapters = await createLocalAdapters({ dataDir: dir });
    await adapters.index.putAccountObject(alice, VACATION_KIND, VACATION_ID, JSON.stringify({ ...VACATION_OFF, isEnabled: true, subject: 'Away' }));
    await markVacation(adapters.index, alice, true);
  });
  afterEach(async () => {
    await adapters.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const job = (id: string, mailFrom = 'bob@example.net'): IngestJob => ({
    id,
    blobKey: 'messages/x',
    mailFrom,
    rcptTo: [alice],
    receivedAt: Date.now(),
    source: 'mx',
    size: plain.length,
  });
  const queued = async () => {
    const out: IngestJob[] = [];
    for (;;) {
      const batch = await adapters.queue.receive('ingest', { max: 10, waitSeconds: 0 });
      if (batch.length === 0) return out;
      for (const m of batch) {
        out.push(m.body as IngestJob);
        await adapters.queue.ack('ingest', m.receipt);
      }
    }
  };

  it('queues one reply with the null envelope sender; a second message from the sender gets none, another sender gets one; a redelivered job queues the same reply id', async () => {
    await sendVacationReplies({ adapters, logger: silentLogger }, job('J1'), plain, [alice]);
    await sendVacationReplies({ adapters, logger: silentLogger }, job('J1'), plain, [alice]); // the same job again (at-least-once)
    await sendVacationReplies({ adapters, logger: silentLogger }, job('J2'), plain, [alice]);
    await sendVacationReplies({ adapters, logger: silentLogger }, job('J3', 'carol@example.net'), plain, [alice]);
    const jobs = await queued();
    expect(jobs.map((j) => [j.mailFrom, j.rcptTo, j.source, j.authUser])).toEqual([
      ['', ['bob@example.net'], 'submission', alice],
      ['', ['bob@example.net'], 'submission', alice],
      ['', ['carol@example.net'], 'submission', alice],
    ]);
    expect(jobs[0].id).toBe(jobs[1].id);
    expect(jobs[2].id).not.toBe(jobs[0].id);
  });

  it('reads no settings for a user who is not on the list of users away, and answers once markVacation puts them there', async () => {
    const bobUser = 'bob@example.test';
    await adapters.index.putAccountObject(bobUser, VACATION_KIND, VACATION_ID, JSON.stringify({ ...VACATION_OFF, isEnabled: true }));
    const read = adapters.index.getAccountObject.bind(adapters.index);
    const reads: string[] = [];
    adapters.index.getAccountObject = async (user, kind, id) => {
      reads.push(`${user} ${kind}`);
      return read(user, kind, id);
    };
    const toBob = (id: string): IngestJob => ({ ...job(id), rcptTo: [bobUser] });
    const forBob = Buffer.from(plain.toString().replace(`To: Alice <${alice}>`, `To: ${bobUser}`));
    await sendVacationReplies({ adapters, logger: silentLogger }, toBob('B1'), forBob, [bobUser]);
    expect(reads).toEqual([]);
    expect(await queued()).toEqual([]);
    await markVacation(adapters.index, bobUser, true);
    await sendVacationReplies({ adapters, logger: silentLogger }, toBob('B2'), forBob, [bobUser]);
    expect((await queued()).map((j) => j.authUser)).toEqual([bobUser]);
  });

  it('sends nothing for mail delivered to Junk or while the response is off', async () => {
    await sendVacationReplies({ adapters, logger: silentLogger }, { ...job('J1'), verdict: { mailbox: 'Junk' } }, plain, [alice]);
    await adapters.index.putAccountObject(alice, VACATION_KIND, VACATION_ID, JSON.stringify(VACATION_OFF));
    await sendVacationReplies({ adapters, logger: silentLogger }, job('J2'), plain, [alice]);
    expect(await queued()).toEqual([]);
  });
});
