/**
 * One user's JMAP session cannot read or change another user's mail or contacts through any
 * call (issue 13, security): with alice's credentials, every id of bob's — his account id, his
 * mailbox, email, thread and blob ids, his contact card — is answered as not found (RFC 8620
 * §3.6.1 accountNotFound, §5.1 notFound, §6.2 404), and bob's mail is untouched afterwards,
 * as IMAP shows him.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendToMailbox } from '#core/mailbox/writes.ts';
import { startJmapSystem, type JmapTestSystem } from './support/jmap-server.ts';

const USING = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail', 'urn:ietf:params:jmap:submission', 'urn:ietf:params:jmap:contacts'];
const BOB = 'bob@example.test';
const BOB_PASSWORD = 'bob secret';

describe('JMAP: a session reaches only its own account', () => {
  let sys: JmapTestSystem;
  const bobAuth = 'Basic ' + Buffer.from(`${BOB}:${BOB_PASSWORD}`).toString('base64');
  const bob: { accountId: string; inbox: string; email: string; thread: string; blob: string; card: string } = {
    accountId: '',
    inbox: '',
    email: '',
    thread: '',
    blob: '',
    card: '',
  };
  let aliceAccount = '';
  const api = async (auth: string, calls: unknown[]): Promise<any[]> => {
    const res = await fetch(`${sys.base}/jmap/api`, {
      method: 'POST',
      headers: { Authorization: auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ using: USING, methodCalls: calls }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { methodResponses: any[] }).methodResponses;
  };
  const accountOf = async (auth: string) =>
    ((await (await fetch(`${sys.base}/.well-known/jmap`, { headers: { Authorization: auth } })).json()) as any).primaryAccounts[
      'urn:ietf:params:jmap:mail'
    ] as string;

  beforeAll(async () => {
    sys = await startJmapSystem({ plain: true });
    await sys.ts.addUser(BOB, BOB_PASSWORD);
    await appendToMailbox(
      sys.ts.adapters,
      BOB,
      'INBOX',
      Buffer.from('From: carol@example.net\r\nTo: bob@example.test\r\nSubject: for bob only\r\nMessage-ID: <bob-1@example.net>\r\n\r\nsecret\r\n'),
    );
    bob.accountId = await accountOf(bobAuth);
    aliceAccount = await accountOf(sys.auth);
    const [[, boxes], [, emails], [, cards]] = await api(bobAuth, [
      ['Mailbox/get', { accountId: bob.accountId, ids: null }, 'm'],
      ['Email/query', { accountId: bob.accountId }, 'q'],
      ['ContactCard/set', { accountId: bob.accountId, create: { c: { '@type': 'Card', version: '1.0', name: { full: 'Dana Private' } } } }, 'c'],
    ]);
    bob.inbox = boxes.list.find((b: any) => b.role === 'inbox').id;
    bob.email = emails.ids[0];
    bob.card = cards.created.c.id;
    const [[, got]] = await api(bobAuth, [['Email/get', { accountId: bob.accountId, ids: [bob.email], properties: ['threadId', 'blobId'] }, 'g']]);
    bob.thread = got.list[0].threadId;
    bob.blob = got.list[0].blobId;
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it("every method called with bob's account id is accountNotFound (RFC 8620 §3.6.1)", async () => {
    const methods: Array<[string, Record<string, unknown>]> = [
      ['Mailbox/get', { ids: null }],
      ['Email/get', { ids: [bob.email] }],
      ['Email/query', {}],
      ['Email/set', { update: { [bob.email]: { 'keywords/$seen': true } } }],
      ['Email/set', { destroy: [bob.email] }],
      ['Thread/get', { ids: [bob.thread] }],
      ['Email/changes', { sinceState: '0' }],
      ['SearchSnippet/get', { emailIds: [bob.email], filter: { text: 'secret' } }],
      ['Email/copy', { fromAccountId: bob.accountId, create: { x: { id: bob.email, mailboxIds: { [bob.inbox]: true } } } }],
      ['Identity/get', { ids: null }],
      ['ContactCard/get', { ids: [bob.card] }],
      ['ContactCard/set', { destroy: [bob.card] }],
      ['AddressBook/get', { ids: null }],
    ];
    const answers = await api(
      sys.auth,
      methods.map(([m, args], i) => [m, { accountId: bob.accountId, ...args }, String(i)]),
    );
    for (const [i, [name, args]] of answers.entries()) expect([methods[i][0], name, args.type]).toEqual([methods[i][0], 'error', 'accountNotFound']);
  });

  it("bob's ids in alice's own account are notFound, never his data", async () => {
    const own = (args: Record<string, unknown>) => ({ accountId: aliceAccount, ...args });
    const [[, emails], [, threads], [, boxes], [, set], [, cards], [, copy]] = await api(sys.auth, [
      ['Email/get', own({ ids: [bob.email] }), 'e'],
      ['Thread/get', own({ ids: [bob.thread] }), 't'],
      ['Mailbox/get', own({ ids: [bob.inbox] }), 'm'],
      ['Email/set', own({ update: { [bob.email]: { 'keywords/$flagged': true } }, destroy: [bob.email] }), 's'],
      ['ContactCard/get', own({ ids: [bob.card] }), 'c'],
      ['Email/copy', { fromAccountId: bob.accountId, accountId: aliceAccount, create: { x: { id: bob.email, mailboxIds: {} } } }, 'y'],
    ]);
    expect(emails.list).toEqual([]);
    expect(emails.notFound).toEqual([bob.email]);
    expect(threads.list).toEqual([]);
    expect(threads.notFound).toEqual([bob.thread]);
    expect(boxes.list).toEqual([]);
    expect(boxes.notFound).toEqual([bob.inbox]);
    expect(set.notUpdated[bob.email].type).toBe('notFound');
    expect(set.notDestroyed[bob.email].type).toBe('notFound');
    expect(cards.list).toEqual([]);
    expect(cards.notFound).toEqual([bob.card]);
    expect(copy.type).toBe('fromAccountNotFound');
  });

  it("bob's blob cannot be downloaded by alice, through his account or hers; nor can she upload into his (404)", async () => {
    const get = (account: string) => fetch(`${sys.base}/jmap/download/${account}/${bob.blob}/m.eml`, { headers: { Authorization: sys.auth } });
    expect((await get(bob.accountId)).status).toBe(404);
    expect((await get(aliceAccount)).status).toBe(404);
    const up = await fetch(`${sys.base}/jmap/upload/${bob.accountId}/`, { method: 'POST', headers: { Authorization: sys.auth }, body: 'x' });
    expect(up.status).toBe(404);
    // Bob himself can.
    expect((await fetch(`${sys.base}/jmap/download/${bob.accountId}/${bob.blob}/m.eml`, { headers: { Authorization: bobAuth } })).status).toBe(200);
  });

  it("afterwards bob's message is as it was, seen over IMAP, and his contact is still there", async () => {
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: sys.ts.port('imap'),
      secure: false,
      auth: { user: BOB, pass: BOB_PASSWORD },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await c.connect();
    try {
      const lock = await c.getMailboxLock('INBOX');
      try {
        const msgs = [];
        for await (const m of c.fetch('1:*', { envelope: true, flags: true })) msgs.push({ subject: m.envelope!.subject, flags: [...m.flags!] });
        expect(msgs).toEqual([{ subject: 'for bob only', flags: [] }]);
      } finally {
        lock.release();
      }
    } finally {
      await c.logout();
    }
    const [[, cards]] = await api(bobAuth, [['ContactCard/get', { accountId: bob.accountId, ids: [bob.card], properties: ['name'] }, 'c']]);
    expect(cards.list[0].name.full).toBe('Dana Private');
  });
});
