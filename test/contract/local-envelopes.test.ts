/**
 * What only the SQLite index promises about listEnvelopes (core/adapters/local/sqlite-index/
 * envelopes.ts): a file from before the `message_envelopes` table gains it when opened, with a
 * row for every message it holds, computed from the message's meta; and messages written or
 * deleted by code that does not know the table (an older process on the same file) are kept
 * right by its triggers, their envelopes read from meta.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteMailIndex } from '#core/adapters/local/sqlite-mail-index.ts';
import { indexMessage } from '#core/mime/index-message.ts';
import type { NewMessage } from '#core/ports/mail-index.ts';
import { corpusFiles } from '../support/corpus.ts';
import { expectSameEnvelopes } from './envelopes.contract.ts';

const alice = 'alice@example.test';
const hdr = (...lines: string[]) => Buffer.from(lines.join('\r\n') + '\r\n\r\nbody\r\n', 'utf8');
const raws = [
  hdr('From: Al <al@example.test>', 'Subject: plain ascii', 'Message-ID: <p@example.test>'),
  hdr('From: Zoë <z@example.test>', 'Subject: café'),
  ...corpusFiles()
    .filter((_, i) => i % 10 === 0)
    .map((f) => f.raw),
];
const message = (raw: Buffer, i: number): NewMessage => ({
  blobKey: `messages/old/${i}`,
  size: raw.length,
  internalDate: 1_600_000_000_000 + i,
  flags: [],
  meta: indexMessage(raw),
});

/** The INSERT of appendMessage before message_envelopes existed. */
const OLD_INSERT = 'INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, blob_key, meta, saved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)';

describe('SQLite envelopes: a file from before message_envelopes, and writers that do not know it', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mail-envelopes-'));
    file = path.join(dir, 'index.sqlite');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gains the table on open (twice is harmless), filled from every old message`s meta: the same envelopes as the meta gives', async () => {
    let ix = new SqliteMailIndex({ dataDir: dir });
    await ix.addUser({ address: alice, passwordHash: 'scrypt$hash' });
    const mb = await ix.createMailbox(alice, 'INBOX');
    for (const [i, raw] of raws.entries()) await ix.appendMessage(alice, mb.id, message(raw, i));
    await ix.close();
    // The file as older code left it: no table, no triggers.
    const db = new DatabaseSync(file);
    db.exec('DROP TRIGGER message_envelopes_insert; DROP TRIGGER message_envelopes_delete; DROP TABLE message_envelopes');
    db.close();

    ix = new SqliteMailIndex({ dataDir: dir });
    const again = new SqliteMailIndex({ dataDir: dir });
    try {
      const records = await ix.listMessages(alice, mb.id, { withMeta: 'structure' });
      expect(records).toHaveLength(raws.length);
      expectSameEnvelopes(await again.listEnvelopes(alice, mb.id), records);
      // Filled when opened, not left to be computed on each read.
      const check = new DatabaseSync(file, { readOnly: true });
      expect(check.prepare('SELECT COUNT(*) AS n FROM message_envelopes WHERE imap IS NULL AND json IS NULL').get()).toEqual({ n: 0 });
      expect(check.prepare('SELECT COUNT(*) AS n FROM message_envelopes').get()).toEqual({ n: raws.length });
      check.close();
    } finally {
      await ix.close();
      await again.close();
    }
  });

  it('a message inserted or deleted by code that does not know the table is listed, or not, with the envelope of its meta', async () => {
    const ix = new SqliteMailIndex({ dataDir: dir });
    try {
      await ix.addUser({ address: alice, passwordHash: 'scrypt$hash' });
      const mb = await ix.createMailbox(alice, 'INBOX');
      await ix.appendMessage(alice, mb.id, message(raws[0], 0));
      // An older process on the same file: its own insert (UID 2, 3) and, later, a delete.
      const old = new DatabaseSync(file);
      old.exec('BEGIN IMMEDIATE');
      for (const [uid, raw] of [
        [2, raws[1]],
        [3, raws[2]],
      ] as const) {
        old
          .prepare(OLD_INSERT)
          .run(mb.id, uid, uid + 10, '[]', 1_600_000_000_000 + uid, raw.length, `messages/old/${uid}`, JSON.stringify(indexMessage(raw)), Date.now());
      }
      old.prepare('UPDATE mailboxes SET uid_next = 4, highest_modseq = 13, message_count = 3 WHERE id = ?').run(mb.id);
      old.exec('COMMIT');
      expect(old.prepare('SELECT uid, imap, json FROM message_envelopes WHERE mailbox_id = ? AND uid > 1').all(mb.id)).toEqual([
        { uid: 2, imap: null, json: null },
        { uid: 3, imap: null, json: null },
      ]);
      expectSameEnvelopes(await ix.listEnvelopes(alice, mb.id), await ix.listMessages(alice, mb.id, { withMeta: 'structure' }));
      expect((await ix.listEnvelopes(alice, mb.id)).map((e) => e.uid)).toEqual([1, 2, 3]);

      old.prepare('DELETE FROM messages WHERE mailbox_id = ? AND uid = 2').run(mb.id);
      old.close();
      expect((await ix.listEnvelopes(alice, mb.id)).map((e) => e.uid)).toEqual([1, 3]);
      expectSameEnvelopes(await ix.listEnvelopes(alice, mb.id), await ix.listMessages(alice, mb.id, { withMeta: 'structure' }));
    } finally {
      await ix.close();
    }
  });
});
