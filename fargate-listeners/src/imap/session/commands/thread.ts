/**
 * THREAD / UID THREAD (RFC 5256 §3) with ORDEREDSUBJECT and REFERENCES. The messages the
 * search matched are threaded from their index records: subject, Date:, Message-ID and
 * In-Reply-To from the envelope, References from the indexed header block (read from the
 * blob only for a message whose header block was too large to index).
 */
import { baseSubject } from '#core/mime/base-subject.ts';
import { firstField, fieldValueLatin1, parseHeaderFields } from '#core/mime/header.ts';
import type { MessageRecord } from '#core/ports/mail-index.ts';
import type { ThreadRequest } from '#listeners/imap/protocol/requests.ts';
import { ok, type Tagged } from '../errors.ts';
import { loadRecords } from '../message-loader.ts';
import { needsMeta } from '../search-eval.ts';
import type { ImapSession } from '../session.ts';
import { sentTime } from '../sort-keys.ts';
import { formatThreads, orderedSubject, referencesThreads, type ThreadMessage } from '../threading.ts';
import { matchMessages } from './search.ts';

/** The msg-ids of a field value, in order, without their angle brackets. */
export function messageIds(value: string | null): string[] {
  if (!value) return [];
  return [...value.replace(/\([^()]*\)/g, '').matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]);
}

async function referencesOf(s: ImapSession, rec: MessageRecord): Promise<string[]> {
  const meta = rec.meta!;
  let block: Buffer;
  if (meta.header !== null) block = Buffer.from(meta.header, 'latin1');
  else {
    try {
      block = await s.deps.adapters.blobs.getRange(rec.blobKey, 0, meta.mime.bodyStart);
    } catch {
      // Unreadable: the message is threaded by its In-Reply-To alone.
      block = Buffer.alloc(0);
    }
  }
  const field = firstField(parseHeaderFields(block), 'references');
  const refs = field ? messageIds(fieldValueLatin1(block, field)) : [];
  // RFC 5256 §3 REFERENCES (1): without valid References, the first msg-id of In-Reply-To.
  return refs.length > 0 ? refs : messageIds(meta.envelope.inReplyTo).slice(0, 1);
}

export async function thread(s: ImapSession, req: ThreadRequest): Promise<Tagged> {
  const sel = s.selected!;
  const verb = `${req.uid ? 'UID ' : ''}THREAD`;
  const refs = req.algorithm === 'REFERENCES';
  // Criteria that read the whole meta (header block included) leave records that serve here.
  const reused = needsMeta(req.search) ? new Map<number, MessageRecord>() : null;
  const outcome = await matchMessages(s, req.search, req.charset, verb, undefined, reused ? (uid, rec) => rec && reused.set(uid, rec) : undefined);
  if (outcome.failed) return outcome.failed;
  const messages: ThreadMessage[] = [];
  const add = async (uid: number, rec: MessageRecord | undefined) => {
    if (!rec?.meta) return;
    const env = rec.meta.envelope;
    const seq = sel.seqOf(uid);
    messages.push({
      n: req.uid ? uid : seq,
      seq,
      date: sentTime(env.date) ?? rec.internalDate,
      subject: baseSubject(env.subject),
      messageId: messageIds(env.messageId)[0] ?? null,
      references: refs ? await referencesOf(s, rec) : [],
    });
  };
  if (reused) for (const uid of outcome.matched) await add(uid, reused.get(uid));
  else
    for await (const [uids, records] of loadRecords(s, sel.id, outcome.matched, refs ? true : 'structure')) {
      for (const uid of uids) await add(uid, records.get(uid));
    }
  const threads = refs ? referencesThreads(messages) : orderedSubject(messages);
  s.untagged(`THREAD${threads.length > 0 ? ' ' + formatThreads(threads) : ''}`);
  return ok(`${verb} completed`);
}
