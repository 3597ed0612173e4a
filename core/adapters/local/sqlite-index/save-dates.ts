/**
 * Save dates of the SQLite MailIndex (RFC 8514 §3; MessageRecord.saveDate): the `saved_at`
 * column of `messages`, written by appendMessage and copyMessages (messages.ts) with the time
 * of that transaction, never copied from the source row. NULL in rows written before the
 * column existed (and by older code): those records have no saveDate.
 *
 * The column is added when the file is opened. `ALTER TABLE … ADD COLUMN` is not idempotent,
 * so it runs apart from the schema text (schema.ts), in a write transaction that first looks
 * whether the column is there: several processes opening the same file add it once.
 */
import type { SqliteHandle } from '../sqlite-db.ts';

export function ensureSaveDateColumn(h: SqliteHandle): void {
  h.immediate(() => {
    const columns = h.db.prepare('PRAGMA table_info(messages)').all() as Array<{ name: string }>;
    if (!columns.some((c) => c.name === 'saved_at')) h.db.exec('ALTER TABLE messages ADD COLUMN saved_at INTEGER');
  });
}

/** The record's saveDate from a row's `saved_at` (absent for NULL). */
export function saveDateOf(savedAt: number | null | undefined): { saveDate?: number } {
  return typeof savedAt === 'number' ? { saveDate: savedAt } : {};
}
