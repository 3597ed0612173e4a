/**
 * A third-party JMAP client drives the server end to end (issue 12): Python `jmapc` over
 * HTTPS with HTTP Basic — session discovery (RFC 8620 §2), Mailbox/get (RFC 8621 §2),
 * Email/query + Email/get by back-reference (§4.4, §4.2, RFC 8620 §3.7), Email/set of
 * keywords and mailboxIds (a move, §4.6) — and IMAP (imapflow) sees the same mailbox: a
 * keyword set over JMAP is an IMAP flag at once, and a flag set over IMAP a JMAP keyword.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendToMailbox } from '#core/mailbox/writes.ts';
import { run } from '../support/clients.ts';
import { startJmapSystem, type JmapTestSystem } from './support/jmap-server.ts';

const VENV_PYTHON = path.resolve(import.meta.dirname, '../../.tools/venv/bin/python');

/** jmapc against our host; requests verifies the server against the test certificate (REQUESTS_CA_BUNDLE). */
const JMAPC = String.raw`
import json, sys
import sseclient
from jmapc import Client, Comparator, EmailQueryFilterCondition, EventSourceConfig, Ref
from jmapc.methods import MailboxGet, EmailQuery, EmailGet, EmailSet
from jmapc.methods import CustomMethod
host, user, password, step = sys.argv[1:5]
c = Client.create_with_password(host=host, user=user, password=password)
out = {}
if step == "list":
    s = c.jmap_session
    out["apiUrl"] = s.api_url
    out["accountId"] = c.account_id
    boxes = c.request(MailboxGet(ids=None))
    out["mailboxes"] = [{"id": m.id, "name": m.name, "role": m.role, "total": m.total_emails, "unread": m.unread_emails} for m in boxes.data]
    inbox = [m.id for m in boxes.data if m.role == "inbox"][0]
    res = c.request([
        EmailQuery(filter=EmailQueryFilterCondition(in_mailbox=inbox), sort=[Comparator(property="receivedAt", is_ascending=False)], limit=10, calculate_total=True),
        EmailGet(ids=Ref("/ids"), properties=["id", "subject", "from", "keywords", "mailboxIds", "receivedAt", "preview", "size"]),
    ])
    out["total"] = res[0].response.total
    out["emails"] = [{"id": e.id, "subject": e.subject, "from": e.mail_from[0].email, "keywords": e.keywords, "mailboxIds": e.mailbox_ids, "preview": e.preview} for e in res[1].response.data]
elif step == "seen-and-move":
    email_id, target = sys.argv[5:7]
    r = c.request(EmailSet(update={email_id: {"keywords/$seen": True, "mailboxIds": {target: True}}}))
    out["updated"] = list((r.updated or {}).keys())
    out["notUpdated"] = {k: v.type for k, v in (r.not_updated or {}).items()}
elif step == "upload-import":
    path, inbox = sys.argv[5:7]
    blob = c.upload_blob(path)
    out["upload"] = {"blobId": blob.id, "size": blob.size}
    # jmapc has no Email/import class: its CustomMethod sends the call as given (accountId given here).
    m = CustomMethod(data={"accountId": c.account_id, "emails": {"imp1": {"blobId": blob.id, "mailboxIds": {inbox: True}, "keywords": {"$seen": True}}}})
    m.jmap_method = "Email/import"
    m.using = {"urn:ietf:params:jmap:mail"}
    res = c.request(m)
    out["imported"] = {k: v["id"] for k, v in (res.data.get("created") or {}).items()}
    out["notCreated"] = {k: v["type"] for k, v in (res.data.get("notCreated") or {}).items()}
elif step == "push":
    import smtplib, threading
    smtp_port = int(sys.argv[5])
    c = Client.create_with_password(host=host, user=user, password=password, event_source_config=EventSourceConfig(types="Email,Mailbox", closeafter="state", ping=0))
    sse = sseclient.SSEClient(c.jmap_session.event_source_url.format(types="Email,Mailbox", closeafter="state", ping=0), auth=c.requests_session.auth)
    c._events = sse  # connected: the server has subscribed before answering
    s = smtplib.SMTP("127.0.0.1", smtp_port, timeout=10)
    s.sendmail("dave@example.net", ["alice@example.test"], b"From: dave@example.net\r\nTo: alice@example.test\r\nSubject: pushed\r\n\r\nhi\r\n")
    s.quit()
    ev = next(c.events)
    out["changed"] = {acct: {"Email": bool(ts.email), "Mailbox": bool(ts.mailbox)} for acct, ts in ev.data.changed.items()}
elif step == "get":
    email_id = sys.argv[5]
    r = c.request(EmailGet(ids=[email_id], properties=["keywords", "mailboxIds"]))
    out["email"] = {"keywords": r.data[0].keywords, "mailboxIds": r.data[0].mailbox_ids}
print(json.dumps(out))
`;

const message = (subject: string, from = 'bob@example.net') =>
  Buffer.from(
    `From: Bob <${from}>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.net>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\nHello from ${subject}.\r\n`,
  );

describe('jmapc (a third-party JMAP client) and IMAP on one mailbox', () => {
  let sys: JmapTestSystem;
  let caFile: string;
  const host = () => new URL(sys.base).host;
  async function jmapc(step: string, ...args: string[]): Promise<any> {
    const r = await run(VENV_PYTHON, ['-c', JMAPC, host(), sys.user, sys.password, step, ...args], {
      timeoutMs: 60_000,
      env: { ...process.env, REQUESTS_CA_BUNDLE: caFile },
    });
    if (r.code !== 0) throw new Error(`jmapc ${step} failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }
  const imap = () =>
    new ImapFlow({
      host: '127.0.0.1',
      port: sys.ts.port('imap'),
      secure: false,
      auth: { user: sys.user, pass: sys.password },
      logger: false,
      tls: { rejectUnauthorized: false },
    });

  beforeAll(async () => {
    sys = await startJmapSystem();
    caFile = path.join(sys.ts.dataDir, 'jmap-test-ca.pem');
    writeFileSync(caFile, sys.ts.system.deps.tls.cert);
    await appendToMailbox(sys.ts.adapters, sys.user, 'INBOX', message('First one'), { internalDate: Date.parse('2026-12-01T10:00:00Z') });
    await appendToMailbox(sys.ts.adapters, sys.user, 'INBOX', message('Second one', 'carol@example.net'), { internalDate: Date.parse('2026-12-01T11:00:00Z') });
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('discovers the session, lists mailboxes with roles and counts, queries and gets the INBOX newest first', async () => {
    const out = await jmapc('list');
    expect(out.apiUrl).toBe(`${sys.base}/jmap/api`);
    const inbox = out.mailboxes.find((m: any) => m.role === 'inbox');
    expect(inbox).toMatchObject({ name: 'INBOX', total: 2, unread: 2 });
    expect(out.mailboxes.map((m: any) => m.role)).toEqual(expect.arrayContaining(['inbox', 'sent', 'drafts', 'trash']));
    expect(out.total).toBe(2);
    expect(out.emails.map((e: any) => e.subject)).toEqual(['Second one', 'First one']);
    expect(out.emails[0].from).toBe('carol@example.net');
    expect(out.emails[1].preview).toBe('Hello from First one.');
    expect(out.emails[1].keywords ?? {}).toEqual({});
  });

  it('sets $seen and moves an email over JMAP; IMAP sees it \\Seen in the target and gone from INBOX; the email id stays', async () => {
    const before = await jmapc('list');
    const first = before.emails.find((e: any) => e.subject === 'First one');
    const archive = before.mailboxes.find((m: any) => m.role === 'archive') ?? before.mailboxes.find((m: any) => m.role === 'trash');
    const set = await jmapc('seen-and-move', first.id, archive.id);
    expect(set.notUpdated).toEqual({});
    expect(set.updated).toEqual([first.id]);

    const c = imap();
    await c.connect();
    try {
      const target = before.mailboxes.find((m: any) => m.id === archive.id).name;
      const lock = await c.getMailboxLock(target);
      try {
        const msgs = [];
        for await (const m of c.fetch('1:*', { envelope: true, flags: true })) msgs.push(m);
        expect(msgs).toHaveLength(1);
        expect(msgs[0].envelope?.subject).toBe('First one');
        expect([...(msgs[0].flags ?? [])]).toContain('\\Seen');
      } finally {
        lock.release();
      }
      const status = await c.status('INBOX', { messages: true });
      expect(status && status.messages).toBe(1);
    } finally {
      await c.logout();
    }
    const after = await jmapc('get', first.id);
    expect(after.email.keywords).toEqual({ $seen: true });
    expect(after.email.mailboxIds).toEqual({ [archive.id]: true });
  });

  it('shows a flag set over IMAP as a JMAP keyword at once ($flagged, RFC 8621 §4.1.1)', async () => {
    const c = imap();
    await c.connect();
    try {
      const lock = await c.getMailboxLock('INBOX');
      try {
        await c.messageFlagsAdd('1', ['\\Flagged', '$Forwarded']);
      } finally {
        lock.release();
      }
    } finally {
      await c.logout();
    }
    const out = await jmapc('list');
    const second = out.emails.find((e: any) => e.subject === 'Second one');
    expect(second.keywords).toEqual({ $flagged: true, $forwarded: true });
  });

  it('uploads a blob and imports it as an email into INBOX with $seen (RFC 8620 §6.1, RFC 8621 §4.8); IMAP sees it', async () => {
    const file = path.join(sys.ts.dataDir, 'import.eml');
    writeFileSync(file, message('Imported one'));
    const list = await jmapc('list');
    const inbox = list.mailboxes.find((m: any) => m.role === 'inbox');
    const out = await jmapc('upload-import', file, inbox.id);
    expect(out.upload.size).toBe(message('Imported one').length);
    expect(out.notCreated).toEqual({});
    expect(out.imported.imp1).toMatch(/^M/);
    const c = imap();
    await c.connect();
    try {
      const lock = await c.getMailboxLock('INBOX');
      try {
        const msgs = [];
        for await (const m of c.fetch('1:*', { envelope: true, flags: true })) msgs.push(m);
        const imported = msgs.find((m) => m.envelope?.subject === 'Imported one');
        expect(imported).toBeDefined();
        expect([...(imported!.flags ?? [])]).toContain('\\Seen');
      } finally {
        lock.release();
      }
    } finally {
      await c.logout();
    }
  });

  it('pushes a StateChange over EventSource when mail arrives by SMTP (RFC 8620 §7.3)', async () => {
    const out = await jmapc('push', String(sys.ts.port('smtp-mx')));
    const account = Object.keys(out.changed)[0];
    expect(out.changed[account].Email).toBe(true);
  });
});
