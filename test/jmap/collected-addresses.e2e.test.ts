/**
 * Collected addresses (core/contacts/collected.ts): recipients of mail sent through JMAP
 * EmailSubmission/set and through SMTP submission (Python smtplib, port 587) land in the
 * sender's "Collected addresses" book, visible over JMAP for Contacts, with the display name of
 * the To: field; an address already on a card (in any book) or collected before is not added
 * again; `mailctl contacts collect <address> off` stops it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMailctl } from '#core/admin/mailctl.ts';
import { ADAPTER_KINDS, eventually } from '../support/mail-system.ts';
import { smtplibSend } from '../support/smtplib.ts';
import { startJmapSystem, type JmapTestSystem } from './support/jmap-server.ts';

const USING = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail', 'urn:ietf:params:jmap:submission', 'urn:ietf:params:jmap:contacts'];

describe.each(ADAPTER_KINDS)('collected addresses (%s adapters)', (kind) => {
  let sys: JmapTestSystem;
  let accountId: string;
  let drafts: string;
  let identityId: string;
  const bob = 'bob@example.test';
  const carol = 'carol@example.test';

  async function call(method: string, args: Record<string, unknown>): Promise<any> {
    const res = await fetch(`${sys.base}/jmap/api`, {
      method: 'POST',
      headers: { Authorization: sys.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ using: USING, methodCalls: [[method, { accountId, ...args }, 'c']] }),
    });
    const [[name, result]] = ((await res.json()) as any).methodResponses;
    expect(name, JSON.stringify(result)).toBe(method);
    return result;
  }
  /** Sends over JMAP: a draft to `to`, then EmailSubmission/set. */
  async function sendJmap(to: Array<{ name?: string; email: string }>): Promise<void> {
    const e = await call('Email/set', {
      create: {
        d: {
          mailboxIds: { [drafts]: true },
          from: [{ email: sys.user }],
          to,
          subject: 'hello',
          textBody: [{ partId: 't' }],
          bodyValues: { t: { value: 'hi' } },
        },
      },
    });
    const s = await call('EmailSubmission/set', { create: { s: { identityId, emailId: e.created.d.id } } });
    expect(s.notCreated ?? {}).toEqual({});
  }
  async function collected(): Promise<Array<{ name: string; email: string }>> {
    const q = await call('ContactCard/query', { filter: { inAddressBook: 'collected' } });
    if (q.ids.length === 0) return [];
    const g = await call('ContactCard/get', { ids: q.ids });
    return g.list
      .map((c: any) => ({ name: c.name.full, email: (Object.values(c.emails)[0] as any).address }))
      .sort((a: any, b: any) => (a.email < b.email ? -1 : 1));
  }
  const delivered = (user: string, n: number) => eventually(async () => ((await sys.ts.adapters.index.getMailbox(user, 'INBOX'))?.messageCount ?? 0) >= n);

  beforeAll(async () => {
    sys = await startJmapSystem({ plain: true, adapters: kind, env: { MAIL_ALLOW_PLAINTEXT_LOOPBACK: 'true' } });
    await sys.ts.addUser(bob, 'bob password');
    await sys.ts.addUser(carol, 'carol password');
    const session = (await (await fetch(`${sys.base}/.well-known/jmap`, { headers: { Authorization: sys.auth } })).json()) as any;
    accountId = session.primaryAccounts['urn:ietf:params:jmap:mail'];
    const boxes = await call('Mailbox/get', { ids: null });
    drafts = boxes.list.find((m: any) => m.role === 'drafts').id;
    identityId = (await call('Identity/get', { ids: null })).list[0].id;
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('collects the recipient of an EmailSubmission with its display name, into an address book JMAP lists', async () => {
    await sendJmap([{ name: 'Bob Builder', email: bob }]);
    await delivered(bob, 1);
    expect(await eventually(async () => (await collected()).length > 0 && collected())).toEqual([{ name: 'Bob Builder', email: bob }]);
    const books = await call('AddressBook/get', { ids: ['collected'] });
    expect(books.list[0]).toMatchObject({ id: 'collected', name: 'Collected addresses', isDefault: false });
    // The default book still exists (made with the Collected one: CardDAV and JMAP make it only for a user with no book).
    expect((await call('AddressBook/get', { ids: null })).list.map((b: any) => b.id).sort()).toEqual(['collected', 'default']);
  });

  it('collects recipients of SMTP submission (smtplib) without duplicating one collected before', async () => {
    const r = await smtplibSend({
      port: sys.ts.port('submission'),
      auth: { user: sys.user, password: sys.password },
      from: sys.user,
      to: [bob, carol],
      data: Buffer.from(`From: ${sys.user}\r\nTo: Robert <${bob}>, "Carol C." <${carol}>\r\nSubject: both\r\n\r\nhi\r\n`),
    });
    expect(r.code, r.stderr).toBe(0);
    await delivered(carol, 1);
    expect(
      await eventually(async () => {
        const c = await collected();
        return c.length === 2 && c;
      }),
    ).toEqual([
      { name: 'Bob Builder', email: bob },
      { name: 'Carol C.', email: carol },
    ]);
  });

  it('does not collect an address already on a card of another book, nor anything once mailctl turns collecting off', async () => {
    const dave = 'dave@example.test';
    await sys.ts.addUser(dave, 'dave password');
    const made = await call('ContactCard/set', {
      create: { d: { addressBookIds: { default: true }, name: { full: 'Dave' }, emails: { e: { address: 'Dave@Example.test' } } } },
    });
    expect(made.notCreated).toBeNull();
    await sendJmap([{ email: dave }]);
    await delivered(dave, 1);
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l), readPassword: async () => '' };
    expect(await runMailctl(['contacts', 'collect', sys.user, 'off'], sys.ts.adapters, io as never)).toBe(0);
    expect(out).toContain(`collecting recipients for ${sys.user}: off`);
    const erin = 'erin@example.test';
    await sys.ts.addUser(erin, 'erin password');
    await sendJmap([{ email: erin }]);
    await delivered(erin, 1);
    // Both deliveries are done (the collecting runs before the ingest job finishes): nothing new.
    await new Promise((r) => setTimeout(r, 300));
    expect((await collected()).map((c) => c.email)).toEqual([bob, carol]);
    expect(await runMailctl(['contacts', 'collect', sys.user, 'on'], sys.ts.adapters, io as never)).toBe(0);
    expect(out).toContain(`collecting recipients for ${sys.user}: on`);
  });
});
