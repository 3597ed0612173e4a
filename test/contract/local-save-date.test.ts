/**
 * What only the SQLite index promises about save dates (core/adapters/local/sqlite-index/
 * save-dates.ts): a file from before the `saved_at` column gains it when opened, keeps every
 * message, and those older messages have no saveDate (RFC 8514 leaves them to the server; the
 * IMAP layer answers with the internal date, fargate-listeners/src/imap/session/save-date.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteMailIndex } from '#core/adapters/local/sqlite-mail-index.ts';
import { sampleMeta } from './mail-index.contract.ts';

describe('SQLite save dates: a file from before the saved_at column', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mail-savedate-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gains the column on open (twice is harmless); old rows have no saveDate, new ones do', async () => {
    const alice = 'alice@example.test';
    let ix = new SqliteMailIndex({ dataDir: dir });
    await ix.addUser({ address: alice, passwordHash: 'scrypt$hash' });
    const mb = await ix.createMailbox(alice, 'INBOX');
    await ix.appendMessage(alice, mb.id, { blobKey: 'messages/old', size: 120, internalDate: 1_600_000_000_000, flags: [], meta: sampleMeta('old') });
    await ix.close();
    // The file as older code left it: no saved_at column.
    const db = new DatabaseSync(path.join(dir, 'index.sqlite'));
    db.exec('ALTER TABLE messages DROP COLUMN saved_at');
    db.close();

    ix = new SqliteMailIndex({ dataDir: dir });
    const again = new SqliteMailIndex({ dataDir: dir });
    await ix.appendMessage(alice, mb.id, { blobKey: 'messages/new', size: 120, internalDate: 1_600_000_000_000, flags: [], meta: sampleMeta('new') });
    const [old, fresh] = await again.listMessages(alice, mb.id);
    expect(old).toMatchObject({ uid: 1, blobKey: 'messages/old', internalDate: 1_600_000_000_000 });
    expect(old.saveDate).toBeUndefined();
    expect(fresh.saveDate).toBeGreaterThan(1_600_000_000_000);
    await ix.close();
    await again.close();
  });
});
