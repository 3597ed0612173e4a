/**
 * Contact photos as blobs (core/contacts/photo-blobs.ts, issue 19), run on both adapter sets:
 * local.test.ts (SQLite + files) and aws.test.ts (DynamoDB + S3 on the emulator).
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INLINE_PHOTO_MAX, PhotoBlobContactStore, photoBlobKey, photoPointers } from '#core/contacts/photo-blobs.ts';
import type { BlobStore } from '#core/ports/blob-store.ts';
import { ContactError, MAX_VCARD_BYTES, contactEtag, type ContactStore } from '#core/ports/contacts.ts';

export interface ContactPhotosFixture {
  /** The adapter's store, unwrapped (what is stored). */
  inner: ContactStore;
  blobs: BlobStore;
  cleanup(): Promise<void>;
}

/** A base64 data: URI folded at 75 octets as vCard writers do (RFC 6350 §3.2). */
function photoLine(bytes: number, prop = 'PHOTO'): string {
  const line = `${prop};MEDIATYPE=image/jpeg:data:image/jpeg;base64,${randomBytes(bytes).toString('base64')}`;
  const parts: string[] = [];
  for (let i = 0; i < line.length; i += 74) parts.push(line.slice(i, i + 74));
  return parts.join('\r\n ') + '\r\n';
}

const card = (uid: string, extra = '') => Buffer.from(`BEGIN:VCARD\r\nVERSION:4.0\r\nUID:${uid}\r\nFN:${uid}\r\n${extra}END:VCARD\r\n`);

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    expect(err).toBeInstanceOf(ContactError);
    return (err as ContactError).code;
  }
}

export function contactPhotosContract(adapterName: string, make: () => Promise<ContactPhotosFixture>): void {
  describe(`contact photos as blobs: ${adapterName}`, () => {
    let fx: ContactPhotosFixture;
    let cs: PhotoBlobContactStore;
    const alice = 'alice@example.test';

    beforeEach(async () => {
      fx = await make();
      cs = new PhotoBlobContactStore(fx.inner, fx.blobs);
      await cs.createAddressBook(alice, { id: 'default', displayName: 'Contacts' });
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    async function blobKeysOf(name: string, book = 'default'): Promise<string[]> {
      const stored = await fx.inner.getContact(alice, book, name);
      return stored ? photoPointers(stored.data).map((id) => photoBlobKey(alice, book, name, id)) : [];
    }

    it('stores a 50 KiB photo as a blob and reads the card back byte for byte (folds kept); the ETag is the stored card’s and stable', async () => {
      const sent = card('p1', photoLine(50 * 1024) + 'NOTE:after\r\n');
      const put = await cs.putContact(alice, 'default', 'p1.vcf', { data: sent, uid: 'p1' });
      const stored = (await fx.inner.getContact(alice, 'default', 'p1.vcf'))!;
      expect(stored.data.length).toBeLessThan(1024);
      expect(stored.data.toString()).toMatch(/^PHOTO;MEDIATYPE=image\/jpeg:x-cloudmail-photo:[0-9a-f-]{36}\r\n/m);
      const [key] = await blobKeysOf('p1.vcf');
      expect(await fx.blobs.exists(key!)).toBe(true);
      const got = (await cs.getContact(alice, 'default', 'p1.vcf'))!;
      expect(got.data.equals(sent)).toBe(true);
      expect(got.size).toBe(sent.length);
      expect(put.contact.etag).toBe(contactEtag(stored.data));
      expect(got.etag).toBe(put.contact.etag);
      const [again] = await cs.getContacts(alice, 'default', ['p1.vcf']);
      expect(again!.data.equals(sent)).toBe(true);
      expect(again!.etag).toBe(put.contact.etag);
      expect((await cs.listContacts(alice, 'default'))[0]!.etag).toBe(put.contact.etag);
    });

    it('keeps a photo of at most 4 KiB inline, and a card without photos as sent', async () => {
      const small = card('s', photoLine(INLINE_PHOTO_MAX));
      await cs.putContact(alice, 'default', 's.vcf', { data: small, uid: 's' });
      expect((await fx.inner.getContact(alice, 'default', 's.vcf'))!.data.equals(small)).toBe(true);
      const plain = card('n', 'EMAIL:n@example.test\r\n');
      await cs.putContact(alice, 'default', 'n.vcf', { data: plain, uid: 'n' });
      expect((await fx.inner.getContact(alice, 'default', 'n.vcf'))!.data.equals(plain)).toBe(true);
    });

    it('replacing a card deletes the replaced photo blob after the write; a failed write deletes the new one', async () => {
      const first = await cs.putContact(alice, 'default', 'r.vcf', { data: card('r', photoLine(20_000)), uid: 'r' });
      const [oldKey] = await blobKeysOf('r.vcf');
      const second = card('r', photoLine(30_000, 'LOGO'));
      await cs.putContact(alice, 'default', 'r.vcf', { data: second, uid: 'r' }, { ifMatch: first.contact.etag });
      expect(await fx.blobs.exists(oldKey!)).toBe(false);
      const [newKey] = await blobKeysOf('r.vcf');
      expect(newKey).not.toBe(oldKey);
      expect(await fx.blobs.exists(newKey!)).toBe(true);
      expect((await cs.getContact(alice, 'default', 'r.vcf'))!.data.equals(second)).toBe(true);

      // A stale If-Match: PRECONDITION_FAILED, the stored card and its blob stay, no new blob is left.
      const before = (await fx.inner.getContact(alice, 'default', 'r.vcf'))!;
      expect(await code(cs.putContact(alice, 'default', 'r.vcf', { data: card('r', photoLine(40_000)), uid: 'r' }, { ifMatch: first.contact.etag }))).toBe(
        'PRECONDITION_FAILED',
      );
      expect((await fx.inner.getContact(alice, 'default', 'r.vcf'))!.data.equals(before.data)).toBe(true);
      expect(await fx.blobs.exists(newKey!)).toBe(true);
      // UID conflict: same (a second card with the uid of the first).
      expect(await code(cs.putContact(alice, 'default', 'other.vcf', { data: card('r', photoLine(40_000)), uid: 'r' }))).toBe('UID_CONFLICT');
      expect(await fx.inner.getContact(alice, 'default', 'other.vcf')).toBeNull();
    });

    it('a failed write leaves no blob behind (no such book)', async () => {
      const seen: string[] = [];
      const b = fx.blobs;
      const spying: BlobStore = {
        put: (key, body) => {
          seen.push(key);
          return b.put(key, body);
        },
        get: (key) => b.get(key),
        getRange: (key, start, end) => b.getRange(key, start, end),
        stream: (key) => b.stream(key),
        exists: (key) => b.exists(key),
        delete: (key) => b.delete(key),
      };
      const spied = new PhotoBlobContactStore(fx.inner, spying);
      expect(await code(spied.putContact(alice, 'nobook', 'x.vcf', { data: card('x', photoLine(10_000)), uid: 'x' }))).toBe('NOT_FOUND');
      expect(seen).toHaveLength(1);
      expect(await fx.blobs.exists(seen[0]!)).toBe(false);
    });

    it('deleting a card, a book or all of a user’s contacts deletes their photo blobs', async () => {
      await cs.putContact(alice, 'default', 'd.vcf', { data: card('d', photoLine(10_000)), uid: 'd' });
      const [k1] = await blobKeysOf('d.vcf');
      await cs.deleteContact(alice, 'default', 'd.vcf');
      expect(await fx.blobs.exists(k1!)).toBe(false);

      await cs.createAddressBook(alice, { id: 'work', displayName: 'Work' });
      await cs.putContact(alice, 'work', 'w.vcf', { data: card('w', photoLine(10_000)), uid: 'w' });
      const [k2] = await blobKeysOf('w.vcf', 'work');
      await cs.deleteAddressBook(alice, 'work');
      expect(await fx.blobs.exists(k2!)).toBe(false);

      await cs.putContact(alice, 'default', 'e.vcf', { data: card('e', photoLine(10_000)), uid: 'e' });
      const [k3] = await blobKeysOf('e.vcf');
      expect(await fx.blobs.exists(k3!)).toBe(true);
      await cs.removeAllContacts(alice);
      expect(await fx.blobs.exists(k3!)).toBe(false);
      expect(await cs.listAddressBooks(alice)).toEqual([]);
    });

    it('a card replaced between reading it and reading its blob is read again (never served with our pointer); a lost blob drops that photo', async () => {
      const first = card('race', photoLine(10_000));
      await cs.putContact(alice, 'default', 'race.vcf', { data: first, uid: 'race' });
      const stale = (await fx.inner.getContact(alice, 'default', 'race.vcf'))!;
      const second = card('race', photoLine(12_000) + 'NOTE:second\r\n');
      await cs.putContact(alice, 'default', 'race.vcf', { data: second, uid: 'race' });
      // An inner store whose card reads answer the replaced card once (the read raced the write).
      let staleOnce = true;
      const racing: ContactStore = Object.assign(Object.create(null) as ContactStore, {
        getContacts: async (u: string, b: string, names: string[]) => {
          if (staleOnce) {
            staleOnce = false;
            return [stale];
          }
          return fx.inner.getContacts(u, b, names);
        },
        getContact: (u: string, b: string, n: string) => fx.inner.getContact(u, b, n),
      });
      const [got] = await new PhotoBlobContactStore(racing, fx.blobs).getContacts(alice, 'default', ['race.vcf']);
      expect(got!.data.equals(second)).toBe(true);

      const [key] = await blobKeysOf('race.vcf');
      await fx.blobs.delete(key!);
      const lost = (await cs.getContact(alice, 'default', 'race.vcf'))!;
      expect(lost.data.toString()).toBe(card('race', 'NOTE:second\r\n').toString());
    });

    it('refuses a card whose PHOTO uses the server’s pointer scheme (INVALID), and the 1 MiB limit counts the photo as sent (TOO_LARGE)', async () => {
      expect(
        await code(cs.putContact(alice, 'default', 'x.vcf', { data: card('x', 'PHOTO:x-cloudmail-photo:00000000-0000-0000-0000-000000000000\r\n'), uid: 'x' })),
      ).toBe('INVALID');
      const big = card('big', photoLine(Math.ceil((MAX_VCARD_BYTES * 3) / 4)));
      expect(big.length).toBeGreaterThan(MAX_VCARD_BYTES);
      expect(await code(cs.putContact(alice, 'default', 'big.vcf', { data: big, uid: 'big' }))).toBe('TOO_LARGE');
      expect(await fx.inner.listContacts(alice, 'default')).toEqual([]);
    });
  });
}
