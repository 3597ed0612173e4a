/**
 * Email/changes and Mailbox/changes after expunges (RFC 8620 §5.2, RFC 8621 §2.2, §4.3), driven
 * by jmapc (a third-party client) while imapflow expunges and moves over IMAP, on both adapter
 * sets: the change log's tombstones name the blob, so the Email that lost its last copy is
 * destroyed, one moved (COPY + EXPUNGE) is updated, one created and expunged between the two
 * states is not reported. And the account's messages are read from the change log after the
 * first request: a second Email/query + Email/get lists no mailbox and reads no whole message.
 */
import { writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import { appendToMailbox } from '#core/mailbox/writes.ts';
import { run } from '../support/clients.ts';
import { ADAPTER_KINDS } from '../support/mail-system.ts';
import { startJmapSystem, type JmapTestSystem } from './support/jmap-server.ts';

const VENV_PYTHON = path.resolve(import.meta.dirname, '../../.tools/venv/bin/python');

const JMAPC = String.raw`
import json, sys
from jmapc import Client, Comparator, Ref
from jmapc.methods import MailboxGet, MailboxChanges, EmailQuery, EmailGet, EmailChanges
host, user, password, step = sys.argv[1:5]
c = Client.create_with_password(host=host, user=user, password=password)
out = {}
if step == "state":
    boxes = c.request(MailboxGet(ids=None))
    out["mailboxState"] = boxes.state
    out["accountId"] = c.account_id
    out["mailboxes"] = {m.name: m.id for m in boxes.data}
    res = c.request([
        EmailQuery(sort=[Comparator(property="receivedAt", is_ascending=False)], limit=50),
        EmailGet(ids=Ref("/ids"), properties=["id", "subject", "mailboxIds", "from", "receivedAt", "preview"]),
    ])
    out["emailState"] = res[1].response.state
    out["emails"] = {e.subject: {"id": e.id, "mailboxIds": sorted(e.mailbox_ids.keys()), "preview": e.preview} for e in res[1].response.data}
elif step == "changes":
    email_state, mailbox_state = sys.argv[5:7]
    res = c.request([EmailChanges(since_state=email_state), MailboxChanges(since_state=mailbox_state)])
    e, m = res[0].response, res[1].response
    out["email"] = {"created": sorted(e.created), "updated": sorted(e.updated), "destroyed": sorted(e.destroyed), "newState": e.new_state}
    out["mailbox"] = {"created": sorted(m.created), "updated": sorted(m.updated), "destroyed": sorted(m.destroyed)}
print(json.dumps(out))
`;

const message = (subject: string) =>
  Buffer.from(
    `From: Bob <bob@example.net>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\nHello from ${subject}.\r\n`,
  );

/** Counts the calls of each method of a port (the listeners see the counting one). */
function counting<T extends object>(target: T, counts: Map<string, number>): T {
  return new Proxy(target, {
    get(t, p, r) {
      const v = Reflect.get(t, p, r) as unknown;
      if (typeof v !== 'function' || typeof p !== 'string') return v;
      return (...args: unknown[]) => {
        counts.set(p, (counts.get(p) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}

describe.each(ADAPTER_KINDS)('JMAP /changes after expunges (%s adapters)', (kind) => {
  let sys: JmapTestSystem;
  let caFile: string;
  const indexCalls = new Map<string, number>();
  const blobCalls = new Map<string, number>();
  async function jmapc(step: string, ...args: string[]): Promise<any> {
    const r = await run(VENV_PYTHON, ['-c', JMAPC, new URL(sys.base).host, sys.user, sys.password, step, ...args], {
      timeoutMs: 60_000,
      env: { ...process.env, REQUESTS_CA_BUNDLE: caFile },
    });
    if (r.code !== 0) throw new Error(`jmapc ${step} failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }
  async function withImap(fn: (c: ImapFlow) => Promise<void>): Promise<void> {
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: sys.ts.port('imap'),
      secure: false,
      auth: { user: sys.user, pass: sys.password },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await c.connect();
    try {
      await fn(c);
    } finally {
      await c.logout();
    }
  }

  beforeAll(async () => {
    sys = await startJmapSystem({
      adapters: kind,
      wrapAdapters: (a: Adapters) => ({ ...a, index: counting(a.index, indexCalls), blobs: counting(a.blobs, blobCalls) }),
    });
    caFile = path.join(sys.ts.dataDir, 'jmap-test-ca.pem');
    writeFileSync(caFile, sys.ts.system.deps.tls.cert);
    for (const s of ['gone', 'moved', 'flagged', 'kept']) await appendToMailbox(sys.ts.adapters, sys.user, 'INBOX', message(s));
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('reports the expunged Email destroyed, the moved and flagged ones updated, a new one created, one created and expunged not at all', async () => {
    const s0 = await jmapc('state');
    const id = (subject: string) => s0.emails[subject].id as string;
    await withImap(async (c) => {
      const lock = await c.getMailboxLock('INBOX');
      try {
        const uids = new Map<string, number>();
        for await (const m of c.fetch('1:*', { envelope: true, uid: true })) uids.set(m.envelope!.subject!, m.uid);
        await c.messageDelete(String(uids.get('gone')), { uid: true });
        await c.messageMove(String(uids.get('moved')), 'Archive', { uid: true });
        await c.messageFlagsAdd(String(uids.get('flagged')), ['\\Flagged'], { uid: true });
      } finally {
        lock.release();
      }
    });
    await appendToMailbox(sys.ts.adapters, sys.user, 'INBOX', message('brief'));
    await withImap(async (c) => {
      const lock = await c.getMailboxLock('INBOX');
      try {
        const found = await c.search({ subject: 'brief' }, { uid: true });
        await c.messageDelete(found as number[], { uid: true });
      } finally {
        lock.release();
      }
    });
    await appendToMailbox(sys.ts.adapters, sys.user, 'INBOX', message('new'));

    const s1 = await jmapc('state');
    expect(Object.keys(s1.emails).sort()).toEqual(['flagged', 'kept', 'moved', 'new']);
    expect(s1.emails.moved.mailboxIds).toEqual([s0.mailboxes.Archive]);
    const ch = await jmapc('changes', s0.emailState, s0.mailboxState);
    expect(ch.email).toMatchObject({ created: [s1.emails.new.id], updated: [id('flagged'), id('moved')].sort(), destroyed: [id('gone')] });
    // RFC 8621 §2.2: the mailboxes whose counts changed are updated.
    expect(ch.mailbox).toEqual({ created: [], updated: [s0.mailboxes.Archive, s0.mailboxes.INBOX].sort(), destroyed: [] });
    // From the new state: nothing.
    const none = await jmapc('changes', ch.email.newState, s1.mailboxState);
    expect(none.email).toMatchObject({ created: [], updated: [], destroyed: [] });
  });

  // An SQLite index file from before tombstones kept blob keys (DynamoDB's older X items are the same case: no `blobs`).
  if (kind === 'local')
    it('answers cannotCalculateChanges for tombstones written before they kept blob keys (RFC 8620 §5.2)', async () => {
      const s0 = await jmapc('state');
      await withImap(async (c) => {
        const lock = await c.getMailboxLock('INBOX');
        try {
          await c.messageDelete('1', { uid: false });
        } finally {
          lock.release();
        }
      });
      // As an index file from before: the tombstone without its blob key.
      const db = new DatabaseSync(path.join(sys.ts.dataDir, 'index.sqlite'));
      db.exec('DELETE FROM tombstone_blobs');
      db.close();
      // The development HTTP listener on loopback (Node's fetch does not trust the test certificate).
      const res = await fetch(`http://127.0.0.1:${sys.ts.port('http')}/jmap/api`, {
        method: 'POST',
        headers: { Authorization: sys.auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'],
          methodCalls: [['Email/changes', { accountId: s0.accountId, sinceState: s0.emailState }, 'c']],
        }),
      });
      const [[name, body]] = ((await res.json()) as any).methodResponses;
      expect([name, body.type]).toEqual(['error', 'cannotCalculateChanges']);
    });

  it('a second Email/query + Email/get lists no mailbox (the change log brings the account forward) and reads no whole message', async () => {
    await jmapc('state');
    await appendToMailbox(sys.ts.adapters, sys.user, 'INBOX', message('later'));
    indexCalls.clear();
    blobCalls.clear();
    const out = await jmapc('state');
    expect(out.emails.later.preview).toBe('Hello from later.');
    expect(indexCalls.get('listMessages') ?? 0).toBe(0);
    expect(indexCalls.get('changesSince') ?? 0).toBeGreaterThan(0);
    // The preview is a ranged read of the text part, not the message.
    expect(blobCalls.get('get') ?? 0).toBe(0);
    expect(blobCalls.get('getRange') ?? 0).toBeGreaterThan(0);
  });
});
