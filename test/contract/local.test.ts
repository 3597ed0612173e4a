/**
 * The three port contracts on the `local` adapters (temp directories), and what only the
 * local adapters promise: safe key → path mapping, durability across reopen, stale receipts,
 * and UID allocation / job hand-out under real concurrency (threads and processes on one file).
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileBlobStore, InvalidBlobKeyError } from '#core/adapters/local/file-blob-store.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { RECLAIM_FREE_PAGES, SMALL_BLOB_BYTES, SqliteBlobStore } from '#core/adapters/local/sqlite-blob-store.ts';
import { BlobNotFoundError } from '#core/ports/blob-store.ts';
import { SqliteContactStore } from '#core/adapters/local/sqlite-contact-store.ts';
import { PhotoBlobContactStore } from '#core/contacts/photo-blobs.ts';
import { SqliteMailIndex } from '#core/adapters/local/sqlite-mail-index.ts';
import { SqliteWorkQueue } from '#core/adapters/local/sqlite-work-queue.ts';
import { accountObjectsContract } from './account-objects.contract.ts';
import { blobStoreContract } from './blob-store.contract.ts';
import { contactPhotosContract } from './contact-photos.contract.ts';
import { contactStoreContract } from './contact-store.contract.ts';
import type { ConcurrencyResult, ConcurrencyTask } from './local-concurrency-worker.ts';
import { mailIndexContract, sampleMeta, type MailIndexFixture } from './mail-index.contract.ts';
import { envelopesContract } from './envelopes.contract.ts';
import { saveDateContract } from './save-date.contract.ts';
import { threadsContract } from './threads.contract.ts';
import { workQueueContract } from './work-queue.contract.ts';

const WORKER = path.join(import.meta.dirname, 'local-concurrency-worker.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'mail-local-'));
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

blobStoreContract('local files', async () => {
  const dir = await tempDir();
  return { blobs: new FileBlobStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

blobStoreContract('local rows and files (SqliteBlobStore)', async () => {
  const dir = await tempDir();
  const blobs = new SqliteBlobStore(dir);
  return {
    blobs,
    cleanup: async () => {
      blobs.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

/** A fresh, empty index for each test (the MailIndex contracts below). */
const sqliteIndexFixture = async (): Promise<MailIndexFixture> => {
  const dir = await tempDir();
  const opened: SqliteMailIndex[] = [];
  const open = (changeLogRetentionMs?: number) => {
    const ix = new SqliteMailIndex({ dataDir: dir, changeLogRetentionMs });
    opened.push(ix);
    return ix;
  };
  return {
    index: open(),
    openAnother: async () => open(),
    openWithChangeLogRetention: async (ms) => open(ms),
    cleanup: async () => {
      for (const ix of opened) await ix.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
};

mailIndexContract('local SQLite', sqliteIndexFixture);
saveDateContract('local SQLite', sqliteIndexFixture);
envelopesContract('local SQLite', sqliteIndexFixture);

contactStoreContract('local SQLite', async () => {
  const dir = await tempDir();
  const opened: SqliteContactStore[] = [];
  const open = () => {
    const store = new SqliteContactStore({ dataDir: dir });
    opened.push(store);
    return store;
  };
  return {
    store: open(),
    openAnother: async () => open(),
    cleanup: async () => {
      for (const s of opened) await s.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

// The wrapper the adapters build (core/contacts/photo-blobs.ts) keeps the whole port contract.
contactStoreContract('local SQLite with photo blobs', async () => {
  const dir = await tempDir();
  const opened: SqliteContactStore[] = [];
  const blobs = new FileBlobStore(dir);
  const open = () => {
    const store = new SqliteContactStore({ dataDir: dir });
    opened.push(store);
    return new PhotoBlobContactStore(store, blobs);
  };
  return {
    store: open(),
    openAnother: async () => open(),
    cleanup: async () => {
      for (const s of opened) await s.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

contactPhotosContract('local SQLite + files', async () => {
  const dir = await tempDir();
  const inner = new SqliteContactStore({ dataDir: dir });
  return {
    inner,
    blobs: new FileBlobStore(dir),
    cleanup: async () => {
      await inner.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

threadsContract('local SQLite', async () => {
  const dir = await tempDir();
  const index = new SqliteMailIndex({ dataDir: dir });
  return {
    index,
    openAnother: async () => index,
    openWithChangeLogRetention: async () => index,
    cleanup: async () => {
      await index.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

accountObjectsContract('local SQLite', async () => {
  const dir = await tempDir();
  const opened = [new SqliteMailIndex({ dataDir: dir })];
  return {
    index: opened[0],
    openAnother: async () => opened[opened.push(new SqliteMailIndex({ dataDir: dir })) - 1],
    openWithChangeLogRetention: async () => opened[0],
    cleanup: async () => {
      for (const ix of opened) await ix.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

workQueueContract('local SQLite', async () => {
  const dir = await tempDir();
  const queue = new SqliteWorkQueue({ dataDir: dir });
  return {
    queue,
    cleanup: async () => {
      await queue.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

function runInProcess(task: ConcurrencyTask): Promise<ConcurrencyResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-warnings', WORKER, JSON.stringify(task)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`worker process exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as ConcurrencyResult);
    });
  });
}

function runInThread(task: ConcurrencyTask): Promise<ConcurrencyResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: task });
    let result: ConcurrencyResult | undefined;
    worker.on('message', (m: ConcurrencyResult) => (result = m));
    worker.on('error', reject);
    worker.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`worker thread exited ${code}`))));
  });
}

describe('local adapters only', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('FileBlobStore', () => {
    it('rejects keys that could leave the store: "..", ".", absolute, NUL, backslash, empty, over 1024 bytes', async () => {
      const blobs = new FileBlobStore(dir);
      const bad = ['../x', 'a/../../b', 'a/..', './a', '/etc/passwd', 'a\0b', 'a\\..\\b', '', 'k'.repeat(1025)];
      for (const key of bad) {
        await expect(blobs.put(key, Buffer.from('x')), JSON.stringify(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
        await expect(blobs.get(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
        await expect(blobs.exists(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
        await expect(blobs.delete(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      }
      // Dots inside names are fine.
      await blobs.put('messages/a..b/.hidden/x.eml', Buffer.from('ok'));
      expect((await blobs.get('messages/a..b/.hidden/x.eml')).toString()).toBe('ok');
    });

    it('keeps every file under <dataDir>/blobs and leaves no temp file after a good or a failed put', async () => {
      const blobs = new FileBlobStore(dir);
      await blobs.put('messages/one', Buffer.from('1'));
      await blobs.put('messages/two', Readable.from([Buffer.from('2')]));
      const failing = new Readable({
        read() {
          this.destroy(new Error('boom'));
        },
      });
      await expect(blobs.put('messages/three', failing)).rejects.toThrow('boom');
      const files = await listFiles(dir);
      expect(files.length).toBe(2);
      for (const f of files) {
        expect(f.startsWith(path.join(dir, 'blobs') + path.sep)).toBe(true);
        expect(path.basename(f).startsWith('.tmp-')).toBe(false);
      }
    });

    it('a put after its blob directory was removed (by hand, after the store made it once) makes the directory again', async () => {
      const blobs = new FileBlobStore(dir);
      await blobs.put('messages/one', Buffer.from('1'));
      await rm(path.join(dir, 'blobs'), { recursive: true, force: true });
      await blobs.put('messages/one', Buffer.from('again'));
      expect((await blobs.get('messages/one')).toString()).toBe('again');
    });
  });

  describe('SqliteBlobStore', () => {
    const rowKeys = (file: string) => {
      const db = new DatabaseSync(file, { readOnly: true });
      try {
        return (db.prepare('SELECT key FROM blobs ORDER BY key').all() as Array<{ key: string }>).map((r) => r.key);
      } finally {
        db.close();
      }
    };

    it('keeps blobs up to SMALL_BLOB_BYTES as rows and larger ones (buffer or stream) as files, and reads both back', async () => {
      const blobs = new SqliteBlobStore(dir);
      const small = Buffer.alloc(SMALL_BLOB_BYTES, 's');
      const large = Buffer.alloc(SMALL_BLOB_BYTES + 1, 'l');
      await blobs.put('messages/small', small);
      await blobs.put('messages/small-stream', Readable.from([small.subarray(0, 1000), small.subarray(1000)]));
      await blobs.put('messages/large', large);
      // Past the limit in the middle of a chunk: what was gathered goes to the file first.
      await blobs.put('messages/large-stream', Readable.from([large.subarray(0, 70_000), large.subarray(70_000, 140_000), large.subarray(140_000)]));
      expect(rowKeys(blobs.file)).toEqual(['messages/small', 'messages/small-stream']);
      expect(await listFiles(path.join(dir, 'blobs'))).toHaveLength(2);
      for (const [key, bytes] of [
        ['messages/small', small],
        ['messages/small-stream', small],
        ['messages/large', large],
        ['messages/large-stream', large],
      ] as const) {
        expect((await blobs.get(key)).equals(bytes), key).toBe(true);
        expect((await blobs.getRange(key, 5, 9)).equals(bytes.subarray(5, 9)), key).toBe(true);
        expect((await blobs.getRange(key, bytes.length - 2, bytes.length + 100)).equals(bytes.subarray(-2)), key).toBe(true);
        const chunks: Buffer[] = [];
        for await (const c of await blobs.stream(key)) chunks.push(c as Buffer);
        expect(Buffer.concat(chunks).equals(bytes), key).toBe(true);
        expect(await blobs.exists(key)).toBe(true);
        await blobs.delete(key);
        expect(await blobs.exists(key)).toBe(false);
        await expect(blobs.get(key)).rejects.toBeInstanceOf(BlobNotFoundError);
      }
      expect(rowKeys(blobs.file)).toEqual([]);
      expect(await listFiles(path.join(dir, 'blobs'))).toEqual([]);
      blobs.close();
    });

    it('reads blobs written as files before blobs.sqlite existed; a put replaces them and a delete removes them', async () => {
      const older = new FileBlobStore(dir);
      await older.put('messages/old', Buffer.from('from an older version'));
      await older.put('messages/replaced', Buffer.from('first'));
      const blobs = new SqliteBlobStore(dir);
      expect((await blobs.get('messages/old')).toString()).toBe('from an older version');
      expect((await blobs.getRange('messages/old', 5, 7)).toString()).toBe('an');
      await blobs.put('messages/replaced', Buffer.from('second'));
      expect((await blobs.get('messages/replaced')).toString()).toBe('second');
      await blobs.delete('messages/replaced');
      await blobs.delete('messages/old');
      expect(await blobs.exists('messages/replaced')).toBe(false);
      expect(await older.exists('messages/replaced')).toBe(false);
      expect(await older.exists('messages/old')).toBe(false);
      blobs.close();
    });

    it('a group commit that fails rejects every put in it and stores none of them; a good one survives a reopen', async () => {
      const blobs = new SqliteBlobStore(dir, { busyTimeoutMs: 50 });
      await blobs.put('messages/before', Buffer.from('kept'));
      // Another connection holds the write lock: the commit of the next puts cannot take it.
      const other = new DatabaseSync(blobs.file);
      other.exec('BEGIN IMMEDIATE');
      const puts = ['a', 'b', 'c'].map((k) => blobs.put(`messages/${k}`, Buffer.from(k)));
      for (const p of puts) await expect(p).rejects.toThrow(/locked|busy/i);
      other.exec('ROLLBACK');
      other.close();
      expect(rowKeys(blobs.file)).toEqual(['messages/before']);
      for (const k of ['a', 'b', 'c']) expect(await blobs.exists(`messages/${k}`)).toBe(false);
      await blobs.put('messages/after', Buffer.from('stored'));
      blobs.close();
      const reopened = new SqliteBlobStore(dir);
      expect((await reopened.get('messages/before')).toString()).toBe('kept');
      expect((await reopened.get('messages/after')).toString()).toBe('stored');
      reopened.close();
    });

    it('a put whose source fails past the limit leaves neither a row nor a file', async () => {
      const blobs = new SqliteBlobStore(dir);
      const failing = Readable.from(
        (async function* () {
          yield Buffer.alloc(SMALL_BLOB_BYTES + 10, 'x');
          throw new Error('source failed');
        })(),
      );
      await expect(blobs.put('messages/failed', failing)).rejects.toThrow('source failed');
      expect(await blobs.exists('messages/failed')).toBe(false);
      expect(rowKeys(blobs.file)).toEqual([]);
      expect(await listFiles(path.join(dir, 'blobs')).catch(() => [])).toEqual([]);
      blobs.close();
    });

    const freePages = (file: string) => {
      const db = new DatabaseSync(file, { readOnly: true });
      try {
        return (db.prepare('PRAGMA freelist_count').get() as { freelist_count: number }).freelist_count;
      } finally {
        db.close();
      }
    };

    it('gives the space of deleted rows back to the file system: after expunging most blobs the file is a fraction of its size, and the rest reads', async () => {
      const keys = Array.from({ length: 200 }, (_, i) => `messages/m${i}`);
      const blobs = new SqliteBlobStore(dir);
      for (let i = 0; i < keys.length; i += 20) await Promise.all(keys.slice(i, i + 20).map((k, j) => blobs.put(k, Buffer.alloc(100 * 1024, i + j))));
      await blobs.put('messages/kept', Buffer.from('kept'));
      blobs.close();
      const full = statSync(blobs.file).size;
      expect(full).toBeGreaterThan(19 * 1024 * 1024);

      // Deleted by a later run of the store: it reclaims in steps, off the deletes' path.
      const again = new SqliteBlobStore(dir);
      for (const k of keys) await again.delete(k);
      await vi.waitFor(() => expect(freePages(again.file)).toBeLessThan(RECLAIM_FREE_PAGES), { timeout: 10_000, interval: 20 });
      expect((await again.get('messages/kept')).toString()).toBe('kept');
      again.close();
      expect(statSync(again.file).size).toBeLessThan(full / 4);
      const reopened = new SqliteBlobStore(dir);
      expect((await reopened.get('messages/kept')).toString()).toBe('kept');
      expect(await reopened.exists('messages/m0')).toBe(false);
      reopened.close();
    });

    it('a blobs.sqlite made before it could shrink keeps working, and no reclaim is attempted on it', async () => {
      const plain = new DatabaseSync(path.join(dir, 'blobs.sqlite'));
      plain.exec('CREATE TABLE unrelated (x INTEGER)');
      plain.close();
      const blobs = new SqliteBlobStore(dir);
      const keys = Array.from({ length: 80 }, (_, i) => `messages/p${i}`);
      await Promise.all(keys.map((k) => blobs.put(k, Buffer.alloc(100 * 1024, 1))));
      for (const k of keys) await blobs.delete(k);
      expect(freePages(blobs.file)).toBeGreaterThanOrEqual(RECLAIM_FREE_PAGES);
      expect(blobs.reclaimSpace()).toBe(false);
      await blobs.put('messages/after', Buffer.from('after'));
      expect((await blobs.get('messages/after')).toString()).toBe('after');
      blobs.close();
    });
  });

  describe('SqliteMailIndex', () => {
    const newMessage = (n: number) => ({ blobKey: `b${n}`, size: 100 + n, internalDate: n, flags: [], meta: sampleMeta(`m${n}`), deliveryKey: `k${n}` });

    it('appends made at once share one durable commit; one that fails is rolled back alone and the rest get consecutive UIDs (invariant 3)', async () => {
      const ix = new SqliteMailIndex({ dataDir: dir });
      await ix.addDomain('example.test');
      await ix.addUser({ address: 'a@example.test', passwordHash: 'h' });
      await ix.addUser({ address: 'b@example.test', passwordHash: 'h' });
      const mb = await ix.createMailbox('a@example.test', 'INBOX');
      const reader = new DatabaseSync(path.join(dir, 'index.sqlite'), { readOnly: true });
      const exec = vi.spyOn(DatabaseSync.prototype, 'exec');
      let outcomes: PromiseSettledResult<{ uid: number; duplicate: boolean }>[];
      const committedWhenResolved: boolean[] = [];
      try {
        outcomes = await Promise.allSettled([
          ix.appendMessage('a@example.test', mb.id, newMessage(1)),
          // Not b's mailbox (invariant 4): this one fails inside the shared transaction.
          ix.appendMessage('b@example.test', mb.id, newMessage(2)),
          ix.appendMessage('a@example.test', mb.id, newMessage(3)),
          ix.appendMessage('a@example.test', mb.id, newMessage(3)), // the same delivery again
          ix.appendMessage('a@example.test', mb.id, newMessage(4)),
        ]).then((all) => {
          for (const o of all) {
            if (o.status === 'fulfilled')
              committedWhenResolved.push(reader.prepare('SELECT 1 FROM messages WHERE mailbox_id = ? AND uid = ?').get(mb.id, o.value.uid) !== undefined);
          }
          return all;
        });
        expect(exec.mock.calls.filter(([sql]) => sql === 'COMMIT')).toHaveLength(1);
      } finally {
        exec.mockRestore();
        reader.close();
      }
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
      expect(outcomes.map((o) => (o.status === 'fulfilled' ? [o.value.uid, o.value.duplicate] : null))).toEqual([
        [1, false],
        null,
        [2, false],
        [2, true],
        [3, false],
      ]);
      expect(committedWhenResolved).toEqual([true, true, true, true]);
      expect((await ix.listMessages('a@example.test', mb.id)).map((m) => m.blobKey)).toEqual(['b1', 'b3', 'b4']);
      expect(await ix.getMailbox('a@example.test', 'INBOX')).toMatchObject({ uidNext: 4, messageCount: 3 });
      await ix.close();
    });

    it('a group commit of appends that fails rejects every append in it and stores none; the next append works', async () => {
      const ix = new SqliteMailIndex({ dataDir: dir });
      await ix.addDomain('example.test');
      await ix.addUser({ address: 'a@example.test', passwordHash: 'h' });
      const mb = await ix.createMailbox('a@example.test', 'INBOX');
      const exec = DatabaseSync.prototype.exec;
      const spy = vi.spyOn(DatabaseSync.prototype, 'exec').mockImplementation(function (this: DatabaseSync, sql: string) {
        if (sql === 'COMMIT') throw new Error('disk I/O error');
        return exec.call(this, sql);
      });
      let outcomes: PromiseSettledResult<unknown>[];
      try {
        outcomes = await Promise.allSettled([1, 2, 3].map((n) => ix.appendMessage('a@example.test', mb.id, newMessage(n))));
      } finally {
        spy.mockRestore();
      }
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
      expect(await ix.listMessages('a@example.test', mb.id)).toEqual([]);
      expect(await ix.getMailbox('a@example.test', 'INBOX')).toMatchObject({ uidNext: 1, messageCount: 0 });
      expect(await ix.appendMessage('a@example.test', mb.id, newMessage(1))).toMatchObject({ uid: 1, duplicate: false });
      await ix.close();
    });

    it('data survives close and reopen; the schema version is recorded; the file is in WAL mode', async () => {
      let ix = new SqliteMailIndex({ dataDir: dir });
      await ix.addDomain('example.test');
      await ix.addUser({ address: 'a@example.test', passwordHash: 'h' });
      const mb = await ix.createMailbox('a@example.test', 'INBOX');
      await ix.appendMessage('a@example.test', mb.id, {
        blobKey: 'b1',
        size: 120,
        internalDate: 1,
        flags: ['\\Seen'],
        meta: sampleMeta('durable'),
        deliveryKey: 'k1',
      });
      await ix.close();

      ix = new SqliteMailIndex({ dataDir: dir });
      expect(await ix.getMailbox('a@example.test', 'INBOX')).toMatchObject({ id: mb.id, uidValidity: mb.uidValidity, uidNext: 2, messageCount: 1 });
      const [m] = await ix.listMessages('a@example.test', mb.id, { withMeta: true });
      expect(m).toMatchObject({ uid: 1, flags: ['\\Seen'], blobKey: 'b1', meta: sampleMeta('durable') });
      expect(
        (
          await ix.appendMessage('a@example.test', mb.id, {
            blobKey: 'b1',
            size: 120,
            internalDate: 1,
            flags: [],
            meta: sampleMeta('durable'),
            deliveryKey: 'k1',
          })
        ).duplicate,
      ).toBe(true);
      const again = await ix.createMailbox('a@example.test', 'Other');
      expect(again.uidValidity).toBeGreaterThan(mb.uidValidity);
      await ix.close();

      const db = new DatabaseSync(path.join(dir, 'index.sqlite'), { readOnly: true });
      expect(db.prepare('SELECT version FROM schema_version WHERE component = ?').get('mail-index')).toEqual({ version: 2 });
      expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
      db.close();
    });

    it('counts quota usage from the messages once when a file from before quotas is opened, then only moves it', async () => {
      let ix = new SqliteMailIndex({ dataDir: dir });
      await ix.addUser({ address: 'a@example.test', passwordHash: 'h' });
      const mb = await ix.createMailbox('a@example.test', 'INBOX');
      for (const size of [100, 200, 300])
        await ix.appendMessage('a@example.test', mb.id, { blobKey: `b${size}`, size, internalDate: 1, flags: [], meta: sampleMeta('u') });
      await ix.close();
      // A file as older code left it: no usage tables.
      const db = new DatabaseSync(path.join(dir, 'index.sqlite'));
      db.exec('DROP TABLE user_usage; DROP TABLE usage_counted; DROP TABLE user_quotas;');
      db.close();
      ix = new SqliteMailIndex({ dataDir: dir });
      expect((await ix.getQuota('a@example.test'))!.usage).toEqual({ storage: 600, messages: 3 });
      await ix.expunge('a@example.test', mb.id, [1]);
      await ix.close();
      // Reopening does not count again (the counter is the truth from now on).
      ix = new SqliteMailIndex({ dataDir: dir });
      expect((await ix.getQuota('a@example.test'))!.usage).toEqual({ storage: 500, messages: 2 });
      await ix.close();
    });

    it('reads the legacy per-mailbox subscribed flag into the subscription list on open, once (no subscription lost)', async () => {
      let ix = new SqliteMailIndex({ dataDir: dir });
      await ix.addUser({ address: 'a@example.test', passwordHash: 'h' });
      await ix.createMailbox('a@example.test', 'INBOX');
      await ix.createMailbox('a@example.test', 'Lists');
      await ix.createMailbox('a@example.test', 'Other');
      await ix.close();
      // Data as older code wrote it: the subscription is the flag on the mailbox row.
      const db = new DatabaseSync(path.join(dir, 'index.sqlite'));
      db.prepare("UPDATE mailboxes SET subscribed = 1 WHERE name IN ('INBOX', 'Lists')").run();
      db.close();
      ix = new SqliteMailIndex({ dataDir: dir });
      expect(await ix.listSubscriptions('a@example.test')).toEqual(['INBOX', 'Lists']);
      // Now the list is what counts: unsubscribe and DELETE survive a reopen.
      await ix.setSubscribed('a@example.test', 'INBOX', false);
      await ix.deleteMailbox('a@example.test', 'Lists');
      await ix.close();
      ix = new SqliteMailIndex({ dataDir: dir });
      expect(await ix.listSubscriptions('a@example.test')).toEqual(['Lists']);
      await ix.close();
    });

    it('opening waits for another process that holds the write lock (an upgrade building its index) beyond the ordinary busy timeout', async () => {
      const file = path.join(dir, 'index.sqlite');
      await new SqliteMailIndex({ dataDir: dir }).close();
      // Another process: takes the write lock as an opening upgrade does, holds it 1.5 s.
      const holder = spawn(process.execPath, [
        '-e',
        `const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(${JSON.stringify(file)}); db.exec('BEGIN IMMEDIATE'); process.stdout.write('locked\\n'); setTimeout(() => { db.exec('COMMIT'); db.close(); }, 1500);`,
      ]);
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
        holder.on('exit', (code) => reject(new Error(`lock holder exited (${code})`)));
      });
      const t0 = Date.now();
      const ix = new SqliteMailIndex({ dataDir: dir, busyTimeoutMs: 200 });
      expect(Date.now() - t0).toBeGreaterThan(1000);
      await ix.addUser({ address: 'a@example.test', passwordHash: 'h' });
      expect(await ix.getUser('a@example.test')).toMatchObject({ address: 'a@example.test' });
      await ix.close();
    });

    it('a schema-1 file (before the change log) upgrades in place: its mailboxes log from the upgrade on, new ones from creation', async () => {
      let ix = new SqliteMailIndex({ dataDir: dir });
      await ix.addUser({ address: 'a@example.test', passwordHash: 'h' });
      const mb = await ix.createMailbox('a@example.test', 'INBOX');
      for (const k of ['b1', 'b2', 'b3'])
        await ix.appendMessage('a@example.test', mb.id, { blobKey: k, size: 1, internalDate: 1, flags: [], meta: sampleMeta(k) });
      await ix.expunge('a@example.test', mb.id, [1]);
      await ix.close();
      // The file as schema 1 left it: no change-log tables, no modseq index, version 1.
      let db = new DatabaseSync(path.join(dir, 'index.sqlite'));
      db.exec('DROP TABLE tombstones; DROP TABLE change_logs; DROP INDEX messages_by_modseq');
      db.prepare("UPDATE schema_version SET version = 1 WHERE component = 'mail-index'").run();
      db.close();

      ix = new SqliteMailIndex({ dataDir: dir });
      const upgraded = (await ix.mailboxState('a@example.test', mb.id))!;
      expect(upgraded).toMatchObject({ uidNext: 4, messageCount: 2 });
      // The expunge before the upgrade left no tombstone: from before the upgrade the log is incomplete.
      expect(await ix.changesSince('a@example.test', mb.id, 1)).toMatchObject({ complete: false, changed: [], expunged: [] });
      expect(await ix.changesSince('a@example.test', mb.id, upgraded.highestModseq)).toMatchObject({ complete: true, changed: [], expunged: [] });
      await ix.updateFlags('a@example.test', mb.id, [2], 'add', ['\\Seen']);
      await ix.expunge('a@example.test', mb.id, [3]);
      const c = await ix.changesSince('a@example.test', mb.id, upgraded.highestModseq);
      expect(c).toMatchObject({ complete: true, expunged: [3] });
      expect(c!.changed.map((m) => [m.uid, m.flags])).toEqual([[2, ['\\Seen']]]);
      const fresh = await ix.createMailbox('a@example.test', 'New');
      await ix.appendMessage('a@example.test', fresh.id, { blobKey: 'b4', size: 1, internalDate: 1, flags: [], meta: sampleMeta('b4') });
      expect((await ix.changesSince('a@example.test', fresh.id, fresh.highestModseq))!.changed.map((m) => m.uid)).toEqual([1]);
      await ix.close();
      // Reopening changes nothing more.
      ix = new SqliteMailIndex({ dataDir: dir });
      expect(await ix.changesSince('a@example.test', mb.id, upgraded.highestModseq)).toEqual(c);
      await ix.close();
      db = new DatabaseSync(path.join(dir, 'index.sqlite'), { readOnly: true });
      expect(db.prepare('SELECT version FROM schema_version WHERE component = ?').get('mail-index')).toEqual({ version: 2 });
      db.close();
    });

    it('rejects malformed input with IndexError INVALID', async () => {
      const ix = new SqliteMailIndex({ dataDir: dir });
      await ix.addUser({ address: 'a@example.test', passwordHash: 'h' });
      const mb = await ix.createMailbox('a@example.test', 'INBOX');
      const good = { blobKey: 'b', size: 1, internalDate: 1, flags: [] as string[], meta: sampleMeta('x') };
      await expect(ix.addUser({ address: 'no-at-sign', passwordHash: 'h' })).rejects.toMatchObject({ code: 'INVALID' });
      await expect(ix.createMailbox('a@example.test', '')).rejects.toMatchObject({ code: 'INVALID' });
      await expect(ix.appendMessage('a@example.test', mb.id, { ...good, blobKey: '' })).rejects.toMatchObject({ code: 'INVALID' });
      await expect(ix.appendMessage('a@example.test', mb.id, { ...good, size: -1 })).rejects.toMatchObject({ code: 'INVALID' });
      await expect(ix.appendMessage('a@example.test', mb.id, { ...good, flags: [''] })).rejects.toMatchObject({ code: 'INVALID' });
      await expect(ix.updateFlags('a@example.test', mb.id, [1], 'toggle' as 'add', ['\\Seen'])).rejects.toMatchObject({ code: 'INVALID' });
      await expect(ix.acquireLease('l', 'o', 0)).rejects.toMatchObject({ code: 'INVALID' });
      expect(await ix.mailboxState('a@example.test', mb.id)).toMatchObject({ uidNext: 1, messageCount: 0 });
      await ix.close();
    });

    async function concurrentAppends(run: (t: ConcurrencyTask) => Promise<ConcurrencyResult>, writers: number, perWriter: number) {
      const ix = new SqliteMailIndex({ dataDir: dir });
      await ix.addUser({ address: 'a@example.test', passwordHash: 'h' });
      const mb = await ix.createMailbox('a@example.test', 'INBOX');
      const startAt = Date.now() + 400;
      const results = Array.from({ length: writers }, (_, w) =>
        run({ kind: 'append', dataDir: dir, user: 'a@example.test', mailboxId: mb.id, count: perWriter, tag: `w${w}`, startAt }),
      );
      let done = false;
      const all = Promise.allSettled(results).finally(() => (done = true));
      // Read from this thread while the others write: UIDs must always be 1..max (invariant 3).
      const violations: string[] = [];
      const total = writers * perWriter;
      let partial = 0;
      let lastMax = 0;
      while (!done) {
        const uids = (await ix.listMessages('a@example.test', mb.id)).map((m) => m.uid);
        const max = uids.at(-1) ?? 0;
        if (uids.length !== max || uids.some((u, i) => u !== i + 1)) violations.push(uids.join(','));
        if (max < lastMax) violations.push(`max went back from ${lastMax} to ${max}`);
        if (max > 0 && max < total) partial += 1;
        lastMax = max;
        await sleep(1);
      }
      const perWriterUids = (await all).map((r) => {
        if (r.status === 'rejected') throw r.reason;
        return r.value.kind === 'append' ? r.value.uids : [];
      });
      expect(violations).toEqual([]);
      // The reader saw the mailbox part-way filled, so the check above was exercised.
      expect(partial).toBeGreaterThan(0);
      for (const uids of perWriterUids) expect([...uids].sort((a, b) => a - b)).toEqual(uids);
      expect(perWriterUids.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect(await ix.mailboxState('a@example.test', mb.id)).toMatchObject({ uidNext: total + 1, messageCount: total });
      await ix.close();
    }

    it('4 processes × 50 appends on one SQLite file: UIDs 1..200, never a gap seen by a reader', async () => {
      await concurrentAppends(runInProcess, 4, 50);
    });

    it('4 worker threads × 50 appends on one SQLite file: UIDs 1..200, never a gap seen by a reader', async () => {
      await concurrentAppends(runInThread, 4, 50);
    });
  });

  describe('SqliteContactStore', () => {
    it('a schema-1 file (before clientVersion) gets the column when opened: its cards stay and read without one, new puts record one', async () => {
      let cs = new SqliteContactStore({ dataDir: dir });
      await cs.createAddressBook('a@example.test', { id: 'default', displayName: 'Contacts' });
      const old = Buffer.from('BEGIN:VCARD\r\nVERSION:3.0\r\nUID:old\r\nFN:Old\r\nEND:VCARD\r\n');
      await cs.putContact('a@example.test', 'default', 'old.vcf', { data: old, uid: 'old' });
      await cs.close();
      // The file as schema 1 left it: the contacts table without client_version.
      let db = new DatabaseSync(path.join(dir, 'index.sqlite'));
      db.exec('ALTER TABLE contacts DROP COLUMN client_version');
      db.prepare("UPDATE schema_version SET version = 1 WHERE component = 'contacts'").run();
      db.close();

      cs = new SqliteContactStore({ dataDir: dir });
      const got = (await cs.getContact('a@example.test', 'default', 'old.vcf'))!;
      expect(got.data.equals(old)).toBe(true);
      expect(got.clientVersion).toBeUndefined();
      await cs.putContact('a@example.test', 'default', 'old.vcf', { data: old, uid: 'old', clientVersion: '3.0' });
      expect((await cs.listContacts('a@example.test', 'default'))[0].clientVersion).toBe('3.0');
      await cs.close();
      db = new DatabaseSync(path.join(dir, 'index.sqlite'), { readOnly: true });
      expect(db.prepare('SELECT version FROM schema_version WHERE component = ?').get('contacts')).toEqual({ version: 2 });
      db.close();
    });
  });

  describe('SqliteWorkQueue', () => {
    it('jobs survive close and reopen; a job held by a dead receiver comes back after its visibility timeout', async () => {
      let q = new SqliteWorkQueue({ dataDir: dir });
      const held = await q.send('ingest', { n: 1 });
      const waiting = await q.send('outbound', { n: 2 });
      const delayed = await q.send('ingest', { n: 3 }, { delaySeconds: 1 });
      const [job] = await q.receive('ingest', { visibilityTimeoutSeconds: 1 });
      expect(job.id).toBe(held);
      await q.close(); // the receiver "dies" without ack

      q = new SqliteWorkQueue({ dataDir: dir });
      expect(await q.stats('ingest')).toEqual({ visible: 0, inFlight: 1, delayed: 1, dead: 0 });
      expect((await q.receive('outbound')).map((j) => j.id)).toEqual([waiting]);
      const back = await q.receive<{ n: number }>('ingest', { max: 10, waitSeconds: 3 });
      const more = back.length < 2 ? await q.receive<{ n: number }>('ingest', { max: 10, waitSeconds: 3 }) : [];
      const got = [...back, ...more];
      expect(got.map((j) => j.id).sort()).toEqual([held, delayed].sort());
      expect(got.find((j) => j.id === held)).toMatchObject({ receiveCount: 2, body: { n: 1 } });
      expect(got.find((j) => j.id === delayed)).toMatchObject({ receiveCount: 1, body: { n: 3 } });
      await q.close();
    });

    it('a stale receipt (job since received by someone else) neither acks nor releases the job', async () => {
      const a = new SqliteWorkQueue({ dataDir: dir });
      const b = new SqliteWorkQueue({ dataDir: dir });
      const id = await a.send('ingest', { n: 1 });
      const [first] = await a.receive('ingest', { visibilityTimeoutSeconds: 1 });
      const [second] = await b.receive('ingest', { waitSeconds: 3, visibilityTimeoutSeconds: 30 });
      expect(second.id).toBe(id);
      await a.ack('ingest', first.receipt);
      await a.release('ingest', first.receipt, 0);
      expect(await a.stats('ingest')).toEqual({ visible: 0, inFlight: 1, delayed: 0, dead: 0 });
      await b.ack('ingest', second.receipt);
      expect(await a.stats('ingest')).toEqual({ visible: 0, inFlight: 0, delayed: 0, dead: 0 });
      await a.close();
      await b.close();
    });

    it('maxReceiveCount can be overridden per queue; the count is kept across reopen', async () => {
      let q = new SqliteWorkQueue({ dataDir: dir, maxReceiveCount: { ingest: 2 } });
      const id = await q.send('ingest', { n: 1 });
      for (let i = 1; i <= 2; i++) {
        const [j] = await q.receive('ingest');
        expect(j.receiveCount).toBe(i);
        await q.release('ingest', j.receipt, 0);
        if (i === 1) {
          await q.close();
          q = new SqliteWorkQueue({ dataDir: dir, maxReceiveCount: { ingest: 2 } });
        }
      }
      expect(await q.receive('ingest')).toEqual([]);
      expect((await q.deadLetters('ingest')).map((d) => [d.id, d.receiveCount])).toEqual([[id, 2]]);
      await q.close();
    });

    it('rejects a body over 256 KiB (the SQS limit) and unknown queue names', async () => {
      const q = new SqliteWorkQueue({ dataDir: dir });
      await expect(q.send('ingest', { blob: 'x'.repeat(256 * 1024) })).rejects.toThrow(/256|exceeds/);
      await expect(q.send('nope' as 'ingest', {})).rejects.toThrow(/unknown queue/);
      expect(await q.stats('ingest')).toEqual({ visible: 0, inFlight: 0, delayed: 0, dead: 0 });
      await q.close();
    });

    it('a receive waiting in another process-like instance is woken by a send within the poll interval', async () => {
      const receiver = new SqliteWorkQueue({ dataDir: dir, pollIntervalMs: 50 });
      const sender = new SqliteWorkQueue({ dataDir: dir });
      const started = Date.now();
      const pending = receiver.receive('outbound', { waitSeconds: 5 });
      await sleep(100);
      const id = await sender.send('outbound', { n: 1 });
      expect((await pending).map((j) => j.id)).toEqual([id]);
      expect(Date.now() - started).toBeLessThan(1000);
      await receiver.close();
      await sender.close();
    });

    it('concurrent sends share one durable commit (group commit), and each resolves only once its own job is committed', async () => {
      const q = new SqliteWorkQueue({ dataDir: dir });
      const reader = new DatabaseSync(q.file, { readOnly: true });
      const exec = vi.spyOn(DatabaseSync.prototype, 'exec');
      try {
        const committedWhenResolved: boolean[] = [];
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            q.send('ingest', { i }).then((id) => {
              // Another connection sees the row the moment the send resolves: it is committed.
              committedWhenResolved.push(reader.prepare('SELECT 1 FROM jobs WHERE id = ?').get(id) !== undefined);
            }),
          ),
        );
        expect(committedWhenResolved).toEqual(Array(20).fill(true));
        expect(exec.mock.calls.filter(([sql]) => sql === 'COMMIT')).toHaveLength(1);
      } finally {
        exec.mockRestore();
        reader.close();
      }
      expect((await q.stats('ingest')).visible).toBe(20);
      await q.close();
    });

    it('a group commit that fails rejects every send in it and leaves none of its jobs in the queue; the next send works', async () => {
      const q = new SqliteWorkQueue({ dataDir: dir });
      const exec = DatabaseSync.prototype.exec;
      const spy = vi.spyOn(DatabaseSync.prototype, 'exec').mockImplementation(function (this: DatabaseSync, sql: string) {
        if (sql === 'COMMIT') throw new Error('disk I/O error');
        return exec.call(this, sql);
      });
      let outcomes: PromiseSettledResult<string>[];
      try {
        outcomes = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => q.send('ingest', { i })));
      } finally {
        spy.mockRestore();
      }
      expect(outcomes.map((o) => o.status)).toEqual(Array(5).fill('rejected'));
      expect(await q.stats('ingest')).toEqual({ visible: 0, inFlight: 0, delayed: 0, dead: 0 });
      const id = await q.send('ingest', { n: 1 });
      expect((await q.receive('ingest')).map((j) => j.id)).toEqual([id]);
      await q.close();
    });

    it('a receive waiting in another thread of the process (the ingest thread) is woken by a send at once, not at the end of its wait', async () => {
      const q = new SqliteWorkQueue({ dataDir: dir });
      await q.stats('outbound'); // the file exists before the thread opens it
      const waiting = runInThread({ kind: 'wait', dataDir: dir, startAt: 0, waitSeconds: 15 });
      await sleep(1500); // the thread is started and inside its receive (it polls once a minute)
      const sentAt = Date.now();
      const id = await q.send('outbound', { n: 1 });
      expect(await waiting).toEqual({ kind: 'wait', ids: [id] });
      // Unwoken, it would find the job only when its 15 s wait ran out.
      expect(Date.now() - sentAt).toBeLessThan(10_000);
      await q.close();
    });

    it('3 processes draining 90 jobs from one file receive each job exactly once', async () => {
      const q = new SqliteWorkQueue({ dataDir: dir });
      const sent = new Set<string>();
      for (let i = 0; i < 90; i++) sent.add(await q.send('ingest', { i }));
      const startAt = Date.now() + 400;
      const results = await Promise.all([0, 1, 2].map(() => runInProcess({ kind: 'drain', dataDir: dir, startAt })));
      const ids = results.flatMap((r) => (r.kind === 'drain' ? r.ids : []));
      expect(ids.length).toBe(90);
      expect(new Set(ids)).toEqual(sent);
      expect(await q.stats('ingest')).toEqual({ visible: 0, inFlight: 0, delayed: 0, dead: 0 });
      await q.close();
    });
  });

  it('createLocalAdapters creates the data directory and opens all three adapters in it', async () => {
    const dataDir = path.join(dir, 'nested', 'data');
    const adapters = await createLocalAdapters({ dataDir });
    expect(adapters.kind).toBe('local');
    await adapters.blobs.put('messages/x', Buffer.from('x'));
    await adapters.index.addDomain('example.test');
    await adapters.queue.send('ingest', { k: 'messages/x' });
    await adapters.close();
    await adapters.close();
    const names = (await readdir(dataDir)).sort();
    expect(names).toEqual(expect.arrayContaining(['blobs.sqlite', 'index.sqlite', 'queue.sqlite']));
    const again = await createLocalAdapters({ dataDir });
    expect((await again.index.listDomains()).map((d) => d.name)).toEqual(['example.test']);
    expect((await again.queue.stats('ingest')).visible).toBe(1);
    expect((await again.blobs.get('messages/x')).toString()).toBe('x');
    await again.close();
  });
});
