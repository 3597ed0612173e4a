/**
 * Account objects of the SQLite MailIndex (core/ports/mail-index.ts AccountObject): one
 * `account_objects` row per (user, kind, id), a destroyed one kept with `data` NULL, and the
 * (user, kind) counter in `account_object_counters`; a write bumps the counter and writes the
 * row in one BEGIN IMMEDIATE transaction, so the counter and the rows never disagree.
 */
import { IndexError, type AccountObject, type AccountObjectList } from '#core/ports/mail-index.ts';
import { checkAccountObject, checkObjectKey, checkString } from '#core/adapters/index-input.ts';
import type { SqliteHandle } from '../sqlite-db.ts';

interface Row {
  id: string;
  data: string | null;
  modseq: number;
  created_modseq: number;
}

const objectOf = (r: Row): AccountObject => ({ id: r.id, data: r.data, modseq: Number(r.modseq), createdModseq: Number(r.created_modseq) });

function counter(h: SqliteHandle, user: string, kind: string): number {
  const row = h.stmt('SELECT state FROM account_object_counters WHERE user = ? AND kind = ?').get(user, kind) as { state: number } | undefined;
  return row ? Number(row.state) : 0;
}

export async function putAccountObject(
  h: SqliteHandle,
  user: string,
  kind: string,
  id: string,
  data: string | null,
  options: { ifState?: number } = {},
): Promise<{ state: number }> {
  checkString(user, 'user');
  checkAccountObject(kind, id, data, options.ifState);
  return h.immediate(() => {
    const current = counter(h, user, kind);
    if (options.ifState !== undefined && options.ifState !== current) throw new IndexError('CONFLICT', `state is ${current}, not ${options.ifState}`);
    const row = h.stmt('SELECT id, data, modseq, created_modseq FROM account_objects WHERE user = ? AND kind = ? AND id = ?').get(user, kind, id) as
      Row | undefined;
    const live = row !== undefined && row.data !== null;
    if (data === null && !live) throw new IndexError('NOT_FOUND', `no ${kind} ${id}`);
    const state = current + 1;
    h.stmt('INSERT INTO account_object_counters (user, kind, state) VALUES (?, ?, ?) ON CONFLICT (user, kind) DO UPDATE SET state = excluded.state').run(
      user,
      kind,
      state,
    );
    h.stmt(
      'INSERT INTO account_objects (user, kind, id, data, modseq, created_modseq) VALUES (?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (user, kind, id) DO UPDATE SET data = excluded.data, modseq = excluded.modseq, created_modseq = excluded.created_modseq',
    ).run(user, kind, id, data, state, live ? Number(row.created_modseq) : state);
    return { state };
  });
}

export async function getAccountObject(h: SqliteHandle, user: string, kind: string, id: string): Promise<AccountObject | null> {
  checkObjectKey(kind, id);
  const row = h.stmt('SELECT id, data, modseq, created_modseq FROM account_objects WHERE user = ? AND kind = ? AND id = ?').get(user, kind, id) as
    Row | undefined;
  return row && row.data !== null ? objectOf(row) : null;
}

export async function listAccountObjects(h: SqliteHandle, user: string, kind: string, options: { since?: number } = {}): Promise<AccountObjectList> {
  checkObjectKey(kind, 'x');
  const since = options.since;
  if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) throw new IndexError('INVALID', 'since must be a non-negative integer');
  // One read transaction: the counter and the rows from the same snapshot.
  h.db.exec('BEGIN');
  try {
    const state = counter(h, user, kind);
    const rows = (since === undefined
      ? h.stmt('SELECT id, data, modseq, created_modseq FROM account_objects WHERE user = ? AND kind = ? AND data IS NOT NULL ORDER BY id').all(user, kind)
      : h
          .stmt('SELECT id, data, modseq, created_modseq FROM account_objects WHERE user = ? AND kind = ? AND modseq > ? ORDER BY id')
          .all(user, kind, since)) as unknown as Row[];
    return { state, objects: rows.map(objectOf) };
  } finally {
    h.db.exec('COMMIT');
  }
}
