/**
 * Threads end to end with real clients (RFC 8621 §3, RFC 8474 THREADID): a reply chain arrives
 * by SMTP (Python smtplib), Python `jmapc` reads Email.threadId, Thread/get (emailIds in
 * receivedAt order, §3.1), Email/query collapseThreads (§4.4.3) and Mailbox totalThreads, and
 * Python imaplib's FETCH THREADID gives every message the same thread id JMAP does.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/mail-system.ts';
import { run } from '../support/clients.ts';
import { startJmapSystem, type JmapTestSystem } from './support/jmap-server.ts';

const VENV_PYTHON = path.resolve(import.meta.dirname, '../../.tools/venv/bin/python');

const SCRIPT = String.raw`
import json, sys, re
step = sys.argv[1]
out = {}
if step == "send":
    import smtplib
    port = int(sys.argv[2])
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    s.sendmail("bob@example.net", ["alice@example.test"], sys.stdin.buffer.read())
    s.quit()
elif step == "jmap":
    from jmapc import Client, Comparator
    from jmapc.methods import EmailQuery, EmailGet, ThreadGet, MailboxGet
    host, user, password = sys.argv[2:5]
    c = Client.create_with_password(host=host, user=user, password=password)
    q = c.request(EmailQuery(sort=[Comparator(property="receivedAt", is_ascending=True)]))
    emails = c.request(EmailGet(ids=q.ids, properties=["id", "threadId", "messageId", "subject"]))
    out["emails"] = [{"id": e.id, "threadId": e.thread_id, "messageId": e.message_id[0], "subject": e.subject} for e in emails.data]
    threads = c.request(ThreadGet(ids=sorted({e.thread_id for e in emails.data})))
    out["threads"] = {t.id: t.email_ids for t in threads.data}
    out["collapsed"] = c.request(EmailQuery(sort=[Comparator(property="receivedAt", is_ascending=True)], collapse_threads=True)).ids
    boxes = c.request(MailboxGet(ids=None))
    inbox = [m for m in boxes.data if m.role == "inbox"][0]
    out["inbox"] = {"totalEmails": inbox.total_emails, "totalThreads": inbox.total_threads}
elif step == "import":
    from jmapc import Client
    from jmapc.methods import CustomMethod, MailboxGet
    host, user, password, path = sys.argv[2:6]
    c = Client.create_with_password(host=host, user=user, password=password)
    inbox = [m.id for m in c.request(MailboxGet(ids=None)).data if m.role == "inbox"][0]
    blob = c.upload_blob(path)
    # jmapc has no Email/import class: its CustomMethod sends the call as given.
    m = CustomMethod(data={"accountId": c.account_id, "emails": {"i1": {"blobId": blob.id, "mailboxIds": {inbox: True}}}})
    m.jmap_method = "Email/import"
    m.using = {"urn:ietf:params:jmap:mail"}
    out["created"] = c.request(m).data.get("created")
elif step in ("thread-state", "thread-changes", "destroy"):
    from jmapc import Client
    from jmapc.methods import ThreadGet, ThreadChanges, EmailSet
    host, user, password = sys.argv[2:5]
    c = Client.create_with_password(host=host, user=user, password=password)
    if step == "thread-state":
        out["state"] = c.request(ThreadGet(ids=[])).state
    elif step == "thread-changes":
        r = c.request(ThreadChanges(since_state=sys.argv[5]))
        out = {"created": sorted(r.created), "updated": sorted(r.updated), "destroyed": sorted(r.destroyed), "newState": r.new_state}
    else:
        r = c.request(EmailSet(destroy=sys.argv[5:]))
        out["destroyed"] = r.destroyed
elif step == "imap":
    import imaplib
    port, user, password = int(sys.argv[2]), sys.argv[3], sys.argv[4]
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login(user, password)
    m.select("INBOX", readonly=True)
    typ, data = m.fetch("1:*", "(THREADID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    ids = {}
    for part in data:
        if not isinstance(part, tuple):
            continue
        tid = re.search(rb"THREADID \(([A-Za-z0-9_-]+)\)", part[0]).group(1).decode()
        mid = re.search(rb"<([^>]+)>", part[1]).group(1).decode()
        ids[mid] = tid
    out["threadIds"] = ids
    some = next(iter(ids.values()))
    typ, found = m.uid("SEARCH", "THREADID", some)
    out["search"] = {"threadId": some, "uids": found[0].decode().split()}
    m.logout()
elif step == "imap-append":
    import imaplib
    port, user, password = int(sys.argv[2]), sys.argv[3], sys.argv[4]
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login(user, password)
    typ, data = m.append("Sent", None, None, sys.stdin.buffer.read())
    uid = re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1).decode()
    m.select("Sent")
    typ, data = m.uid("FETCH", uid, "(THREADID)")
    out["threadId"] = re.search(rb"THREADID \(([A-Za-z0-9_-]+)\)", data[0]).group(1).decode()
    typ, data = m.uid("COPY", uid, "INBOX")
    m.select("INBOX")
    typ, data = m.uid("SEARCH", "THREADID", out["threadId"])
    out["inboxUids"] = data[0].decode().split()
    m.logout()
print(json.dumps(out))
`;

function message(messageId: string, subject: string, refs: string[] = []): string {
  const lines = [
    `From: Bob <bob@example.net>`,
    `To: alice@example.test`,
    `Subject: ${subject}`,
    `Message-ID: <${messageId}>`,
    `Date: Tue, 1 Dec 2026 10:00:00 +0000`,
  ];
  if (refs.length > 0) lines.push(`In-Reply-To: <${refs[refs.length - 1]}>`, `References: ${refs.map((r) => `<${r}>`).join(' ')}`);
  return lines.join('\r\n') + '\r\n\r\nbody\r\n';
}

describe('threads over JMAP (jmapc) and IMAP (imaplib), mail delivered by SMTP', () => {
  let sys: JmapTestSystem;
  let caFile: string;

  async function py(args: string[], input?: string, env: NodeJS.ProcessEnv = process.env): Promise<any> {
    const r = await run(VENV_PYTHON, ['-c', SCRIPT, ...args], { input, timeoutMs: 60_000, env });
    if (r.code !== 0) throw new Error(`python ${args[0]} failed: ${r.stderr}`);
    return JSON.parse(r.stdout || '{}');
  }
  async function inboxCount(): Promise<number> {
    const inbox = await sys.ts.adapters.index.getMailbox(sys.user, 'INBOX');
    return inbox?.messageCount ?? 0;
  }
  /** Sends one message by SMTP and waits until it is in the INBOX (so arrival order is the send order). */
  async function deliver(raw: string): Promise<void> {
    const before = await inboxCount();
    await py(['send', String(sys.ts.port('smtp-mx'))], raw);
    await eventually(async () => (await inboxCount()) > before);
  }

  beforeAll(async () => {
    sys = await startJmapSystem();
    caFile = path.join(sys.ts.dataDir, 'jmap-test-ca.pem');
    writeFileSync(caFile, sys.ts.system.deps.tls.cert);
    await deliver(message('a1@example.net', 'Plans for Friday'));
    await deliver(message('b1@example.net', 'Re: Plans for Friday', ['a1@example.net']));
    await deliver(message('c1@example.net', 'Re: [team] Re: Plans for Friday', ['a1@example.net', 'b1@example.net']));
    await deliver(message('d1@example.net', 'Plans for Friday'));
    // A reply that arrives before its parent.
    await deliver(message('e1@example.net', 'Re: Budget', ['p2@example.net']));
    await deliver(message('p2@example.net', 'Budget'));
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('jmapc: a reply chain is one thread, an unrelated message with the same subject another, and a parent after its reply joins it (RFC 8621 §3)', async () => {
    const out = await py(['jmap', new URL(sys.base).host, sys.user, sys.password], undefined, { ...process.env, REQUESTS_CA_BUNDLE: caFile });
    const by = Object.fromEntries(out.emails.map((e: any) => [e.messageId, e]));
    expect(Object.keys(by).sort()).toEqual(['a1@example.net', 'b1@example.net', 'c1@example.net', 'd1@example.net', 'e1@example.net', 'p2@example.net']);
    const chain = by['a1@example.net'].threadId;
    expect(by['b1@example.net'].threadId).toBe(chain);
    expect(by['c1@example.net'].threadId).toBe(chain);
    expect(by['d1@example.net'].threadId).not.toBe(chain);
    expect(by['p2@example.net'].threadId).toBe(by['e1@example.net'].threadId);
    expect(new Set(out.emails.map((e: any) => e.threadId)).size).toBe(3);
    // Thread/get: emailIds oldest first (§3.1): the reply before its late parent.
    expect(out.threads[chain]).toEqual([by['a1@example.net'].id, by['b1@example.net'].id, by['c1@example.net'].id]);
    expect(out.threads[by['e1@example.net'].threadId]).toEqual([by['e1@example.net'].id, by['p2@example.net'].id]);
    expect(out.threads[by['d1@example.net'].threadId]).toEqual([by['d1@example.net'].id]);
    // collapseThreads: the first Email of each thread in the sorted list (§4.4.3).
    expect(out.collapsed).toEqual([by['a1@example.net'].id, by['d1@example.net'].id, by['e1@example.net'].id]);
    expect(out.inbox).toEqual({ totalEmails: 6, totalThreads: 3 });
  });

  it('imaplib: FETCH THREADID equals the JMAP threadId of each message, and SEARCH THREADID finds the thread (RFC 8474 §5.2, §6)', async () => {
    const jmap = await py(['jmap', new URL(sys.base).host, sys.user, sys.password], undefined, { ...process.env, REQUESTS_CA_BUNDLE: caFile });
    const imap = await py(['imap', String(sys.ts.port('imap')), sys.user, sys.password]);
    expect(imap.threadIds).toEqual(Object.fromEntries(jmap.emails.map((e: any) => [e.messageId, e.threadId])));
    const members = jmap.threads[imap.search.threadId] as string[];
    expect(imap.search.uids).toHaveLength(members.length);
  });

  it('imaplib: a reply APPENDed to Sent joins the thread of the message it answers; its COPY keeps the THREADID (RFC 8474 §5.2)', async () => {
    const jmap = await py(['jmap', new URL(sys.base).host, sys.user, sys.password], undefined, { ...process.env, REQUESTS_CA_BUNDLE: caFile });
    const budget = jmap.emails.find((e: any) => e.messageId === 'p2@example.net').threadId;
    const out = await py(['imap-append', String(sys.ts.port('imap')), sys.user, sys.password], message('s1@example.test', 'Re: Budget', ['p2@example.net']));
    expect(out.threadId).toBe(budget);
    // INBOX: the reply before its parent, the parent, and now the copy of the appended reply.
    expect(out.inboxUids).toHaveLength(3);
  });

  it('jmapc: an Email/import of a reply answers with the threadId of the thread it joined (RFC 8621 §4.8)', async () => {
    const env = { ...process.env, REQUESTS_CA_BUNDLE: caFile };
    const jmap = await py(['jmap', new URL(sys.base).host, sys.user, sys.password], undefined, env);
    const budget = jmap.emails.find((e: any) => e.messageId === 'p2@example.net').threadId;
    const file = path.join(sys.ts.dataDir, 'reply.eml');
    writeFileSync(file, message('i1@example.net', 'RE: budget', ['p2@example.net']));
    const out = await py(['import', new URL(sys.base).host, sys.user, sys.password, file], undefined, env);
    expect(out.created.i1.threadId).toBe(budget);
  });

  it('jmapc: Thread/changes names the thread a reply joined (updated), a new thread (created), and a thread whose last Email went (destroyed) (RFC 8620 §5.2)', async () => {
    const env = { ...process.env, REQUESTS_CA_BUNDLE: caFile };
    const jmap = (...args: string[]) => py([args[0], new URL(sys.base).host, sys.user, sys.password, ...args.slice(1)], undefined, env);
    const before = await jmap('jmap');
    const by = Object.fromEntries(before.emails.map((e: any) => [e.messageId, e]));
    const chain = by['a1@example.net'].threadId;
    const s0 = (await jmap('thread-state')).state;
    await deliver(message('f1@example.net', 'Re: Plans for Friday', ['a1@example.net', 'b1@example.net', 'c1@example.net']));
    await deliver(message('g1@example.net', 'Fresh topic'));
    const after = await jmap('jmap');
    const fresh = after.emails.find((e: any) => e.messageId === 'g1@example.net').threadId;
    expect(after.emails.find((e: any) => e.messageId === 'f1@example.net').threadId).toBe(chain);
    expect(await jmap('thread-changes', s0)).toMatchObject({ created: [fresh], updated: [chain], destroyed: [] });
    const s1 = (await jmap('thread-state')).state;
    await jmap('destroy', by['d1@example.net'].id, by['b1@example.net'].id);
    expect(await jmap('thread-changes', s1)).toMatchObject({ created: [], updated: [chain], destroyed: [by['d1@example.net'].threadId] });
    const threads = (await jmap('jmap')).threads;
    expect(threads[by['d1@example.net'].threadId]).toBeUndefined();
    expect(threads[chain]).toHaveLength(3);
  });
});
