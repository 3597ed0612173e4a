/**
 * JMAP Mail methods over the plain loopback listener (RFC 8621), on both adapter sets: Mailbox/set through the IMAP
 * write path, /changes from the change log, stale ifInState → stateMismatch (RFC 8620 §5.3),
 * Email/get body properties (§4.1.4) and blob download (RFC 8620 §6.2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendToMailbox } from '#core/mailbox/writes.ts';
import { ADAPTER_KINDS } from '../support/mail-system.ts';
import { startJmapSystem, type JmapTestSystem } from './support/jmap-server.ts';

const USING = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];

const MULTIPART = Buffer.from(
  [
    'From: =?UTF-8?Q?J=C3=BCrgen?= <juergen@example.net>',
    'To: Alice <alice@example.test>, bob@example.net',
    'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=',
    'Message-ID: <m1@example.net>',
    'References: <r0@example.net> <r1@example.net>',
    'Date: Tue, 1 Dec 2026 09:30:00 +0100',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: multipart/alternative; boundary="b2"',
    '',
    '--b2',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Gr=FC=DFe aus Berlin',
    '--b2',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<p>Gr\u00fc\u00dfe aus <b>Berlin</b></p>',
    '--b2--',
    '--b1',
    'Content-Type: application/pdf; name="report.pdf"',
    'Content-Disposition: attachment; filename="report.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('%PDF-1.4 fake').toString('base64'),
    '--b1--',
    '',
  ].join('\r\n'),
  'utf8',
);

describe.each(ADAPTER_KINDS)('JMAP Mail methods (%s adapters)', (kind) => {
  let sys: JmapTestSystem;
  let accountId: string;
  const call = async (method: string, args: Record<string, unknown>): Promise<any> => {
    const res = await fetch(`${sys.base}/jmap/api`, {
      method: 'POST',
      headers: { Authorization: sys.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ using: USING, methodCalls: [[method, { accountId, ...args }, 'c']] }),
    });
    const body = (await res.json()) as any;
    return body.methodResponses[0];
  };

  beforeAll(async () => {
    sys = await startJmapSystem({ plain: true, adapters: kind });
    const s = (await (await fetch(`${sys.base}/.well-known/jmap`, { headers: { Authorization: sys.auth } })).json()) as any;
    accountId = s.primaryAccounts['urn:ietf:params:jmap:mail'];
    await appendToMailbox(sys.ts.adapters, sys.user, 'INBOX', MULTIPART);
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('creates, renames (with parentId) and destroys a mailbox; the index IMAP lists from holds the same names (RFC 8621 §2.5)', async () => {
    const [, created] = await call('Mailbox/set', { create: { p: { name: 'Projects' }, c: { name: 'Child', parentId: '#p' } } });
    expect(created.notCreated).toEqual({});
    const parent = created.created.p.id;
    const child = created.created.c.id;
    expect((await sys.ts.adapters.index.listMailboxes(sys.user)).map((m) => m.name)).toEqual(expect.arrayContaining(['Projects', 'Projects/Child']));

    const [, renamed] = await call('Mailbox/set', { update: { [parent]: { name: 'Work' } } });
    expect(Object.keys(renamed.updated)).toEqual([parent]);
    const names = (await sys.ts.adapters.index.listMailboxes(sys.user)).map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['Work', 'Work/Child']));
    expect(names).not.toContain('Projects');

    const [, refused] = await call('Mailbox/set', { destroy: [parent] });
    expect(refused.notDestroyed[parent].type).toBe('mailboxHasChild');
    const [, gone] = await call('Mailbox/set', { destroy: [child] });
    expect(gone.destroyed).toEqual([child]);
    const [, dup] = await call('Mailbox/set', { create: { x: { name: 'Work' } } });
    expect(dup.notCreated.x.type).toBe('alreadyExists');
  });

  it('reports a created mailbox in Mailbox/changes and refuses a stale ifInState with stateMismatch (RFC 8620 §5.2, §5.3)', async () => {
    const [, before] = await call('Mailbox/get', { ids: [] });
    await call('Mailbox/set', { create: { n: { name: 'Later' } } });
    const [, changes] = await call('Mailbox/changes', { sinceState: before.state });
    expect(changes.created).toHaveLength(1);
    expect(changes.destroyed).toEqual([]);
    const [name, err] = await call('Mailbox/set', { ifInState: before.state, create: { y: { name: 'Never' } } });
    expect(name).toBe('error');
    expect(err.type).toBe('stateMismatch');
    expect((await sys.ts.adapters.index.listMailboxes(sys.user)).map((m) => m.name)).not.toContain('Never');
  });

  it('lets one of two Email/set requests with the same ifInState win over HTTP; the other and a later stale one get stateMismatch', async () => {
    const [, q] = await call('Email/query', {});
    const [, g] = await call('Email/get', { ids: q.ids, properties: ['id'] });
    const id = q.ids[0];
    const [r1, r2] = await Promise.all([
      call('Email/set', { ifInState: g.state, update: { [id]: { 'keywords/$flagged': true } } }),
      call('Email/set', { ifInState: g.state, update: { [id]: { 'keywords/$answered': true } } }),
    ]);
    expect([r1[0], r2[0]].sort()).toEqual(['Email/set', 'error']);
    expect([r1, r2].find((r) => r[0] === 'error')[1].type).toBe('stateMismatch');
    const [, stale] = await call('Email/set', { ifInState: g.state, update: { [id]: { 'keywords/$seen': true } } });
    expect(stale.type).toBe('stateMismatch');
  });

  it('answers Email/changes with the email whose keywords changed (from the index change log)', async () => {
    const [, q] = await call('Email/query', {});
    const [, g] = await call('Email/get', { ids: q.ids, properties: ['id'] });
    await call('Email/set', { update: { [q.ids[0]]: { 'keywords/$seen': true } } });
    const [, ch] = await call('Email/changes', { sinceState: g.state });
    expect(ch.updated).toEqual([q.ids[0]]);
    expect(ch.created).toEqual([]);
    expect(ch.newState).not.toBe(g.state);
  });

  it('gets headers in parsed forms, bodyStructure, textBody/htmlBody/attachments and decoded bodyValues (RFC 8621 §4.1)', async () => {
    const [, q] = await call('Email/query', { filter: { subject: 'grüße' } });
    expect(q.ids).toHaveLength(1);
    const [, g] = await call('Email/get', {
      ids: q.ids,
      properties: [
        'subject',
        'from',
        'to',
        'messageId',
        'references',
        'sentAt',
        'hasAttachment',
        'preview',
        'textBody',
        'htmlBody',
        'attachments',
        'bodyValues',
        'header:Subject:asRaw',
      ],
      fetchAllBodyValues: true,
    });
    const e = g.list[0];
    expect(e.subject).toBe('Grüße');
    expect(e.from).toEqual([{ name: 'Jürgen', email: 'juergen@example.net' }]);
    expect(e.to).toEqual([
      { name: 'Alice', email: 'alice@example.test' },
      { name: null, email: 'bob@example.net' },
    ]);
    expect(e.messageId).toEqual(['m1@example.net']);
    expect(e.references).toEqual(['r0@example.net', 'r1@example.net']);
    expect(e.sentAt).toBe('2026-12-01T08:30:00Z');
    expect(e['header:Subject:asRaw']).toBe(' =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=');
    expect(e.hasAttachment).toBe(true);
    expect(e.textBody.map((p: any) => p.type)).toEqual(['text/plain']);
    expect(e.htmlBody.map((p: any) => p.type)).toEqual(['text/html']);
    expect(e.attachments.map((p: any) => p.name)).toEqual(['report.pdf']);
    expect(e.bodyValues[e.textBody[0].partId].value).toBe('Grüße aus Berlin');
    expect(e.preview).toBe('Grüße aus Berlin');

    const url = `${sys.base}/jmap/download/${accountId}/${e.attachments[0].blobId}/report.pdf?accept=application/pdf`;
    const dl = await fetch(url, { headers: { Authorization: sys.auth } });
    expect(dl.status).toBe(200);
    expect(dl.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await dl.arrayBuffer()).toString()).toBe('%PDF-1.4 fake');
  });

  it('creates an Email from properties with text, HTML and an uploaded attachment into Drafts with $draft (RFC 8621 §4.6)', async () => {
    const up = await fetch(`${sys.base}/jmap/upload/${accountId}/`, {
      method: 'POST',
      headers: { Authorization: sys.auth, 'Content-Type': 'text/csv' },
      body: 'a,b\n1,2\n',
    });
    expect(up.status).toBe(201);
    const blob = (await up.json()) as any;
    expect(blob.size).toBe(8);
    const [, mbs] = await call('Mailbox/get', {});
    const drafts = mbs.list.find((m: any) => m.role === 'drafts');
    const [, set] = await call('Email/set', {
      create: {
        d1: {
          mailboxIds: { [drafts.id]: true },
          keywords: { $draft: true },
          from: [{ name: 'Alice', email: 'alice@example.test' }],
          to: [{ name: 'Bob', email: 'bob@example.net' }],
          subject: 'Draft with attachment',
          textBody: [{ partId: 't', type: 'text/plain' }],
          htmlBody: [{ partId: 'h', type: 'text/html' }],
          bodyValues: { t: { value: 'Plain words' }, h: { value: '<p>HTML words</p>' } },
          attachments: [{ blobId: blob.blobId, type: 'text/csv', name: 'data.csv' }],
        },
        bad: { mailboxIds: {}, subject: 'x' },
      },
    });
    expect(set.notCreated.bad.type).toBe('invalidProperties');
    const id = set.created.d1.id;
    const [, g] = await call('Email/get', {
      ids: [id],
      properties: ['subject', 'from', 'to', 'keywords', 'mailboxIds', 'attachments', 'bodyValues', 'textBody'],
      fetchTextBodyValues: true,
    });
    const e = g.list[0];
    expect(e).toMatchObject({ subject: 'Draft with attachment', keywords: { $draft: true }, mailboxIds: { [drafts.id]: true } });
    expect(e.to).toEqual([{ name: 'Bob', email: 'bob@example.net' }]);
    expect(e.bodyValues[e.textBody[0].partId].value).toBe('Plain words');
    expect(e.attachments.map((a: any) => a.name)).toEqual(['data.csv']);
    const mb = await sys.ts.adapters.index.getMailbox(sys.user, drafts.name);
    const [stored] = await sys.ts.adapters.index.listMessages(sys.user, mb!.id);
    expect(stored.flags).toContain('\\Draft');
  });

  it('refuses to download a blob of a message the account does not have (404)', async () => {
    const other = 'B' + Buffer.from('messages/2026/12/01/not-ours').toString('base64url');
    const dl = await fetch(`${sys.base}/jmap/download/${accountId}/${other}/x.eml`, { headers: { Authorization: sys.auth } });
    expect(dl.status).toBe(404);
  });

  it('answers invalidArguments for a wrong argument type and accountNotFound for another account', async () => {
    expect((await call('Email/get', { ids: 'nope' }))[1].type).toBe('invalidArguments');
    expect((await call('Mailbox/get', { accountId: 'aNotOurs' }))[1].type).toBe('accountNotFound');
  });
});

describe('JMAP methods given bad arguments', () => {
  let sys: JmapTestSystem;
  let accountId: string;
  beforeAll(async () => {
    sys = await startJmapSystem({ plain: true });
    const s = (await (await fetch(`${sys.base}/.well-known/jmap`, { headers: { Authorization: sys.auth } })).json()) as any;
    accountId = s.primaryAccounts['urn:ietf:params:jmap:mail'];
    await appendToMailbox(sys.ts.adapters, sys.user, 'INBOX', MULTIPART);
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('answers every method with a result or a typed error, never serverFail, for arguments of every wrong type', async () => {
    const methods = [
      'Mailbox/get',
      'Mailbox/changes',
      'Mailbox/query',
      'Mailbox/set',
      'Email/get',
      'Email/query',
      'Email/changes',
      'Email/set',
      'Email/import',
      'Thread/get',
      'Thread/changes',
      'SearchSnippet/get',
    ];
    const values = [null, 0, -1, 1.5, 'x', '', true, [], [1], {}, { a: 1 }, ['#', null], { operator: 'XOR' }];
    const names = [
      'ids',
      'properties',
      'filter',
      'sort',
      'position',
      'limit',
      'anchor',
      'sinceState',
      'maxChanges',
      'create',
      'update',
      'destroy',
      'ifInState',
      'emails',
      'emailIds',
      'bodyProperties',
      'maxBodyValueBytes',
    ];
    const calls: Array<[string, Record<string, unknown>, string]> = [];
    let n = 0;
    for (const m of methods) for (const name of names) for (const v of values) calls.push([m, { accountId, [name]: v }, `c${n++}`]);
    const types = new Set<string>();
    for (let i = 0; i < calls.length; i += 60) {
      const res = await fetch(`${sys.base}/jmap/api`, {
        method: 'POST',
        headers: { Authorization: sys.auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ using: USING, methodCalls: calls.slice(i, i + 60) }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as any;
      for (const r of body.methodResponses) {
        if (r[0] === 'error') types.add(r[1].type);
        expect(r[0] === 'error' ? r[1].type : 'ok').not.toBe('serverFail');
      }
    }
    expect(types).toContain('invalidArguments');
    // The mailbox is intact: the INBOX message is still there.
    const inbox = await sys.ts.adapters.index.getMailbox(sys.user, 'INBOX');
    expect(inbox?.messageCount).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
