/**
 * Envelopes of the SQLite MailIndex (listEnvelopes, core/ports/mail-index.ts): a table beside
 * `messages` with what a message list reads — size, internal date and the ENVELOPE — so that
 * `FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE)` reads a few hundred bytes per message, packed
 * many to a page, instead of every message's whole `meta` JSON (~1.3 KB to parse):
 *
 *   message_envelopes (mailbox_id, uid) → size, internal_date, imap, json
 *
 *  - `imap`: the ENVELOPE as IMAP writes it (core/mime/imap-envelope.ts), when that text is the
 *    same in every session; else NULL and `json` holds the Envelope as JSON.
 *  - both NULL: not computed (a row the insert trigger made for a message written by code that
 *    does not know the table); the reader takes the envelope from `messages.meta`.
 *
 * The rows follow `messages` by two triggers, whoever writes: an insert into `messages` makes
 * (or replaces) the row with both texts NULL, a delete removes it. appendMessage and
 * copyMessages (messages.ts) then fill in the texts in the same transaction. Size, internal
 * date and meta of a message never change (invariant 5), so no update trigger is needed.
 *
 * The table and its triggers are added when the file is opened (ensureEnvelopeTable), in a
 * write transaction that first looks whether the triggers exist: the first opener creates
 * them and, in the same transaction, fills a row for every message already there, its texts
 * computed from its meta (one pass over `messages`: on a big file that holds the write lock
 * for a while, as schema 2's upgrade does; schema.ts). A file opened by older code keeps
 * working: its writes fire the triggers, and its rows are read from meta.
 */
import type { EnvelopeRecord } from '#core/ports/mail-index.ts';
import { imapEnvelopeText } from '#core/mime/imap-envelope.ts';
import type { Envelope, MessageMeta } from '#core/mime/types.ts';
import type { SqliteHandle } from '../sqlite-db.ts';

const DDL = `
CREATE TABLE IF NOT EXISTS message_envelopes (
  mailbox_id TEXT NOT NULL,
  uid INTEGER NOT NULL,
  size INTEGER NOT NULL,
  internal_date INTEGER NOT NULL,
  imap TEXT,
  json TEXT,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS message_envelopes_insert AFTER INSERT ON messages BEGIN
  INSERT OR REPLACE INTO message_envelopes (mailbox_id, uid, size, internal_date, imap, json)
    VALUES (NEW.mailbox_id, NEW.uid, NEW.size, NEW.internal_date, NULL, NULL);
END;
CREATE TRIGGER IF NOT EXISTS message_envelopes_delete AFTER DELETE ON messages BEGIN
  DELETE FROM message_envelopes WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
END;
`;

/** The two stored forms of an envelope: [imap, json], one of them null. */
export function envelopeTexts(env: Envelope): [string | null, string | null] {
  const imap = imapEnvelopeText(env);
  return imap !== null ? [imap, null] : [null, JSON.stringify(env)];
}

export function ensureEnvelopeTable(h: SqliteHandle): void {
  h.immediate(() => {
    const found = h.db
      .prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'trigger' AND name IN ('message_envelopes_insert', 'message_envelopes_delete')")
      .get() as {
      n: number;
    };
    if (found.n === 2) return;
    h.db.exec(DDL);
    // The messages stored before the table: one row each, computed from the meta.
    const put = h.db.prepare('INSERT OR REPLACE INTO message_envelopes (mailbox_id, uid, size, internal_date, imap, json) VALUES (?, ?, ?, ?, ?, ?)');
    const rows = h.db.prepare('SELECT mailbox_id, uid, size, internal_date, meta FROM messages');
    rows.setReturnArrays(true);
    for (const r of rows.iterate() as Iterable<[string, number, number, number, string]>) {
      const meta = JSON.parse(r[4]) as MessageMeta | null;
      const [imap, json] = meta ? envelopeTexts(meta.envelope) : [null, null];
      put.run(r[0], r[1], r[2], r[3], imap, json);
    }
  });
}

/** Fills in a new message's row (the insert trigger made it); inside the caller's transaction. */
export function storeEnvelope(h: SqliteHandle, mailboxId: string, uid: number, texts: readonly [string | null, string | null]): void {
  h.stmt('UPDATE message_envelopes SET imap = ?, json = ? WHERE mailbox_id = ? AND uid = ?').run(texts[0], texts[1], mailboxId, uid);
}

/** copyMessages: each copy gets its source's texts (inside the caller's transaction). */
export function copyEnvelopes(h: SqliteHandle, fromMailboxId: string, toMailboxId: string, mapping: ReadonlyArray<{ from: number; to: number }>): void {
  const copy = h.stmt(
    `UPDATE message_envelopes SET (imap, json) = (SELECT s.imap, s.json FROM message_envelopes s WHERE s.mailbox_id = ? AND s.uid = ?)
     WHERE mailbox_id = ? AND uid = ?`,
  );
  for (const m of mapping) copy.run(fromMailboxId, m.from, toMailboxId, m.to);
}

type EnvelopeRow = [uid: number, size: number, internalDate: number, imap: string | null, json: string | null];

export async function listEnvelopes(
  h: SqliteHandle,
  user: string,
  mailboxId: string,
  options: { uidFrom?: number; uidTo?: number } = {},
): Promise<EnvelopeRecord[]> {
  const from = options.uidFrom ?? 1;
  const to = options.uidTo ?? 0xffffffff;
  // Rows as arrays (no object per row); the join on the owner keeps one user from reading
  // another's mailbox by id (invariant 4).
  const stmt = h.stmt(
    `SELECT e.uid, e.size, e.internal_date, e.imap, e.json FROM message_envelopes e JOIN mailboxes b ON b.id = e.mailbox_id AND b.user = ?
     WHERE e.mailbox_id = ? AND e.uid BETWEEN ? AND ? ORDER BY e.uid`,
  );
  stmt.setReturnArrays(true);
  const rows = stmt.all(user, mailboxId, from, to) as unknown as EnvelopeRow[];
  const out: EnvelopeRecord[] = new Array(rows.length);
  let uncomputed: number[] | null = null;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const envelope = r[3] ?? (r[4] !== null ? (JSON.parse(r[4]) as Envelope) : null);
    if (envelope === null) (uncomputed ??= []).push(i);
    out[i] = { uid: r[0], size: r[1], internalDate: r[2], envelope: envelope! };
  }
  if (uncomputed === null) return out;
  // Rows written by code that does not know the table: the envelope from the meta. A message
  // expunged between the two reads is left out, as if it had gone before the first.
  const metas = h
    .stmt('SELECT uid, meta FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))')
    .all(mailboxId, JSON.stringify(uncomputed.map((i) => out[i].uid))) as Array<{ uid: number; meta: string }>;
  const byUid = new Map(metas.map((m) => [m.uid, (JSON.parse(m.meta) as MessageMeta | null)?.envelope ?? null]));
  const gone = new Set<number>();
  for (const i of uncomputed) {
    const env = byUid.get(out[i].uid);
    if (!env) gone.add(i);
    else out[i].envelope = imapEnvelopeText(env) ?? env;
  }
  return gone.size === 0 ? out : out.filter((_, i) => !gone.has(i));
}
