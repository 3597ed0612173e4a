/**
 * Contract of the MailIndex port (core/ports/mail-index.ts), run against every adapter:
 * SQLite (test/contract/local.test.ts) and DynamoDB (the aws contract test). Uses only the
 * port interface. Each test gets a fresh, empty store from `make()`.
 *
 * Besides what the port's doc comments say, the suite pins these choices, which every
 * adapter must share:
 *  - errors are IndexError with code EXISTS / NOT_FOUND / CONFLICT / INVALID:
 *    removeDomain of a domain that still has users is CONFLICT; removeUser, setPasswordHash,
 *    renameMailbox, deleteMailbox of something absent are NOT_FOUND, setSubscribed for an
 *    unknown user too (a subscribed name need not be a mailbox);
 *    createMailbox for an unknown user is NOT_FOUND; message operations on a mailbox id that
 *    does not exist or belongs to another user are NOT_FOUND (invariant 4);
 *  - a deliveryKey is scoped to its mailbox and stays used after its message is expunged;
 *  - flags compare case-insensitively (RFC 3501 §9), and an updateFlags that changes nothing
 *    returns nothing and does not bump highestModseq (RFC 7162 §3.1.3 assigns new mod-sequences
 *    only to messages whose metadata changed);
 *  - UIDVALIDITY grows per user across delete/rename/recreate, and across removeUser+addUser.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MessageMeta } from '#core/mime/types.ts';
import { IndexError, type AppendResult, type MailIndex, type Mailbox, type NewMessage } from '#core/ports/mail-index.ts';

export interface MailIndexFixture {
  index: MailIndex;
  /** Another independent instance on the same underlying store (another process / container). */
  openAnother(): Promise<MailIndex>;
  /** Like openAnother, with the change log's retention set to `ms` (trimming tests). */
  openWithChangeLogRetention(ms: number): Promise<MailIndex>;
  /** Closes `index` and every instance openAnother() returned, and removes the store. */
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Lets other tasks run (adapters whose calls never wait on I/O would otherwise run one writer to the end). */
const yieldTurn = () => new Promise((r) => setImmediate(r));

/** Like Promise.all, but waits for every promise before throwing, so no call outlives the test. */
async function settleAll<T>(promises: Array<Promise<T>>): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  return settled.map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
}

async function indexError(p: Promise<unknown>): Promise<IndexError['code']> {
  try {
    await p;
  } catch (err) {
    if (err instanceof IndexError) return err.code;
    throw err;
  }
  throw new Error('expected an IndexError, but the call succeeded');
}

/** A small but complete MessageMeta (with a latin1 header byte, which must round-trip). */
export function sampleMeta(subject: string, size = 120): MessageMeta {
  const header = `From: "Al" <al@example.test>\r\nSubject: ${subject} caf\u00e9\r\n\r\n`;
  return {
    envelope: {
      date: 'Mon, 01 Jan 2024 10:00:00 +0000',
      subject,
      from: [{ name: '"Al"', adl: null, mailbox: 'al', host: 'example.test' }],
      sender: [{ name: '"Al"', adl: null, mailbox: 'al', host: 'example.test' }],
      replyTo: null,
      to: [
        { name: null, adl: null, mailbox: 'team', host: null },
        { name: null, adl: null, mailbox: 'bo', host: 'example.test' },
        { name: null, adl: null, mailbox: null, host: null },
      ],
      cc: null,
      bcc: null,
      inReplyTo: null,
      messageId: `<${subject.replace(/\W/g, '')}@example.test>`,
    },
    mime: {
      headerStart: 0,
      bodyStart: header.length,
      bodyEnd: size,
      type: 'multipart',
      subtype: 'mixed',
      params: [['boundary', 'b1']],
      id: null,
      description: null,
      encoding: '7BIT',
      size: size - header.length,
      lines: 3,
      md5: null,
      disposition: null,
      language: null,
      location: null,
      children: [
        {
          headerStart: header.length + 6,
          bodyStart: header.length + 40,
          bodyEnd: size - 8,
          type: 'text',
          subtype: 'plain',
          params: [['charset', 'utf-8']],
          id: '<part1@example.test>',
          description: 'first',
          encoding: 'QUOTED-PRINTABLE',
          size: size - 8 - header.length - 40,
          lines: 1,
          md5: null,
          disposition: { type: 'inline', params: [['filename', 'a b.txt']] },
          language: ['en', 'de'],
          location: null,
          children: [],
          message: null,
        },
      ],
      message: null,
    },
    size,
    header,
  };
}

let seq = 0;
function newMessage(subject: string, extra: Partial<NewMessage> = {}): NewMessage {
  seq += 1;
  return {
    blobKey: `messages/contract/${Date.now().toString(36)}-${seq}`,
    size: 120,
    internalDate: 1_700_000_000_000 + seq * 1000,
    flags: [],
    meta: sampleMeta(subject),
    ...extra,
  };
}

export function mailIndexContract(adapterName: string, make: () => Promise<MailIndexFixture>): void {
  describe(`MailIndex contract: ${adapterName}`, () => {
    let fx: MailIndexFixture;
    let ix: MailIndex;
    const alice = 'alice@example.test';
    const bob = 'bob@example.test';

    beforeEach(async () => {
      fx = await make();
      ix = fx.index;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    async function withUser(address = alice): Promise<void> {
      await ix.addUser({ address, passwordHash: 'scrypt$hash' });
    }

    async function mailboxWith(count: number, name = 'INBOX', user = alice): Promise<Mailbox> {
      const mb = await ix.createMailbox(user, name);
      for (let i = 1; i <= count; i++) await ix.appendMessage(user, mb.id, newMessage(`${name} ${i}`));
      return mb;
    }

    describe('domains', () => {
      it('add, get, list, remove; EXISTS on a second add, NOT_FOUND on removing an absent one', async () => {
        const d = await ix.addDomain('example.test');
        expect(d.name).toBe('example.test');
        expect(typeof d.createdAt).toBe('number');
        await ix.addDomain('other.test');
        expect(await ix.getDomain('example.test')).toEqual(d);
        expect(await ix.getDomain('nope.test')).toBeNull();
        expect((await ix.listDomains()).map((x) => x.name).sort()).toEqual(['example.test', 'other.test']);
        expect(await indexError(ix.addDomain('example.test'))).toBe('EXISTS');
        await ix.removeDomain('other.test');
        expect(await ix.getDomain('other.test')).toBeNull();
        expect((await ix.listDomains()).map((x) => x.name)).toEqual(['example.test']);
        expect(await indexError(ix.removeDomain('other.test'))).toBe('NOT_FOUND');
      });

      it('a domain carries its postmaster address (RFC 5321 §4.5.1): set at add, changed, cleared; NOT_FOUND for an absent domain', async () => {
        const d = await ix.addDomain('example.test');
        expect(d.postmaster).toBeNull();
        const o = await ix.addDomain('other.test', { postmaster: 'admin@example.test' });
        expect(o.postmaster).toBe('admin@example.test');
        expect(await ix.getDomain('other.test')).toEqual(o);
        expect((await ix.getDomain('example.test'))!.postmaster).toBeNull();
        const changed = await ix.setDomainPostmaster('example.test', 'alice@example.test');
        expect(changed).toEqual({ ...d, postmaster: 'alice@example.test' });
        expect(await ix.getDomain('example.test')).toEqual(changed);
        expect((await ix.listDomains()).map((x) => [x.name, x.postmaster])).toEqual([
          ['example.test', 'alice@example.test'],
          ['other.test', 'admin@example.test'],
        ]);
        expect((await ix.setDomainPostmaster('other.test', null)).postmaster).toBeNull();
        expect((await ix.getDomain('other.test'))!.postmaster).toBeNull();
        expect(await indexError(ix.setDomainPostmaster('nope.test', 'x@example.test'))).toBe('NOT_FOUND');
        expect(await ix.getDomain('nope.test')).toBeNull();
        // A removed and re-added domain starts with no postmaster of its own.
        await ix.removeDomain('example.test');
        expect((await ix.addDomain('example.test')).postmaster).toBeNull();
        expect((await ix.getDomain('example.test'))!.postmaster).toBeNull();
      });

      it('removeDomain is refused with CONFLICT while users of the domain remain', async () => {
        await ix.addDomain('example.test');
        await withUser();
        expect(await indexError(ix.removeDomain('example.test'))).toBe('CONFLICT');
        expect(await ix.getDomain('example.test')).not.toBeNull();
        await ix.removeUser(alice);
        await ix.removeDomain('example.test');
        expect(await ix.getDomain('example.test')).toBeNull();
      });
    });

    describe('users', () => {
      it('add, get, list by domain, set password hash, remove; EXISTS and NOT_FOUND', async () => {
        const u = await ix.addUser({ address: alice, passwordHash: 'h1' });
        expect(u).toMatchObject({ address: alice, passwordHash: 'h1' });
        expect(typeof u.createdAt).toBe('number');
        await ix.addUser({ address: bob, passwordHash: 'h2' });
        await ix.addUser({ address: 'carol@other.test', passwordHash: 'h3' });
        expect(await indexError(ix.addUser({ address: alice, passwordHash: 'x' }))).toBe('EXISTS');
        expect(await ix.getUser(alice)).toEqual(u);
        expect(await ix.getUser('nobody@example.test')).toBeNull();
        expect((await ix.listUsers('example.test')).map((x) => x.address).sort()).toEqual([alice, bob]);
        expect((await ix.listUsers('other.test')).map((x) => x.address)).toEqual(['carol@other.test']);
        expect((await ix.listUsers()).map((x) => x.address).sort()).toEqual([alice, bob, 'carol@other.test']);
        await ix.setPasswordHash(alice, 'h1b');
        expect((await ix.getUser(alice))?.passwordHash).toBe('h1b');
        expect(await indexError(ix.setPasswordHash('nobody@example.test', 'h'))).toBe('NOT_FOUND');
        await ix.removeUser(bob);
        expect(await ix.getUser(bob)).toBeNull();
        expect((await ix.listUsers('example.test')).map((x) => x.address)).toEqual([alice]);
        expect(await indexError(ix.removeUser(bob))).toBe('NOT_FOUND');
      });

      it('removeUser removes its mailboxes and messages and returns the blob keys no longer referenced', async () => {
        await withUser(alice);
        await withUser(bob);
        const a1 = await ix.createMailbox(alice, 'INBOX');
        const a2 = await ix.createMailbox(alice, 'Archive');
        const b1 = await ix.createMailbox(bob, 'INBOX');
        await ix.appendMessage(alice, a1.id, newMessage('only alice', { blobKey: 'blob/only-alice' }));
        await ix.appendMessage(alice, a2.id, newMessage('only alice 2', { blobKey: 'blob/only-alice-2' }));
        await ix.copyMessages(alice, a2.id, [1], a1.id);
        // The same blob delivered to two users (one message, two recipients).
        await ix.appendMessage(alice, a1.id, newMessage('shared', { blobKey: 'blob/shared' }));
        await ix.appendMessage(bob, b1.id, newMessage('shared', { blobKey: 'blob/shared' }));
        const { orphanedBlobs } = await ix.removeUser(alice);
        expect([...orphanedBlobs].sort()).toEqual(['blob/only-alice', 'blob/only-alice-2']);
        expect(await ix.listMailboxes(alice)).toEqual([]);
        expect(await ix.getMailbox(alice, 'INBOX')).toBeNull();
        expect(await ix.mailboxState(alice, a1.id)).toBeNull();
        expect((await ix.listMessages(bob, b1.id)).map((m) => m.blobKey)).toEqual(['blob/shared']);
        expect((await ix.removeUser(bob)).orphanedBlobs).toEqual(['blob/shared']);
      });
    });

    describe('mailboxes', () => {
      it('createMailbox gives a fresh mailbox; get, list and state agree', async () => {
        await withUser();
        const mb = await ix.createMailbox(alice, 'INBOX', { subscribed: true });
        expect(mb).toMatchObject({ user: alice, name: 'INBOX', uidNext: 1, messageCount: 0, specialUse: null });
        expect(typeof mb.id).toBe('string');
        expect(Number.isInteger(mb.uidValidity)).toBe(true);
        // RFC 3501 §2.3.1.1: UIDVALIDITY is a non-zero 32-bit unsigned number.
        expect(mb.uidValidity).toBeGreaterThan(0);
        expect(mb.uidValidity).toBeLessThanOrEqual(0xffffffff);
        expect(Number.isInteger(mb.highestModseq)).toBe(true);
        const sent = await ix.createMailbox(alice, 'Sent', { specialUse: '\\Sent' });
        expect(sent).toMatchObject({ specialUse: '\\Sent' });
        const nested = await ix.createMailbox(alice, 'Archiv/2024/Ünïcödé');
        expect(await ix.getMailbox(alice, 'INBOX')).toEqual(mb);
        expect(await ix.getMailbox(alice, 'Archiv/2024/Ünïcödé')).toEqual(nested);
        expect(await ix.getMailbox(alice, 'inbox-nope')).toBeNull();
        expect((await ix.listMailboxes(alice)).map((m) => m.name).sort()).toEqual(['Archiv/2024/Ünïcödé', 'INBOX', 'Sent']);
        expect(await ix.mailboxState(alice, mb.id)).toEqual({ uidValidity: mb.uidValidity, uidNext: 1, highestModseq: mb.highestModseq, messageCount: 0 });
        expect(await ix.mailboxState(alice, 'no-such-id')).toBeNull();
      });

      it('EXISTS for a second mailbox of the same name; NOT_FOUND for an unknown user; names are per user', async () => {
        await withUser(alice);
        await withUser(bob);
        const a = await ix.createMailbox(alice, 'INBOX');
        expect(await indexError(ix.createMailbox(alice, 'INBOX'))).toBe('EXISTS');
        expect(await indexError(ix.createMailbox('nobody@example.test', 'INBOX'))).toBe('NOT_FOUND');
        const b = await ix.createMailbox(bob, 'INBOX');
        expect(b.id).not.toBe(a.id);
        expect(await ix.listMailboxes('nobody@example.test')).toEqual([]);
        expect((await ix.listMailboxes(bob)).map((m) => m.id)).toEqual([b.id]);
      });

      it('createMailbox { subscribed: true } subscribes the name; others are not subscribed', async () => {
        await withUser();
        await ix.createMailbox(alice, 'INBOX', { subscribed: true });
        await ix.createMailbox(alice, 'Sent', { specialUse: '\\Sent' });
        expect(await ix.listSubscriptions(alice)).toEqual(['INBOX']);
      });

      it('subscriptions are a list of names of their own (RFC 9051 §6.3.7–6.3.9): set, idempotent, sorted, any name', async () => {
        await withUser();
        await ix.createMailbox(alice, 'Lists');
        await ix.setSubscribed(alice, 'Lists', true);
        await ix.setSubscribed(alice, 'Lists', true);
        // A name that is no mailbox can be subscribed.
        await ix.setSubscribed(alice, 'Later/Ünïcödé', true);
        await ix.setSubscribed(alice, 'A', true);
        expect(await ix.listSubscriptions(alice)).toEqual(['A', 'Later/Ünïcödé', 'Lists']);
        await ix.setSubscribed(alice, 'A', false);
        await ix.setSubscribed(alice, 'Never', false);
        expect(await ix.listSubscriptions(alice)).toEqual(['Later/Ünïcödé', 'Lists']);
        expect(await ix.listSubscriptions('nobody@example.test')).toEqual([]);
        expect(await indexError(ix.setSubscribed('nobody@example.test', 'INBOX', true))).toBe('NOT_FOUND');
        // Per user.
        await withUser(bob);
        expect(await ix.listSubscriptions(bob)).toEqual([]);
      });

      it('DELETE and RENAME of a mailbox leave the subscriptions as they are; removeUser drops them', async () => {
        await withUser();
        await ix.createMailbox(alice, 'Gone', { subscribed: true });
        await ix.createMailbox(alice, 'Moved', { subscribed: true });
        await ix.deleteMailbox(alice, 'Gone');
        await ix.renameMailbox(alice, 'Moved', 'Elsewhere');
        expect(await ix.listSubscriptions(alice)).toEqual(['Gone', 'Moved']);
        await ix.removeUser(alice);
        await withUser();
        expect(await ix.listSubscriptions(alice)).toEqual([]);
      });

      it('RENAME keeps the id, UIDVALIDITY and messages (RFC 3501 §6.3.5)', async () => {
        await withUser();
        const mb = await mailboxWith(3, 'Work');
        const before = await ix.mailboxState(alice, mb.id);
        const renamed = await ix.renameMailbox(alice, 'Work', 'Projects/Work');
        expect(renamed).toMatchObject({ id: mb.id, name: 'Projects/Work', uidValidity: mb.uidValidity, uidNext: 4, messageCount: 3 });
        expect(await ix.getMailbox(alice, 'Work')).toBeNull();
        expect(await ix.getMailbox(alice, 'Projects/Work')).toEqual(renamed);
        expect(await ix.mailboxState(alice, mb.id)).toEqual(before);
        expect((await ix.listMessages(alice, mb.id)).map((m) => m.uid)).toEqual([1, 2, 3]);
        const next = await ix.appendMessage(alice, mb.id, newMessage('after rename'));
        expect(next.uid).toBe(4);
        expect(next.uidValidity).toBe(mb.uidValidity);
      });

      it('RENAME errors: NOT_FOUND for an absent source, EXISTS for an existing target', async () => {
        await withUser();
        await ix.createMailbox(alice, 'A');
        await ix.createMailbox(alice, 'B');
        expect(await indexError(ix.renameMailbox(alice, 'Nope', 'C'))).toBe('NOT_FOUND');
        expect(await indexError(ix.renameMailbox(alice, 'A', 'B'))).toBe('EXISTS');
        expect((await ix.listMailboxes(alice)).map((m) => m.name).sort()).toEqual(['A', 'B']);
      });

      it('a recreated name gets a strictly greater UIDVALIDITY (delete, rename away, remove user)', async () => {
        await withUser();
        const v1 = (await ix.createMailbox(alice, 'Box')).uidValidity;
        await ix.renameMailbox(alice, 'Box', 'Old');
        const second = await ix.createMailbox(alice, 'Box');
        expect(second.uidValidity).toBeGreaterThan(v1);
        await ix.deleteMailbox(alice, 'Box');
        const third = await ix.createMailbox(alice, 'Box');
        expect(third.uidValidity).toBeGreaterThan(second.uidValidity);
        expect(third.id).not.toBe(second.id);
        expect(third.uidNext).toBe(1);
        expect(third.messageCount).toBe(0);
        await ix.removeUser(alice);
        await withUser();
        const fourth = await ix.createMailbox(alice, 'Box');
        expect(fourth.uidValidity).toBeGreaterThan(third.uidValidity);
      });

      it('deleteMailbox removes its messages and returns only blobs referenced nowhere else', async () => {
        await withUser();
        const inbox = await ix.createMailbox(alice, 'INBOX');
        const trash = await ix.createMailbox(alice, 'Trash');
        await ix.appendMessage(alice, trash.id, newMessage('t1', { blobKey: 'blob/t1' }));
        await ix.appendMessage(alice, trash.id, newMessage('t2', { blobKey: 'blob/t2' }));
        await ix.copyMessages(alice, trash.id, [2], inbox.id);
        const { orphanedBlobs } = await ix.deleteMailbox(alice, 'Trash');
        expect(orphanedBlobs).toEqual(['blob/t1']);
        expect(await ix.getMailbox(alice, 'Trash')).toBeNull();
        expect(await ix.mailboxState(alice, trash.id)).toBeNull();
        expect((await ix.listMessages(alice, inbox.id)).map((m) => m.blobKey)).toEqual(['blob/t2']);
        expect(await indexError(ix.deleteMailbox(alice, 'Trash'))).toBe('NOT_FOUND');
        const recreated = await ix.createMailbox(alice, 'Trash');
        expect(await ix.listMessages(alice, recreated.id)).toEqual([]);
      });
    });

    describe('messages', () => {
      it('appendMessage allocates UIDs 1, 2, 3 and bumps uidNext, messageCount and highestModseq', async () => {
        await withUser();
        const mb = await ix.createMailbox(alice, 'INBOX');
        let lastModseq = mb.highestModseq;
        for (let i = 1; i <= 3; i++) {
          const r = await ix.appendMessage(alice, mb.id, newMessage(`m${i}`));
          expect(r).toMatchObject({ uid: i, uidValidity: mb.uidValidity, duplicate: false });
          expect(r.modseq).toBeGreaterThan(lastModseq);
          lastModseq = r.modseq;
        }
        const state = await ix.mailboxState(alice, mb.id);
        expect(state).toMatchObject({ uidValidity: mb.uidValidity, uidNext: 4, messageCount: 3 });
        expect(state!.highestModseq).toBeGreaterThanOrEqual(lastModseq);
        expect(await ix.getMailbox(alice, 'INBOX')).toMatchObject({ uidNext: 4, messageCount: 3 });
      });

      it('listMessages returns records in UID order, meta only withMeta, within inclusive UID bounds', async () => {
        await withUser();
        const mb = await ix.createMailbox(alice, 'INBOX');
        const msgs = [1, 2, 3, 4, 5].map((i) => newMessage(`s${i}`, { flags: i % 2 ? ['\\Seen', '$Label1'] : [], size: 100 + i }));
        const results: AppendResult[] = [];
        for (const m of msgs) results.push(await ix.appendMessage(alice, mb.id, m));
        const all = await ix.listMessages(alice, mb.id);
        expect(all.map((m) => m.uid)).toEqual([1, 2, 3, 4, 5]);
        all.forEach((rec, i) => {
          expect(rec).toEqual({
            uid: i + 1,
            modseq: results[i].modseq,
            flags: msgs[i].flags,
            internalDate: msgs[i].internalDate,
            size: msgs[i].size,
            blobKey: msgs[i].blobKey,
            // RFC 8514 save date: pinned by save-date.contract.ts.
            saveDate: expect.any(Number),
          });
          expect(rec.meta).toBeUndefined();
        });
        const withMeta = await ix.listMessages(alice, mb.id, { withMeta: true });
        withMeta.forEach((rec, i) => expect(rec.meta).toEqual(msgs[i].meta));
        expect((await ix.listMessages(alice, mb.id, { uidFrom: 2, uidTo: 4 })).map((m) => m.uid)).toEqual([2, 3, 4]);
        expect((await ix.listMessages(alice, mb.id, { uidFrom: 4 })).map((m) => m.uid)).toEqual([4, 5]);
        expect((await ix.listMessages(alice, mb.id, { uidTo: 1 })).map((m) => m.uid)).toEqual([1]);
        expect(await ix.listMessages(alice, mb.id, { uidFrom: 6 })).toEqual([]);
        expect((await ix.listMessages(alice, mb.id, { uidFrom: 3, uidTo: 3, withMeta: true }))[0].meta).toEqual(msgs[2].meta);
      });

      it('meta round-trips exactly, including a latin1 header byte and nested MIME parts', async () => {
        await withUser();
        const mb = await ix.createMailbox(alice, 'INBOX');
        const m = newMessage('exact');
        await ix.appendMessage(alice, mb.id, m);
        const [rec] = await ix.getMessages(alice, mb.id, [1]);
        expect(rec.meta).toEqual(m.meta);
        expect(rec.meta!.header).toContain('caf\u00e9');
        expect(rec.meta!.mime.children[0].disposition).toEqual({ type: 'inline', params: [['filename', 'a b.txt']] });
      });

      it('getMailbox then appendMessage (the delivery path): a redelivery is a duplicate, another instance appending in between still gives the next UID', async () => {
        await withUser();
        const other = await fx.openAnother();
        const mb = await ix.createMailbox(alice, 'INBOX');
        await ix.getMailbox(alice, 'INBOX');
        const first = await ix.appendMessage(alice, mb.id, newMessage('d1', { deliveryKey: 'job-g:alice' }));
        expect(first).toMatchObject({ uid: 1, duplicate: false });
        await ix.getMailbox(alice, 'INBOX');
        expect(await ix.appendMessage(alice, mb.id, newMessage('d1', { deliveryKey: 'job-g:alice' }))).toEqual({ ...first, duplicate: true });
        // What this instance read is stale once another one appends.
        await ix.getMailbox(alice, 'INBOX');
        await other.appendMessage(alice, mb.id, newMessage('elsewhere'));
        expect(await ix.appendMessage(alice, mb.id, newMessage('d2', { deliveryKey: 'job-h:alice' }))).toMatchObject({ uid: 3, duplicate: false });
        expect((await ix.listMessages(alice, mb.id)).map((m) => m.uid)).toEqual([1, 2, 3]);
        expect(await ix.mailboxState(alice, mb.id)).toMatchObject({ uidNext: 4, messageCount: 3 });
      });

      it('appendMessageTo by name (the delivery path): a redelivery is a duplicate, another instance appending in between still gives the next UID; a renamed mailbox is left alone', async () => {
        await withUser();
        const other = await fx.openAnother();
        const mb = await ix.createMailbox(alice, 'INBOX');
        const first = await ix.appendMessageTo(alice, 'INBOX', newMessage('d1', { deliveryKey: 'job-t:alice' }));
        expect(first).toMatchObject({ uid: 1, duplicate: false, mailboxId: mb.id });
        expect(await ix.appendMessageTo(alice, 'INBOX', newMessage('d1', { deliveryKey: 'job-t:alice' }))).toEqual({ ...first, duplicate: true });
        await other.appendMessage(alice, mb.id, newMessage('elsewhere'));
        expect(await ix.appendMessageTo(alice, 'INBOX', newMessage('d2', { deliveryKey: 'job-u:alice' }))).toMatchObject({ uid: 3, duplicate: false });
        expect((await ix.listMessages(alice, mb.id, { withMeta: true })).map((m) => m.meta?.envelope.subject)).toEqual(['d1', 'elsewhere', 'd2']);
        // Another instance renames it and makes a new mailbox of the name: the next delivery goes to the new one.
        const lists = await ix.createMailbox(alice, 'Lists');
        expect(await ix.appendMessageTo(alice, 'Lists', newMessage('l1'))).toMatchObject({ uid: 1, mailboxId: lists.id });
        await other.renameMailbox(alice, 'Lists', 'Old lists');
        expect(await ix.appendMessageTo(alice, 'Lists', newMessage('l2'))).toBeNull();
        const fresh = await other.createMailbox(alice, 'Lists');
        expect(await ix.appendMessageTo(alice, 'Lists', newMessage('l3'))).toMatchObject({ uid: 1, mailboxId: fresh.id });
        expect((await ix.listMessages(alice, lists.id)).length).toBe(1);
        expect(await ix.appendMessageTo(alice, 'Nowhere', newMessage('n'))).toBeNull();
      });

      it('getMailbox by name after a rename and a new mailbox of the old name (by this or another instance) finds the right one', async () => {
        await withUser();
        const other = await fx.openAnother();
        const a = await ix.createMailbox(alice, 'Lists');
        expect((await ix.getMailbox(alice, 'Lists'))?.id).toBe(a.id);
        await other.renameMailbox(alice, 'Lists', 'Old lists');
        expect(await ix.getMailbox(alice, 'Lists')).toBeNull();
        const b = await other.createMailbox(alice, 'Lists');
        expect((await ix.getMailbox(alice, 'Lists'))?.id).toBe(b.id);
        expect((await ix.getMailbox(alice, 'Old lists'))?.id).toBe(a.id);
        await other.deleteMailbox(alice, 'Lists');
        expect(await ix.getMailbox(alice, 'Lists')).toBeNull();
      });

      it("withMeta 'structure' gives envelope, MIME tree and size without the header block; getMessages takes the same option", async () => {
        await withUser();
        const mb = await ix.createMailbox(alice, 'INBOX');
        const m = newMessage('parts');
        await ix.appendMessage(alice, mb.id, m);
        const expected = { ...m.meta, header: null };
        const [listed] = await ix.listMessages(alice, mb.id, { withMeta: 'structure' });
        expect(listed.meta).toEqual(expected);
        expect((await ix.getMessages(alice, mb.id, [1], { withMeta: 'structure' }))[0].meta).toEqual(expected);
        expect((await ix.getMessages(alice, mb.id, [1], { withMeta: true }))[0].meta).toEqual(m.meta);
        const [bare] = await ix.getMessages(alice, mb.id, [1], { withMeta: false });
        expect(bare.meta).toBeUndefined();
        expect(bare.blobKey).toBe(m.blobKey);
        // A meta whose header block the index does not keep (over META_HEADER_LIMIT) reads back as null.
        await ix.appendMessage(alice, mb.id, newMessage('no header', { meta: { ...sampleMeta('no header'), header: null } }));
        expect((await ix.listMessages(alice, mb.id, { uidFrom: 2, withMeta: true }))[0].meta!.header).toBeNull();
      });

      it('getMessages returns the existing ones of the given UIDs, with meta, in UID order', async () => {
        await withUser();
        const mb = await mailboxWith(5);
        await ix.expunge(alice, mb.id, [2]);
        const got = await ix.getMessages(alice, mb.id, [5, 2, 1, 9, 3]);
        expect(got.map((m) => m.uid)).toEqual([1, 3, 5]);
        for (const m of got) expect(m.meta?.envelope.subject).toBe(`INBOX ${m.uid}`);
        expect(await ix.getMessages(alice, mb.id, [])).toEqual([]);
      });

      it("appendMessage to an absent mailbox, or to another user's, is NOT_FOUND", async () => {
        await withUser(alice);
        await withUser(bob);
        const bobs = await ix.createMailbox(bob, 'INBOX');
        expect(await indexError(ix.appendMessage(alice, 'no-such-id', newMessage('x')))).toBe('NOT_FOUND');
        expect(await indexError(ix.appendMessage(alice, bobs.id, newMessage('x')))).toBe('NOT_FOUND');
        expect(await ix.mailboxState(bob, bobs.id)).toMatchObject({ uidNext: 1, messageCount: 0 });
      });

      it("one user cannot read or change another user's mailbox by id (invariant 4)", async () => {
        await withUser(alice);
        await withUser(bob);
        const bobs = await mailboxWith(2, 'INBOX', bob);
        const alices = await ix.createMailbox(alice, 'INBOX');
        expect(await ix.mailboxState(alice, bobs.id)).toBeNull();
        const noneOrNotFound = async (p: Promise<unknown[]>) => {
          try {
            expect(await p).toEqual([]);
          } catch (err) {
            if (!(err instanceof IndexError)) throw err;
            expect(err.code).toBe('NOT_FOUND');
          }
        };
        await noneOrNotFound(ix.listMessages(alice, bobs.id));
        await noneOrNotFound(ix.getMessages(alice, bobs.id, [1, 2]));
        expect(await indexError(ix.updateFlags(alice, bobs.id, [1], 'add', ['\\Seen']))).toBe('NOT_FOUND');
        expect(await indexError(ix.expunge(alice, bobs.id, [1]))).toBe('NOT_FOUND');
        expect(await indexError(ix.copyMessages(alice, bobs.id, [1], alices.id))).toBe('NOT_FOUND');
        expect(await indexError(ix.copyMessages(bob, bobs.id, [1], alices.id))).toBe('NOT_FOUND');
        const after = await ix.listMessages(bob, bobs.id);
        expect(after.map((m) => [m.uid, m.flags])).toEqual([
          [1, []],
          [2, []],
        ]);
        expect(await ix.listMessages(alice, alices.id)).toEqual([]);
      });

      it('appendMessage with a used deliveryKey returns the first UID with duplicate: true and inserts nothing (invariant 2)', async () => {
        await withUser();
        const mb = await ix.createMailbox(alice, 'INBOX');
        const first = await ix.appendMessage(alice, mb.id, newMessage('d', { deliveryKey: 'job-1/alice', blobKey: 'blob/d' }));
        const other = await ix.appendMessage(alice, mb.id, newMessage('e', { deliveryKey: 'job-2/alice' }));
        const again = await ix.appendMessage(alice, mb.id, newMessage('d', { deliveryKey: 'job-1/alice', blobKey: 'blob/d' }));
        expect(first.duplicate).toBe(false);
        expect(other.uid).toBe(2);
        expect(again).toEqual({ uid: first.uid, uidValidity: first.uidValidity, modseq: first.modseq, duplicate: true });
        expect(await ix.mailboxState(alice, mb.id)).toMatchObject({ uidNext: 3, messageCount: 2 });
        expect((await ix.listMessages(alice, mb.id)).map((m) => m.uid)).toEqual([1, 2]);
        // One reference to the blob, not two: expunging the one message orphans it.
        expect(await ix.expunge(alice, mb.id, [1])).toEqual({ expunged: [1], orphanedBlobs: ['blob/d'] });
        // The key stays used after the message is gone: a redelivered job does not bring it back.
        const late = await ix.appendMessage(alice, mb.id, newMessage('d', { deliveryKey: 'job-1/alice', blobKey: 'blob/d' }));
        expect(late).toMatchObject({ uid: 1, duplicate: true });
        expect(await ix.mailboxState(alice, mb.id)).toMatchObject({ uidNext: 3, messageCount: 1 });
      });

      it('the same deliveryKey appended from several instances at once gives one message', async () => {
        await withUser();
        const mb = await ix.createMailbox(alice, 'INBOX');
        const others = [await fx.openAnother(), await fx.openAnother()];
        const results = await settleAll([ix, ...others].map((inst) => inst.appendMessage(alice, mb.id, newMessage('race', { deliveryKey: 'job-race/alice' }))));
        expect(results.filter((r) => !r.duplicate).length).toBe(1);
        expect(new Set(results.map((r) => r.uid))).toEqual(new Set([1]));
        expect(await ix.mailboxState(alice, mb.id)).toMatchObject({ uidNext: 2, messageCount: 1 });
      });

      it('updateFlags add/remove/set returns only changed messages with a new modseq and bumps highestModseq', async () => {
        await withUser();
        const mb = await mailboxWith(3);
        const h0 = (await ix.mailboxState(alice, mb.id))!.highestModseq;

        const added = await ix.updateFlags(alice, mb.id, [1, 2], 'add', ['\\Seen']);
        expect(added.map((c) => [c.uid, c.flags])).toEqual([
          [1, ['\\Seen']],
          [2, ['\\Seen']],
        ]);
        for (const c of added) expect(c.modseq).toBeGreaterThan(h0);
        const h1 = (await ix.mailboxState(alice, mb.id))!.highestModseq;
        expect(h1).toBeGreaterThanOrEqual(Math.max(...added.map((c) => c.modseq)));

        // Only message 3 changes; 1 and 2 already have \Seen.
        const again = await ix.updateFlags(alice, mb.id, [1, 2, 3], 'add', ['\\Seen']);
        expect(again.map((c) => c.uid)).toEqual([3]);
        expect(again[0].modseq).toBeGreaterThan(h1);
        const h2 = (await ix.mailboxState(alice, mb.id))!.highestModseq;
        expect(h2).toBeGreaterThanOrEqual(again[0].modseq);

        const flagged = await ix.updateFlags(alice, mb.id, [2], 'add', ['\\Flagged', '$Important']);
        expect(flagged).toEqual([{ uid: 2, flags: ['\\Seen', '\\Flagged', '$Important'], modseq: flagged[0].modseq }]);

        const removed = await ix.updateFlags(alice, mb.id, [1, 2], 'remove', ['\\Seen']);
        expect(removed.map((c) => [c.uid, c.flags])).toEqual([
          [1, []],
          [2, ['\\Flagged', '$Important']],
        ]);

        const set = await ix.updateFlags(alice, mb.id, [1, 2, 3], 'set', ['\\Answered']);
        expect(set.map((c) => [c.uid, c.flags])).toEqual([
          [1, ['\\Answered']],
          [2, ['\\Answered']],
          [3, ['\\Answered']],
        ]);
        const hSet = (await ix.mailboxState(alice, mb.id))!.highestModseq;
        for (const c of set) expect(c.modseq).toBeLessThanOrEqual(hSet);

        const listed = await ix.listMessages(alice, mb.id);
        expect(listed.map((m) => m.flags)).toEqual([['\\Answered'], ['\\Answered'], ['\\Answered']]);
        expect(listed.map((m) => m.modseq)).toEqual(set.map((c) => c.modseq));
      });

      it('updateFlags with unchangedSince changes only messages not modified since, atomically (RFC 7162 §3.1.3)', async () => {
        await withUser();
        const mb = await mailboxWith(3);
        const h = (await ix.mailboxState(alice, mb.id))!.highestModseq;
        const [m2] = await ix.updateFlags(alice, mb.id, [2], 'add', ['\\Flagged']);
        const out = await ix.updateFlags(alice, mb.id, [1, 2, 3], 'add', ['\\Seen'], { unchangedSince: h });
        const byUid = new Map(out.map((c) => [c.uid, c]));
        expect(byUid.get(1)).toMatchObject({ flags: ['\\Seen'] });
        expect(byUid.get(1)!.modified).toBeUndefined();
        expect(byUid.get(3)).toMatchObject({ flags: ['\\Seen'] });
        expect(byUid.get(2)).toEqual({ uid: 2, flags: ['\\Flagged'], modseq: m2.modseq, modified: true });
        expect((await ix.listMessages(alice, mb.id)).map((m) => m.flags)).toEqual([['\\Seen'], ['\\Flagged'], ['\\Seen']]);
        // 0 always fails: nothing changes, highestModseq stays.
        const h1 = (await ix.mailboxState(alice, mb.id))!.highestModseq;
        const none = await ix.updateFlags(alice, mb.id, [1, 2, 3], 'set', [], { unchangedSince: 0 });
        expect(none.map((c) => [c.uid, c.modified])).toEqual([
          [1, true],
          [2, true],
          [3, true],
        ]);
        expect((await ix.mailboxState(alice, mb.id))!.highestModseq).toBe(h1);
        // Two writers with the same unchangedSince on one message, from two instances: exactly one wins.
        const other = await fx.openAnother();
        const race = await settleAll([ix, other].map((inst, i) => inst.updateFlags(alice, mb.id, [3], 'add', [`$k${i}`], { unchangedSince: h1 })));
        expect(race.map((r) => r[0].modified === true).sort()).toEqual([false, true]);
        const [m3] = await ix.getMessages(alice, mb.id, [3]);
        expect(m3.flags.filter((f) => f.startsWith('$'))).toHaveLength(1);
      });

      it('updateFlags that changes nothing returns [] and leaves highestModseq; absent UIDs are ignored', async () => {
        await withUser();
        const mb = await mailboxWith(2);
        await ix.updateFlags(alice, mb.id, [1], 'set', ['\\Seen', '$Work']);
        const h = (await ix.mailboxState(alice, mb.id))!.highestModseq;
        expect(await ix.updateFlags(alice, mb.id, [1], 'add', ['\\Seen'])).toEqual([]);
        expect(await ix.updateFlags(alice, mb.id, [1], 'set', ['$Work', '\\Seen'])).toEqual([]);
        expect(await ix.updateFlags(alice, mb.id, [2], 'remove', ['\\Deleted'])).toEqual([]);
        expect(await ix.updateFlags(alice, mb.id, [7, 8], 'add', ['\\Seen'])).toEqual([]);
        expect(await ix.updateFlags(alice, mb.id, [], 'add', ['\\Seen'])).toEqual([]);
        expect((await ix.mailboxState(alice, mb.id))!.highestModseq).toBe(h);
      });

      it('flags compare case-insensitively (RFC 3501 §9) and are kept without duplicates', async () => {
        await withUser();
        const mb = await ix.createMailbox(alice, 'INBOX');
        await ix.appendMessage(alice, mb.id, newMessage('f', { flags: ['\\Seen', '\\seen', '$Label'] }));
        expect((await ix.listMessages(alice, mb.id))[0].flags).toEqual(['\\Seen', '$Label']);
        expect(await ix.updateFlags(alice, mb.id, [1], 'add', ['\\SEEN', '$label'])).toEqual([]);
        const removed = await ix.updateFlags(alice, mb.id, [1], 'remove', ['\\SEEN']);
        expect(removed.map((c) => c.flags)).toEqual([['$Label']]);
      });

      it('expunge removes the given messages, keeps UIDs unique (no reuse) and bumps highestModseq', async () => {
        await withUser();
        const mb = await mailboxWith(4);
        const h = (await ix.mailboxState(alice, mb.id))!.highestModseq;
        const r = await ix.expunge(alice, mb.id, [3, 1, 9]);
        expect(r.expunged).toEqual([1, 3]);
        const state = await ix.mailboxState(alice, mb.id);
        expect(state).toMatchObject({ uidNext: 5, messageCount: 2 });
        expect(state!.highestModseq).toBeGreaterThan(h);
        expect((await ix.listMessages(alice, mb.id)).map((m) => m.uid)).toEqual([2, 4]);
        expect((await ix.appendMessage(alice, mb.id, newMessage('next'))).uid).toBe(5);
        expect(await ix.expunge(alice, mb.id, [1, 3])).toEqual({ expunged: [], orphanedBlobs: [] });
        expect(await ix.expunge(alice, mb.id, [])).toEqual({ expunged: [], orphanedBlobs: [] });
        expect(await indexError(ix.expunge(alice, 'no-such-id', [1]))).toBe('NOT_FOUND');
      });

      it('copyMessages allocates target UIDs in source UID order and copies blob, flags, date, size and meta', async () => {
        await withUser();
        const src = await ix.createMailbox(alice, 'INBOX');
        const dst = await mailboxWith(2, 'Archive');
        const srcMsgs = [1, 2, 3, 4].map((i) => newMessage(`c${i}`, { flags: i === 2 ? ['\\Flagged', '$X'] : ['\\Seen'] }));
        for (const m of srcMsgs) await ix.appendMessage(alice, src.id, m);
        const hDst = (await ix.mailboxState(alice, dst.id))!.highestModseq;
        const srcBefore = await ix.listMessages(alice, src.id, { withMeta: true });

        const r = await ix.copyMessages(alice, src.id, [4, 2, 9, 1], dst.id);
        expect(r.uidValidity).toBe(dst.uidValidity);
        expect(r.mapping).toEqual([
          { from: 1, to: 3 },
          { from: 2, to: 4 },
          { from: 4, to: 5 },
        ]);
        const state = await ix.mailboxState(alice, dst.id);
        expect(state).toMatchObject({ uidNext: 6, messageCount: 5 });
        expect(state!.highestModseq).toBeGreaterThan(hDst);
        const copied = await ix.getMessages(alice, dst.id, [3, 4, 5]);
        for (const [i, from] of [1, 2, 4].entries()) {
          const m = srcMsgs[from - 1];
          expect(copied[i]).toMatchObject({ uid: 3 + i, blobKey: m.blobKey, flags: m.flags, internalDate: m.internalDate, size: m.size, meta: m.meta });
          expect(copied[i].modseq).toBeGreaterThan(hDst);
        }
        // The source is unchanged.
        expect(await ix.listMessages(alice, src.id, { withMeta: true })).toEqual(srcBefore);
        expect(await ix.copyMessages(alice, src.id, [99], dst.id)).toEqual({ uidValidity: dst.uidValidity, mapping: [] });
        expect(await indexError(ix.copyMessages(alice, src.id, [1], 'no-such-id'))).toBe('NOT_FOUND');
      });

      it('blob references: orphanedBlobs only when the last reference goes (copy, expunge)', async () => {
        await withUser();
        const inbox = await ix.createMailbox(alice, 'INBOX');
        const archive = await ix.createMailbox(alice, 'Archive');
        await ix.appendMessage(alice, inbox.id, newMessage('r', { blobKey: 'blob/r' }));
        const { mapping } = await ix.copyMessages(alice, inbox.id, [1], archive.id);
        // Copy, then expunge the original: the copy still references the blob.
        expect(await ix.expunge(alice, inbox.id, [1])).toEqual({ expunged: [1], orphanedBlobs: [] });
        expect(await ix.expunge(alice, archive.id, [mapping[0].to])).toEqual({ expunged: [mapping[0].to], orphanedBlobs: ['blob/r'] });

        // Two copies in one mailbox, expunged together: the key is reported once.
        await ix.appendMessage(alice, inbox.id, newMessage('s', { blobKey: 'blob/s' }));
        await ix.copyMessages(alice, inbox.id, [2], inbox.id);
        expect((await ix.listMessages(alice, inbox.id)).map((m) => [m.uid, m.blobKey])).toEqual([
          [2, 'blob/s'],
          [3, 'blob/s'],
        ]);
        expect(await ix.expunge(alice, inbox.id, [2, 3])).toEqual({ expunged: [2, 3], orphanedBlobs: ['blob/s'] });

        // Two separate appends of the same blob key (e.g. one stored message for two mailboxes).
        await ix.appendMessage(alice, inbox.id, newMessage('t', { blobKey: 'blob/t' }));
        await ix.appendMessage(alice, archive.id, newMessage('t', { blobKey: 'blob/t' }));
        expect((await ix.expunge(alice, inbox.id, [4])).orphanedBlobs).toEqual([]);
        expect((await ix.deleteMailbox(alice, 'Archive')).orphanedBlobs).toEqual(['blob/t']);
      });
    });

    describe('blob holds (a queued job keeps its blob alive: invariants 1 and 5)', () => {
      it('a hold keeps the blob across append and expunge of all its messages; releasing it then reports orphaned once', async () => {
        await withUser();
        await withUser(bob);
        const a = await ix.createMailbox(alice, 'INBOX');
        const b = await ix.createMailbox(bob, 'INBOX');
        await ix.holdBlob('blob/h', 'job-1');
        await ix.appendMessage(alice, a.id, newMessage('h', { blobKey: 'blob/h', deliveryKey: 'job-1:alice' }));
        await ix.appendMessage(bob, b.id, newMessage('h', { blobKey: 'blob/h', deliveryKey: 'job-1:bob' }));
        expect(await ix.expunge(alice, a.id, [1])).toEqual({ expunged: [1], orphanedBlobs: [] });
        expect(await ix.expunge(bob, b.id, [1])).toEqual({ expunged: [1], orphanedBlobs: [] });
        expect(await ix.releaseBlob('blob/h', 'job-1')).toEqual({ orphaned: true });
        // Idempotent: the hold is gone, nothing changes.
        expect(await ix.releaseBlob('blob/h', 'job-1')).toEqual({ orphaned: false });
      });

      it('deleteMailbox and removeUser never report a held blob', async () => {
        await withUser();
        await withUser(bob);
        const a = await ix.createMailbox(alice, 'Trash');
        const b = await ix.createMailbox(bob, 'INBOX');
        await ix.holdBlob('blob/d', 'job-2');
        await ix.appendMessage(alice, a.id, newMessage('d', { blobKey: 'blob/d' }));
        await ix.appendMessage(bob, b.id, newMessage('d', { blobKey: 'blob/d' }));
        expect((await ix.deleteMailbox(alice, 'Trash')).orphanedBlobs).toEqual([]);
        expect((await ix.removeUser(bob)).orphanedBlobs).toEqual([]);
        expect(await ix.releaseBlob('blob/d', 'job-2')).toEqual({ orphaned: true });
      });

      it('hold is idempotent per holder: two holds by one holder are one reference', async () => {
        await withUser();
        const mb = await ix.createMailbox(alice, 'INBOX');
        await ix.holdBlob('blob/i', 'job-3');
        await ix.holdBlob('blob/i', 'job-3');
        await ix.appendMessage(alice, mb.id, newMessage('i', { blobKey: 'blob/i' }));
        expect((await ix.expunge(alice, mb.id, [1])).orphanedBlobs).toEqual([]);
        // Had the second hold counted, one release would leave a reference behind.
        expect(await ix.releaseBlob('blob/i', 'job-3')).toEqual({ orphaned: true });
      });

      it('release while messages remain is not orphaned, and a second release does not drop a message reference', async () => {
        await withUser();
        const mb = await ix.createMailbox(alice, 'INBOX');
        await ix.holdBlob('blob/m', 'job-4');
        await ix.appendMessage(alice, mb.id, newMessage('m1', { blobKey: 'blob/m' }));
        await ix.appendMessage(alice, mb.id, newMessage('m2', { blobKey: 'blob/m' }));
        expect(await ix.releaseBlob('blob/m', 'job-4')).toEqual({ orphaned: false });
        expect(await ix.releaseBlob('blob/m', 'job-4')).toEqual({ orphaned: false });
        // Two message references are left: the first expunge must not orphan the blob.
        expect((await ix.expunge(alice, mb.id, [1])).orphanedBlobs).toEqual([]);
        expect((await ix.expunge(alice, mb.id, [2])).orphanedBlobs).toEqual(['blob/m']);
      });

      it('holds of different holders count separately; a stranger cannot release them; a blob never held is not orphaned', async () => {
        await ix.holdBlob('blob/two', 'job-5');
        await ix.holdBlob('blob/two', 'job-6');
        expect(await ix.releaseBlob('blob/two', 'someone-else')).toEqual({ orphaned: false });
        expect(await ix.releaseBlob('blob/two', 'job-5')).toEqual({ orphaned: false });
        expect(await ix.releaseBlob('blob/two', 'job-6')).toEqual({ orphaned: true });
        expect(await ix.releaseBlob('blob/never-held', 'job-7')).toEqual({ orphaned: false });
        // A hold after the blob was orphaned starts a new count (the caller's own fresh reference).
        await ix.holdBlob('blob/two', 'job-8');
        expect(await ix.releaseBlob('blob/two', 'job-8')).toEqual({ orphaned: true });
      });

      it("a 'sole' message is its blob's only reference: expunging it reports the blob; after a COPY, only the second expunge does", async () => {
        await withUser();
        const inbox = await ix.createMailbox(alice, 'INBOX');
        const archive = await ix.createMailbox(alice, 'Archive');
        await ix.appendMessage(alice, inbox.id, newMessage('only', { blobKey: 'blob/sole-1', blobReference: 'sole' }));
        expect(await ix.expunge(alice, inbox.id, [1])).toEqual({ expunged: [1], orphanedBlobs: ['blob/sole-1'] });

        // COPY, then expunge the original and the copy (in both orders).
        await ix.appendMessage(alice, inbox.id, newMessage('copied', { blobKey: 'blob/sole-2', blobReference: 'sole' }));
        const first = await ix.copyMessages(alice, inbox.id, [2], archive.id);
        expect(await ix.expunge(alice, inbox.id, [2])).toEqual({ expunged: [2], orphanedBlobs: [] });
        expect(await ix.expunge(alice, archive.id, [first.mapping[0].to])).toEqual({ expunged: [first.mapping[0].to], orphanedBlobs: ['blob/sole-2'] });
        await ix.appendMessage(alice, inbox.id, newMessage('copied again', { blobKey: 'blob/sole-3', blobReference: 'sole' }));
        const second = await ix.copyMessages(alice, inbox.id, [3], archive.id);
        expect((await ix.expunge(alice, archive.id, [second.mapping[0].to])).orphanedBlobs).toEqual([]);
        expect((await ix.expunge(alice, inbox.id, [3])).orphanedBlobs).toEqual(['blob/sole-3']);

        // Deleting the mailbox of a sole message reports its blob too.
        await ix.appendMessage(alice, archive.id, newMessage('in archive', { blobKey: 'blob/sole-4', blobReference: 'sole' }));
        expect((await ix.deleteMailbox(alice, 'Archive')).orphanedBlobs).toEqual(['blob/sole-4']);
      });

      it('a delivery that takes over the hold: earlier copies expunged before it do not orphan the blob, the hold is gone after it, the last expunge reports it', async () => {
        await withUser();
        await withUser(bob);
        const a = await ix.createMailbox(alice, 'INBOX');
        const b = await ix.createMailbox(bob, 'INBOX');
        // A job for alice and bob: alice's copy adds a reference, and is expunged before bob's delivery.
        await ix.holdBlob('blob/take', 'job-t');
        await ix.appendMessage(alice, a.id, newMessage('take', { blobKey: 'blob/take', deliveryKey: 'job-t:alice' }));
        expect(await ix.expunge(alice, a.id, [1])).toEqual({ expunged: [1], orphanedBlobs: [] });
        await ix.appendMessage(bob, b.id, newMessage('take', { blobKey: 'blob/take', deliveryKey: 'job-t:bob', blobReference: { takeOver: 'job-t' } }));
        // The hold became bob's message: releasing it now changes nothing.
        expect(await ix.releaseBlob('blob/take', 'job-t')).toEqual({ orphaned: false });
        // A redelivery of the take-over is a duplicate and takes nothing again.
        const again = await ix.appendMessage(
          bob,
          b.id,
          newMessage('take', { blobKey: 'blob/take', deliveryKey: 'job-t:bob', blobReference: { takeOver: 'job-t' } }),
        );
        expect(again.duplicate).toBe(true);
        expect(await ix.expunge(bob, b.id, [1])).toEqual({ expunged: [1], orphanedBlobs: ['blob/take'] });

        // Taking over a hold that is not there adds a reference instead.
        await ix.appendMessage(alice, a.id, newMessage('no hold', { blobKey: 'blob/nohold', blobReference: { takeOver: 'job-none' } }));
        await ix.appendMessage(bob, b.id, newMessage('no hold', { blobKey: 'blob/nohold' }));
        expect((await ix.expunge(alice, a.id, [2])).orphanedBlobs).toEqual([]);
        expect((await ix.expunge(bob, b.id, [2])).orphanedBlobs).toEqual(['blob/nohold']);
      });

      it('concurrent releases by several instances and an expunge of the last message: exactly one reports the blob', async () => {
        await withUser();
        const mb = await ix.createMailbox(alice, 'INBOX');
        const instances = [ix, await fx.openAnother(), await fx.openAnother(), await fx.openAnother()];
        for (let i = 0; i < instances.length; i++) await ix.holdBlob('blob/race', `job-r${i}`);
        await ix.appendMessage(alice, mb.id, newMessage('race', { blobKey: 'blob/race' }));
        const reports = await settleAll<boolean>([
          // Each hold released twice, from two instances at once.
          ...instances.map(async (inst, i) => (await inst.releaseBlob('blob/race', `job-r${i}`)).orphaned),
          ...instances.map(async (inst, i) => (await instances[(i + 1) % instances.length].releaseBlob('blob/race', `job-r${i}`)).orphaned),
          (async () => (await instances[2].expunge(alice, mb.id, [1])).orphanedBlobs.includes('blob/race'))(),
        ]);
        expect(reports.filter(Boolean)).toHaveLength(1);
      });
    });

    describe('leases', () => {
      it('a second owner is refused while the lease is held; renew and release work only for the owner', async () => {
        const other = await fx.openAnother();
        expect(await ix.acquireLease('pop3/alice@example.test', 'session-a', 60)).toBe(true);
        expect(await other.acquireLease('pop3/alice@example.test', 'session-b', 60)).toBe(false);
        expect(await ix.acquireLease('pop3/alice@example.test', 'session-a', 60)).toBe(true);
        expect(await other.acquireLease('pop3/bob@example.test', 'session-b', 60)).toBe(true);
        await other.releaseLease('pop3/alice@example.test', 'session-b');
        expect(await other.acquireLease('pop3/alice@example.test', 'session-b', 60)).toBe(false);
        await ix.releaseLease('pop3/alice@example.test', 'session-a');
        expect(await other.acquireLease('pop3/alice@example.test', 'session-b', 60)).toBe(true);
        expect(await ix.acquireLease('pop3/alice@example.test', 'session-a', 60)).toBe(false);
        await ix.releaseLease('never-held', 'session-a');
      });

      it('an expired lease can be taken by another owner', async () => {
        expect(await ix.acquireLease('lock/x', 'a', 1)).toBe(true);
        expect(await ix.acquireLease('lock/x', 'b', 1)).toBe(false);
        await sleep(2100);
        expect(await ix.acquireLease('lock/x', 'b', 60)).toBe(true);
        expect(await ix.acquireLease('lock/x', 'a', 60)).toBe(false);
      });

      it('of several owners racing for a free lease, exactly one gets it', async () => {
        const instances = [ix, await fx.openAnother(), await fx.openAnother(), await fx.openAnother()];
        const got = await settleAll(instances.map((inst, i) => inst.acquireLease('race', `owner-${i}`, 60)));
        expect(got.filter(Boolean).length).toBe(1);
      });
    });

    describe('bearer tokens', () => {
      it('files a token by its hash, reads it from another instance, forgets it when deleted or expired', async () => {
        const other = await fx.openAnother();
        const now = Date.now();
        const token = { user: alice, createdAt: now, expiresAt: now + 60_000, binding: 'b1' };
        await ix.putAuthToken('h'.repeat(43), token);
        expect(await other.getAuthToken('h'.repeat(43))).toEqual(token);
        expect(await other.getAuthToken('x'.repeat(43))).toBeNull();
        await other.deleteAuthToken('h'.repeat(43));
        expect(await ix.getAuthToken('h'.repeat(43))).toBeNull();
        await ix.deleteAuthToken('h'.repeat(43)); // idempotent
        await ix.putAuthToken('e'.repeat(43), { ...token, expiresAt: now - 1 });
        expect(await ix.getAuthToken('e'.repeat(43))).toBeNull();
        // A malformed hash is refused on write and never found on read.
        await expect(ix.putAuthToken('short', token)).rejects.toMatchObject({ code: 'INVALID' });
        expect(await ix.getAuthToken('bad hash with spaces')).toBeNull();
      });
    });

    describe('changesSince (the change log; RFC 7162 CONDSTORE/QRESYNC)', () => {
      /** What changesSince(since) must report, computed from a full listing and the expunges seen by the test. */
      async function expected(mailboxId: string, since: number, tombstones: Array<{ uid: number; modseq: number }>) {
        const all = await ix.listMessages(alice, mailboxId);
        return {
          changed: all.filter((m) => m.modseq > since),
          expunged: tombstones
            .filter((t) => t.modseq > since)
            .map((t) => t.uid)
            .sort((a, b) => a - b),
        };
      }

      it('appends: the new messages with their flags and modseq, nothing older; the same with the uidNext hint', async () => {
        await withUser();
        const mb = await mailboxWith(3);
        const before = (await ix.mailboxState(alice, mb.id))!;
        const r4 = await ix.appendMessage(alice, mb.id, newMessage('four', { flags: ['\\Flagged'] }));
        const r5 = await ix.appendMessage(alice, mb.id, newMessage('five'));
        const all = await ix.listMessages(alice, mb.id);
        for (const options of [{}, { uidNext: before.uidNext }]) {
          const c = await ix.changesSince(alice, mb.id, before.highestModseq, options);
          expect(c).toEqual({ state: await ix.mailboxState(alice, mb.id), changed: all.slice(3), expunged: [], complete: true });
          expect(c!.changed.map((m) => [m.uid, m.modseq, m.flags])).toEqual([
            [4, r4.modseq, ['\\Flagged']],
            [5, r5.modseq, []],
          ]);
        }
        // From between the two appends: only the second.
        expect((await ix.changesSince(alice, mb.id, r4.modseq))!.changed.map((m) => m.uid)).toEqual([5]);
      });

      it('a uidNext hint below the one read with `since` is safe: the answer is complete and exact', async () => {
        await withUser();
        const mb = await mailboxWith(4);
        await ix.updateFlags(alice, mb.id, [1], 'add', ['\\Seen']);
        const before = (await ix.mailboxState(alice, mb.id))!;
        await ix.appendMessage(alice, mb.id, newMessage('five'));
        await ix.updateFlags(alice, mb.id, [2], 'add', ['\\Answered']);
        await ix.expunge(alice, mb.id, [3]);
        await ix.appendMessage(alice, mb.id, newMessage('six'));
        const all = await ix.listMessages(alice, mb.id);
        const want = {
          state: await ix.mailboxState(alice, mb.id),
          changed: all.filter((m) => m.modseq > before.highestModseq),
          expunged: [3],
          complete: true,
        };
        expect(want.changed.map((m) => m.uid)).toEqual([2, 5, 6]);
        for (const uidNext of [before.uidNext, before.uidNext - 1, 2, 1]) {
          expect(await ix.changesSince(alice, mb.id, before.highestModseq, { uidNext }), `hint ${uidNext}`).toEqual(want);
        }
      });

      it('copyMessages: the copies are new messages of the target (RFC 7162 §3.1: one new modseq)', async () => {
        await withUser();
        const inbox = await mailboxWith(2);
        const other = await mailboxWith(1, 'Other');
        const before = (await ix.mailboxState(alice, inbox.id))!;
        const otherBefore = (await ix.mailboxState(alice, other.id))!;
        const { mapping } = await ix.copyMessages(alice, other.id, [1], inbox.id);
        expect(mapping).toEqual([{ from: 1, to: 3 }]);
        const c = await ix.changesSince(alice, inbox.id, before.highestModseq, { uidNext: before.uidNext });
        expect(c!.changed.map((m) => m.uid)).toEqual([3]);
        expect(c!.changed[0].modseq).toBe(c!.state.highestModseq);
        // The source did not change.
        expect(await ix.changesSince(alice, other.id, otherBefore.highestModseq)).toMatchObject({ changed: [], expunged: [], complete: true });
      });

      it('flag changes: exactly the messages whose flags changed, with the new flags and modseq', async () => {
        await withUser();
        const mb = await mailboxWith(5);
        const before = (await ix.mailboxState(alice, mb.id))!;
        const fc = await ix.updateFlags(alice, mb.id, [2, 4], 'add', ['\\Seen']);
        const c = await ix.changesSince(alice, mb.id, before.highestModseq, { uidNext: before.uidNext });
        expect(c!.changed.map((m) => [m.uid, m.flags, m.modseq])).toEqual(fc.map((f) => [f.uid, f.flags, f.modseq]));
        expect(c!.changed.map((m) => m.uid)).toEqual([2, 4]);
        expect(c!.complete).toBe(true);
        // A STORE that changes nothing takes no modseq and reports nothing.
        const after = c!.state;
        expect(await ix.updateFlags(alice, mb.id, [2], 'add', ['\\SEEN'])).toEqual([]);
        expect(await ix.changesSince(alice, mb.id, after.highestModseq)).toEqual({ state: after, changed: [], expunged: [], complete: true });
      });

      it('expunge leaves tombstones at the modseq of the expunge; an expunged message is not among the changed', async () => {
        await withUser();
        const mb = await mailboxWith(5);
        const before = (await ix.mailboxState(alice, mb.id))!;
        const [flag] = await ix.updateFlags(alice, mb.id, [3], 'add', ['\\Deleted']);
        expect((await ix.expunge(alice, mb.id, [2, 3])).expunged).toEqual([2, 3]);
        const after = (await ix.mailboxState(alice, mb.id))!;
        expect(after.highestModseq).toBe(flag.modseq + 1);
        expect(await ix.changesSince(alice, mb.id, before.highestModseq)).toEqual({ state: after, changed: [], expunged: [2, 3], complete: true });
        // Just below the expunge's modseq: the tombstones; at it: nothing.
        expect(await ix.changesSince(alice, mb.id, flag.modseq)).toMatchObject({ changed: [], expunged: [2, 3], complete: true });
        expect(await ix.changesSince(alice, mb.id, after.highestModseq)).toMatchObject({ changed: [], expunged: [], complete: true });
        // Expunging again what is gone takes no modseq and leaves no tombstone.
        expect((await ix.expunge(alice, mb.id, [2])).expunged).toEqual([]);
        expect((await ix.mailboxState(alice, mb.id))!.highestModseq).toBe(after.highestModseq);
      });

      it('withBlobKeys: each tombstone names the blob key its message had (JMAP Email/changes names Emails by blob)', async () => {
        await withUser();
        const mb = await mailboxWith(4);
        const before = (await ix.mailboxState(alice, mb.id))!;
        const keysOf = new Map((await ix.listMessages(alice, mb.id)).map((m) => [m.uid, m.blobKey]));
        await ix.expunge(alice, mb.id, [3]);
        await ix.expunge(alice, mb.id, [1, 4]);
        const c = await ix.changesSince(alice, mb.id, before.highestModseq, { withBlobKeys: true });
        expect(c).toMatchObject({ expunged: [1, 3, 4], expungedBlobKeys: [keysOf.get(1), keysOf.get(3), keysOf.get(4)], complete: true });
        // Without the option the answer is as before.
        expect((await ix.changesSince(alice, mb.id, before.highestModseq))!.expungedBlobKeys).toBeUndefined();
      });

      it('mixed changes: from every earlier modseq, exactly what a full listing and the expunges say (with and without the hint)', async () => {
        await withUser();
        const mb = await mailboxWith(4);
        const other = await mailboxWith(2, 'Other');
        const states = [(await ix.mailboxState(alice, mb.id))!];
        const tombstones: Array<{ uid: number; modseq: number }> = [];
        const steps: Array<() => Promise<void>> = [
          async () => void (await ix.appendMessage(alice, mb.id, newMessage('five'))),
          async () => void (await ix.updateFlags(alice, mb.id, [1, 5], 'add', ['\\Seen'])),
          async () => {
            await ix.expunge(alice, mb.id, [2]);
            tombstones.push({ uid: 2, modseq: (await ix.mailboxState(alice, mb.id))!.highestModseq });
          },
          async () => void (await ix.copyMessages(alice, other.id, [1, 2], mb.id)),
          async () => void (await ix.updateFlags(alice, mb.id, [6, 3], 'set', ['$Label1'])),
          async () => void (await ix.updateFlags(alice, mb.id, [1], 'remove', ['\\Seen'])),
          async () => {
            await ix.expunge(alice, mb.id, [5, 7]);
            tombstones.push({ uid: 5, modseq: (await ix.mailboxState(alice, mb.id))!.highestModseq });
            tombstones.push({ uid: 7, modseq: (await ix.mailboxState(alice, mb.id))!.highestModseq });
          },
          async () => void (await ix.appendMessage(alice, mb.id, newMessage('eight', { flags: ['\\Draft'] }))),
        ];
        for (const step of steps) {
          await step();
          states.push((await ix.mailboxState(alice, mb.id))!);
        }
        const now = states[states.length - 1];
        for (const s of states.slice(0, -1)) {
          const want = await expected(mb.id, s.highestModseq, tombstones);
          // The hint read with `since`, and hints below it (always safe: the same answer).
          for (const options of [{}, { uidNext: s.uidNext }, { uidNext: Math.max(1, s.uidNext - 2) }, { uidNext: 1 }]) {
            expect(await ix.changesSince(alice, mb.id, s.highestModseq, options), `since ${s.highestModseq} ${JSON.stringify(options)}`).toEqual({
              state: now,
              ...want,
              complete: true,
            });
          }
        }
      });

      it('since at or above highestModseq: nothing changed, complete', async () => {
        await withUser();
        const mb = await mailboxWith(2);
        const state = (await ix.mailboxState(alice, mb.id))!;
        for (const since of [state.highestModseq, state.highestModseq + 10]) {
          expect(await ix.changesSince(alice, mb.id, since)).toEqual({ state, changed: [], expunged: [], complete: true });
        }
      });

      it('withMeta: the changed messages carry their meta; without it they do not', async () => {
        await withUser();
        const mb = await mailboxWith(2);
        const before = (await ix.mailboxState(alice, mb.id))!;
        await ix.appendMessage(alice, mb.id, newMessage('with meta'));
        await ix.updateFlags(alice, mb.id, [1], 'add', ['\\Answered']);
        const c = await ix.changesSince(alice, mb.id, before.highestModseq, { withMeta: true });
        expect(c!.changed).toEqual(await ix.getMessages(alice, mb.id, [1, 3]));
        expect(c!.changed[1].meta).toEqual(sampleMeta('with meta'));
        const bare = await ix.changesSince(alice, mb.id, before.highestModseq);
        expect(bare!.changed.map((m) => m.meta)).toEqual([undefined, undefined]);
      });

      it('an unknown mailbox, or one of another user, is null (invariant 4)', async () => {
        await withUser();
        await withUser(bob);
        const mb = await mailboxWith(1);
        expect(await ix.changesSince(alice, 'no-such-mailbox', 0)).toBeNull();
        expect(await ix.changesSince(bob, mb.id, 0)).toBeNull();
        expect(await ix.changesSince('nobody@example.test', mb.id, 0)).toBeNull();
        await ix.deleteMailbox(alice, 'INBOX');
        expect(await ix.changesSince(alice, mb.id, 1)).toBeNull();
      });

      it('a since that is not a modseq, or a bad uidNext hint, is IndexError INVALID', async () => {
        await withUser();
        const mb = await mailboxWith(1);
        for (const since of [-1, Number.NaN, 1.5, Number.POSITIVE_INFINITY, '3' as unknown as number]) {
          expect(await indexError(ix.changesSince(alice, mb.id, since)), String(since)).toBe('INVALID');
        }
        for (const uidNext of [0, -2, Number.NaN, 2.5]) expect(await indexError(ix.changesSince(alice, mb.id, 1, { uidNext }))).toBe('INVALID');
      });

      it('since older than the mailbox (below its creation modseq) is complete: false', async () => {
        await withUser();
        const mb = await mailboxWith(2);
        const c = await ix.changesSince(alice, mb.id, 0);
        expect(c).toEqual({ state: await ix.mailboxState(alice, mb.id), changed: [], expunged: [], complete: false });
        // From the creation modseq on, the log is complete.
        expect((await ix.changesSince(alice, mb.id, mb.highestModseq))!.changed.map((m) => m.uid)).toEqual([1, 2]);
      });

      it('tombstones older than the retention are trimmed by a later write: since below the trimmed part is complete: false, later is still exact', async () => {
        await withUser();
        const mb = await mailboxWith(6);
        const retentionMs = 1500;
        const short = await fx.openWithChangeLogRetention(retentionMs);
        const start = (await ix.mailboxState(alice, mb.id))!;
        await ix.expunge(alice, mb.id, [1]);
        const afterOld = (await ix.mailboxState(alice, mb.id))!;
        await sleep(retentionMs + 100);
        // The default retention keeps the (young by its measure) tombstone.
        await ix.updateFlags(alice, mb.id, [2], 'add', ['$A']);
        expect(await ix.changesSince(alice, mb.id, start.highestModseq)).toMatchObject({ expunged: [1], complete: true });
        // A later write through the short-retention instance trims it.
        await sleep(retentionMs / 5);
        await short.updateFlags(alice, mb.id, [3], 'add', ['$B']);
        const afterTrim = (await ix.mailboxState(alice, mb.id))!;
        for (const reader of [ix, short]) {
          expect(await reader.changesSince(alice, mb.id, start.highestModseq)).toEqual({ state: afterTrim, changed: [], expunged: [], complete: false });
        }
        // From the trimmed modseq on, the log is still complete and exact.
        const fromFloor = await ix.changesSince(alice, mb.id, afterOld.highestModseq);
        expect(fromFloor).toMatchObject({ complete: true, expunged: [] });
        expect(fromFloor!.changed.map((m) => m.uid)).toEqual([2, 3]);
        // A young tombstone survives the next trimming pass (older entries may go: the floor can
        // rise to the last entry before it, never past it).
        const beforeYoung = (await ix.mailboxState(alice, mb.id))!;
        await ix.expunge(alice, mb.id, [4]);
        await sleep(retentionMs / 5);
        await short.updateFlags(alice, mb.id, [5], 'add', ['$C']);
        const young = await ix.changesSince(alice, mb.id, beforeYoung.highestModseq);
        expect(young).toMatchObject({ expunged: [4], complete: true });
        expect(young!.changed.map((m) => m.uid)).toEqual([5]);
      });

      it('concurrent writers (two instances storing flags and expunging, one appending): an incremental reader misses nothing', async () => {
        await withUser();
        const mb = await mailboxWith(10);
        const [a, b, c, reader] = [await fx.openAnother(), await fx.openAnother(), await fx.openAnother(), await fx.openAnother()];
        const start = (await reader.mailboxState(alice, mb.id))!;
        // The reader's view: a full listing once, then only changes, as an IMAP session would keep it.
        const view = new Map((await reader.listMessages(alice, mb.id)).map((m) => [m.uid, m]));
        let known = { since: start.highestModseq, uidNext: start.uidNext };
        const sync = async () => {
          const ch = await reader.changesSince(alice, mb.id, known.since, { uidNext: known.uidNext });
          expect(ch!.complete).toBe(true);
          for (const m of ch!.changed) view.set(m.uid, m);
          for (const u of ch!.expunged) view.delete(u);
          known = { since: ch!.state.highestModseq, uidNext: ch!.state.uidNext };
        };
        let writing = true;
        const polling = (async () => {
          while (writing) {
            await sync();
            await yieldTurn();
          }
        })().then(
          () => null,
          (err: unknown) => err,
        );
        try {
          await settleAll([
            (async () => {
              for (let u = 1; u <= 5; u++) await a.updateFlags(alice, mb.id, [u, 10], 'add', [`$A${u}`]);
            })(),
            (async () => {
              for (let u = 6; u <= 9; u++) {
                await b.updateFlags(alice, mb.id, [u, 10], 'add', [`$B${u}`]);
                if (u % 2 === 0) await b.expunge(alice, mb.id, [u]);
              }
            })(),
            (async () => {
              for (let i = 0; i < 5; i++) {
                await c.appendMessage(alice, mb.id, newMessage(`new ${i}`));
                await yieldTurn();
              }
            })(),
          ]);
        } finally {
          writing = false;
        }
        const failed = await polling;
        if (failed) throw failed;
        await sync();
        const all = await ix.listMessages(alice, mb.id);
        expect([...view.values()].sort((x, y) => x.uid - y.uid)).toEqual(all);
        expect(all.map((m) => m.uid)).toEqual([1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 13, 14, 15]);
        // One call from the old modseq sees every change too.
        const once = await ix.changesSince(alice, mb.id, start.highestModseq);
        expect(once!.changed).toEqual(all.filter((m) => m.modseq > start.highestModseq));
        expect(once!.expunged).toEqual([6, 8]);
      });
    });

    describe('quotas (limits, and usage moved by every write: RFC 9208 STORAGE and MESSAGE)', () => {
      it('a new user has no limits and nothing used; setQuota sets and clears limits; unknown users and bad limits are refused', async () => {
        expect(await ix.getQuota(alice)).toBeNull();
        expect(await indexError(ix.setQuota(alice, { storage: 10, messages: null }))).toBe('NOT_FOUND');
        await withUser();
        expect(await ix.getQuota(alice)).toEqual({ limits: { storage: null, messages: null }, usage: { storage: 0, messages: 0 } });
        await ix.setQuota(alice, { storage: 1_000_000, messages: 50 });
        expect((await ix.getQuota(alice))!.limits).toEqual({ storage: 1_000_000, messages: 50 });
        await ix.setQuota(alice, { storage: null, messages: 0 });
        expect((await ix.getQuota(alice))!.limits).toEqual({ storage: null, messages: 0 });
        expect(await indexError(ix.setQuota(alice, { storage: -1, messages: null }))).toBe('INVALID');
        expect(await indexError(ix.setQuota(alice, { storage: 1.5, messages: null }))).toBe('INVALID');
      });

      it('getUser carries the limits setQuota set, and none when there are none (so RCPT and delivery skip the usage read)', async () => {
        await withUser();
        expect((await ix.getUser(alice))!.quota).toBeUndefined();
        await ix.setQuota(alice, { storage: 2048, messages: null });
        expect((await ix.getUser(alice))!.quota).toEqual({ storage: 2048, messages: null });
        await ix.setQuota(alice, { storage: null, messages: 7 });
        expect((await ix.getUser(alice))!.quota).toEqual({ storage: null, messages: 7 });
        await ix.setQuota(alice, { storage: null, messages: null });
        expect((await ix.getUser(alice))!.quota).toBeUndefined();
      });

      it('append, copy, expunge and mailbox delete move the usage by the sizes and counts; a duplicate delivery and another user do not', async () => {
        await withUser();
        await withUser(bob);
        const inbox = await ix.createMailbox(alice, 'INBOX');
        const other = await ix.createMailbox(alice, 'Other');
        const a = await ix.appendMessage(alice, inbox.id, newMessage('a', { size: 100 }));
        const b = await ix.appendMessage(alice, inbox.id, newMessage('b', { size: 250, deliveryKey: 'job-1' }));
        await ix.appendMessage(alice, inbox.id, newMessage('b again', { size: 250, deliveryKey: 'job-1' }));
        await ix.appendMessage(bob, (await ix.createMailbox(bob, 'INBOX')).id, newMessage('bob', { size: 999 }));
        expect((await ix.getQuota(alice))!.usage).toEqual({ storage: 350, messages: 2 });
        // A copy counts again (RFC 9208 §5.1: the sum of the messages' sizes).
        await ix.copyMessages(alice, inbox.id, [a.uid, b.uid], other.id);
        expect((await ix.getQuota(alice))!.usage).toEqual({ storage: 700, messages: 4 });
        await ix.expunge(alice, inbox.id, [a.uid, 99]);
        expect((await ix.getQuota(alice))!.usage).toEqual({ storage: 600, messages: 3 });
        await ix.deleteMailbox(alice, 'Other');
        expect((await ix.getQuota(alice))!.usage).toEqual({ storage: 250, messages: 1 });
        expect((await ix.getQuota(bob))!.usage).toEqual({ storage: 999, messages: 1 });
        // removeUser drops limits and usage: a recreated user starts from nothing.
        await ix.setQuota(bob, { storage: 5, messages: 5 });
        await ix.removeUser(bob);
        await withUser(bob);
        expect(await ix.getQuota(bob)).toEqual({ limits: { storage: null, messages: null }, usage: { storage: 0, messages: 0 } });
      });

      it('concurrent appends and expunges from several instances leave the usage exact', async () => {
        await withUser();
        const mb = await ix.createMailbox(alice, 'INBOX');
        const others = [await fx.openAnother(), await fx.openAnother()];
        const appended = await settleAll(
          Array.from({ length: 12 }, (_, i) => others[i % 2].appendMessage(alice, mb.id, newMessage(`c${i}`, { size: 10 + i }))),
        );
        await settleAll([
          others[0].expunge(alice, mb.id, [appended[0].uid, appended[1].uid]),
          others[1].expunge(alice, mb.id, [appended[1].uid, appended[2].uid]),
        ]);
        const left = await ix.listMessages(alice, mb.id);
        expect((await ix.getQuota(alice))!.usage).toEqual({ storage: left.reduce((n, m) => n + m.size, 0), messages: left.length });
      });
    });

    describe('several instances on one store', () => {
      it('4 writers × 25 appends into one mailbox: UIDs 1..100, and a reader never sees a gap below the highest UID (invariant 3)', async () => {
        await withUser();
        const mb = await ix.createMailbox(alice, 'INBOX');
        const writers = [await fx.openAnother(), await fx.openAnother(), await fx.openAnother(), await fx.openAnother()];
        const reader = await fx.openAnother();
        let writing = true;
        const violations: string[] = [];
        let partial = 0;
        const read = (async () => {
          let lastMax = 0;
          while (writing) {
            const uids = (await reader.listMessages(alice, mb.id)).map((m) => m.uid);
            const max = uids.length ? uids[uids.length - 1] : 0;
            if (max > 0 && max < 100) partial += 1;
            // Contiguous 1..max: no lower UID can still appear later.
            if (uids.length !== max || uids.some((u, i) => u !== i + 1)) violations.push(`saw ${uids.join(',')}`);
            if (max < lastMax) violations.push(`max went back from ${lastMax} to ${max}`);
            lastMax = max;
            await yieldTurn();
          }
        })();
        // Settle everything before asserting, so nothing keeps running past the test (and its cleanup).
        const readError = read.then(
          () => null,
          (err: unknown) => err,
        );
        let perWriter: number[][] = [];
        let writeError: unknown = null;
        try {
          perWriter = await settleAll(
            writers.map(async (w, wi) => {
              const uids: number[] = [];
              for (let i = 0; i < 25; i++) {
                const r = await w.appendMessage(alice, mb.id, newMessage(`w${wi}-${i}`, { deliveryKey: `job-${wi}-${i}/alice` }));
                expect(r.duplicate).toBe(false);
                expect(r.uidValidity).toBe(mb.uidValidity);
                uids.push(r.uid);
                await yieldTurn();
              }
              return uids;
            }),
          );
        } catch (err) {
          writeError = err;
        } finally {
          writing = false;
        }
        const failedRead = await readError;
        if (writeError) throw writeError;
        if (failedRead) throw failedRead;
        expect(violations).toEqual([]);
        // The reader saw the mailbox part-way filled, so the check above was exercised.
        expect(partial).toBeGreaterThan(0);
        // Each writer's own UIDs increase.
        for (const uids of perWriter) expect([...uids].sort((a, b) => a - b)).toEqual(uids);
        const all = perWriter.flat().sort((a, b) => a - b);
        expect(all).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
        expect(await ix.mailboxState(alice, mb.id)).toMatchObject({ uidNext: 101, messageCount: 100 });
        const listed = await reader.listMessages(alice, mb.id);
        expect(listed.map((m) => m.uid)).toEqual(all);
        // Modseqs of appends are distinct and grow with the UID.
        const modseqs = listed.map((m) => m.modseq);
        expect([...modseqs].sort((a, b) => a - b)).toEqual(modseqs);
        expect(new Set(modseqs).size).toBe(100);
      });

      it('flag changes from two instances on one message are both kept (no lost update)', async () => {
        await withUser();
        const mb = await mailboxWith(1);
        const other = await fx.openAnother();
        const rounds = ['$A', '$B', '$C', '$D', '$E'];
        await settleAll([
          (async () => {
            for (const f of rounds) await ix.updateFlags(alice, mb.id, [1], 'add', [`${f}1`]);
          })(),
          (async () => {
            for (const f of rounds) await other.updateFlags(alice, mb.id, [1], 'add', [`${f}2`]);
          })(),
        ]);
        const [m] = await ix.listMessages(alice, mb.id);
        expect([...m.flags].sort()).toEqual(rounds.flatMap((f) => [`${f}1`, `${f}2`]).sort());
      });

      it('two instances creating the same mailbox at once: one succeeds, the other gets EXISTS', async () => {
        await withUser();
        const other = await fx.openAnother();
        const results = await Promise.allSettled([ix.createMailbox(alice, 'Same'), other.createMailbox(alice, 'Same')]);
        expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1);
        const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        expect(rejected.reason).toBeInstanceOf(IndexError);
        expect((rejected.reason as IndexError).code).toBe('EXISTS');
        expect((await other.listMailboxes(alice)).map((m) => m.name)).toEqual(['Same']);
      });

      it('a write by one instance is visible to another at once', async () => {
        await withUser();
        const other = await fx.openAnother();
        const mb = await ix.createMailbox(alice, 'INBOX');
        expect(await other.getMailbox(alice, 'INBOX')).toEqual(mb);
        await other.appendMessage(alice, mb.id, newMessage('x'));
        expect(await ix.mailboxState(alice, mb.id)).toMatchObject({ uidNext: 2, messageCount: 1 });
        await ix.updateFlags(alice, mb.id, [1], 'add', ['\\Seen']);
        expect((await other.listMessages(alice, mb.id))[0].flags).toEqual(['\\Seen']);
      });
    });
  });
}
