/**
 * Contract of MailIndex.listEnvelopes (core/ports/mail-index.ts), run against both adapter sets
 * (test/contract/local.test.ts, test/contract/aws.test.ts): the same messages as listMessages,
 * with their size, internal date and an ENVELOPE that a session writes exactly as it writes the
 * record's meta.envelope (RFC 3501 §7.4.2), with and without UTF8=ACCEPT (RFC 6855 §3) — after
 * appends, copies and expunges, so an envelope kept apart from the meta can never be another
 * message's, a stale one or a wrong one.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexMessage } from '#core/mime/index-message.ts';
import type { Envelope, MessageMeta } from '#core/mime/types.ts';
import type { EnvelopeRecord, MailIndex, NewMessage } from '#core/ports/mail-index.ts';
import { chunksToBuffer } from '#listeners/imap/protocol/encode.ts';
import { envelopeChunks } from '#listeners/imap/protocol/structure.ts';
import { corpusFiles } from '../support/corpus.ts';
import type { MailIndexFixture } from './mail-index.contract.ts';

/** The ENVELOPE as a session writes it. */
export function writtenEnvelope(env: string | Envelope, utf8: boolean): string {
  return typeof env === 'string' ? env : chunksToBuffer(envelopeChunks(env, { utf8 })).toString('latin1');
}

/** Checks listEnvelopes' answer against the records' meta (listMessages, the same range). */
export function expectSameEnvelopes(got: EnvelopeRecord[], records: Array<{ uid: number; size: number; internalDate: number; meta?: MessageMeta }>): void {
  expect(got.map((e) => [e.uid, e.size, e.internalDate])).toEqual(records.map((r) => [r.uid, r.size, r.internalDate]));
  got.forEach((e, i) => {
    const env = records[i].meta!.envelope;
    for (const utf8 of [false, true]) expect(writtenEnvelope(e.envelope, utf8), `UID ${e.uid}, utf8 ${utf8}`).toBe(writtenEnvelope(env, utf8));
    if (typeof e.envelope !== 'string') expect(e.envelope).toEqual(env);
  });
}

const hdr = (...lines: string[]) => Buffer.from(lines.join('\r\n') + '\r\n\r\nbody\r\n', 'utf8');

/** Real-world messages (a few of the corpus, every one whose envelope has 8-bit text) and some made here. */
function messages(): Buffer[] {
  const made = [
    hdr('From: "Q \\"x\\"" <q@example.test>', 'Subject: plain', 'Message-ID: <a@example.test>'),
    hdr('From: Zoë <z@example.test>', 'Subject: café', 'To: g: a@example.test;'),
    hdr(`Subject: ${'long '.repeat(300)}`),
    hdr('Date: Mon, 1 Jan 2024 00:00:00 +0000'),
  ];
  const corpus = corpusFiles().map((f) => f.raw);
  const eightBit = corpus.filter((raw) => /[\u0080-\uffff]/.test(JSON.stringify(indexMessage(raw).envelope)));
  return [...made, ...eightBit, ...corpus.filter((_, i) => i % 12 === 0)];
}

export function envelopesContract(adapterName: string, make: () => Promise<MailIndexFixture>): void {
  describe(`MailIndex listEnvelopes (RFC 3501 §7.4.2 ENVELOPE): ${adapterName}`, () => {
    let fx: MailIndexFixture;
    let ix: MailIndex;
    const alice = 'alice@example.test';
    const bob = 'bob@example.test';
    const raws = messages();
    const newMessage = (raw: Buffer, i: number): NewMessage => ({
      blobKey: `messages/envelopes/${Date.now().toString(36)}-${i}`,
      size: raw.length,
      internalDate: 1_700_000_000_000 + i * 1000,
      flags: i % 2 ? ['\\Seen'] : [],
      meta: indexMessage(raw),
    });

    beforeEach(async () => {
      fx = await make();
      ix = fx.index;
      await ix.addUser({ address: alice, passwordHash: 'scrypt$hash' });
      await ix.addUser({ address: bob, passwordHash: 'scrypt$hash' });
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('gives every message of the range with the ENVELOPE its meta gives, in both session forms (RFC 6855 §3); bounds inclusive', async () => {
      const mb = await ix.createMailbox(alice, 'INBOX');
      for (const [i, raw] of raws.entries()) await ix.appendMessage(alice, mb.id, newMessage(raw, i));
      const records = await ix.listMessages(alice, mb.id, { withMeta: 'structure' });
      expect(records).toHaveLength(raws.length);
      expectSameEnvelopes(await ix.listEnvelopes(alice, mb.id), records);
      expectSameEnvelopes(await ix.listEnvelopes(alice, mb.id, { uidFrom: 2, uidTo: 4 }), records.slice(1, 4));
      expectSameEnvelopes(await ix.listEnvelopes(alice, mb.id, { uidFrom: 3 }), records.slice(2));
      expect(await ix.listEnvelopes(alice, mb.id, { uidFrom: raws.length + 1 })).toEqual([]);
      // The ASCII ones come as the IMAP text, the same in every session.
      expect((await ix.listEnvelopes(alice, mb.id, { uidTo: 1 }))[0].envelope).toBe(
        '(NIL "plain" (("Q \\"x\\"" NIL "q" "example.test")) (("Q \\"x\\"" NIL "q" "example.test")) (("Q \\"x\\"" NIL "q" "example.test")) NIL NIL NIL NIL "<a@example.test>")',
      );
    });

    it('follows copies and expunges: a copy has its source`s envelope, an expunged message is gone, other mailboxes are untouched', async () => {
      const inbox = await ix.createMailbox(alice, 'INBOX');
      const archive = await ix.createMailbox(alice, 'Archive');
      const some = raws.slice(0, 8);
      for (const [i, raw] of some.entries()) await ix.appendMessage(alice, inbox.id, newMessage(raw, i));
      await ix.appendMessage(alice, archive.id, newMessage(raws[9], 9));
      const { mapping } = await ix.copyMessages(alice, inbox.id, [2, 3, 6], archive.id);
      expect(mapping.map((m) => m.to)).toEqual([2, 3, 4]);
      await ix.expunge(alice, inbox.id, [2, 5]);
      await ix.expunge(alice, archive.id, [3]);
      for (const mb of [inbox, archive]) {
        const records = await ix.listMessages(alice, mb.id, { withMeta: 'structure' });
        expectSameEnvelopes(await ix.listEnvelopes(alice, mb.id), records);
      }
      expect((await ix.listEnvelopes(alice, inbox.id)).map((e) => e.uid)).toEqual([1, 3, 4, 6, 7, 8]);
      expect((await ix.listEnvelopes(alice, archive.id)).map((e) => e.uid)).toEqual([1, 2, 4]);
      // Another instance on the same store reads the same.
      const other = await fx.openAnother();
      expectSameEnvelopes(await other.listEnvelopes(alice, archive.id), await ix.listMessages(alice, archive.id, { withMeta: 'structure' }));
    });

    it("gives nothing of another user's mailbox (invariant 4) or of an absent one", async () => {
      const bobs = await ix.createMailbox(bob, 'INBOX');
      await ix.appendMessage(bob, bobs.id, newMessage(raws[0], 0));
      expect(await ix.listEnvelopes(alice, bobs.id)).toEqual([]);
      expect(await ix.listEnvelopes(alice, 'no-such-id')).toEqual([]);
      expect(await ix.listEnvelopes(bob, bobs.id)).toHaveLength(1);
    });
  });
}
