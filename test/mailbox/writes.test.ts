/**
 * The mailbox write path (core/mailbox/writes.ts) on the real local adapters: every write
 * commits to the index, then deletes the blobs that commit orphaned (invariant 5), then
 * notifies in-process watchers — in that order, and a blob that cannot be deleted is logged
 * with its key, never thrown, because the index has already committed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createUser } from '#core/accounts/accounts.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { createLogger } from '#core/log.ts';
import { createMailboxEvents, type MailboxEvents } from '#core/mailbox/events.ts';
import { BLOB_DELETE_CONCURRENCY, MailboxWrites, newBlobKey } from '#core/mailbox/writes.ts';
import { BlobNotFoundError } from '#core/ports/blob-store.ts';
import type { Mailbox } from '#core/ports/mail-index.ts';
import { override } from '../support/mail-system.ts';

const alice = 'alice@example.test';
const msg = (subject: string) => Buffer.from(`Subject: ${subject}\r\n\r\nbody\r\n`);

let dataDir: string;
let adapters: Adapters;
/** What happened, in order: index commits, blob puts and deletes, notifications. */
let calls: string[];
let logLines: Array<Record<string, any>>;
let events: MailboxEvents;

/** `target` whose named methods append `<prefix>.<name>` to `calls` once they have completed. */
function recorded<T extends object>(target: T, prefix: string, names: Array<keyof T & string>): T {
  const overrides: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const name of names) {
    const method = target[name] as (...args: unknown[]) => Promise<unknown>;
    overrides[name] = async (...args) => {
      const result = await method.apply(target, args);
      calls.push(`${prefix}.${name}`);
      return result;
    };
  }
  return override(target, overrides as Partial<T>);
}

/** MailboxWrites over the local adapters, with recording wrappers and optional faults. */
function writesWith(faults: { deleteFails?: (key: string) => boolean; deleteGate?: (key: string) => Promise<void> } = {}): MailboxWrites {
  const { index, blobs } = adapters;
  const recIndex = recorded(index, 'index', ['appendMessage', 'appendMessageTo', 'expunge', 'copyMessages', 'deleteMailbox', 'removeUser', 'releaseBlob']);
  const recBlobs = override(recorded(blobs, 'blobs', ['put']), {
    delete: async (key: string) => {
      calls.push('blobs.delete');
      await faults.deleteGate?.(key);
      if (faults.deleteFails?.(key)) throw new Error(`disk on fire for ${key}`);
      await blobs.delete(key);
    },
  });
  const log = createLogger({}, 'debug', (line) => logLines.push(JSON.parse(line)));
  return new MailboxWrites({ index: recIndex, blobs: recBlobs }, { events, log });
}

async function inbox(): Promise<Mailbox> {
  return (await adapters.index.getMailbox(alice, 'INBOX'))!;
}

async function blobExists(key: string): Promise<boolean> {
  try {
    await adapters.blobs.get(key);
    return true;
  } catch (err) {
    if (err instanceof BlobNotFoundError) return false;
    throw err;
  }
}

/** Appends `n` messages with their own blobs (setup, not recorded); returns UIDs and blob keys. */
async function fill(n: number, mailbox = 'INBOX'): Promise<{ uids: number[]; keys: string[] }> {
  const setup = new MailboxWrites(adapters, { log: createLogger({}, 'error', () => {}) });
  const uids: number[] = [];
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await setup.append(alice, mailbox, msg(`m${i}`));
    uids.push(r.uid);
  }
  const mb = (await adapters.index.getMailbox(alice, mailbox))!;
  for (const m of await adapters.index.listMessages(alice, mb.id)) if (uids.includes(m.uid)) keys.push(m.blobKey);
  return { uids, keys };
}

beforeEach(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailbox-writes-'));
  adapters = await createLocalAdapters({ dataDir });
  await adapters.index.addDomain('example.test');
  await createUser(adapters.index, alice, 'pw');
  calls = [];
  logLines = [];
  events = createMailboxEvents();
  events.subscribe(alice, (mailboxId) => calls.push(`notify ${mailboxId}`));
});

afterEach(async () => {
  await adapters.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('MailboxWrites: index commit, then orphaned blobs, then watchers', () => {
  it('expunge commits to the index, then deletes every orphaned blob, then notifies the mailbox', async () => {
    const { uids, keys } = await fill(3);
    const mb = await inbox();
    calls = [];
    const expunged = await writesWith().expunge(alice, mb.id, uids);
    expect(expunged).toEqual(uids);
    expect(calls).toEqual(['index.expunge', 'blobs.delete', 'blobs.delete', 'blobs.delete', `notify ${mb.id}`]);
    for (const key of keys) expect(await blobExists(key)).toBe(false);
    expect(await adapters.index.listMessages(alice, mb.id)).toEqual([]);
  });

  it('a blob still referenced by a copy is not deleted when one copy is expunged (invariant 5)', async () => {
    const { uids, keys } = await fill(1);
    const mb = await inbox();
    const archive = (await adapters.index.getMailbox(alice, 'Archive')) ?? (await adapters.index.createMailbox(alice, 'Archive'));
    const w = writesWith();
    await w.copy(alice, mb.id, uids, archive.id);
    calls = [];
    await w.expunge(alice, mb.id, uids);
    expect(calls).toEqual(['index.expunge', `notify ${mb.id}`]);
    expect(await blobExists(keys[0])).toBe(true);
  });

  it('a failing blob delete is logged with its key and not thrown; the other blobs go and watchers are still told', async () => {
    const { uids, keys } = await fill(3);
    const mb = await inbox();
    calls = [];
    const bad = keys[1];
    const expunged = await writesWith({ deleteFails: (k) => k === bad }).expunge(alice, mb.id, uids);
    expect(expunged).toEqual(uids);
    expect(calls.at(-1)).toBe(`notify ${mb.id}`);
    const warnings = logLines.filter((l) => l.msg === 'orphaned blob not deleted');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn', key: bad, err: { message: `disk on fire for ${bad}` } });
    expect(await blobExists(bad)).toBe(true); // left over: unreferenced garbage, not lost mail
    expect(await blobExists(keys[0])).toBe(false);
    expect(await blobExists(keys[2])).toBe(false);
    expect(await adapters.index.listMessages(alice, mb.id)).toEqual([]);
  });

  it('when the index commit fails, no blob is deleted and nobody is notified', async () => {
    const { uids, keys } = await fill(2);
    const mb = await inbox();
    calls = [];
    const failing = new MailboxWrites(
      {
        index: override(adapters.index, {
          expunge: () => Promise.reject(new Error('index down')),
        }),
        blobs: override(adapters.blobs, {
          delete: async (key: string) => {
            calls.push('blobs.delete');
            await adapters.blobs.delete(key);
          },
        }),
      },
      { events, log: createLogger({}, 'error', () => {}) },
    );
    await expect(failing.expunge(alice, mb.id, uids)).rejects.toThrow('index down');
    expect(calls).toEqual([]);
    for (const key of keys) expect(await blobExists(key)).toBe(true);
  });

  it('a watcher woken by notify reads the committed index: the expunged messages are gone', async () => {
    const { uids } = await fill(2);
    const mb = await inbox();
    let seen: Promise<number> | undefined;
    events.subscribe(alice, () => {
      seen ??= adapters.index.listMessages(alice, mb.id).then((l) => l.length);
    });
    await writesWith().expunge(alice, mb.id, uids);
    expect(seen).toBeDefined();
    expect(await seen).toBe(0);
  });

  it(`deletes orphaned blobs at most ${BLOB_DELETE_CONCURRENCY} at a time, and all of them`, async () => {
    const n = BLOB_DELETE_CONCURRENCY * 3 + 1;
    const { uids, keys } = await fill(n);
    const mb = await inbox();
    let inFlight = 0;
    let most = 0;
    const gate = async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
    };
    await writesWith({ deleteGate: gate }).expunge(alice, mb.id, uids);
    expect(most).toBe(BLOB_DELETE_CONCURRENCY);
    for (const key of keys) expect(await blobExists(key)).toBe(false);
  });

  it('append puts the blob, then the index record, then notifies; the mailbox id comes back', async () => {
    const mb = await inbox();
    const r = await writesWith().append(alice, 'INBOX', msg('hello'), { flags: ['\\Seen'] });
    expect(r.mailboxId).toBe(mb.id);
    expect(calls).toEqual(['blobs.put', 'index.appendMessageTo', `notify ${mb.id}`]);
    const [rec] = await adapters.index.getMessages(alice, mb.id, [r.uid]);
    expect(rec.flags).toEqual(['\\Seen']);
    expect((await adapters.blobs.get(rec.blobKey)).toString()).toBe(msg('hello').toString());
  });

  it('a duplicate append (same delivery key) adds nothing and deletes the blob it put', async () => {
    const mb = await inbox();
    const w = writesWith();
    const first = await w.append(alice, 'INBOX', msg('once'), { deliveryKey: 'job-1:alice' });
    calls = [];
    let freshKey = '';
    const spy = new MailboxWrites(
      {
        index: adapters.index,
        blobs: override(adapters.blobs, {
          put: (...a: Parameters<Adapters['blobs']['put']>) => {
            freshKey = a[0];
            return adapters.blobs.put(...a);
          },
        }),
      },
      { events, log: createLogger({}, 'error', () => {}) },
    );
    const again = await spy.append(alice, 'INBOX', msg('once'), { deliveryKey: 'job-1:alice' });
    expect(again).toMatchObject({ duplicate: true, uid: first.uid });
    expect(freshKey).not.toBe('');
    expect(await blobExists(freshKey)).toBe(false);
    expect(await adapters.index.listMessages(alice, mb.id)).toHaveLength(1);
  });

  it('append to a missing mailbox is NOT_FOUND and stores no blob', async () => {
    await expect(writesWith().append(alice, 'Nope', msg('x'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(calls).toEqual([]);
  });

  it('copy notifies the target only when something was copied', async () => {
    const { uids } = await fill(1);
    const mb = await inbox();
    const target = await adapters.index.createMailbox(alice, 'Copies');
    calls = [];
    const w = writesWith();
    expect((await w.copy(alice, mb.id, uids, target.id)).mapping).toHaveLength(1);
    expect(calls).toEqual(['index.copyMessages', `notify ${target.id}`]);
    calls = [];
    expect((await w.copy(alice, mb.id, [999], target.id)).mapping).toEqual([]);
    expect(calls).toEqual(['index.copyMessages']);
  });

  it('deleteMailbox commits, deletes the blobs of its messages, then notifies that mailbox', async () => {
    const box = await adapters.index.createMailbox(alice, 'Old');
    const { keys } = await fill(2, 'Old');
    calls = [];
    await writesWith().deleteMailbox(alice, box);
    expect(calls).toEqual(['index.deleteMailbox', 'blobs.delete', 'blobs.delete', `notify ${box.id}`]);
    expect(await adapters.index.getMailbox(alice, 'Old')).toBeNull();
    for (const key of keys) expect(await blobExists(key)).toBe(false);
  });

  it('removeUser commits, deletes every blob of the user, then notifies each of its mailboxes', async () => {
    const { keys } = await fill(2);
    const ids = (await adapters.index.listMailboxes(alice)).map((m) => m.id);
    calls = [];
    await writesWith().removeUser(alice);
    expect(calls.slice(0, 3)).toEqual(['index.removeUser', 'blobs.delete', 'blobs.delete']);
    expect(calls.slice(3).sort()).toEqual(ids.map((id) => `notify ${id}`).sort());
    expect(await adapters.index.getUser(alice)).toBeNull();
    for (const key of keys) expect(await blobExists(key)).toBe(false);
  });

  it('releaseHold deletes the blob only when the hold was its last reference, and notifies nobody', async () => {
    const held = newBlobKey();
    await adapters.blobs.put(held, msg('held'));
    await adapters.index.holdBlob(held, 'job-1');
    const w = writesWith();
    expect(await w.releaseHold(held, 'job-1')).toBe(true);
    expect(calls).toEqual(['index.releaseBlob', 'blobs.delete']);
    expect(await blobExists(held)).toBe(false);

    // A blob a message still refers to stays.
    const kept = newBlobKey();
    await adapters.blobs.put(kept, msg('kept'));
    await adapters.index.holdBlob(kept, 'job-2');
    await w.append(alice, 'INBOX', msg('kept'), { blobKey: kept });
    calls = [];
    expect(await w.releaseHold(kept, 'job-2')).toBe(false);
    expect(calls).toEqual(['index.releaseBlob']);
    expect(await blobExists(kept)).toBe(true);
  });
});
