/**
 * Contract of MessageRecord.saveDate (core/ports/mail-index.ts; RFC 8514 §3 "save date"), run
 * against both adapter sets (test/contract/local.test.ts, test/contract/aws.test.ts): every
 * record a write creates in a mailbox carries the time of that write — an append (delivery,
 * APPEND, JMAP) and a copy (COPY, MOVE) alike, never the source's date nor the internal date —
 * and it does not change while the message stays in that mailbox.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MailIndex, NewMessage } from '#core/ports/mail-index.ts';
import { sampleMeta, type MailIndexFixture } from './mail-index.contract.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let seq = 0;
function message(subject: string): NewMessage {
  seq += 1;
  return {
    blobKey: `messages/save-date/${Date.now().toString(36)}-${seq}`,
    size: 120,
    // An internal date years back (as APPEND may give): the save date must not follow it.
    internalDate: Date.UTC(2001, 0, 2, 3, 4, 5),
    flags: [],
    meta: sampleMeta(subject),
  };
}

export function saveDateContract(adapterName: string, make: () => Promise<MailIndexFixture>): void {
  describe(`MailIndex save dates (RFC 8514 §3): ${adapterName}`, () => {
    let fx: MailIndexFixture;
    let ix: MailIndex;
    const alice = 'alice@example.test';

    beforeEach(async () => {
      fx = await make();
      ix = fx.index;
      await ix.addUser({ address: alice, passwordHash: 'scrypt$hash' });
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('RFC 8514 §3: appendMessage stamps the time of the append, not the internal date; every read reports it', async () => {
      const mb = await ix.createMailbox(alice, 'INBOX');
      const before = Date.now();
      await ix.appendMessage(alice, mb.id, message('one'));
      const after = Date.now();
      const [listed] = await ix.listMessages(alice, mb.id);
      expect(listed.saveDate).toBeGreaterThanOrEqual(before);
      expect(listed.saveDate).toBeLessThanOrEqual(after);
      expect(listed.internalDate).toBe(Date.UTC(2001, 0, 2, 3, 4, 5));
      const [withMeta] = await ix.listMessages(alice, mb.id, { withMeta: true });
      const [got] = await ix.getMessages(alice, mb.id, [1]);
      const [gotStructure] = await ix.getMessages(alice, mb.id, [1], { withMeta: 'structure' });
      const changes = await ix.changesSince(alice, mb.id, mb.highestModseq);
      for (const rec of [withMeta, got, gotStructure, changes!.changed[0]]) expect(rec.saveDate).toBe(listed.saveDate);
    });

    it('RFC 8514 §3: copyMessages (COPY, MOVE) gives the copy the time of the copy; the source keeps its own', async () => {
      const inbox = await ix.createMailbox(alice, 'INBOX');
      const archive = await ix.createMailbox(alice, 'Archive');
      await ix.appendMessage(alice, inbox.id, message('a'));
      await ix.appendMessage(alice, inbox.id, message('b'));
      const [source] = await ix.getMessages(alice, inbox.id, [1]);
      await sleep(15);
      const before = Date.now();
      const { mapping } = await ix.copyMessages(alice, inbox.id, [1, 2], archive.id);
      const after = Date.now();
      expect(mapping).toEqual([
        { from: 1, to: 1 },
        { from: 2, to: 2 },
      ]);
      for (const copy of await ix.listMessages(alice, archive.id)) {
        expect(copy.saveDate).toBeGreaterThanOrEqual(before);
        expect(copy.saveDate).toBeLessThanOrEqual(after);
        expect(copy.internalDate).toBe(source.internalDate);
      }
      expect((await ix.getMessages(alice, inbox.id, [1]))[0].saveDate).toBe(source.saveDate);
      expect(source.saveDate).toBeLessThan(before);
    });

    it('RFC 8514 §3: the save date does not change while the message stays in its mailbox (flag changes, other writes)', async () => {
      const mb = await ix.createMailbox(alice, 'INBOX');
      await ix.appendMessage(alice, mb.id, message('stay'));
      const [first] = await ix.listMessages(alice, mb.id);
      await sleep(15);
      await ix.updateFlags(alice, mb.id, [1], 'add', ['\\Seen', '$Label']);
      await ix.appendMessage(alice, mb.id, message('later'));
      await ix.expunge(alice, mb.id, [2]);
      const [again] = await ix.listMessages(alice, mb.id);
      expect(again.flags).toContain('\\Seen');
      expect(again.saveDate).toBe(first.saveDate);
    });
  });
}
