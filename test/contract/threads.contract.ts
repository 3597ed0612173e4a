/**
 * Contract of the MailIndex threads (core/ports/mail-index.ts, "Threads"; RFC 8621 §3, RFC
 * 8474 THREADID), run against SQLite (local.test.ts) and DynamoDB (aws.test.ts): a message's
 * thread is decided when it is stored, from its Message-ID, In-Reply-To and References and its
 * base subject, kept on every copy and reported by every read.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IndexError, type MailIndex, type Mailbox, type NewMessage, type ThreadKeys } from '#core/ports/mail-index.ts';
import { sampleMeta, type MailIndexFixture } from './mail-index.contract.ts';

let seq = 0;
function message(thread: ThreadKeys | undefined, blobKey?: string): NewMessage {
  seq += 1;
  return {
    blobKey: blobKey ?? `messages/threads/${Date.now().toString(36)}-${seq}`,
    size: 120,
    internalDate: 1_700_000_000_000 + seq * 1000,
    flags: [],
    meta: sampleMeta(`m${seq}`),
    ...(thread ? { thread } : {}),
  };
}

function keys(messageId: string | null, subject: string, refs: { inReplyTo?: string; references?: string[] } = {}): ThreadKeys {
  return { messageId, inReplyTo: refs.inReplyTo ?? null, references: refs.references ?? [], subject };
}

export function threadsContract(name: string, make: () => Promise<MailIndexFixture>): void {
  describe(`MailIndex threads contract: ${name}`, () => {
    let fx: MailIndexFixture;
    let ix: MailIndex;
    let inbox: Mailbox;
    const alice = 'alice@example.test';

    beforeEach(async () => {
      fx = await make();
      ix = fx.index;
      await ix.addDomain('example.test');
      await ix.addUser({ address: alice, passwordHash: 'x' });
      inbox = await ix.createMailbox(alice, 'INBOX');
    }, 60_000);
    afterEach(async () => {
      await fx.cleanup();
    });

    async function threadOf(mailboxId: string, uid: number): Promise<string | undefined> {
      const [rec] = await ix.getMessages(alice, mailboxId, [uid], { withMeta: false });
      return rec.threadId;
    }

    it('a reply joins its parent’s thread, by In-Reply-To or by References alone (RFC 8621 §3)', async () => {
      const parent = await ix.appendMessage(alice, inbox.id, message(keys('p@x', 'TOPIC')));
      expect(parent.threadId).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      const reply = await ix.appendMessage(alice, inbox.id, message(keys('r1@x', 'TOPIC', { inReplyTo: 'p@x', references: ['p@x'] })));
      const byRefs = await ix.appendMessage(alice, inbox.id, message(keys('r2@x', 'TOPIC', { references: ['p@x', 'r1@x'] })));
      expect(reply.threadId).toBe(parent.threadId);
      expect(byRefs.threadId).toBe(parent.threadId);
      expect(await threadOf(inbox.id, reply.uid)).toBe(parent.threadId);
    });

    it('a reply filed in another mailbox joins the thread: the map is per account, not per mailbox', async () => {
      const sent = await ix.createMailbox(alice, 'Sent');
      const parent = await ix.appendMessage(alice, inbox.id, message(keys('p@x', 'TOPIC')));
      const reply = await ix.appendMessage(alice, sent.id, message(keys('r@x', 'TOPIC', { inReplyTo: 'p@x' })));
      expect(reply.threadId).toBe(parent.threadId);
    });

    it('a parent stored after its reply joins the reply’s thread (the reply recorded the ids it referred to)', async () => {
      const reply = await ix.appendMessage(alice, inbox.id, message(keys('r@x', 'TOPIC', { inReplyTo: 'p@x', references: ['root@x', 'p@x'] })));
      const parent = await ix.appendMessage(alice, inbox.id, message(keys('p@x', 'TOPIC', { references: ['root@x'] })));
      const root = await ix.appendMessage(alice, inbox.id, message(keys('root@x', 'TOPIC')));
      expect(parent.threadId).toBe(reply.threadId);
      expect(root.threadId).toBe(reply.threadId);
    });

    it('an unrelated message with the same subject starts a thread of its own (no shared id)', async () => {
      const a = await ix.appendMessage(alice, inbox.id, message(keys('a@x', 'LUNCH')));
      const b = await ix.appendMessage(alice, inbox.id, message(keys('b@x', 'LUNCH')));
      expect(b.threadId).toBeDefined();
      expect(b.threadId).not.toBe(a.threadId);
    });

    it('a reply with another base subject starts a new thread (RFC 8621 §3 condition 2), and its own replies follow it', async () => {
      const parent = await ix.appendMessage(alice, inbox.id, message(keys('p@x', 'TOPIC')));
      const changed = await ix.appendMessage(alice, inbox.id, message(keys('n@x', 'SOMETHING ELSE', { inReplyTo: 'p@x', references: ['p@x'] })));
      const next = await ix.appendMessage(alice, inbox.id, message(keys('n2@x', 'SOMETHING ELSE', { inReplyTo: 'n@x', references: ['p@x', 'n@x'] })));
      expect(changed.threadId).not.toBe(parent.threadId);
      expect(next.threadId).toBe(changed.threadId);
    });

    it('copies keep the thread id, and listMessages, getMessages and changesSince report it', async () => {
      const archive = await ix.createMailbox(alice, 'Archive');
      const parent = await ix.appendMessage(alice, inbox.id, message(keys('p@x', 'TOPIC')));
      const { mapping } = await ix.copyMessages(alice, inbox.id, [parent.uid], archive.id);
      expect(await threadOf(archive.id, mapping[0].to)).toBe(parent.threadId);
      const [listed] = await ix.listMessages(alice, archive.id);
      expect(listed.threadId).toBe(parent.threadId);
      const [withMeta] = await ix.listMessages(alice, archive.id, { withMeta: true });
      expect(withMeta.threadId).toBe(parent.threadId);
      const changes = await ix.changesSince(alice, archive.id, archive.highestModseq);
      expect(changes?.changed.map((r) => r.threadId)).toEqual([parent.threadId]);
      // The source expunged (a MOVE): the copy keeps it, the tombstone names the thread, and a late reply still finds the thread.
      const before = (await ix.mailboxState(alice, inbox.id))!.highestModseq;
      await ix.expunge(alice, inbox.id, [parent.uid]);
      const gone = await ix.changesSince(alice, inbox.id, before, { withBlobKeys: true });
      expect(gone?.expunged).toEqual([parent.uid]);
      expect(gone?.expungedThreadIds).toEqual([parent.threadId]);
      expect(await threadOf(archive.id, mapping[0].to)).toBe(parent.threadId);
      const late = await ix.appendMessage(alice, inbox.id, message(keys('late@x', 'TOPIC', { inReplyTo: 'p@x' })));
      expect(late.threadId).toBe(parent.threadId);
    });

    it('the same stored message appended to two mailboxes is one thread, with or without a Message-ID', async () => {
      const other = await ix.createMailbox(alice, 'Other');
      const blob = `messages/threads/shared-${Date.now()}`;
      const a = await ix.appendMessage(alice, inbox.id, message(keys(null, 'NO ID'), blob));
      const b = await ix.appendMessage(alice, other.id, message(keys(null, 'NO ID'), blob));
      expect(b.threadId).toBe(a.threadId);
      const c = await ix.appendMessage(alice, inbox.id, message(keys('same@x', 'X')));
      const d = await ix.appendMessage(alice, other.id, message(keys('same@x', 'X')));
      expect(d.threadId).toBe(c.threadId);
      // Two messages without ids and different blobs share nothing.
      const e = await ix.appendMessage(alice, inbox.id, message(keys(null, 'NO ID')));
      expect(e.threadId).not.toBe(a.threadId);
    });

    it('records stored without thread keys (as before threads existed) have no thread id and are not in the map', async () => {
      const old = await ix.appendMessage(alice, inbox.id, message(undefined));
      expect(old.threadId).toBeUndefined();
      const [rec] = await ix.listMessages(alice, inbox.id);
      expect(rec.threadId).toBeUndefined();
      const archive = await ix.createMailbox(alice, 'Archive');
      const { mapping } = await ix.copyMessages(alice, inbox.id, [old.uid], archive.id);
      expect(await threadOf(archive.id, mapping[0].to)).toBeUndefined();
      const before = (await ix.mailboxState(alice, inbox.id))!.highestModseq;
      await ix.expunge(alice, inbox.id, [old.uid]);
      const gone = await ix.changesSince(alice, inbox.id, before, { withBlobKeys: true });
      expect(gone?.expungedThreadIds).toEqual([null]);
    });

    it('another user’s messages never join: the map is per user', async () => {
      const bob = 'bob@example.test';
      await ix.addUser({ address: bob, passwordHash: 'x' });
      const bobInbox = await ix.createMailbox(bob, 'INBOX');
      const a = await ix.appendMessage(alice, inbox.id, message(keys('p@x', 'TOPIC')));
      const b = await ix.appendMessage(bob, bobInbox.id, message(keys('r@x', 'TOPIC', { inReplyTo: 'p@x' })));
      expect(b.threadId).not.toBe(a.threadId);
    });

    it('removeUser removes the map: the same address created again starts afresh', async () => {
      const a = await ix.appendMessage(alice, inbox.id, message(keys('p@x', 'TOPIC')));
      await ix.removeUser(alice);
      await ix.addUser({ address: alice, passwordHash: 'x' });
      const again = await ix.createMailbox(alice, 'INBOX');
      const r = await ix.appendMessage(alice, again.id, message(keys('r@x', 'TOPIC', { inReplyTo: 'p@x' })));
      expect(r.threadId).not.toBe(a.threadId);
    });

    it('malformed thread keys are INVALID and store nothing', async () => {
      const bad: ThreadKeys[] = [
        keys('', 'X'),
        keys('a@x', 'X', { references: Array.from({ length: 12 }, (_, i) => `r${i}@x`) }),
        keys('x'.repeat(501), 'X'),
        { messageId: 'a@x', inReplyTo: null, references: [3 as unknown as string], subject: 'X' },
      ];
      for (const thread of bad) {
        const err = await ix.appendMessage(alice, inbox.id, message(thread)).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(IndexError);
        expect((err as IndexError).code).toBe('INVALID');
      }
      expect(await ix.listMessages(alice, inbox.id)).toEqual([]);
    });
  });
}
