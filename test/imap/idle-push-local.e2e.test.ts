/**
 * Push between processes on one data directory (issue 11 item 3, local form): an IMAP IDLE
 * session (RFC 2177) on `npm start`'s listeners hears of a message that another process
 * (test/support/append-process.ts: the mailbox write path, as the ingest job or a second
 * `npm start` runs it) committed to the same data directory, within 2 s, while the
 * safety-net poll is at its default of 60 s. The listener learns of it through the index file
 * itself (core/adapters/local/sqlite-change-feed.ts, PRAGMA data_version).
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteChangeFeed } from '#core/adapters/local/sqlite-change-feed.ts';
import path from 'node:path';
import { run } from '../support/clients.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

describe('IDLE hears another process on the same data directory (local adapters)', () => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem('local', { changeFeed: (dataDir) => new SqliteChangeFeed({ file: path.join(dataDir, 'index.sqlite') }) });
    await sys.deliver(sampleMessage('first'));
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('tells an imapflow IDLE session `* 2 EXISTS` within 2 s of the other process committing, with the poll at 60 s', async () => {
    expect(sys.ts.config.idlePollSeconds).toBeGreaterThanOrEqual(60);
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: sys.port,
      secure: false,
      auth: { user: sys.user, pass: sys.password },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await c.connect();
    try {
      await c.mailboxOpen('INBOX');
      expect((c.mailbox as { exists: number }).exists).toBe(1);
      let seenAt = 0;
      const seen = new Promise<number>((resolve) =>
        c.on('exists', (d: { count: number }) => {
          seenAt = Date.now();
          resolve(d.count);
        }),
      );
      const idling = c.idle();
      await new Promise((r) => setTimeout(r, 300));

      const child = await run(process.execPath, ['test/support/append-process.ts', sys.ts.dataDir, sys.user, 'INBOX', 'from another process']);
      expect(child.stderr).toBe('');
      expect(child.code).toBe(0);
      const committedAt = Date.now();
      const count = await Promise.race([seen, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 2000))]);
      expect(count).toBe(2);
      expect(seenAt - committedAt).toBeLessThan(2000);
      await c.logout();
      await idling.catch(() => {});
    } finally {
      c.close();
    }
  });
});
