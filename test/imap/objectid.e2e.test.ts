/**
 * OBJECTID (RFC 8474): MAILBOXID, EMAILID and THREADID over IMAP are the ids JMAP gives the same
 * mailbox, email and thread (one system serving both), and they stay put across RENAME and COPY.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendToMailbox } from '#core/mailbox/writes.ts';
import { startJmapSystem, type JmapTestSystem } from '../jmap/support/jmap-server.ts';
import { RawImap } from './support/raw-client.ts';

const USING = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];

describe('OBJECTID', () => {
  let sys: JmapTestSystem;
  let c: RawImap;
  let accountId: string;
  const call = async (method: string, args: Record<string, unknown>): Promise<any> => {
    const res = await fetch(`${sys.base}/jmap/api`, {
      method: 'POST',
      headers: { Authorization: sys.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ using: USING, methodCalls: [[method, { accountId, ...args }, 'c']] }),
    });
    return ((await res.json()) as any).methodResponses[0][1];
  };
  const one = async (cmd: string) => {
    const r = await c.command(cmd);
    expect(r.tagged, cmd).toMatch(/ OK /);
    return r;
  };

  beforeAll(async () => {
    sys = await startJmapSystem({ plain: true });
    const s = (await (await fetch(`${sys.base}/.well-known/jmap`, { headers: { Authorization: sys.auth } })).json()) as any;
    accountId = s.primaryAccounts['urn:ietf:params:jmap:mail'];
    for (const n of [1, 2])
      await appendToMailbox(sys.ts.adapters, sys.user, 'INBOX', Buffer.from(`Subject: m${n}\r\nMessage-ID: <m${n}@x>\r\n\r\nbody ${n}\r\n`));
    c = await RawImap.login(sys.ts.port('imap'), sys.user, sys.password);
  }, 120_000);
  afterAll(async () => {
    c?.close();
    await sys?.stop();
  });

  it('is advertised once authenticated (RFC 8474 §3)', async () => {
    expect((await one('CAPABILITY')).untagged[0].split(' ')).toContain('OBJECTID');
  });

  it('RFC 8474 §4: MAILBOXID in SELECT, STATUS, LIST-STATUS and the CREATE response is the JMAP Mailbox id, and survives RENAME', async () => {
    const jmapBoxes = (await call('Mailbox/get', { ids: null })).list as Array<{ id: string; name: string; role: string | null }>;
    const inboxId = jmapBoxes.find((m) => m.role === 'inbox')!.id;
    const sel = await one('SELECT INBOX');
    expect(sel.untagged).toContain(`* OK [MAILBOXID (${inboxId})] Ok`);
    expect((await one('STATUS INBOX (MAILBOXID MESSAGES)')).untagged[0]).toBe(`* STATUS "INBOX" (MAILBOXID (${inboxId}) MESSAGES 2)`);
    const created = await one('CREATE Projects');
    const m = /^T\d+ OK \[MAILBOXID \(([A-Za-z0-9_-]{1,255})\)\] /.exec(created.tagged);
    expect(m, created.tagged).not.toBeNull();
    const projectsId = m![1];
    expect((await call('Mailbox/get', { ids: [projectsId] })).list[0].name).toBe('Projects');
    await one('RENAME Projects Archive2026');
    const listed = await one('LIST "" Archive2026 RETURN (STATUS (MAILBOXID))');
    expect(listed.untagged).toContain(`* STATUS "Archive2026" (MAILBOXID (${projectsId}))`);
  });

  it('RFC 8474 §5: EMAILID and THREADID are the JMAP Email id and threadId; a COPY keeps the EMAILID', async () => {
    await one('SELECT INBOX');
    const fetched = (await one('FETCH 1:* (UID EMAILID THREADID)')).untagged;
    const ids = fetched.map((l) => /EMAILID \(([^)]+)\) THREADID \(([^)]+)\)/.exec(l)!.slice(1));
    expect(ids).toHaveLength(2);
    const query = await call('Email/query', { sort: [{ property: 'receivedAt', isAscending: true }] });
    const emails = (await call('Email/get', { ids: query.ids, properties: ['id', 'threadId', 'subject'] })).list as Array<{
      id: string;
      threadId: string;
      subject: string;
    }>;
    const bySubject = Object.fromEntries(emails.map((e) => [e.subject, e]));
    expect(ids[0]).toEqual([bySubject.m1.id, bySubject.m1.threadId]);
    expect(ids[1]).toEqual([bySubject.m2.id, bySubject.m2.threadId]);
    expect(ids[0][0]).not.toBe(ids[1][0]);
    await one('COPY 2 Archive2026');
    await one('SELECT Archive2026');
    expect((await one('FETCH 1 (EMAILID)')).untagged[0]).toBe(`* 1 FETCH (EMAILID (${ids[1][0]}))`);
  });

  it('RFC 8474 §6: the EMAILID and THREADID search keys find the message; a malformed id is BAD', async () => {
    await one('SELECT INBOX');
    const [emailId, threadId] = /EMAILID \(([^)]+)\) THREADID \(([^)]+)\)/.exec((await one('FETCH 2 (EMAILID THREADID)')).untagged[0])!.slice(1);
    expect((await one(`SEARCH EMAILID ${emailId}`)).untagged[0]).toBe('* SEARCH 2');
    expect((await one(`UID SEARCH THREADID ${threadId}`)).untagged[0]).toBe('* SEARCH 2');
    expect((await one('SEARCH EMAILID Mnothing')).untagged[0]).toBe('* SEARCH');
    expect((await one(`SEARCH NOT EMAILID ${emailId}`)).untagged[0]).toBe('* SEARCH 1');
    for (const q of ['SEARCH EMAILID', 'SEARCH EMAILID "a b"', 'SEARCH THREADID a.b']) expect((await c.command(q)).tagged, q).toMatch(/^T\d+ BAD /);
  });
});
