/**
 * The JMAP listener's AccountCache (fargate-listeners/src/jmap/account-cache.ts): after any mix
 * of appends, flag changes, copies and expunges it holds exactly what a full listing holds,
 * reading only the change log after its first listing; a mailbox deleted is forgotten; the
 * least recently used accounts go when the bound is reached.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { indexMessage } from '#core/mime/index-message.ts';
import type { MailIndex } from '#core/ports/mail-index.ts';
import { AccountCache } from '#listeners/jmap/account-cache.ts';

const alice = 'alice@example.test';
const bob = 'bob@example.test';

describe('AccountCache', () => {
  let dir: string;
  let adapters: Adapters;
  let index: MailIndex;
  let n = 0;
  const append = async (user: string, mailboxId: string) => {
    const raw = Buffer.from(`Subject: m${++n}\r\n\r\nbody ${n}\r\n`);
    return index.appendMessage(user, mailboxId, { blobKey: `k/${n}`, size: raw.length, internalDate: n, flags: [], meta: indexMessage(raw) });
  };
  const strip = (list: Array<{ uid: number; flags: string[]; modseq: number; blobKey: string }>) => list.map((r) => [r.uid, r.flags, r.modseq, r.blobKey]);

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'jmap-cache-'));
    adapters = await createLocalAdapters({ dataDir: dir });
    index = adapters.index;
    await index.addDomain('example.test');
    for (const u of [alice, bob]) await index.addUser({ address: u, passwordHash: 'x' });
  });
  afterEach(async () => {
    await adapters.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('equals a full listing after appends, flag changes, copies and expunges, listing each mailbox only once', async () => {
    const inbox = await index.createMailbox(alice, 'INBOX');
    const archive = await index.createMailbox(alice, 'Archive');
    for (let i = 0; i < 5; i++) await append(alice, inbox.id);
    const cache = new AccountCache(index);
    const check = async () => {
      const mailboxes = await index.listMailboxes(alice);
      const { lists } = await cache.records(alice, mailboxes, { complete: true });
      for (const m of mailboxes) expect(strip(lists.get(m.id)!), m.name).toEqual(strip(await index.listMessages(alice, m.id)));
    };
    await check();
    expect(cache.stats.listed).toBe(2);
    await index.updateFlags(alice, inbox.id, [2, 4], 'add', ['\\Seen']);
    await check();
    await index.copyMessages(alice, inbox.id, [1, 2], archive.id);
    await index.expunge(alice, inbox.id, [1, 3]);
    await append(alice, inbox.id);
    await check();
    await index.updateFlags(alice, archive.id, [1], 'set', ['\\Flagged']);
    await index.expunge(alice, archive.id, [2]);
    await check();
    // Nothing changed: the same version, no read beyond the mailbox list.
    const mailboxes = await index.listMailboxes(alice);
    const a = await cache.records(alice, mailboxes, { complete: true });
    const b = await cache.records(alice, mailboxes, { complete: true });
    expect(b.version).toBe(a.version);
    expect(cache.stats.listed).toBe(2);
    expect(cache.stats.caughtUp).toBeGreaterThan(0);
  });

  it('forgets a deleted mailbox, and drops the least recently used account past its bound', async () => {
    const a = await index.createMailbox(alice, 'INBOX');
    const gone = await index.createMailbox(alice, 'Gone');
    const b = await index.createMailbox(bob, 'INBOX');
    for (let i = 0; i < 3; i++) {
      await append(alice, a.id);
      await append(alice, gone.id);
      await append(bob, b.id);
    }
    const cache = new AccountCache(index, 7);
    await cache.records(alice, await index.listMailboxes(alice), { complete: true });
    await index.deleteMailbox(alice, 'Gone');
    const left = await cache.records(alice, await index.listMailboxes(alice), { complete: true });
    expect([...left.lists.keys()]).toEqual([a.id]);
    // bob's 3 and alice's 3 fit in 7; then alice's read of a fourth message puts bob (used least recently) out.
    await cache.records(bob, await index.listMailboxes(bob), { complete: true });
    await cache.records(alice, await index.listMailboxes(alice), { complete: true });
    const listedBefore = cache.stats.listed;
    await append(alice, a.id);
    await append(alice, a.id);
    await cache.records(alice, await index.listMailboxes(alice), { complete: true });
    await cache.records(bob, await index.listMailboxes(bob), { complete: true });
    expect(cache.stats.listed).toBe(listedBefore + 1); // bob listed again
  });
});
