/**
 * FETCH / UID FETCH (RFC 9051 §6.4.5, RFC 3501 §6.4.5, BINARY RFC 3516), MODSEQ and
 * CHANGEDSINCE (RFC 7162 §3.1.4), UID FETCH … (CHANGEDSINCE n VANISHED) (§3.2.6), PREVIEW
 * (RFC 8970: the same text as JMAP's Email preview, jmap/email-body.ts previewOf).
 *
 * Data sources, cheapest first: FLAGS and UID come from the session's view; INTERNALDATE,
 * RFC822.SIZE, ENVELOPE, BODYSTRUCTURE, BODY and the top-level HEADER / HEADER.FIELDS from
 * the index record (meta) — so a whole-mailbox FETCH of those never touches the blob store;
 * everything else is read from the blob store, by range where only a part or a partial is
 * asked for. Bytes read from a blob are written to the client unchanged. A message list (ENVELOPE
 * with nothing but UID, FLAGS, MODSEQ, INTERNALDATE, RFC822.SIZE) reads only size, date and
 * ENVELOPE (MailIndex.listEnvelopes), the ENVELOPE's text as the index keeps it when it is the
 * same in every session (core/mime/imap-envelope.ts).
 *
 * A non-PEEK body fetch sets \Seen (RFC 9051 §6.4.5) in the index first, and the new FLAGS are
 * included in that message's FETCH response. Messages that were expunged by another session
 * but are still in this session's view are answered from the view when only FLAGS/UID are
 * asked, else skipped with NO [EXPUNGEISSUED] (RFC 5530, RFC 2180 §4.1).
 *
 * A message whose blob cannot be read (I/O error, or absent while still indexed) is skipped:
 * every other message's response is sent, and the command ends NO [UNAVAILABLE] or
 * NO [CORRUPTION] naming the skipped ones (unreadable.ts). A message's response is built
 * whole before it is written, so a failed read never leaves half a response on the wire.
 */
import { selectHeaderFields } from '#core/mime/header.ts';
import type { EnvelopeRecord, MessageRecord } from '#core/ports/mail-index.ts';
import { flagList, formatInternalDate, literal, nstringChunks, type Chunk } from '#listeners/imap/protocol/encode.ts';
import type { FetchAtt, FetchRequest, Partial } from '#listeners/imap/protocol/requests.ts';
import { partialSlice } from '#listeners/imap/protocol/parser/search-return.ts';
import { emailIdOf, threadIdOf } from '#listeners/jmap/ids.ts';
import { bodyStructureChunks, envelopeChunks } from '#listeners/imap/protocol/structure.ts';
import { bodyLists, jmapTree, previewOf } from '#listeners/jmap/email-body.ts';
import { decodeTransfer, findPart, planSection } from '../body-sections.ts';
import { bad, expungeIssued, ok, type Tagged } from '../errors.ts';
import { loadEnvelopes, loadRecords } from '../message-loader.ts';
import type { ImapSession } from '../session.ts';
import { saveDateOf } from '../save-date.ts';
import { readMessageBlob, UnreadableMessageError, UnreadableReport } from '../unreadable.ts';
import { formatRanges, fromList, normalise, vanishedSince } from '../vanished.ts';

/** Messages whose blobs are read at the same time (bounded memory, some parallelism). */
const BLOB_WINDOW = 4;

/** Items answered from the index record alone. */
const INDEX_ONLY = new Set<FetchAtt['k']>([
  'UID',
  'FLAGS',
  'MODSEQ',
  'INTERNALDATE',
  'RFC822.SIZE',
  'ENVELOPE',
  'BODYSTRUCTURE',
  'BODY',
  'EMAILID',
  'THREADID',
  'SAVEDATE',
]);

/**
 * Items of a message list, answered from the view and MailIndex.listEnvelopes (size, internal
 * date, ENVELOPE) without reading the records' meta: `FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE)`.
 */
const ENVELOPE_LIST = new Set<FetchAtt['k']>(['UID', 'FLAGS', 'MODSEQ', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE']);

/** UID, FLAGS and MODSEQ come from the session's view. */
function needsRecord(a: FetchAtt): boolean {
  return a.k !== 'UID' && a.k !== 'FLAGS' && a.k !== 'MODSEQ';
}

function needsMeta(a: FetchAtt): boolean {
  switch (a.k) {
    case 'ENVELOPE':
    case 'BODYSTRUCTURE':
    case 'BODY':
    case 'RFC822.HEADER':
    case 'RFC822.TEXT':
    case 'BINARY.SIZE':
    case 'PREVIEW':
      return true;
    case 'BODY[]':
      return a.section.part.length > 0 || a.section.text !== null;
    case 'BINARY':
      return a.part.length > 0;
    default:
      return false;
  }
}

/** Items answered from the index copy of the top-level header block (else read from the blob). */
function needsHeader(a: FetchAtt): boolean {
  if (a.k === 'RFC822.HEADER') return true;
  return a.k === 'BODY[]' && a.section.part.length === 0 && a.section.text !== null && a.section.text.startsWith('HEADER');
}

function setsSeen(a: FetchAtt): boolean {
  return (a.k === 'BODY[]' && !a.peek) || a.k === 'RFC822' || a.k === 'RFC822.TEXT' || (a.k === 'BINARY' && !a.peek);
}

/** Per-message blob access: whole object read once if asked for, else ranged reads. */
class BlobReader {
  private whole: Buffer | null = null;
  private readonly s: ImapSession;
  private readonly mailboxId: string;
  private readonly rec: MessageRecord;
  constructor(s: ImapSession, mailboxId: string, rec: MessageRecord) {
    this.s = s;
    this.mailboxId = mailboxId;
    this.rec = rec;
  }
  async all(): Promise<Buffer> {
    if (!this.whole) this.whole = await readMessageBlob(this.s, this.mailboxId, this.rec, () => this.s.deps.adapters.blobs.get(this.rec.blobKey));
    return this.whole;
  }
  async range(start: number, end: number): Promise<Buffer> {
    end = Math.min(end, this.rec.size);
    if (start >= end) return Buffer.alloc(0);
    if (this.whole) return this.whole.subarray(start, end);
    if (start === 0 && end >= this.rec.size) return this.all();
    return readMessageBlob(this.s, this.mailboxId, this.rec, () => this.s.deps.adapters.blobs.getRange(this.rec.blobKey, start, end));
  }
}

function applyPartial(bytes: Buffer, partial: Partial | null): Buffer {
  if (!partial) return bytes;
  if (partial.start >= bytes.length) return Buffer.alloc(0);
  return bytes.subarray(partial.start, Math.min(bytes.length, partial.start + partial.length));
}

/** Header block bytes [start, end): the index copy for the top-level header when present. */
async function headerBytes(rec: MessageRecord, blob: BlobReader, start: number, end: number): Promise<Buffer> {
  const meta = rec.meta;
  if (start === 0 && meta && meta.header !== null && end === meta.mime.bodyStart) return Buffer.from(meta.header, 'latin1');
  return blob.range(start, end);
}

class UnknownCte extends Error {}

/** One BODY[...] item: label and value chunks. */
async function bodySection(a: Extract<FetchAtt, { k: 'BODY[]' }>, rec: MessageRecord, blob: BlobReader, out: Chunk[]): Promise<void> {
  const label = `BODY[${a.label}]${a.partial ? `<${a.partial.start}>` : ''} `;
  out.push(label);
  let bytes: Buffer;
  if (a.section.part.length === 0 && a.section.text === null) {
    // Whole message: a partial is one ranged read.
    if (a.partial) {
      const start = a.partial.start;
      bytes = start >= rec.size ? Buffer.alloc(0) : await blob.range(start, Math.min(rec.size, start + a.partial.length));
      out.push(...literal(bytes));
      return;
    }
    bytes = await blob.all();
    out.push(...literal(bytes));
    return;
  }
  const plan = planSection(rec.meta!, rec.size, a.section);
  if (plan.kind === 'nil') {
    out.push('NIL');
    return;
  }
  if (plan.kind === 'fields') {
    const block = await headerBytes(rec, blob, plan.start, plan.end);
    bytes = applyPartial(selectHeaderFields(block, plan.fields, plan.not), a.partial);
  } else if (a.section.part.length === 0 && a.section.text === 'HEADER') {
    bytes = applyPartial(await headerBytes(rec, blob, plan.start, plan.end), a.partial);
  } else if (a.partial) {
    // A partial of a part is one ranged read of just those bytes.
    const start = plan.start + a.partial.start;
    bytes = start >= plan.end ? Buffer.alloc(0) : await blob.range(start, Math.min(plan.end, start + a.partial.length));
  } else {
    bytes = await blob.range(plan.start, plan.end);
  }
  out.push(...literal(bytes));
}

/** BINARY[part]: the part body with its Content-Transfer-Encoding removed (RFC 3516 §4.2). */
async function binarySection(part: number[], rec: MessageRecord, blob: BlobReader): Promise<Buffer | null> {
  if (part.length === 0) return blob.all();
  const p = findPart(rec.meta!.mime, part);
  if (!p) return null;
  const raw = await blob.range(p.bodyStart, p.bodyEnd);
  if (p.type === 'multipart' || p.message) return raw;
  const decoded = decodeTransfer(raw, p.encoding);
  if (!decoded) throw new UnknownCte(p.encoding);
  return decoded;
}

function literal8(bytes: Buffer): Chunk[] {
  // RFC 3516 §4.2: content with NUL must go as literal8.
  return bytes.includes(0) ? [`~{${bytes.length}}\r\n`, bytes] : literal(bytes);
}

/**
 * Takes back the \Seen this FETCH set on messages it could not send: the user never saw them.
 * Best effort: if this fails too, the message stays \Seen (nothing else is lost).
 */
async function unsee(s: ImapSession, uids: number[], seenChanged: Set<number>): Promise<void> {
  const sel = s.selected!;
  const back = uids.filter((u) => seenChanged.has(u));
  if (back.length === 0) return;
  try {
    const changes = await s.deps.adapters.index.updateFlags(s.user!, sel.id, back, 'remove', ['\\Seen']);
    for (const c of changes) sel.setFlags(c.uid, c.flags, c.modseq);
    if (changes.length > 0) s.deps.events.notify(s.user!, sel.id);
  } catch (err) {
    s.log.warn('could not take back \\Seen of unread messages', { uids: back, err: err as Error });
  }
}

export async function fetch(s: ImapSession, req: FetchRequest): Promise<Tagged> {
  const sel = s.selected!;
  const { index } = s.deps.adapters;
  // The MODSEQ item and CHANGEDSINCE are CONDSTORE enabling commands (RFC 7162 §3.1).
  const items = req.items.filter((a) => a.k !== 'MODSEQ');
  const askedModseq = items.length < req.items.length || req.changedSince !== null;
  if (askedModseq) s.enableCondstore();
  if (req.vanished && !s.qresync) throw bad('VANISHED needs ENABLE QRESYNC first');
  const idxs = sel.resolve(req.set, req.uid);
  let uids = idxs.map((i) => sel.uidAt(i));
  // CHANGEDSINCE (§3.1.4.1): only messages whose mod-sequence is above it; MODSEQ is implied.
  if (req.changedSince !== null) {
    const since = req.changedSince;
    uids = uids.filter((u) => sel.modseqOf(u) > since);
  }
  // RFC 9394 §3.3, §3.4: PARTIAL keeps only those positions of the messages the set (and
  // CHANGEDSINCE) selected, in UID order; -1 is the one with the highest UID.
  if (req.partial) {
    const [start, end] = partialSlice(req.partial, uids.length);
    uids = [...uids].sort((a, b) => a - b).slice(start, end);
  }
  if (req.vanished) {
    // §3.2.6: the UIDs of the set expunged since CHANGEDSINCE, before the FETCH responses.
    const maxUid = sel.uidNext - 1;
    const asked = req.set.saved ? fromList([...sel.savedSearch].sort((a, b) => a - b)) : normalise(req.set.ranges, maxUid);
    const vanished = await vanishedSince(index, sel, req.changedSince!, asked);
    if (vanished.length > 0) s.untagged(`VANISHED (EARLIER) ${formatRanges(vanished)}`);
  }
  const includeUid = req.uid || items.some((a) => a.k === 'UID');
  const wantFlags = items.some((a) => a.k === 'FLAGS');
  const opts = { utf8: s.utf8 };
  const withRecent = !s.rev2;
  const verb = `${req.uid ? 'UID ' : ''}FETCH`;

  // \Seen first, so the responses carry the new flags (RFC 9051 §6.4.5 BODY[]).
  const seenChanged = new Set<number>();
  if (!sel.readOnly && items.some(setsSeen)) {
    const unseen = uids.filter((u) => !sel.pendingExpunge.has(u) && !sel.storedFlags(u).includes('\\Seen'));
    if (unseen.length > 0) {
      const changes = await index.updateFlags(s.user!, sel.id, unseen, 'add', ['\\Seen']);
      for (const c of changes) {
        sel.setFlags(c.uid, c.flags, c.modseq);
        seenChanged.add(c.uid);
      }
      if (changes.length > 0) s.deps.events.notify(s.user!, sel.id);
    }
  }

  // RFC 7162 §3.1: once CONDSTORE is on, a FETCH that set \Seen tells UID and MODSEQ too.
  const withUid = (uid: number) => includeUid || (s.condstore && seenChanged.has(uid));
  const withModseq = (uid: number) => askedModseq || (s.condstore && seenChanged.has(uid));
  const head = (uid: number): string => {
    const seq = sel.seqOf(uid);
    return `${seq} FETCH (${withUid(uid) ? `UID ${uid}` : ''}`;
  };
  const flagsItem = (uid: number) => `FLAGS ${flagList(sel.flagsOf(uid, withRecent))}`;
  const modseqItem = (uid: number) => `MODSEQ (${sel.modseqOf(uid)})`;

  if (!items.some(needsRecord)) {
    for (const uid of uids) {
      if (sel.seqOf(uid) === 0) continue;
      if (wantFlags) sel.pendingFlags.delete(uid);
      const parts: string[] = [];
      if (withUid(uid)) parts.push(`UID ${uid}`);
      if (wantFlags) parts.push(flagsItem(uid));
      if (withModseq(uid)) parts.push(modseqItem(uid));
      await s.untaggedAsync([`${sel.seqOf(uid)} FETCH (${parts.join(' ')})`]);
    }
    return ok(`${verb} completed`);
  }

  if (items.some((a) => a.k === 'ENVELOPE') && items.every((a) => ENVELOPE_LIST.has(a.k))) {
    // A message list: one line per message, the ENVELOPE copied from the index when it is text.
    const line = (uid: number, rec: EnvelopeRecord): Chunk[] => {
      const out: Chunk[] = [];
      let text = head(uid);
      let first = !withUid(uid);
      for (const a of items) {
        if (a.k === 'UID') continue;
        if (!first) text += ' ';
        first = false;
        if (a.k === 'FLAGS') text += flagsItem(uid);
        else if (a.k === 'RFC822.SIZE') text += `RFC822.SIZE ${rec.size}`;
        else if (a.k === 'INTERNALDATE') text += `INTERNALDATE ${formatInternalDate(rec.internalDate)}`;
        else if (typeof rec.envelope === 'string') text += 'ENVELOPE ' + rec.envelope;
        else {
          out.push(text + 'ENVELOPE ');
          text = '';
          envelopeChunks(rec.envelope, opts, out);
        }
      }
      if (withModseq(uid)) text += (first ? '' : ' ') + modseqItem(uid);
      out.push(text + ')');
      return out;
    };
    let missing = false;
    for await (const [batchUids, records] of loadEnvelopes(s, sel.id, uids)) {
      for (const uid of batchUids) {
        const rec = records.get(uid);
        if (!rec || sel.seqOf(uid) === 0) {
          missing = true;
          continue;
        }
        const wait = s.untaggedQueued(line(uid, rec));
        if (wait) await wait;
      }
    }
    return missing ? expungeIssued() : ok(`${verb} completed`);
  }

  // ENVELOPE, BODYSTRUCTURE and section offsets need the structure only; the header block is
  // read from the index only for the items that send it.
  const withMeta = items.some(needsHeader) ? true : items.some(needsMeta) ? 'structure' : false;
  /** Some item reads the whole message, so a PREVIEW (LAZY) costs no further read. */
  const readsWhole = items.some(
    (a) =>
      a.k === 'RFC822' ||
      (a.k === 'BODY[]' && a.section.part.length === 0 && a.section.text === null && !a.partial) ||
      (a.k === 'BINARY' && a.part.length === 0 && !a.partial),
  );
  let missing = false;
  /** Messages whose response went out (the others lose a \Seen this FETCH set, see unsee). */
  const sent = new Set<number>();
  let unknownCte: string | null = null;
  const unreadable = new UnreadableReport(s);

  /** An item answered from the index record alone (INDEX_ONLY), appended to out; false for any other. */
  const indexItem = (a: FetchAtt, uid: number, rec: MessageRecord, out: Chunk[]): boolean => {
    switch (a.k) {
      case 'FLAGS':
        out.push(flagsItem(uid));
        return true;
      case 'INTERNALDATE':
        out.push(`INTERNALDATE ${formatInternalDate(rec.internalDate)}`);
        return true;
      case 'RFC822.SIZE':
        out.push(`RFC822.SIZE ${rec.size}`);
        return true;
      // RFC 8514 §4.2: never NIL here, every mailbox keeps save dates (save-date.ts).
      case 'SAVEDATE':
        out.push(`SAVEDATE ${formatInternalDate(saveDateOf(rec))}`);
        return true;
      // RFC 8474 §5: the ids JMAP gives the same message (jmap/ids.ts).
      case 'EMAILID':
        out.push(`EMAILID (${emailIdOf(rec.blobKey)})`);
        return true;
      case 'THREADID':
        out.push(`THREADID (${threadIdOf(rec)})`);
        return true;
      case 'ENVELOPE':
        out.push('ENVELOPE ');
        envelopeChunks(rec.meta!.envelope, opts, out);
        return true;
      case 'BODYSTRUCTURE':
        out.push('BODYSTRUCTURE ');
        bodyStructureChunks(rec.meta!.mime, true, opts, out);
        return true;
      case 'BODY':
        out.push('BODY ');
        bodyStructureChunks(rec.meta!.mime, false, opts, out);
        return true;
      default:
        return false;
    }
  };
  /** The end of a message's response: FLAGS a \Seen set here changed, MODSEQ, `)`. */
  const finish = (uid: number, out: Chunk[], first: boolean): Chunk[] => {
    if (seenChanged.has(uid) && !wantFlags) {
      if (!first) out.push(' ');
      first = false;
      out.push(flagsItem(uid));
    }
    if (withModseq(uid)) {
      if (!first) out.push(' ');
      out.push(modseqItem(uid));
    }
    out.push(')');
    return out;
  };
  /** A response of index-only items: built synchronously (no blob store in sight). */
  const buildIndexOnly = (uid: number, rec: MessageRecord): Chunk[] => {
    const out: Chunk[] = [head(uid)];
    let first = !withUid(uid);
    for (const a of items) {
      if (a.k === 'UID') continue;
      if (!first) out.push(' ');
      first = false;
      indexItem(a, uid, rec, out);
    }
    return finish(uid, out, first);
  };
  const build = async (uid: number, rec: MessageRecord): Promise<Chunk[]> => {
    const blob = new BlobReader(s, sel.id, rec);
    const out: Chunk[] = [head(uid)];
    let first = !withUid(uid);
    const sep = () => {
      if (!first) out.push(' ');
      first = false;
    };
    for (const a of items) {
      if (a.k === 'UID') continue;
      sep();
      if (indexItem(a, uid, rec, out)) continue;
      switch (a.k) {
        case 'RFC822':
          out.push('RFC822 ', ...literal(await blob.all()));
          break;
        case 'RFC822.HEADER':
          out.push('RFC822.HEADER ', ...literal(await headerBytes(rec, blob, 0, rec.meta!.mime.bodyStart)));
          break;
        case 'RFC822.TEXT':
          out.push('RFC822.TEXT ', ...literal(await blob.range(rec.meta!.mime.bodyStart, rec.size)));
          break;
        case 'BODY[]':
          await bodySection(a, rec, blob, out);
          break;
        case 'BINARY': {
          const data = await binarySection(a.part, rec, blob);
          out.push(`BINARY[${a.part.join('.')}]${a.partial ? `<${a.partial.start}>` : ''} `);
          if (data === null) out.push('NIL');
          else out.push(...literal8(applyPartial(data, a.partial)));
          break;
        }
        case 'BINARY.SIZE': {
          const data = await binarySection(a.part, rec, blob);
          out.push(`BINARY.SIZE[${a.part.join('.')}] ${data === null ? 0 : data.length}`);
          break;
        }
        case 'PREVIEW':
          // RFC 8970 §3.1: with LAZY, NIL unless the message is read anyway by this FETCH.
          if (a.lazy && !readsWhole) out.push('PREVIEW NIL');
          else out.push('PREVIEW ', ...nstringChunks(previewOf(await blob.all(), bodyLists(jmapTree(rec.meta!.mime))), opts));
          break;
      }
    }
    return finish(uid, out, first);
  };

  // Index-only items: built synchronously, no blob store in sight (the common
  // "headers first" sync of a whole mailbox).
  const indexOnly = items.every((a) => INDEX_ONLY.has(a.k));

  for await (const [batchUids, records] of loadRecords(s, sel.id, uids, withMeta)) {
    if (indexOnly) {
      for (const uid of batchUids) {
        const rec = records.get(uid);
        if (!rec || sel.seqOf(uid) === 0 || (withMeta && !rec.meta)) {
          missing = true;
          continue;
        }
        const wait = s.untaggedQueued(buildIndexOnly(uid, rec));
        if (wait) await wait;
      }
      continue;
    }
    // A sliding window of message builds; responses are written in sequence order.
    const pending: Array<{ uid: number; chunks: Promise<Chunk[] | null> }> = [];
    const start = (uid: number): Promise<Chunk[] | null> => {
      const rec = records.get(uid);
      if (!rec || sel.seqOf(uid) === 0 || (withMeta && !rec.meta)) {
        missing = true;
        return Promise.resolve(null);
      }
      const p = build(uid, rec).catch((err) => {
        if (err instanceof UnknownCte) {
          unknownCte = err.message;
          return null;
        }
        if ((err as Error).name === 'BlobNotFoundError') {
          // Expunged (and its blob deleted) between the index read and the blob read.
          missing = true;
          return null;
        }
        if (err instanceof UnreadableMessageError) {
          unreadable.add(sel.seqOf(uid), err);
          return null;
        }
        throw err;
      });
      // Awaited in order below; mark handled now so a later failure is not "unhandled" meanwhile.
      p.catch(() => {});
      return p;
    };
    let next = 0;
    const enqueue = (uid: number) => pending.push({ uid, chunks: start(uid) });
    while (next < batchUids.length && pending.length < BLOB_WINDOW) enqueue(batchUids[next++]);
    while (pending.length > 0) {
      const { uid, chunks: built } = pending.shift()!;
      const chunks = await built;
      if (unreadable.storeDown) {
        // The store is down, not one blob damaged: stop asking it (the pending reads are handled).
        await Promise.allSettled(pending.map((q) => q.chunks));
        // Every message not sent yet (failed, pending or never tried) loses the \Seen set above.
        await unsee(
          s,
          [...seenChanged].filter((u) => !sent.has(u)),
          seenChanged,
        );
        return unreadable.tagged(verb);
      }
      if (next < batchUids.length) enqueue(batchUids[next++]);
      if (chunks) {
        unreadable.succeeded();
        await s.untaggedAsync(chunks);
        sent.add(uid);
      }
    }
  }
  if (unreadable.count > 0) {
    await unsee(s, unreadable.uids, seenChanged);
    return unreadable.tagged(verb);
  }
  if (unknownCte) return { status: 'NO', code: 'UNKNOWN-CTE', text: `Cannot decode content transfer encoding ${unknownCte}` };
  if (missing) return expungeIssued();
  return ok(`${verb} completed`);
}
