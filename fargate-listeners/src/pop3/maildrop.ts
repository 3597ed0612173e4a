/**
 * The POP3 maildrop: the user's INBOX as it was at login (RFC 1939 §4: message numbers and
 * sizes are fixed for the session; mail that arrives later waits for the next login).
 *
 * Implementation notes (the rules every operation here follows):
 *  - Talks to the ports only (MailIndex, BlobStore), and writes through core/mailbox/writes.ts;
 *    knows no protocol syntax.
 *  - Nothing is written to the index before UPDATE (RFC 1939 §6): DELE only marks, RSET
 *    unmarks, and a session that ends without QUIT changes nothing.
 *  - UIDL = `<UIDVALIDITY>.<UID>` of the INBOX: stable across sessions and servers, unique
 *    while the mailbox lives, and new for every message if the INBOX is ever recreated
 *    (RFC 1939 §7 UIDL: a unique-id must never be reused for another message in the maildrop).
 *  - Sizes are those of the POP3 form (message-encoding.ts): bare LFs count as CRLF. They are
 *    computed lazily from the blob (an index record knows only the stored size) and cached per
 *    blob key for the life of the process; blobs never change (invariant 5), so the cache is
 *    never stale.
 *  - EXPIRE (RFC 2449 §6.7): when a retention policy is set, a message's first retrieval by
 *    RETR is recorded at QUIT as the keyword `$POP3Retrieved-<UTC yyyymmddThhmmZ>`; at any later
 *    QUIT a message whose recorded retrieval is at least `days` old is expunged together with
 *    the DELE'd ones. `\Seen` is not touched: POP3 does not change what IMAP shows as unread.
 *    With EXPIRE NEVER (default) nothing is recorded.
 *  - One bad blob never breaks the maildrop: STAT and LIST count a message whose blob cannot
 *    be read with its stored size (so every client can still use the maildrop), RETR/TOP of
 *    it answer -ERR naming it: [SYS/TEMP] for an I/O error (try again later), [SYS/PERM] when
 *    the blob is absent while the index still lists the message (damage; never called an
 *    expunge), and "removed by another session" only when the index no longer has it. Each
 *    such message is handed to the session once (takeUnreadable) for a log line with its key.
 */
import type { BlobStore } from '#core/ports/blob-store.ts';
import { BlobNotFoundError } from '#core/ports/blob-store.ts';
import type { MailIndex, Mailbox, MessageRecord } from '#core/ports/mail-index.ts';
import type { MailboxWrites } from '#core/mailbox/writes.ts';
import type { ExpirePolicy } from './protocol/capabilities.ts';
import { Pop3EncodeStream, Pop3Encoder, Pop3SizeCounter, TopCollector, dotStuff } from './protocol/message-encoding.ts';
import { Pop3Error } from './protocol/response.ts';
import { pipeline, type Readable } from 'node:stream';

export const RETRIEVED_KEYWORD_PREFIX = '$POP3Retrieved-';

/** `$POP3Retrieved-20250131T2359Z` for the given time (minute precision, UTC). */
export function retrievedKeyword(time: number): string {
  const iso = new Date(time).toISOString(); // 2025-01-31T23:59:12.345Z
  return `${RETRIEVED_KEYWORD_PREFIX}${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}Z`;
}

/** The retrieval time recorded in a message's flags, or null. The earliest wins. */
export function retrievedAt(flags: readonly string[]): number | null {
  let best: number | null = null;
  for (const f of flags) {
    const m = /^\$POP3Retrieved-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z$/i.exec(f);
    if (!m) continue;
    const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]));
    if (!Number.isNaN(t) && (best === null || t < best)) best = t;
  }
  return best;
}

/** Process-wide cache: blob key → POP3 size (blobs are immutable, invariant 5). */
class SizeCache {
  private readonly map = new Map<string, number>();
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }
  get(key: string): number | undefined {
    return this.map.get(key);
  }
  set(key: string, size: number): void {
    this.map.delete(key);
    this.map.set(key, size);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
}

export const pop3SizeCache = new SizeCache(200_000);

/** Storage failures become `-ERR [SYS/TEMP]` (RFC 3206 §4). */
function storageError(text: string, cause: unknown): Pop3Error {
  return new Pop3Error(text, 'SYS/TEMP', { cause });
}

interface Entry {
  readonly uid: number;
  readonly blobKey: string;
  readonly storedSize: number;
  readonly flags: readonly string[];
  deleted: boolean;
  retrieved: boolean;
}

/** A message whose blob could not be read, for the session's log. */
export interface UnreadableMessage {
  n: number;
  uid: number;
  blobKey: string;
  /** The blob is absent although the index still lists the message. */
  missing: boolean;
  error: unknown;
}

export interface MaildropPorts {
  index: MailIndex;
  blobs: BlobStore;
}

export interface CommitResult {
  /** UIDs removed from the INBOX (DELE'd and expired). */
  expunged: number[];
  /** How many of them were expired by the EXPIRE policy rather than DELE'd. */
  expired: number;
}

export class Maildrop {
  readonly user: string;
  readonly mailbox: Mailbox | null;
  private readonly ports: MaildropPorts;
  private readonly entries: Entry[];
  /** Parallel blob reads when sizes must be computed (STAT, LIST). */
  private readonly concurrency = 8;
  /** Unreadable messages not yet handed to the session; UIDs already reported. */
  private unreadable: UnreadableMessage[] = [];
  private readonly reported = new Set<number>();

  private constructor(ports: MaildropPorts, user: string, mailbox: Mailbox | null, records: MessageRecord[]) {
    this.ports = ports;
    this.user = user;
    this.mailbox = mailbox;
    this.entries = records.map((r) => ({ uid: r.uid, blobKey: r.blobKey, storedSize: r.size, flags: r.flags, deleted: false, retrieved: false }));
  }

  /** Reads the INBOX listing (index only; no blob is read at login). */
  static async open(ports: MaildropPorts, user: string): Promise<Maildrop> {
    try {
      const mailbox = await ports.index.getMailbox(user, 'INBOX');
      const records = mailbox ? await ports.index.listMessages(user, mailbox.id) : [];
      return new Maildrop(ports, user, mailbox, records);
    } catch (err) {
      throw storageError('cannot open the maildrop; try again later', err);
    }
  }

  /** The entry for message number n (1-based) unless out of range or marked deleted. */
  private entry(n: number): Entry {
    const e = this.entries[n - 1];
    if (!e) throw new Pop3Error(`no such message, only ${this.entries.length} messages in maildrop`);
    if (e.deleted) throw new Pop3Error(`message ${n} already deleted`);
    return e;
  }

  /** n itself, once entry(n) has accepted it. */
  private checked(n: number): number {
    this.entry(n);
    return n;
  }

  /** Message numbers not marked deleted. */
  private live(): number[] {
    const out: number[] = [];
    this.entries.forEach((e, i) => {
      if (!e.deleted) out.push(i + 1);
    });
    return out;
  }

  /** Unreadable messages found since the last call (each reported once per session). */
  takeUnreadable(): UnreadableMessage[] {
    const out = this.unreadable;
    this.unreadable = [];
    return out;
  }

  /**
   * Classifies a failed read of e's blob: 'expunged' when the index no longer lists the message
   * (another session removed it since our login), else records it as unreadable ('missing'
   * when the blob is absent, 'io' for any other failure or when the index cannot tell).
   */
  private async readFailure(e: Entry, err: unknown): Promise<'expunged' | 'missing' | 'io'> {
    let kind: 'expunged' | 'missing' | 'io' = 'io';
    if (err instanceof BlobNotFoundError) {
      try {
        const still = await this.ports.index.getMessages(this.user, this.mailbox!.id, [e.uid]);
        kind = still.length > 0 ? 'missing' : 'expunged';
      } catch {
        kind = 'io';
      }
    }
    if (kind !== 'expunged' && !this.reported.has(e.uid)) {
      this.reported.add(e.uid);
      this.unreadable.push({ n: this.entries.indexOf(e) + 1, uid: e.uid, blobKey: e.blobKey, missing: kind === 'missing', error: err });
    }
    return kind;
  }

  /** The -ERR for RETR/TOP of message n whose blob read failed. */
  private async readError(n: number, e: Entry, err: unknown): Promise<Pop3Error> {
    const kind = await this.readFailure(e, err);
    if (kind === 'expunged') return new Pop3Error('message was removed by another session', 'SYS/PERM', { cause: err });
    if (kind === 'missing') return new Pop3Error(`message ${n} cannot be read: its stored copy is missing`, 'SYS/PERM', { cause: err });
    return storageError(`message ${n} cannot be read now; try again later`, err);
  }

  private async computeSize(e: Entry): Promise<number> {
    const cached = pop3SizeCache.get(e.blobKey);
    if (cached !== undefined) return cached;
    const counter = new Pop3SizeCounter();
    try {
      const stream = await this.ports.blobs.stream(e.blobKey);
      for await (const chunk of stream) counter.write(chunk as Buffer);
    } catch (err) {
      // Expunged meanwhile, damaged or unreadable: counted with its stored size, so STAT and
      // LIST answer for the whole maildrop; RETR of it says what is wrong. Not cached: a
      // blob store that comes back gives the exact size next time.
      await this.readFailure(e, err);
      return e.storedSize;
    }
    pop3SizeCache.set(e.blobKey, counter.size);
    return counter.size;
  }

  private async sizes(numbers: number[]): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < numbers.length) {
        const n = numbers[next++];
        out.set(n, await this.computeSize(this.entries[n - 1]));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, numbers.length) }, worker));
    return out;
  }

  /** STAT / RSET: count and total octets of the messages not marked deleted. */
  async stat(): Promise<{ count: number; octets: number }> {
    const sizes = await this.sizes(this.live());
    let octets = 0;
    for (const s of sizes.values()) octets += s;
    return { count: sizes.size, octets };
  }

  /** LIST: [msg, octets] for one message or all that are not deleted. */
  async list(n: number | null): Promise<Array<[number, number]>> {
    const numbers = n === null ? this.live() : [this.checked(n)];
    const sizes = await this.sizes(numbers);
    return numbers.map((m) => [m, sizes.get(m) as number]);
  }

  /** UIDL: [msg, unique-id] for one message or all that are not deleted. */
  uidl(n: number | null): Array<[number, string]> {
    const numbers = n === null ? this.live() : [this.checked(n)];
    const validity = this.mailbox?.uidValidity ?? 0;
    return numbers.map((m) => [m, `${validity}.${this.entries[m - 1].uid}`]);
  }

  /**
   * RETR: the size and the byte-stuffed body of the multi-line response. When the size is
   * known the blob is streamed; otherwise it is read whole once to count it first (the
   * status line carries the size).
   */
  async retrieve(n: number): Promise<{ octets: number; body: Buffer | Readable }> {
    const e = this.entry(n);
    const cached = pop3SizeCache.get(e.blobKey);
    let result: { octets: number; body: Buffer | Readable };
    if (cached !== undefined) {
      let source: Readable;
      try {
        source = await this.ports.blobs.stream(e.blobKey);
      } catch (err) {
        throw await this.readError(n, e, err);
      }
      const encode = new Pop3EncodeStream();
      // pipeline, not pipe: when the reader stops early (the client went away mid-RETR and the
      // encoder is destroyed) the file stream is destroyed too and its descriptor closed, instead
      // of staying open until garbage collection. A read error still reaches the encoder.
      pipeline(source, encode, () => {});
      result = { octets: cached, body: encode };
    } else {
      const enc = new Pop3Encoder({ dotStuff: true });
      let raw: Buffer;
      try {
        raw = await this.ports.blobs.get(e.blobKey);
      } catch (err) {
        throw await this.readError(n, e, err);
      }
      const body = Buffer.concat([enc.write(raw), enc.end()]);
      pop3SizeCache.set(e.blobKey, enc.size);
      result = { octets: enc.size, body };
    }
    e.retrieved = true;
    return result;
  }

  /** TOP n lines (RFC 1939 §7): header, blank line and `lines` body lines, byte-stuffed. */
  async top(n: number, lines: number): Promise<Buffer> {
    const e = this.entry(n);
    const enc = new Pop3Encoder({ dotStuff: false });
    const top = new TopCollector(lines);
    let done = false;
    try {
      const source = await this.ports.blobs.stream(e.blobKey);
      for await (const chunk of source) {
        if (top.push(enc.write(chunk as Buffer))) {
          done = true;
          break; // leaving the loop destroys the stream: the rest is not read
        }
      }
      if (!done) top.push(enc.end());
    } catch (err) {
      throw await this.readError(n, e, err);
    }
    return dotStuff(top.result());
  }

  dele(n: number): void {
    this.entry(n).deleted = true;
  }

  /** RSET: unmark every message (RFC 1939 §5). */
  reset(): void {
    for (const e of this.entries) e.deleted = false;
  }

  /**
   * The UPDATE state (RFC 1939 §6): record first retrievals (EXPIRE), then remove the DELE'd
   * messages and those whose retention has passed, in one expunge; `writes`
   * (core/mailbox/writes.ts) deletes the blobs no message references any more (invariant 5)
   * and tells IMAP sessions in this process.
   */
  async commit(writes: MailboxWrites, expire: ExpirePolicy, now = Date.now()): Promise<CommitResult> {
    const mailbox = this.mailbox;
    if (!mailbox) return { expunged: [], expired: 0 };
    const remove = new Set<number>();
    let expired = 0;
    for (const e of this.entries) if (e.deleted) remove.add(e.uid);
    if (expire !== 'NEVER') {
      const retentionMs = expire * 86_400_000;
      const firstRetrieved: number[] = [];
      for (const e of this.entries) {
        if (remove.has(e.uid)) continue;
        const at = retrievedAt(e.flags) ?? (e.retrieved ? now : null);
        if (at === null) continue;
        if (now - at >= retentionMs) {
          remove.add(e.uid);
          expired++;
        } else if (retrievedAt(e.flags) === null) firstRetrieved.push(e.uid);
      }
      if (firstRetrieved.length) {
        try {
          await writes.updateFlags(this.user, mailbox.id, firstRetrieved, 'add', [retrievedKeyword(now)]);
        } catch (err) {
          throw storageError('could not record retrieved messages; nothing deleted', err);
        }
      }
    }
    if (remove.size === 0) return { expunged: [], expired };
    let expunged: number[];
    try {
      // A blob whose delete fails is logged and left over, not referenced: never data loss.
      expunged = await writes.expunge(
        this.user,
        mailbox.id,
        [...remove].sort((a, b) => a - b),
      );
    } catch (err) {
      // RFC 1939 §6: "-ERR some deleted messages not removed".
      throw storageError('some deleted messages not removed', err);
    }
    return { expunged, expired };
  }
}
