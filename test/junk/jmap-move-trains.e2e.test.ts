/**
 * JMAP trains the junk filter as IMAP does (issue 14): an Email/set that moves a message into
 * the Junk mailbox (role "junk", RFC 8621 §2) trains it as spam, moving it back to INBOX
 * trains it as ham instead — the same MailboxWrites.copy path (core/junk/training.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelStats } from '#core/junk/classifier.ts';
import { junkModelsFor } from '#core/junk/model-store.ts';
import { junkTrainingSettled } from '#core/junk/training.ts';
import { appendToMailbox } from '#core/mailbox/writes.ts';
import { startJmapSystem, type JmapTestSystem } from '../jmap/support/jmap-server.ts';

const USING = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];

describe('junk filter: trained by JMAP Email/set', () => {
  let sys: JmapTestSystem;
  let accountId: string;
  const call = async (method: string, args: Record<string, unknown>): Promise<any> => {
    const res = await fetch(`${sys.base}/jmap/api`, {
      method: 'POST',
      headers: { Authorization: sys.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ using: USING, methodCalls: [[method, { accountId, ...args }, 'c']] }),
    });
    return ((await res.json()) as any).methodResponses[0];
  };
  beforeAll(async () => {
    sys = await startJmapSystem({ plain: true });
    const s = (await (await fetch(`${sys.base}/.well-known/jmap`, { headers: { Authorization: sys.auth } })).json()) as any;
    accountId = s.primaryAccounts['urn:ietf:params:jmap:mail'];
    await appendToMailbox(sys.ts.adapters, sys.user, 'INBOX', Buffer.from('From: offers@spam.test\r\nSubject: casino bonus\r\n\r\nfree casino bonus now\r\n'));
  }, 120_000);
  afterAll(async () => {
    await junkTrainingSettled();
    await sys?.stop();
  });

  it('a move into Junk trains spam; moving it back to INBOX trains it as ham instead', async () => {
    const [, boxes] = await call('Mailbox/get', { ids: null });
    const role = (r: string) => (boxes.list as Array<{ id: string; role: string | null }>).find((m) => m.role === r)!.id;
    const [, query] = await call('Email/query', { filter: { inMailbox: role('inbox') } });
    const id = query.ids[0] as string;
    const stats = async () => {
      await junkTrainingSettled();
      return modelStats(await junkModelsFor(sys.ts.adapters.blobs).update(sys.user, () => false));
    };
    const [, toJunk] = await call('Email/set', { update: { [id]: { mailboxIds: { [role('junk')]: true } } } });
    expect(Object.keys(toJunk.updated)).toEqual([id]);
    expect(await stats()).toMatchObject({ spam: 1, ham: 0 });
    const [, back] = await call('Email/set', { update: { [id]: { mailboxIds: { [role('inbox')]: true } } } });
    expect(Object.keys(back.updated)).toEqual([id]);
    expect(await stats()).toMatchObject({ spam: 0, ham: 1 });
  });
});
