/**
 * Sending with a third-party JMAP client (issue 12's done-when): Python `jmapc` uploads a blob
 * (RFC 8620 §6.1), creates a draft with it as an attachment (Email/set, RFC 8621 §4.6) and
 * submits it (EmailSubmission/set, §7.5, with the Identity of Identity/get, §6) with
 * onSuccessUpdateEmail moving the sent copy from Drafts to Sent and clearing `$draft`. The
 * message reaches another local user's INBOX, seen over IMAP (imapflow), without its Bcc:.
 *
 * And VacationResponse (§8) honoured on delivery by RFC 3834's rules: alice turns it on with
 * jmapc; a message bob sends her by SMTP brings bob exactly one auto-reply (Auto-Submitted:
 * auto-replied, In-Reply-To the message); a second one from bob within the period brings none
 * (§2: one per sender per period), nor does a mailing-list message (List-Id, §2).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ImapFlow, type FetchMessageObject } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/clients.ts';
import { eventually } from '../support/mail-system.ts';
import { startJmapSystem, type JmapTestSystem } from './support/jmap-server.ts';

const VENV_PYTHON = path.resolve(import.meta.dirname, '../../.tools/venv/bin/python');

const JMAPC = String.raw`
import json, sys
from jmapc import Client, Ref
from jmapc.methods import CustomMethod, EmailGet, EmailSet, EmailSubmissionGet, EmailSubmissionQuery, EmailSubmissionSet, IdentityGet, MailboxGet
host, user, password, step = sys.argv[1:5]
c = Client.create_with_password(host=host, user=user, password=password)
out = {}
def custom(name, using, **args):
    m = CustomMethod(data={"accountId": c.account_id, **args})
    m.jmap_method = name
    m.using = using
    return m
if step == "send":
    attachment, to, bcc = sys.argv[5:8]
    blob = c.upload_blob(attachment)
    res = c.request([IdentityGet(ids=None), MailboxGet(ids=None)])
    identity = res[0].response.data[0]
    boxes = {m.role: m.id for m in res[1].response.data if m.role}
    out["identity"] = {"id": identity.id, "email": identity.email, "mayDelete": identity.may_delete}
    draft = {
        "mailboxIds": {boxes["drafts"]: True},
        "keywords": {"$draft": True, "$seen": True},
        "from": [{"name": "Alice", "email": user}],
        "to": [{"name": "Bob", "email": to}],
        "bcc": [{"email": bcc}],
        "subject": "Report attached",
        "textBody": [{"partId": "t", "type": "text/plain"}],
        "bodyValues": {"t": {"value": "Here is the report."}},
        "attachments": [{"blobId": blob.id, "type": "application/pdf", "name": "report.pdf"}],
    }
    res = c.request([
        EmailSet(create={"draft": draft}),
        EmailSubmissionSet(
            create={"sub": {"identityId": identity.id, "emailId": "#draft"}},
            on_success_update_email={"#sub": {"mailboxIds/" + boxes["drafts"]: None, "mailboxIds/" + boxes["sent"]: True, "keywords/$draft": None}},
        ),
    ])
    out["responses"] = [r.response.__class__.__name__ for r in res]
    email_id = res[0].response.created["draft"].id
    sub = res[1].response.created["sub"]
    out["emailId"] = email_id
    out["submission"] = {"id": sub.id, "undoStatus": sub.undo_status.value, "rcpt": sorted(a.email for a in sub.envelope.rcpt_to), "mailFrom": sub.envelope.mail_from.email}
    out["notCreated"] = {k: v.type for k, v in (res[1].response.not_created or {}).items()}
    out["implicitUpdated"] = list((res[2].response.updated or {}).keys()) if len(res) > 2 else None
    got = c.request(EmailGet(ids=[email_id], properties=["mailboxIds", "keywords"]))
    out["sentCopy"] = {"mailboxIds": got.data[0].mailbox_ids, "keywords": got.data[0].keywords, "sent": boxes["sent"]}
    q = c.request([EmailSubmissionQuery(), EmailSubmissionGet(ids=Ref("/ids"))])
    out["queried"] = [{"id": s.id, "emailId": s.email_id, "identityId": s.identity_id} for s in q[1].response.data]
elif step == "vacation":
    r = c.request(custom("VacationResponse/set", {"urn:ietf:params:jmap:vacationresponse"}, update={"singleton": {"isEnabled": True, "subject": "Away until Monday", "textBody": "I am away until Monday."}}))
    out["updated"] = list((r.data.get("updated") or {}).keys())
    g = c.request(custom("VacationResponse/get", {"urn:ietf:params:jmap:vacationresponse"}, ids=None))
    out["vacation"] = g.data["list"][0]
print(json.dumps(out))
`;

async function smtpSend(port: number, from: string, to: string, data: string): Promise<void> {
  const py = String.raw`
import smtplib, sys
port, mail_from, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = smtplib.SMTP("127.0.0.1", port, timeout=10)
s.sendmail(mail_from, [rcpt], sys.stdin.buffer.read())
s.quit()
`;
  const r = await run('python3', ['-c', py, String(port), from, to], { input: data, timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`smtplib failed: ${r.stderr}`);
}

describe('jmapc sends (EmailSubmission, Identity) and sets a VacationResponse that delivery honours', () => {
  let sys: JmapTestSystem;
  let caFile: string;
  const bob = 'bob@example.test';
  const carol = 'carol@example.test';
  const dave = 'dave@example.test';
  const bobPassword = 'bob password';
  const host = () => new URL(sys.base).host;
  async function jmapc(step: string, ...args: string[]): Promise<any> {
    const r = await run(VENV_PYTHON, ['-c', JMAPC, host(), sys.user, sys.password, step, ...args], {
      timeoutMs: 60_000,
      env: { ...process.env, REQUESTS_CA_BUNDLE: caFile },
    });
    if (r.code !== 0) throw new Error(`jmapc ${step} failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }
  /** The messages of `user`'s INBOX over IMAP, with envelope, structure and full source. */
  async function inbox(user: string, password: string): Promise<FetchMessageObject[]> {
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: sys.ts.port('imap'),
      secure: false,
      auth: { user, pass: password },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await c.connect();
    try {
      const lock = await c.getMailboxLock('INBOX');
      try {
        const out: FetchMessageObject[] = [];
        if ((c.mailbox && c.mailbox.exists) === 0) return out;
        for await (const m of c.fetch('1:*', { envelope: true, bodyStructure: true, source: true })) out.push(m);
        return out;
      } finally {
        lock.release();
      }
    } finally {
      await c.logout();
    }
  }

  beforeAll(async () => {
    sys = await startJmapSystem();
    await sys.ts.addUser(bob, bobPassword);
    await sys.ts.addUser(carol, 'carol password');
    await sys.ts.addUser(dave, 'dave password');
    caFile = path.join(sys.ts.dataDir, 'jmap-test-ca.pem');
    writeFileSync(caFile, sys.ts.system.deps.tls.cert);
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('uploads a blob, creates a draft with it and submits it: bob gets it in his INBOX (IMAP), without the Bcc:, and the sent copy moves to Sent', async () => {
    const pdf = path.join(sys.ts.dataDir, 'report.pdf');
    writeFileSync(pdf, '%PDF-1.4 the report');
    const out = await jmapc('send', pdf, bob, carol);
    expect(out.identity).toEqual({ id: expect.stringMatching(/^I/), email: sys.user, mayDelete: false });
    expect(out.notCreated).toEqual({});
    // RFC 8621 §7.5: the envelope comes from the Email, Bcc included; the submission is final at once.
    expect(out.submission).toMatchObject({ undoStatus: 'final', mailFrom: sys.user, rcpt: [bob, carol] });
    // The implicit Email/set follows EmailSubmission/set under the same call id.
    expect(out.responses).toEqual(['EmailSetResponse', 'EmailSubmissionSetResponse', 'EmailSetResponse']);
    expect(out.implicitUpdated).toEqual([out.emailId]);
    expect(out.sentCopy.mailboxIds).toEqual({ [out.sentCopy.sent]: true });
    expect(out.sentCopy.keywords).toEqual({ $seen: true });
    expect(out.queried).toEqual([{ id: out.submission.id, emailId: out.emailId, identityId: out.identity.id }]);

    const msgs = await eventually(async () => {
      const m = await inbox(bob, bobPassword);
      return m.length > 0 ? m : null;
    });
    expect(msgs).toHaveLength(1);
    expect(msgs[0].envelope?.subject).toBe('Report attached');
    expect(msgs[0].envelope?.from?.[0].address).toBe(sys.user);
    const parts = msgs[0].bodyStructure?.childNodes ?? [];
    expect(parts.map((p) => p.type)).toEqual(['text/plain', 'application/pdf']);
    expect(parts[1].dispositionParameters?.filename ?? parts[1].parameters?.name).toBe('report.pdf');
    const source = msgs[0].source!.toString('latin1');
    expect(source).not.toMatch(/^Bcc:/im);
    expect(source).toMatch(/^Return-Path: <alice@example\.test>/);
    // The Bcc: recipient got it too.
    const carols = await eventually(async () => {
      const m = await inbox(carol, 'carol password');
      return m.length > 0 ? m : null;
    });
    expect(carols[0].envelope?.subject).toBe('Report attached');
  });

  it('honours the VacationResponse set with jmapc: one auto-reply per sender (RFC 3834), none to a repeat or a list message', async () => {
    const set = await jmapc('vacation');
    expect(set.updated).toEqual(['singleton']);
    expect(set.vacation).toMatchObject({ id: 'singleton', isEnabled: true, subject: 'Away until Monday' });
    const mx = sys.ts.port('smtp-mx');
    const autoReplies = async () => (await inbox(bob, bobPassword)).filter((m) => m.envelope?.subject === 'Away until Monday');
    const before = (await inbox(bob, bobPassword)).length;

    await smtpSend(mx, bob, sys.user, `From: Bob <${bob}>\r\nTo: ${sys.user}\r\nSubject: lunch?\r\nMessage-ID: <lunch1@example.test>\r\n\r\nAre you free?\r\n`);
    const replies = await eventually(async () => {
      const r = await autoReplies();
      return r.length > 0 ? r : null;
    });
    expect(replies).toHaveLength(1);
    const reply = replies[0].source!.toString('latin1');
    // RFC 3834 §3.1.7, §3.1.6, §3.3: marked auto-replied, threaded, sent with the null return path.
    expect(reply).toMatch(/^Auto-Submitted: auto-replied\r?$/im);
    expect(reply).toMatch(/^In-Reply-To: <lunch1@example\.test>\r?$/im);
    expect(reply).toMatch(/^Return-Path: <>/);
    expect(reply).toMatch(/^From: alice@example\.test\r?$/im);
    expect(reply).toContain('I am away until Monday.');

    // A second message from bob within the period, and a list message from dave: no reply.
    await smtpSend(mx, bob, sys.user, `From: Bob <${bob}>\r\nTo: ${sys.user}\r\nSubject: lunch again?\r\n\r\nStill?\r\n`);
    await smtpSend(mx, dave, sys.user, `From: ${dave}\r\nTo: ${sys.user}\r\nList-Id: <team.example.test>\r\nSubject: team news\r\n\r\nNews.\r\n`);
    // A sentinel that must be answered: carol writes directly. Once her reply is in, the earlier
    // messages' ingest (and any reply they would have queued before hers) is done.
    await smtpSend(mx, carol, sys.user, `From: ${carol}\r\nTo: ${sys.user}\r\nSubject: hello\r\n\r\nHi.\r\n`);
    await eventually(async () => (await inbox(carol, 'carol password')).some((m) => m.envelope?.subject === 'Away until Monday'));
    await new Promise((r) => setTimeout(r, 500));
    const carolReplies = (await inbox(carol, 'carol password')).filter((m) => m.envelope?.subject === 'Away until Monday');
    expect(carolReplies).toHaveLength(1);
    expect(await autoReplies()).toHaveLength(1);
    expect(await inbox(dave, 'dave password')).toHaveLength(0);
    expect((await inbox(bob, bobPassword)).length).toBe(before + 1);
  });
});
