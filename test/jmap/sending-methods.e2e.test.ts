/**
 * Identity (RFC 8621 §6), EmailSubmission (§7) and VacationResponse (§8) over the plain
 * loopback listener, on both adapter sets: the session advertises the capabilities, the
 * sender checks of SMTP submission refuse what they refuse there (forbiddenFrom,
 * forbiddenMailFrom, invalidRecipients, noRecipients), undoStatus is final (cannotUnsend),
 * /changes follow creates, updates and destroys, onSuccessDestroyEmail removes the draft, the
 * VacationResponse is a singleton, and arguments of every wrong type get a typed error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/clients.ts';
import { ADAPTER_KINDS, eventually } from '../support/mail-system.ts';
import { startJmapSystem, type JmapTestSystem } from './support/jmap-server.ts';

const SUBMISSION = 'urn:ietf:params:jmap:submission';
const VACATION = 'urn:ietf:params:jmap:vacationresponse';
const USING = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail', SUBMISSION, VACATION];

describe.each(ADAPTER_KINDS)('JMAP Identity, EmailSubmission, VacationResponse (%s adapters)', (kind) => {
  let sys: JmapTestSystem;
  let accountId: string;
  let drafts: string;
  let identityId: string;
  const bob = 'bob@example.test';
  const request = async (calls: Array<[string, Record<string, unknown>, string]>): Promise<any[]> => {
    const res = await fetch(`${sys.base}/jmap/api`, {
      method: 'POST',
      headers: { Authorization: sys.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ using: USING, methodCalls: calls.map(([m, a, c]) => [m, { accountId, ...a }, c]) }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as any).methodResponses;
  };
  const call = async (method: string, args: Record<string, unknown>): Promise<any> => (await request([[method, args, 'c']]))[0];
  const draft = (props: Record<string, unknown> = {}) => ({
    mailboxIds: { [drafts]: true },
    keywords: { $draft: true },
    from: [{ email: sys.user }],
    to: [{ email: bob }],
    subject: 'hi',
    textBody: [{ partId: 't' }],
    bodyValues: { t: { value: 'hello' } },
    ...props,
  });
  const createDraft = async (props: Record<string, unknown> = {}): Promise<string> => {
    const [, r] = await call('Email/set', { create: { d: draft(props) } });
    expect(r.notCreated ?? {}).toEqual({});
    return r.created.d.id;
  };

  beforeAll(async () => {
    sys = await startJmapSystem({ plain: true, adapters: kind, env: { MAIL_ALLOW_PLAINTEXT_LOOPBACK: 'true' } });
    await sys.ts.addUser(bob, 'bob password');
    const session = (await (await fetch(`${sys.base}/.well-known/jmap`, { headers: { Authorization: sys.auth } })).json()) as any;
    accountId = session.primaryAccounts[SUBMISSION];
    expect(session.capabilities[SUBMISSION]).toEqual({});
    expect(session.capabilities[VACATION]).toEqual({});
    expect(session.accounts[accountId].accountCapabilities[SUBMISSION]).toEqual({ maxDelayedSend: 0, submissionExtensions: {} });
    const [, boxes] = await call('Mailbox/get', { ids: null });
    drafts = boxes.list.find((m: any) => m.role === 'drafts').id;
    const [, ids] = await call('Identity/get', { ids: null });
    identityId = ids.list[0].id;
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('offers exactly the addresses submission accepts: forbiddenFrom for another, forbidden to destroy the default; /changes follows updates', async () => {
    const [, got] = await call('Identity/get', { ids: null });
    expect(got.list).toEqual([{ id: identityId, name: '', email: sys.user, replyTo: null, bcc: null, textSignature: '', htmlSignature: '', mayDelete: false }]);
    const [, set] = await call('Identity/set', {
      create: { other: { email: 'mallory@example.test' }, mine: { email: sys.user, name: 'Alice at work' }, bad: { email: sys.user, name: 7 } },
      update: { [identityId]: { name: 'Alice' } },
      destroy: [identityId],
    });
    expect(set.notCreated.other.type).toBe('forbiddenFrom');
    expect(set.notCreated.bad).toMatchObject({ type: 'invalidProperties', properties: ['name'] });
    expect(set.created.mine).toMatchObject({ id: expect.stringMatching(/^I/), mayDelete: true });
    expect(set.updated).toEqual({ [identityId]: null });
    expect(set.notDestroyed[identityId].type).toBe('forbidden');
    const [, changes] = await call('Identity/changes', { sinceState: set.oldState });
    expect(changes).toMatchObject({ created: [set.created.mine.id], updated: [identityId], destroyed: [], newState: set.newState });
    const [, del] = await call('Identity/set', { destroy: [set.created.mine.id], ifInState: set.newState });
    expect(del.destroyed).toEqual([set.created.mine.id]);
    const [, after] = await call('Identity/changes', { sinceState: set.newState });
    expect(after.destroyed).toEqual([set.created.mine.id]);
    const [, stale] = await call('Identity/set', { update: { [identityId]: { name: 'x' } }, ifInState: set.newState });
    expect(stale).toEqual(expect.objectContaining({ type: 'stateMismatch' }));
  });

  it('refuses what SMTP submission refuses, with the RFC 8621 §7.5 SetError types', async () => {
    const notMine = await createDraft({ from: [{ email: 'mallory@example.net' }] });
    const noRcpt = await createDraft({ to: null });
    const unknownRcpt = await createDraft({ to: [{ email: 'nobody@example.test' }, { email: bob }] });
    const fine = await createDraft();
    const [, r] = await call('EmailSubmission/set', {
      create: {
        // The envelope taken from that From: is mallory's (§7.5): forbiddenMailFrom; alice's envelope with mallory's From: is forbiddenFrom.
        derived: { identityId, emailId: notMine },
        from: { identityId, emailId: notMine, envelope: { mailFrom: { email: sys.user }, rcptTo: [{ email: bob }] } },
        none: { identityId, emailId: noRcpt },
        unknown: { identityId, emailId: unknownRcpt },
        envelope: { identityId, emailId: fine, envelope: { mailFrom: { email: bob }, rcptTo: [{ email: bob }] } },
        params: { identityId, emailId: fine, envelope: { mailFrom: { email: sys.user, parameters: { SIZE: '10' } }, rcptTo: [{ email: bob }] } },
        noEmail: { identityId, emailId: 'Mnothing' },
        noIdentity: { identityId: 'Inothing', emailId: fine },
      },
    });
    expect(r.created).toEqual({});
    expect(r.notCreated.derived.type).toBe('forbiddenMailFrom');
    expect(r.notCreated.from.type).toBe('forbiddenFrom');
    expect(r.notCreated.none.type).toBe('noRecipients');
    expect(r.notCreated.unknown).toMatchObject({ type: 'invalidRecipients', invalidRecipients: ['nobody@example.test'] });
    expect(r.notCreated.envelope.type).toBe('forbiddenMailFrom');
    expect(r.notCreated.params).toMatchObject({ type: 'invalidProperties', properties: ['envelope'] });
    expect(r.notCreated.noEmail).toMatchObject({ type: 'invalidProperties', properties: ['emailId'] });
    expect(r.notCreated.noIdentity).toMatchObject({ type: 'invalidProperties', properties: ['identityId'] });
    expect(r.newState).toBe(r.oldState);
    // Nothing went out: bob's INBOX is still empty.
    const bobs = await sys.ts.adapters.index.getMailbox(bob, 'INBOX');
    expect(bobs?.messageCount).toBe(0);
  });

  it('sends with an explicit envelope, is final at once (cannotUnsend), destroys the draft on success, and /changes, /query follow', async () => {
    const emailId = await createDraft({ subject: 'with envelope' });
    const [, before] = await call('EmailSubmission/get', { ids: [] });
    const responses = await request([
      [
        'EmailSubmission/set',
        {
          create: { s: { identityId, emailId, envelope: { mailFrom: { email: sys.user }, rcptTo: [{ email: bob }] } } },
          onSuccessDestroyEmail: ['#s'],
        },
        'c1',
      ],
      ['EmailSubmission/get', { ids: ['#s'], properties: ['emailId', 'undoStatus', 'envelope', 'deliveryStatus'] }, 'c2'],
    ]);
    expect(responses.map((r) => [r[0], r[2]])).toEqual([
      ['EmailSubmission/set', 'c1'],
      ['Email/set', 'c1'],
      ['EmailSubmission/get', 'c2'],
    ]);
    const id = responses[0][1].created.s.id;
    expect(responses[1][1].destroyed).toEqual([emailId]);
    expect(responses[2][1].list).toEqual([
      {
        id,
        emailId,
        undoStatus: 'final',
        deliveryStatus: null,
        envelope: { mailFrom: { email: sys.user, parameters: null }, rcptTo: [{ email: bob, parameters: null }] },
      },
    ]);
    await eventually(async () => ((await sys.ts.adapters.index.getMailbox(bob, 'INBOX'))?.messageCount ?? 0) > 0);

    const [, cancel] = await call('EmailSubmission/set', { update: { [id]: { undoStatus: 'canceled' } } });
    expect(cancel.notUpdated[id].type).toBe('cannotUnsend');
    const [, changes] = await call('EmailSubmission/changes', { sinceState: before.state });
    expect(changes).toMatchObject({ created: [id], updated: [], destroyed: [] });
    const [, q] = await call('EmailSubmission/query', {
      filter: { emailIds: [emailId], undoStatus: 'final' },
      sort: [{ property: 'sentAt', isAscending: false }],
      calculateTotal: true,
    });
    expect(q).toMatchObject({ ids: [id], total: 1 });
    const [, gone] = await call('EmailSubmission/set', { destroy: [id] });
    expect(gone.destroyed).toEqual([id]);
    const [, later] = await call('EmailSubmission/changes', { sinceState: changes.newState });
    expect(later.destroyed).toEqual([id]);
    expect((await call('EmailSubmission/changes', { sinceState: 'nonsense' }))[1].type).toBe('cannotCalculateChanges');
  });

  it('forgets submissions a week after they were sent (RFC 8621 §7 lets a server delete them), and /changes says so', async () => {
    const old = {
      identityId,
      emailId: 'Mgone',
      threadId: 'Tgone',
      envelope: { mailFrom: { email: sys.user, parameters: null }, rcptTo: [] },
      undoStatus: 'final',
      deliveryStatus: null,
      dsnBlobIds: [],
      mdnBlobIds: [],
    };
    await sys.ts.adapters.index.putAccountObject(
      sys.user,
      'EmailSubmission',
      'Sold',
      JSON.stringify({ ...old, sendAt: new Date(Date.now() - 8 * 86400_000).toISOString() }),
    );
    await sys.ts.adapters.index.putAccountObject(
      sys.user,
      'EmailSubmission',
      'Srecent',
      JSON.stringify({ ...old, sendAt: new Date(Date.now() - 6 * 86400_000).toISOString() }),
    );
    const [, before] = await call('EmailSubmission/get', { ids: ['Sold', 'Srecent'], properties: ['id'] });
    expect(before.list.map((x: any) => x.id)).toEqual(['Sold', 'Srecent']);
    const [, set] = await call('EmailSubmission/set', { update: { Srecent: { undoStatus: 'final' } } });
    expect(set.updated).toEqual({ Srecent: null });
    const [, after] = await call('EmailSubmission/get', { ids: ['Sold', 'Srecent'], properties: ['id'] });
    expect(after).toMatchObject({ list: [{ id: 'Srecent' }], notFound: ['Sold'] });
    const [, changes] = await call('EmailSubmission/changes', { sinceState: before.state });
    expect(changes.destroyed).toEqual(['Sold']);
  });

  it('keeps one VacationResponse: get, set, singleton errors, bad dates invalidProperties, stale state stateMismatch', async () => {
    const [, got] = await call('VacationResponse/get', { ids: null });
    expect(got.list).toEqual([{ id: 'singleton', isEnabled: false, fromDate: null, toDate: null, subject: null, textBody: null, htmlBody: null }]);
    const [, set] = await call('VacationResponse/set', {
      create: { x: { isEnabled: true } },
      update: { singleton: { isEnabled: true, fromDate: '2026-12-01T00:00:00Z', textBody: 'Away' } },
      destroy: ['singleton'],
    });
    expect(set.notCreated.x.type).toBe('singleton');
    expect(set.notDestroyed.singleton.type).toBe('singleton');
    expect(set.updated).toEqual({ singleton: null });
    const [, bad] = await call('VacationResponse/set', { update: { singleton: { toDate: 'next week' } } });
    expect(bad.notUpdated.singleton).toMatchObject({ type: 'invalidProperties', properties: ['toDate'] });
    const [, stale] = await call('VacationResponse/set', { ifInState: set.oldState, update: { singleton: { isEnabled: false } } });
    expect(stale.type).toBe('stateMismatch');
    const [, after] = await call('VacationResponse/get', { ids: ['singleton', 'other'] });
    expect(after.list[0]).toMatchObject({ isEnabled: true, fromDate: '2026-12-01T00:00:00Z', textBody: 'Away' });
    expect(after.notFound).toEqual(['other']);
    const [, huge] = await call('VacationResponse/set', { update: { singleton: { htmlBody: 'x'.repeat(70_000) } } });
    expect(huge.notUpdated.singleton.type).toBe('tooLarge');
  });
});

// Argument checking does not depend on the store: the sweep runs on the local adapters (on the
// emulator its 2,100 calls take a minute).
describe('JMAP Identity, EmailSubmission, VacationResponse given bad arguments', () => {
  let sys: JmapTestSystem;
  let accountId: string;
  const request = async (calls: Array<[string, Record<string, unknown>, string]>): Promise<any[]> => {
    const res = await fetch(`${sys.base}/jmap/api`, {
      method: 'POST',
      headers: { Authorization: sys.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ using: USING, methodCalls: calls.map(([m, a, c]) => [m, { accountId, ...a }, c]) }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as any).methodResponses;
  };
  beforeAll(async () => {
    sys = await startJmapSystem({ plain: true, env: { MAIL_ALLOW_PLAINTEXT_LOOPBACK: 'true' } });
    const session = (await (await fetch(`${sys.base}/.well-known/jmap`, { headers: { Authorization: sys.auth } })).json()) as any;
    accountId = session.primaryAccounts[SUBMISSION];
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('answers every new method with a result or a typed error, never serverFail, for arguments of every wrong type', async () => {
    const methods = [
      'Identity/get',
      'Identity/changes',
      'Identity/set',
      'EmailSubmission/get',
      'EmailSubmission/changes',
      'EmailSubmission/query',
      'EmailSubmission/queryChanges',
      'EmailSubmission/set',
      'VacationResponse/get',
      'VacationResponse/set',
    ];
    const values = [null, 0, -1, 1.5, 'x', '', true, [], [1], {}, { a: 1 }, { a: { b: 1 } }, ['#', null], { operator: 'XOR' }];
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
      'onSuccessUpdateEmail',
      'onSuccessDestroyEmail',
    ];
    const calls: Array<[string, Record<string, unknown>, string]> = [];
    let n = 0;
    for (const m of methods) for (const name of names) for (const v of values) calls.push([m, { [name]: v }, `c${n++}`]);
    for (let i = 0; i < calls.length; i += 60) {
      const responses = await request(calls.slice(i, i + 60));
      for (const r of responses) {
        if (r[0] === 'error') expect(r[1].type, JSON.stringify(calls.find((c) => c[2] === r[2]))).not.toBe('serverFail');
      }
    }
  }, 120_000);
});

// The remote half of the path: a submission to another domain, and an auto-reply to a remote
// sender, leave through the outbound queue (here to a capturing SMTP hand-over).
describe('JMAP sending to other domains goes through the outbound queue', () => {
  let sys: JmapTestSystem;
  let accountId: string;
  const sent: Array<{ from: string; to: string[]; message: string }> = [];
  const call = async (method: string, args: Record<string, unknown>): Promise<any> => {
    const res = await fetch(`${sys.base}/jmap/api`, {
      method: 'POST',
      headers: { Authorization: sys.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ using: USING, methodCalls: [[method, { accountId, ...args }, 'c']] }),
    });
    return ((await res.json()) as any).methodResponses[0];
  };
  beforeAll(async () => {
    sys = await startJmapSystem({
      plain: true,
      env: { MAIL_ALLOW_PLAINTEXT_LOOPBACK: 'true' },
      outbound: {
        resolver: {
          mx: async () => [{ exchange: 'mx.example.net', priority: 10 }],
          addresses: async () => ['192.0.2.1'],
          txt: async () => [],
        },
        deliver: async (_target, envelope, message) => {
          sent.push({ from: envelope.from, to: envelope.to, message: message.toString('latin1') });
          return { kind: 'done', replies: envelope.to.map((recipient) => ({ recipient, code: 250, reply: '250 2.0.0 ok' })) };
        },
      },
    });
    const session = (await (await fetch(`${sys.base}/.well-known/jmap`, { headers: { Authorization: sys.auth } })).json()) as any;
    accountId = session.primaryAccounts[SUBMISSION];
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('sends a submission to a remote recipient from the user, without Bcc: or our Return-Path, with a Received: of ours', async () => {
    const [, boxes] = await call('Mailbox/get', { ids: null });
    const drafts = boxes.list.find((m: any) => m.role === 'drafts').id;
    const [, ids] = await call('Identity/get', {});
    const [, email] = await call('Email/set', {
      create: {
        d: {
          mailboxIds: { [drafts]: true },
          from: [{ email: sys.user }],
          to: [{ email: 'carol@example.net' }],
          bcc: [{ email: 'dave@example.net' }],
          subject: 'out',
          textBody: [{ partId: 't' }],
          bodyValues: { t: { value: 'to the world' } },
        },
      },
    });
    const [, sub] = await call('EmailSubmission/set', { create: { s: { identityId: ids.list[0].id, emailId: email.created.d.id } } });
    expect(sub.notCreated).toEqual({});
    const out = await eventually(async () => sent.find((m) => m.message.includes('Subject: out')));
    expect(out.from).toBe(sys.user);
    expect(out.to.sort()).toEqual(['carol@example.net', 'dave@example.net']);
    expect(out.message).not.toMatch(/^Bcc:/im);
    expect(out.message).not.toMatch(/^Return-Path:/im);
    expect(out.message).toMatch(/^Received: from unknown \(\[127\.0\.0\.1\]\)\r\n\tby mx\.test with JMAP id /m);
  });

  it('answers a remote sender on vacation with the null envelope sender (RFC 3834 §3.3) through the outbound queue', async () => {
    const [, set] = await call('VacationResponse/set', { update: { singleton: { isEnabled: true, textBody: 'Out of office' } } });
    expect(set.updated).toEqual({ singleton: null });
    const r = await run('python3', [
      '-c',
      `import smtplib,sys\ns=smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)\ns.sendmail("erin@example.net", ["${sys.user}"], b"From: erin@example.net\\r\\nTo: ${sys.user}\\r\\nSubject: question\\r\\n\\r\\nHi\\r\\n")\ns.quit()`,
      String(sys.ts.port('smtp-mx')),
    ]);
    expect(r.code).toBe(0);
    const reply = await eventually(async () => sent.find((m) => m.to.includes('erin@example.net')));
    expect(reply.from).toBe('');
    expect(reply.message).toMatch(/^Auto-Submitted: auto-replied\r$/m);
    expect(reply.message).toMatch(/^Subject: Auto: question\r$/m);
    expect(reply.message).toContain('Out of office');
  });
});
