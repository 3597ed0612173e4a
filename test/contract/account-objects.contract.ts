/**
 * Contract of the MailIndex account objects (core/ports/mail-index.ts AccountObject: the
 * records behind JMAP Identity, EmailSubmission and VacationResponse), run against SQLite
 * (local.test.ts) and DynamoDB (aws.test.ts). Pins: one counter per (user, kind) that every
 * write moves on by one; destroyed objects stay as tombstones for `since` listings; ifState
 * is checked atomically with the write (of concurrent writers with the same ifState exactly
 * one wins, RFC 8620 §5.3); removeUser takes a user's objects with it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IndexError, MAX_ACCOUNT_OBJECT_BYTES, type MailIndex } from '#core/ports/mail-index.ts';
import type { MailIndexFixture } from './mail-index.contract.ts';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof IndexError) return err.code;
    throw err;
  }
  return 'ok';
}

export function accountObjectsContract(name: string, make: () => Promise<MailIndexFixture>): void {
  describe(`MailIndex account objects contract: ${name}`, () => {
    let fx: MailIndexFixture;
    let index: MailIndex;
    const alice = 'alice@example.test';
    const bob = 'bob@example.test';

    beforeEach(async () => {
      fx = await make();
      index = fx.index;
      await index.addDomain('example.test');
      await index.addUser({ address: alice, passwordHash: 'x' });
      await index.addUser({ address: bob, passwordHash: 'x' });
    }, 60_000);
    afterEach(async () => {
      await fx.cleanup();
    });

    it('counts every write of a kind once, per user and kind, and reads back what was written', async () => {
      expect(await index.listAccountObjects(alice, 'Identity')).toEqual({ state: 0, objects: [] });
      expect(await index.putAccountObject(alice, 'Identity', 'i1', '{"name":"A"}')).toEqual({ state: 1 });
      expect(await index.putAccountObject(alice, 'Identity', 'i2', '{"name":"B"}')).toEqual({ state: 2 });
      expect(await index.putAccountObject(alice, 'Identity', 'i1', '{"name":"A2"}')).toEqual({ state: 3 });
      expect(await index.putAccountObject(alice, 'VacationResponse', 'singleton', '{}')).toEqual({ state: 1 });
      expect(await index.putAccountObject(bob, 'Identity', 'i1', '{}')).toEqual({ state: 1 });
      expect(await index.getAccountObject(alice, 'Identity', 'i1')).toEqual({ id: 'i1', data: '{"name":"A2"}', modseq: 3, createdModseq: 1 });
      expect(await index.getAccountObject(alice, 'Identity', 'nope')).toBeNull();
      const list = await index.listAccountObjects(alice, 'Identity');
      expect(list.state).toBe(3);
      expect(list.objects.map((o) => [o.id, o.data])).toEqual([
        ['i1', '{"name":"A2"}'],
        ['i2', '{"name":"B"}'],
      ]);
    });

    it('keeps a destroyed object as a tombstone for listings since an earlier state, not in the live list', async () => {
      await index.putAccountObject(alice, 'EmailSubmission', 's1', '{"a":1}');
      await index.putAccountObject(alice, 'EmailSubmission', 's2', '{"a":2}');
      expect(await index.putAccountObject(alice, 'EmailSubmission', 's1', null)).toEqual({ state: 3 });
      expect(await index.getAccountObject(alice, 'EmailSubmission', 's1')).toBeNull();
      expect((await index.listAccountObjects(alice, 'EmailSubmission')).objects.map((o) => o.id)).toEqual(['s2']);
      const since = await index.listAccountObjects(alice, 'EmailSubmission', { since: 1 });
      expect(since.state).toBe(3);
      expect(since.objects).toEqual([
        { id: 's1', data: null, modseq: 3, createdModseq: 1 },
        { id: 's2', data: '{"a":2}', modseq: 2, createdModseq: 2 },
      ]);
      expect((await index.listAccountObjects(alice, 'EmailSubmission', { since: 3 })).objects).toEqual([]);
      // Destroying what is gone is NOT_FOUND and moves nothing; writing it again is a new creation.
      expect(await code(index.putAccountObject(alice, 'EmailSubmission', 's1', null))).toBe('NOT_FOUND');
      expect(await code(index.putAccountObject(alice, 'EmailSubmission', 'never', null))).toBe('NOT_FOUND');
      expect((await index.listAccountObjects(alice, 'EmailSubmission')).state).toBe(3);
      await index.putAccountObject(alice, 'EmailSubmission', 's1', '{"a":3}');
      expect(await index.getAccountObject(alice, 'EmailSubmission', 's1')).toEqual({ id: 's1', data: '{"a":3}', modseq: 4, createdModseq: 4 });
    });

    it('writes with ifState only while the counter is there: of two concurrent writers one wins, the other gets CONFLICT', async () => {
      await index.putAccountObject(alice, 'Identity', 'i1', '{}');
      expect(await code(index.putAccountObject(alice, 'Identity', 'i1', '{"x":1}', { ifState: 0 }))).toBe('CONFLICT');
      const other = await fx.openAnother();
      const results = await Promise.all([
        code(index.putAccountObject(alice, 'Identity', 'a', '{}', { ifState: 1 })),
        code(other.putAccountObject(alice, 'Identity', 'b', '{}', { ifState: 1 })),
      ]);
      expect(results.sort()).toEqual(['CONFLICT', 'ok']);
      expect((await index.listAccountObjects(alice, 'Identity')).state).toBe(2);
    });

    it('refuses bad kinds, ids and oversized data with INVALID', async () => {
      expect(await code(index.putAccountObject(alice, 'a#b', 'i', '{}'))).toBe('INVALID');
      expect(await code(index.putAccountObject(alice, 'Identity', '', '{}'))).toBe('INVALID');
      expect(await code(index.putAccountObject(alice, 'Identity', 'i', 'x'.repeat(MAX_ACCOUNT_OBJECT_BYTES + 1)))).toBe('INVALID');
      expect((await index.listAccountObjects(alice, 'Identity')).state).toBe(0);
    });

    it('removes the objects with their user', async () => {
      await index.putAccountObject(alice, 'Identity', 'i1', '{}');
      await index.removeUser(alice);
      await index.addUser({ address: alice, passwordHash: 'x' });
      expect(await index.listAccountObjects(alice, 'Identity')).toEqual({ state: 0, objects: [] });
      expect(await index.getAccountObject(alice, 'Identity', 'i1')).toBeNull();
    });
  });
}
