/**
 * The local change feed (core/ports/change-feed.ts): the SQLite index file itself.
 *
 * Every process on a data directory (a second `npm start`, mailctl, a worker) writes the mail
 * index in `<dataDir>/index.sqlite`, so a commit there *is* the notification and publish()
 * has nothing to send. listen() opens its own connection to the file and reads
 * `PRAGMA data_version` every `intervalMs` (default 250 ms). SQLite changes that number on a
 * connection exactly when another connection — in any process — has committed to the file
 * since the last read; in WAL mode the read looks at the WAL index header in the shared
 * memory file, so it costs no disk I/O and takes no lock anyone waits for. When it moved, the
 * listener is called with `null` ("the store changed"), and the IDLE watcher reads the
 * mailboxState of each mailbox it watches (primary-key lookups) to find which moved.
 *
 * Why not a file-system notification (fs.watch on the -wal file): inotify, FSEvents and
 * ReadDirectoryChangesW differ in what they report and how late (FSEvents coalesces; network
 * and some container file systems report nothing), a checkpoint rewrites the WAL without a
 * change of content, and a missed event would leave the change to the slow poll.
 * data_version is exact, portable and as cheap.
 *
 * Commits of this process's own connections move the number too, so an in-process write,
 * already notified directly (core/mailbox/events.ts), costs one extra mailboxState read per
 * watched mailbox; so do commits that change no mailbox (POP3 lease refreshes, blob holds).
 * Locally these reads are microseconds.
 */
import { DatabaseSync } from 'node:sqlite';
import type { ChangeFeed, ChangeListener } from '../../ports/change-feed.ts';
import type { Logger } from '../../log.ts';
import { silentLogger } from '../../log.ts';

export const DEFAULT_DATA_VERSION_INTERVAL_MS = 250;

export interface SqliteChangeFeedOptions {
  /** The mail index file (SqliteMailIndex.file, `<dataDir>/index.sqlite`). */
  file: string;
  intervalMs?: number;
  log?: Logger;
}

export class SqliteChangeFeed implements ChangeFeed {
  private readonly file: string;
  private readonly intervalMs: number;
  private readonly log: Logger;
  private db: DatabaseSync | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(options: SqliteChangeFeedOptions) {
    this.file = options.file;
    this.intervalMs = options.intervalMs ?? DEFAULT_DATA_VERSION_INTERVAL_MS;
    this.log = options.log ?? silentLogger;
  }

  /** The commit that preceded this call is what other processes see. */
  async publish(): Promise<void> {}

  async listen(listener: ChangeListener): Promise<void> {
    if (this.db) throw new Error('SqliteChangeFeed: already listening');
    const db = new DatabaseSync(this.file, { timeout: 1000 });
    this.db = db;
    const read = db.prepare('PRAGMA data_version');
    const version = () => Number((read.get() as { data_version: number | bigint }).data_version);
    let last = version();
    this.timer = setInterval(() => {
      try {
        const now = version();
        if (now === last) return;
        last = now;
        listener(null);
      } catch (err) {
        this.log.warn('data_version check failed', { err: err as Error });
      }
    }, this.intervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.db?.close();
    this.db = null;
  }
}
