/**
 * Reading message records for a list of UIDs in bounded batches, the next batch already on
 * its way while the current one is written out (FETCH 1:* of a large mailbox never holds
 * more than two batches of metadata).
 */
import type { EnvelopeRecord, MessageRecord, MetaOption } from '#core/ports/mail-index.ts';
import type { ImapSession } from './session.ts';

export const LOAD_BATCH = 500;

async function loadBatch(s: ImapSession, mailboxId: string, uids: number[], withMeta: MetaOption): Promise<Map<number, MessageRecord>> {
  const { index } = s.deps.adapters;
  const first = uids[0];
  const last = uids[uids.length - 1];
  let records: MessageRecord[];
  // A dense run of UIDs is cheaper as one range query than as a list of keys.
  if (last - first + 1 <= uids.length * 2) records = await index.listMessages(s.user!, mailboxId, { uidFrom: first, uidTo: last, withMeta });
  else records = await index.getMessages(s.user!, mailboxId, uids, { withMeta });
  const map = new Map<number, MessageRecord>();
  for (const r of records) map.set(r.uid, r);
  return map;
}

/** Yields [uids of the batch, records found] in order; UIDs absent from the index are missing from the map. */
export function loadRecords(
  s: ImapSession,
  mailboxId: string,
  uids: number[],
  /** How much meta the caller needs ('structure': no header block; a header sync's FETCH reads only that). */
  withMeta: MetaOption,
  batch = LOAD_BATCH,
): AsyncGenerator<[number[], Map<number, MessageRecord>]> {
  return inBatches(uids, batch, (chunk) => loadBatch(s, mailboxId, chunk, withMeta));
}

/** One batch of listEnvelopes (a sparse one from the records' meta, by UID as loadBatch does). */
async function loadEnvelopeBatch(s: ImapSession, mailboxId: string, uids: number[]): Promise<Map<number, EnvelopeRecord>> {
  const { index } = s.deps.adapters;
  const first = uids[0];
  const last = uids[uids.length - 1];
  const map = new Map<number, EnvelopeRecord>();
  if (last - first + 1 <= uids.length * 2) {
    for (const r of await index.listEnvelopes(s.user!, mailboxId, { uidFrom: first, uidTo: last })) map.set(r.uid, r);
  } else {
    for (const r of await index.getMessages(s.user!, mailboxId, uids, { withMeta: 'structure' }))
      if (r.meta) map.set(r.uid, { uid: r.uid, size: r.size, internalDate: r.internalDate, envelope: r.meta.envelope });
  }
  return map;
}

/** loadRecords for a message list: size, internal date and ENVELOPE only (MailIndex.listEnvelopes). */
export function loadEnvelopes(s: ImapSession, mailboxId: string, uids: number[], batch = LOAD_BATCH): AsyncGenerator<[number[], Map<number, EnvelopeRecord>]> {
  return inBatches(uids, batch, (chunk) => loadEnvelopeBatch(s, mailboxId, chunk));
}

async function* inBatches<T>(uids: number[], batch: number, load: (uids: number[]) => Promise<Map<number, T>>): AsyncGenerator<[number[], Map<number, T>]> {
  if (uids.length === 0) return;
  const chunks: number[][] = [];
  for (let i = 0; i < uids.length; i += batch) chunks.push(uids.slice(i, i + batch));
  let next = load(chunks[0]);
  for (let i = 0; i < chunks.length; i++) {
    const current = await next;
    // Let other sessions run between batches (the SQLite adapter reads synchronously).
    if (i > 0) await new Promise((r) => setImmediate(r));
    if (i + 1 < chunks.length) {
      next = load(chunks[i + 1]);
      next.catch(() => {}); // surfaced when awaited
    }
    yield [chunks[i], current];
  }
}
