/**
 * What the SQLite adapters share: opening a database file in WAL mode for several
 * connections (threads, processes), write transactions, and the schema version table.
 *
 * Concurrency rules for every adapter built on this:
 *  - Every write is one `BEGIN IMMEDIATE` transaction (`immediate()`): it takes the write lock
 *    up front, so two writers never both read a value and then both write (no lost update,
 *    no SQLITE_BUSY half-way through), and `busy_timeout` makes a second writer wait.
 *  - A transaction body is synchronous (DatabaseSync) and never awaits, so connections in the
 *    same thread cannot interleave inside one; connections in other threads or processes wait
 *    on the file lock.
 *  - Reads are single statements; in WAL mode each sees one committed snapshot.
 *  - `synchronous = FULL`: a committed transaction survives power loss (invariant 1).
 *    `immediate(fn, { durable: false })` commits without the fsync (WAL, synchronous=NORMAL)
 *    for writes whose loss is harmless — a queue receive or ack lost to a power cut only
 *    makes a job come back, and delivery is idempotent (invariant 2). The next durable
 *    commit syncs the WAL, including such writes.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';

export const DEFAULT_BUSY_TIMEOUT_MS = 10_000;
/**
 * How long opening waits for the schema transaction's write lock: another process may be
 * upgrading the file, and an upgrade can build an index over every message (schema 2's
 * messages_by_modseq), which on a big file takes longer than an ordinary write's wait.
 */
export const OPEN_BUSY_TIMEOUT_MS = 300_000;

export interface SqliteHandle {
  db: DatabaseSync;
  /** Prepared statements, cached by SQL text. */
  stmt(sql: string): StatementSync;
  /** Runs `fn` inside BEGIN IMMEDIATE … COMMIT; rolls back when it throws. */
  immediate<T>(fn: () => T, options?: { durable?: boolean }): T;
  /**
   * Runs `fn` in a durable write transaction shared by every `grouped` call of this handle made
   * in the same turn of the event loop (group commit: one BEGIN IMMEDIATE … COMMIT, one fsync,
   * for at most MAX_GROUP of them). Each runs inside a SAVEPOINT of its own, so one that throws
   * is rolled back alone and rejects alone. Every promise settles after the COMMIT returned:
   * resolved only when the COMMIT holding its writes succeeded; a failed COMMIT rolls back and
   * rejects them all (none of their writes is there). `fn` must not await.
   */
  grouped<T>(fn: () => T): Promise<T>;
  close(): void;
}

/** Most calls one group commit runs (a bound on the time it holds the write lock). */
const MAX_GROUP = 200;

interface GroupedCall {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function isBusy(err: unknown): boolean {
  const e = err as { errcode?: number; message?: string } | null;
  // SQLITE_BUSY = 5, SQLITE_LOCKED = 6 (primary result codes; extended codes keep them in the low byte).
  const code = typeof e?.errcode === 'number' ? e.errcode & 0xff : -1;
  return code === 5 || code === 6 || /database is locked|database is busy/i.test(e?.message ?? '');
}

/**
 * Opens `file` (created if absent) in WAL mode. `schema` holds the component's DDL
 * (idempotent `CREATE … IF NOT EXISTS` statements) and is applied in one write transaction
 * together with the `schema_version` record for `component`; that transaction waits up to
 * OPEN_BUSY_TIMEOUT_MS for another opener's (an upgrade's) lock, later writes busyTimeoutMs.
 * `incrementalVacuum` makes a new file able to give freed pages back to the file system
 * (auto_vacuum = INCREMENTAL); an existing file keeps the mode it was made with.
 */
export function openSqlite(
  file: string,
  component: string,
  version: number,
  schema: string,
  busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS,
  options: { incrementalVacuum?: boolean } = {},
): SqliteHandle {
  const db = new DatabaseSync(file, { timeout: busyTimeoutMs });
  // Freed pages can be given back to the file system (`PRAGMA incremental_vacuum`) only in a
  // file made with auto_vacuum = INCREMENTAL, which must be set before its first table.
  if (options.incrementalVacuum && (db.prepare('PRAGMA page_count').get() as { page_count: number }).page_count === 0) {
    db.exec('PRAGMA auto_vacuum = INCREMENTAL');
  }
  // Switching to WAL needs a moment of exclusive access; when several processes open a new
  // file at once, one may see SQLITE_BUSY here despite busy_timeout, so retry briefly.
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    try {
      db.exec('PRAGMA journal_mode = WAL');
      break;
    } catch (err) {
      if (!isBusy(err) || Date.now() > deadline) {
        db.close();
        throw err;
      }
      sleepSync(10);
    }
  }
  db.exec('PRAGMA synchronous = FULL');
  db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);

  const cache = new Map<string, StatementSync>();
  const waiting: GroupedCall[] = [];
  let groupScheduled = false;
  const runGroups = () => {
    groupScheduled = false;
    while (waiting.length > 0) {
      const group = waiting.splice(0, MAX_GROUP);
      const outcomes: Array<{ ok: true; value: unknown } | { ok: false; err: unknown }> = [];
      try {
        handle.immediate(() => {
          for (const call of group) {
            db.exec('SAVEPOINT grouped');
            try {
              const value = call.fn();
              db.exec('RELEASE grouped');
              outcomes.push({ ok: true, value });
            } catch (err) {
              db.exec('ROLLBACK TO grouped');
              db.exec('RELEASE grouped');
              outcomes.push({ ok: false, err });
            }
          }
        });
      } catch (err) {
        for (const call of group) call.reject(err);
        continue;
      }
      group.forEach((call, i) => {
        const o = outcomes[i]!;
        if (o.ok) call.resolve(o.value);
        else call.reject(o.err);
      });
    }
  };
  const handle: SqliteHandle = {
    db,
    stmt(sql) {
      let s = cache.get(sql);
      if (!s) {
        s = db.prepare(sql);
        cache.set(sql, s);
      }
      return s;
    },
    immediate<T>(fn: () => T, options?: { durable?: boolean }): T {
      const relaxed = options?.durable === false;
      if (relaxed) db.exec('PRAGMA synchronous = NORMAL');
      try {
        db.exec('BEGIN IMMEDIATE');
        try {
          const result = fn();
          db.exec('COMMIT');
          return result;
        } catch (err) {
          if (db.isTransaction) db.exec('ROLLBACK');
          throw err;
        }
      } finally {
        if (relaxed) db.exec('PRAGMA synchronous = FULL');
      }
    },
    grouped<T>(fn: () => T): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        waiting.push({ fn, resolve: resolve as (value: unknown) => void, reject });
        if (!groupScheduled) {
          groupScheduled = true;
          setImmediate(runGroups);
        }
      });
    },
    close() {
      // Calls still waiting for their group commit are committed first (their callers are told
      // when it returns, as at the end of the turn).
      if (db.isOpen) runGroups();
      cache.clear();
      if (db.isOpen) db.close();
    },
  };

  try {
    db.exec(`PRAGMA busy_timeout = ${Math.max(OPEN_BUSY_TIMEOUT_MS, Math.floor(busyTimeoutMs))}`);
    handle.immediate(() => {
      db.exec('CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)');
      const row = db.prepare('SELECT version FROM schema_version WHERE component = ?').get(component) as { version: number } | undefined;
      if (row && row.version > version) {
        throw new Error(`${file}: ${component} schema version ${row.version} is newer than this code (${version})`);
      }
      db.exec(schema);
      db.prepare('INSERT INTO schema_version (component, version) VALUES (?, ?) ON CONFLICT (component) DO UPDATE SET version = excluded.version').run(
        component,
        version,
      );
    });
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  } catch (err) {
    handle.close();
    throw err;
  }
  return handle;
}
