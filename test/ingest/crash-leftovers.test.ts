/**
 * What kill -9 leaves in the data directory — temporary blob files and blobs nothing refers
 * to, as rows of blobs.sqlite or as files — is removed when the local runtime starts, and reported in the log; nothing a message,
 * a queued job (ingest jobs hold their blob: holdBlob), a DKIM key or an outbound marker needs
 * is touched, and nothing younger than the grace period (core/adapters/local/crash-leftovers.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { createUser } from '#core/accounts/accounts.ts';
import { createLocalAdapters, FileBlobStore, type SqliteBlobStore } from '#core/adapters/local/index.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import type { BlobStore } from '#core/ports/blob-store.ts';
import { appendToMailbox } from '#core/mailbox/writes.ts';
import { generateDkimKey, saveDkimKey, dkimKeyBlobKey } from '#core/dkim/keys.ts';
import { outboundBlobKey } from '#core/outbound/job.ts';
import { photoBlobKey } from '#core/contacts/photo-blobs.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PORTS = Object.fromEntries(
  ['SMTP_PORT', 'SUBMISSION_PORT', 'SUBMISSIONS_PORT', 'IMAP_PORT', 'IMAPS_PORT', 'POP3_PORT', 'POP3S_PORT', 'HTTPS_PORT', 'HTTP_PORT'].map((v) => [v, '0']),
);

/** Starts local-main on `dataDir`, returns its log lines up to "mail system started", stops it. */
async function startAndStop(dataDir: string): Promise<Array<Record<string, any>>> {
  const child = spawn(process.execPath, ['fargate-listeners/src/local-main.ts'], {
    cwd: ROOT,
    env: { ...process.env, MAIL_DATA_DIR: dataDir, MAIL_HOSTNAME: 'mx.test', MAIL_WORKERS: '0', ...PORTS },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('mail system started')) resolve();
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${out}${err}`)));
  });
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

/** Where a blob of the test lives: a row of blobs.sqlite (small puts) or a file (large ones, and older data). */
interface Place {
  name: string;
  store: (a: Adapters) => BlobStore;
  exists: (key: string) => boolean;
  age: (keys: string[], when: Date) => void;
  /** How the start-up log names it (relative to the data directory). */
  logged: (key: string) => string;
}

function places(dataDir: string): Place[] {
  const files = new FileBlobStore(dataDir);
  const rows = () => new DatabaseSync(path.join(dataDir, 'blobs.sqlite'));
  return [
    {
      name: 'rows of blobs.sqlite',
      store: (a) => a.blobs,
      exists: (key) => {
        const db = rows();
        try {
          return db.prepare('SELECT 1 AS x FROM blobs WHERE key = ?').get(key) !== undefined;
        } finally {
          db.close();
        }
      },
      age: (keys, when) => {
        const db = rows();
        try {
          for (const k of keys) db.prepare('UPDATE blobs SET stored_at = ? WHERE key = ?').run(when.getTime(), k);
        } finally {
          db.close();
        }
      },
      logged: (key) => `blobs.sqlite:${key}`,
    },
    {
      name: 'files under blobs/',
      store: (a) => (a.blobs as SqliteBlobStore).files,
      exists: (key) => existsSync(files.pathOf(key)),
      age: (keys, when) => {
        for (const k of keys) utimesSync(files.pathOf(k), when, when);
      },
      logged: (key) => path.relative(dataDir, files.pathOf(key)),
    },
  ];
}

describe('crash leftovers at start', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'leftovers-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it.each([0, 1])(
    'removes old temporary files and orphaned message blobs, keeps every blob still needed, and logs what went (%#: rows, files)',
    async (which) => {
      const dataDir = path.join(root, String(which));
      const place = places(dataDir)[which]!;
      const adapters = await createLocalAdapters({ dataDir });
      const blobs = place.store(adapters);
      const files = new FileBlobStore(dataDir);
      await adapters.index.addDomain('example.test');
      await createUser(adapters.index, 'alice@example.test', 'pw');
      const msg = (raw: string) => Buffer.from(`Subject: ${raw}\r\n\r\nbody\r\n`);
      // Needed: a delivered message, a blob an ingest job holds, an outbound copy in the queue,
      // the domain's DKIM key and an outbound "queued" marker.
      const delivered = await appendToMailbox({ ...adapters, blobs }, 'alice@example.test', 'INBOX', msg('delivered'));
      const [deliveredKey] = (await adapters.index.getMessages('alice@example.test', delivered.mailboxId, [delivered.uid])).map((m) => m.blobKey);
      await blobs.put('messages/held', msg('held by a queued ingest job'));
      await adapters.index.holdBlob('messages/held', 'JOB1');
      await adapters.queue.send('ingest', { id: 'JOB1', blobKey: 'messages/held' });
      const outKey = outboundBlobKey('JOB0', 'remote.test');
      await blobs.put(outKey, msg('outbound copy'));
      await adapters.queue.send('outbound', { id: 'JOB0/remote.test', blobKey: outKey });
      await saveDkimKey(blobs, generateDkimKey('example.test', 'ed25519'));
      await blobs.put(`${outKey}.queued`, Buffer.from(new Date().toISOString()));
      // A contact photo moved out of its card (core/contacts/photo-blobs.ts): the contact store refers to it.
      const photoKey = photoBlobKey('alice@example.test', 'default', 'pat.vcf', '0e2b7c1a-1111-4222-8333-444455556666');
      // Folded inside "data:" (RFC 6350 §3.2 allows a fold anywhere).
      await blobs.put(photoKey, Buffer.from(`da\r\n ta:image/jpeg;base64,${Buffer.alloc(6000, 7).toString('base64')}`));
      // Leftovers: an orphaned message blob and a temporary file of an interrupted file put.
      await blobs.put('messages/orphan', msg('nobody refers to me'));
      const tmp = path.join(path.dirname(files.pathOf('messages/orphan')), `.tmp-4242-${'ab'.repeat(8)}`);
      mkdirSync(path.dirname(tmp), { recursive: true });
      writeFileSync(tmp, 'half a message');
      await adapters.close();
      // All of that from two hours ago (older than the grace period)...
      const old = new Date(Date.now() - 2 * 3600_000);
      const kept = [deliveredKey!, 'messages/held', outKey, dkimKeyBlobKey('example.test'), `${outKey}.queued`, photoKey];
      for (const k of [...kept, 'messages/orphan']) expect(place.exists(k), k).toBe(true);
      place.age([...kept, 'messages/orphan'], old);
      utimesSync(tmp, old, old);
      // ...except a temporary file and an orphan being written right now (another process).
      await (async () => {
        const again = await createLocalAdapters({ dataDir });
        await place.store(again).put('messages/fresh', msg('just stored, hold not yet taken'));
        await again.close();
      })();
      const freshTmp = path.join(path.dirname(files.pathOf('messages/fresh')), `.tmp-4343-${'cd'.repeat(8)}`);
      mkdirSync(path.dirname(freshTmp), { recursive: true });
      writeFileSync(freshTmp, 'being written');

      const lines = await startAndStop(dataDir);
      expect(place.exists('messages/orphan')).toBe(false);
      expect(existsSync(tmp)).toBe(false);
      for (const k of [...kept, 'messages/fresh']) expect(place.exists(k), k).toBe(true);
      expect(existsSync(freshTmp)).toBe(true);
      const report = lines.find((l) => l.msg === 'crash leftovers removed');
      expect(report).toMatchObject({ level: 'info', tempFiles: 1, orphanedBlobs: 1 });
      expect(report!.files.sort()).toEqual([place.logged('messages/orphan'), path.relative(dataDir, tmp)].sort());

      // A second start has nothing to remove and says nothing about it.
      const again = await startAndStop(dataDir);
      expect(again.some((l) => l.msg === 'crash leftovers removed')).toBe(false);
    },
    60_000,
  );
});
