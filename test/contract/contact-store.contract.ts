/**
 * The ContactStore contract (core/ports/contacts.ts), run on both adapters: local.test.ts
 * (SQLite) and aws.test.ts (DynamoDB on the emulator).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContactError, MAX_VCARD_BYTES, contactEtag, type ContactStore } from '#core/ports/contacts.ts';

export interface ContactStoreFixture {
  store: ContactStore;
  /** A second instance on the same storage (another process or container). */
  openAnother(): Promise<ContactStore>;
  cleanup(): Promise<void>;
}

const card = (uid: string, fn: string, extra = '') => Buffer.from(`BEGIN:VCARD\r\nVERSION:4.0\r\nUID:${uid}\r\nFN:${fn}\r\n${extra}END:VCARD\r\n`);

async function rejectsWith(p: Promise<unknown>, code: ContactError['code']): Promise<void> {
  await expect(p).rejects.toBeInstanceOf(ContactError);
  await p.catch((e: ContactError) => expect(e.code).toBe(code));
}

export function contactStoreContract(adapterName: string, make: () => Promise<ContactStoreFixture>): void {
  describe(`ContactStore contract: ${adapterName}`, () => {
    let fx: ContactStoreFixture;
    let cs: ContactStore;
    const alice = 'alice@example.test';
    const bob = 'bob@example.test';

    beforeEach(async () => {
      fx = await make();
      cs = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('creates, lists and deletes address books; a second create of the same id is EXISTS', async () => {
      const b = await cs.createAddressBook(alice, { id: 'default', displayName: 'Contacts' });
      expect(b).toMatchObject({ id: 'default', displayName: 'Contacts', description: null, syncToken: 0 });
      await rejectsWith(cs.createAddressBook(alice, { id: 'default', displayName: 'Again' }), 'EXISTS');
      await rejectsWith(cs.createAddressBook(alice, { id: '../x', displayName: 'Bad' }), 'INVALID');
      await cs.createAddressBook(alice, { id: 'work', displayName: 'Work', description: 'colleagues' });
      expect((await cs.listAddressBooks(alice)).map((x) => x.id)).toEqual(['default', 'work']);
      await cs.deleteAddressBook(alice, 'work');
      expect(await cs.getAddressBook(alice, 'work')).toBeNull();
      await rejectsWith(cs.deleteAddressBook(alice, 'work'), 'NOT_FOUND');
    });

    it('renames a book (display name and description) keeping its cards, sync token and creation time; NOT_FOUND for a missing one or another user', async () => {
      const b = await cs.createAddressBook(alice, { id: 'work', displayName: 'Work', description: 'colleagues' });
      await cs.putContact(alice, 'work', 'a.vcf', { data: card('a', 'A'), uid: 'a' });
      const r = await cs.updateAddressBook(alice, 'work', { displayName: 'Office', description: null });
      expect(r).toMatchObject({ id: 'work', displayName: 'Office', description: null, syncToken: 1, createdAt: b.createdAt });
      expect(await cs.getAddressBook(alice, 'work')).toEqual(r);
      await cs.updateAddressBook(alice, 'work', { displayName: 'Office', description: 'the team' });
      expect((await cs.getAddressBook(alice, 'work'))!.description).toBe('the team');
      expect((await cs.listContacts(alice, 'work')).map((c) => c.name)).toEqual(['a.vcf']);
      await rejectsWith(cs.updateAddressBook(alice, 'nope', { displayName: 'X', description: null }), 'NOT_FOUND');
      await rejectsWith(cs.updateAddressBook(bob, 'work', { displayName: 'X', description: null }), 'NOT_FOUND');
      expect(await cs.getAddressBook(bob, 'work')).toBeNull();
    });

    it('returns the exact bytes it was given (folded lines, LF endings, a non-ASCII name) with the SHA-256 ETag', async () => {
      await cs.createAddressBook(alice, { id: 'default', displayName: 'Contacts' });
      const data = Buffer.from('BEGIN:VCARD\nVERSION:3.0\nUID:u-1\nFN:Zoë Ångström\nNOTE:a long line that is\n  folded here\nEND:VCARD\n');
      const put = await cs.putContact(alice, 'default', 'u-1.vcf', { data, uid: 'u-1' });
      expect(put.created).toBe(true);
      expect(put.contact.etag).toBe(contactEtag(data));
      const got = await cs.getContact(alice, 'default', 'u-1.vcf');
      expect(got?.data.equals(data)).toBe(true);
      expect(got).toMatchObject({ name: 'u-1.vcf', uid: 'u-1', etag: put.contact.etag, size: data.length, modseq: 1 });
    });

    it('remembers the vCard version a writer sent (clientVersion) in every read; a put without one keeps it, a put with one replaces it', async () => {
      await cs.createAddressBook(alice, { id: 'default', displayName: 'Contacts' });
      const put = await cs.putContact(alice, 'default', 'ios.vcf', { data: card('ios', 'From iOS'), uid: 'ios', clientVersion: '3.0' });
      expect(put.contact.clientVersion).toBe('3.0');
      await cs.putContact(alice, 'default', 'plain.vcf', { data: card('plain', 'Plain'), uid: 'plain' });
      expect((await cs.getContact(alice, 'default', 'ios.vcf'))!.clientVersion).toBe('3.0');
      expect((await cs.getContact(alice, 'default', 'plain.vcf'))!.clientVersion).toBeUndefined();
      expect((await cs.listContacts(alice, 'default')).map((c) => [c.name, c.clientVersion])).toEqual([
        ['ios.vcf', '3.0'],
        ['plain.vcf', undefined],
      ]);
      // A JMAP edit (no version given) keeps what the phone wrote; the phone's next put sets it again.
      const edited = await cs.putContact(alice, 'default', 'ios.vcf', { data: card('ios', 'Edited on the web'), uid: 'ios' });
      expect(edited.contact.clientVersion).toBe('3.0');
      expect((await cs.changesSince(alice, 'default', 0))!.changed.find((c) => c.name === 'ios.vcf')!.clientVersion).toBe('3.0');
      expect((await cs.getContacts(alice, 'default', ['ios.vcf']))[0].clientVersion).toBe('3.0');
      await cs.putContact(alice, 'default', 'ios.vcf', { data: card('ios', 'From a 4.0 client'), uid: 'ios', clientVersion: '4.0' });
      expect((await cs.getContact(alice, 'default', 'ios.vcf'))!.clientVersion).toBe('4.0');
      // Deleted and put again: a new card, nothing remembered.
      await cs.deleteContact(alice, 'default', 'ios.vcf');
      await cs.putContact(alice, 'default', 'ios.vcf', { data: card('ios', 'Again'), uid: 'ios' });
      expect((await cs.getContact(alice, 'default', 'ios.vcf'))!.clientVersion).toBeUndefined();
    });

    it('stores a card near the size limit (a large inline photo) whole, and refuses one above it with TOO_LARGE', async () => {
      await cs.createAddressBook(alice, { id: 'default', displayName: 'Contacts' });
      const head = 'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:big\r\nFN:Big\r\nPHOTO:data:image/jpeg;base64,';
      const tail = '\r\nEND:VCARD\r\n';
      const photo = Buffer.alloc(MAX_VCARD_BYTES - head.length - tail.length, 'A').toString();
      const data = Buffer.from(head + photo + tail);
      expect(data.length).toBe(MAX_VCARD_BYTES);
      await cs.putContact(alice, 'default', 'big.vcf', { data, uid: 'big' });
      expect((await cs.getContact(alice, 'default', 'big.vcf'))?.data.equals(data)).toBe(true);
      const [viaMany] = await cs.getContacts(alice, 'default', ['big.vcf']);
      expect(viaMany.data.equals(data)).toBe(true);
      // Replaced by a small card: the old pieces must not come back.
      const small = card('big', 'Small now');
      await cs.putContact(alice, 'default', 'big.vcf', { data: small, uid: 'big' });
      expect((await cs.getContact(alice, 'default', 'big.vcf'))?.data.equals(small)).toBe(true);
      await rejectsWith(cs.putContact(alice, 'default', 'huge.vcf', { data: Buffer.concat([data, Buffer.from('X')]), uid: 'huge' }), 'TOO_LARGE');
    });

    it('checks If-None-Match: * and If-Match in the write (RFC 7232 §3.1, §3.2)', async () => {
      await cs.createAddressBook(alice, { id: 'default', displayName: 'Contacts' });
      const first = await cs.putContact(alice, 'default', 'a.vcf', { data: card('a', 'A'), uid: 'a' }, { ifNoneMatch: true });
      await rejectsWith(cs.putContact(alice, 'default', 'a.vcf', { data: card('a', 'A2'), uid: 'a' }, { ifNoneMatch: true }), 'PRECONDITION_FAILED');
      await rejectsWith(cs.putContact(alice, 'default', 'a.vcf', { data: card('a', 'A2'), uid: 'a' }, { ifMatch: 'not-the-etag' }), 'PRECONDITION_FAILED');
      await rejectsWith(
        cs.putContact(alice, 'default', 'none.vcf', { data: card('n', 'N'), uid: 'n' }, { ifMatch: first.contact.etag }),
        'PRECONDITION_FAILED',
      );
      const second = await cs.putContact(alice, 'default', 'a.vcf', { data: card('a', 'A2'), uid: 'a' }, { ifMatch: first.contact.etag });
      expect(second.created).toBe(false);
      await rejectsWith(cs.deleteContact(alice, 'default', 'a.vcf', { ifMatch: first.contact.etag }), 'PRECONDITION_FAILED');
      await cs.deleteContact(alice, 'default', 'a.vcf', { ifMatch: second.contact.etag });
      await rejectsWith(cs.deleteContact(alice, 'default', 'a.vcf'), 'NOT_FOUND');
    });

    it('of two writers with the same If-Match, exactly one wins', async () => {
      await cs.createAddressBook(alice, { id: 'default', displayName: 'Contacts' });
      const other = await fx.openAnother();
      const { contact } = await cs.putContact(alice, 'default', 'a.vcf', { data: card('a', 'A'), uid: 'a' });
      const results = await Promise.allSettled([
        cs.putContact(alice, 'default', 'a.vcf', { data: card('a', 'one'), uid: 'a' }, { ifMatch: contact.etag }),
        other.putContact(alice, 'default', 'a.vcf', { data: card('a', 'two'), uid: 'a' }, { ifMatch: contact.etag }),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const failed = results.find((r) => r.status === 'rejected');
      expect((failed!.reason as ContactError).code).toBe('PRECONDITION_FAILED');
    });

    it('refuses a second card with the same vCard UID in one book (RFC 6352 §6.3.2.1 no-uid-conflict), and frees a UID on delete or change', async () => {
      await cs.createAddressBook(alice, { id: 'default', displayName: 'Contacts' });
      await cs.createAddressBook(alice, { id: 'work', displayName: 'Work' });
      await cs.putContact(alice, 'default', 'a.vcf', { data: card('same', 'A'), uid: 'same' });
      await rejectsWith(cs.putContact(alice, 'default', 'b.vcf', { data: card('same', 'B'), uid: 'same' }), 'UID_CONFLICT');
      await cs.putContact(alice, 'work', 'b.vcf', { data: card('same', 'B'), uid: 'same' }); // another book: fine
      await cs.putContact(alice, 'default', 'a.vcf', { data: card('other', 'A'), uid: 'other' });
      await cs.putContact(alice, 'default', 'b.vcf', { data: card('same', 'B'), uid: 'same' });
      await cs.deleteContact(alice, 'default', 'b.vcf');
      await cs.putContact(alice, 'default', 'c.vcf', { data: card('same', 'C'), uid: 'same' });
    });

    it('changesSince reports what changed after a token: puts with their ETags, deletions as removed, nothing after a quiet period (RFC 6578 §3.8)', async () => {
      await cs.createAddressBook(alice, { id: 'default', displayName: 'Contacts' });
      for (const n of ['a', 'b', 'c']) await cs.putContact(alice, 'default', `${n}.vcf`, { data: card(n, n), uid: n });
      const full = (await cs.changesSince(alice, 'default', 0))!;
      expect(full.syncToken).toBe(3);
      expect(full.changed.map((c) => c.name).sort()).toEqual(['a.vcf', 'b.vcf', 'c.vcf']);
      expect(full.removed).toEqual([]);
      expect(await cs.changesSince(alice, 'default', full.syncToken)).toEqual({ syncToken: 3, changed: [], removed: [] });

      const b2 = await cs.putContact(alice, 'default', 'b.vcf', { data: card('b', 'b2'), uid: 'b' });
      await cs.deleteContact(alice, 'default', 'c.vcf');
      await cs.putContact(alice, 'default', 'd.vcf', { data: card('d', 'd'), uid: 'd' });
      await cs.deleteContact(alice, 'default', 'd.vcf'); // created and deleted since the token
      const inc = (await cs.changesSince(alice, 'default', 3))!;
      expect(inc.syncToken).toBe(7);
      expect(inc.changed).toEqual([b2.contact]);
      expect(inc.removed.sort()).toEqual(['c.vcf', 'd.vcf']);

      // A deleted name put again is a change, not a removal.
      await cs.putContact(alice, 'default', 'c.vcf', { data: card('c', 'back'), uid: 'c' });
      const again = (await cs.changesSince(alice, 'default', 7))!;
      expect(again.changed.map((c) => c.name)).toEqual(['c.vcf']);
      expect(again.removed).toEqual([]);
      expect((await cs.changesSince(alice, 'default', 3))!.removed).toEqual(['d.vcf']);
      expect((await cs.listContacts(alice, 'default')).map((c) => c.name)).toEqual(['a.vcf', 'b.vcf', 'c.vcf']);
      expect(await cs.changesSince(alice, 'nobook', 0)).toBeNull();
    });

    it("keeps users apart: one user's books and cards are invisible to another", async () => {
      await cs.createAddressBook(alice, { id: 'default', displayName: 'Contacts' });
      await cs.putContact(alice, 'default', 'a.vcf', { data: card('a', 'A'), uid: 'a' });
      expect(await cs.listAddressBooks(bob)).toEqual([]);
      expect(await cs.getContact(bob, 'default', 'a.vcf')).toBeNull();
      expect(await cs.getContacts(bob, 'default', ['a.vcf'])).toEqual([]);
      expect(await cs.changesSince(bob, 'default', 0)).toBeNull();
      await rejectsWith(cs.putContact(bob, 'default', 'a.vcf', { data: card('a', 'B'), uid: 'a' }), 'NOT_FOUND');
      await rejectsWith(cs.deleteContact(bob, 'default', 'a.vcf'), 'NOT_FOUND');
      await rejectsWith(cs.listContacts(bob, 'default'), 'NOT_FOUND');
    });

    it('refuses resource names that could escape the collection', async () => {
      await cs.createAddressBook(alice, { id: 'default', displayName: 'Contacts' });
      for (const name of ['..', '.', 'a/b.vcf', '', 'a\u0000b', 'x'.repeat(201)]) {
        await rejectsWith(cs.putContact(alice, 'default', name, { data: card('a', 'A'), uid: 'a' }), 'INVALID');
      }
      await rejectsWith(cs.putContact(alice, 'default', 'ok.vcf', { data: card('a', 'A'), uid: '' }), 'INVALID');
    });

    it('deleting a book or all of a user’s contacts removes the cards; a book recreated starts a new log', async () => {
      await cs.createAddressBook(alice, { id: 'default', displayName: 'Contacts' });
      await cs.putContact(alice, 'default', 'a.vcf', { data: card('a', 'A'), uid: 'a' });
      await cs.deleteAddressBook(alice, 'default');
      const again = await cs.createAddressBook(alice, { id: 'default', displayName: 'Contacts' });
      expect(again.syncToken).toBe(0);
      expect(await cs.getContact(alice, 'default', 'a.vcf')).toBeNull();
      expect(await cs.changesSince(alice, 'default', 0)).toEqual({ syncToken: 0, changed: [], removed: [] });
      await cs.putContact(alice, 'default', 'a.vcf', { data: card('a', 'A'), uid: 'a' }); // the UID is free again
      await cs.removeAllContacts(alice);
      expect(await cs.listAddressBooks(alice)).toEqual([]);
    });
  });
}
