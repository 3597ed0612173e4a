/**
 * Packed mailbox views shared by the sessions of one listener process (docs/imap.md, "Cost").
 *
 * A MailboxSnapshot is an immutable list of a mailbox's messages — UIDs, flag-set ids and
 * mod-sequences in three typed arrays (about 16 bytes a message) — with the MailboxState it
 * stands for. Flag lists are interned per mailbox in a FlagTable: every message with the same
 * flags (in the same order) shares one id and one array.
 *
 * What a snapshot promises is what a session's view promises (selected-mailbox.ts): every
 * change up to `state.highestModseq` is in it (it may hold some later ones too, as a listing
 * read after the state does). A session SELECTing the mailbox starts from the process's
 * snapshot, brought up to date first from the change log (MailIndex.changesSince since the
 * snapshot's highestModseq), so a SELECT costs what changed since the process last looked —
 * one mailboxState read when nothing did — and not the mailbox's size; only the first SELECT
 * in the process, or one after the log was trimmed past the snapshot, lists the mailbox.
 *
 * Sessions never write into a snapshot: a session's view refers to the snapshot's arrays
 * until it must change one (copy on write), and shares again (SelectedMailbox.share) as soon
 * as its view holds exactly what the process's snapshot holds, or publishes its own view as
 * the newer snapshot. Each session keeps its own sequence numbers meanwhile (messages
 * expunged elsewhere stay in its copy until it may send their EXPUNGE, RFC 9051 §7.5.1).
 *
 * Bounds: snapshots are kept least recently used first out while their messages together
 * exceed MAX_CACHED_MESSAGES (a session keeps the one it refers to alive on its own); a flag
 * table that grew well past its mailbox's size is replaced by a compact one at the next
 * listing.
 */
import type { MailIndex, MailboxChanges, MailboxState, MessageRecord } from '#core/ports/mail-index.ts';

/** Messages kept in cached snapshots per process, at most (≈16 bytes each: 32 MiB). */
export const MAX_CACHED_MESSAGES = 2_000_000;

/** Flag lists interned per mailbox: ids are stable for the table's life. */
export class FlagTable {
  private readonly ids = new Map<string, number>();
  private readonly lists: (readonly string[])[] = [];
  /** Per id: the list has no \Seen (SELECT's UNSEEN, rev1). */
  private readonly unseen: boolean[] = [];

  idOf(flags: readonly string[]): number {
    // Flags are atoms (no spaces): the joined list is a unique key.
    const key = flags.join(' ');
    const got = this.ids.get(key);
    if (got !== undefined) return got;
    const id = this.lists.length;
    this.lists.push(Object.freeze([...flags]));
    this.unseen.push(!flags.includes('\\Seen'));
    this.ids.set(key, id);
    return id;
  }

  get(id: number): readonly string[] {
    return this.lists[id] ?? [];
  }

  isUnseen(id: number): boolean {
    return this.unseen[id] ?? true;
  }

  get size(): number {
    return this.lists.length;
  }
}

export class MailboxSnapshot {
  readonly state: MailboxState;
  readonly table: FlagTable;
  readonly uids: Uint32Array;
  readonly flagIds: Uint32Array;
  readonly modseqs: Float64Array;
  private keywordList: string[] | null = null;

  constructor(state: MailboxState, table: FlagTable, uids: Uint32Array, flagIds: Uint32Array, modseqs: Float64Array) {
    this.state = state;
    this.table = table;
    this.uids = uids;
    this.flagIds = flagIds;
    this.modseqs = modseqs;
  }

  get count(): number {
    return this.uids.length;
  }

  /** The keywords on some message of the snapshot (computed once). */
  keywords(): string[] {
    if (this.keywordList) return this.keywordList;
    const seenIds = new Set<number>();
    const out = new Set<string>();
    for (let i = 0; i < this.flagIds.length; i++) {
      const id = this.flagIds[i];
      if (seenIds.has(id)) continue;
      seenIds.add(id);
      for (const f of this.table.get(id)) if (!f.startsWith('\\')) out.add(f);
    }
    this.keywordList = [...out];
    return this.keywordList;
  }

  static fromRecords(state: MailboxState, records: MessageRecord[], table = new FlagTable()): MailboxSnapshot {
    const n = records.length;
    const uids = new Uint32Array(n);
    const flagIds = new Uint32Array(n);
    const modseqs = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const r = records[i];
      uids[i] = r.uid;
      flagIds[i] = table.idOf(r.flags);
      modseqs[i] = r.modseq;
    }
    return new MailboxSnapshot(state, table, uids, flagIds, modseqs);
  }

  /** This snapshot with the change log's report applied (expunges dropped, changes and new messages merged by UID). */
  withChanges(changes: MailboxChanges): MailboxSnapshot {
    const gone = new Set(changes.expunged);
    const changed = new Map<number, MessageRecord>();
    for (const r of changes.changed) if (!gone.has(r.uid)) changed.set(r.uid, r);
    const n = this.uids.length;
    const cap = n + changed.size;
    const uids = new Uint32Array(cap);
    const flagIds = new Uint32Array(cap);
    const modseqs = new Float64Array(cap);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const u = this.uids[i];
      if (gone.has(u)) continue;
      const r = changed.get(u);
      uids[k] = u;
      if (r) {
        flagIds[k] = this.table.idOf(r.flags);
        modseqs[k] = r.modseq;
        changed.delete(u);
      } else {
        flagIds[k] = this.flagIds[i];
        modseqs[k] = this.modseqs[i];
      }
      k++;
    }
    // What is left is new to this snapshot: above its last UID in practice (invariant 3),
    // merged in order all the same.
    const fresh = [...changed.values()].sort((a, b) => a.uid - b.uid);
    if (fresh.length > 0 && k > 0 && fresh[0].uid < uids[k - 1]) {
      const all: MessageRecord[] = [];
      for (let i = 0; i < k; i++) all.push({ uid: uids[i], modseq: modseqs[i], flags: [...this.table.get(flagIds[i])] } as MessageRecord);
      all.push(...fresh);
      all.sort((a, b) => a.uid - b.uid);
      return MailboxSnapshot.fromRecords(changes.state, all, this.table);
    }
    for (const r of fresh) {
      uids[k] = r.uid;
      flagIds[k] = this.table.idOf(r.flags);
      modseqs[k] = r.modseq;
      k++;
    }
    return new MailboxSnapshot(changes.state, this.table, uids.subarray(0, k), flagIds.subarray(0, k), modseqs.subarray(0, k));
  }
}

function sameState(a: MailboxState, b: MailboxState): boolean {
  return a.uidValidity === b.uidValidity && a.uidNext === b.uidNext && a.highestModseq === b.highestModseq && a.messageCount === b.messageCount;
}

/** The process's snapshots, by user and mailbox. */
export class MailboxViews {
  private readonly snapshots = new Map<string, MailboxSnapshot>();
  private readonly loading = new Map<string, Promise<MailboxSnapshot | null>>();
  private cachedMessages = 0;
  private readonly maxMessages: number;

  constructor(maxMessages = MAX_CACHED_MESSAGES) {
    this.maxMessages = maxMessages;
  }

  private static key(user: string, mailboxId: string): string {
    return `${user}\n${mailboxId}`;
  }

  /** The cached snapshot, if any (no index read). */
  peek(user: string, mailboxId: string): MailboxSnapshot | undefined {
    return this.snapshots.get(MailboxViews.key(user, mailboxId));
  }

  /**
   * A snapshot at `state` or later (state: a mailboxState just read), brought up to date from
   * the change log, or listed when there is none to start from. Null when the mailbox is gone.
   * Concurrent calls for one mailbox share one read.
   */
  async snapshot(index: MailIndex, user: string, mailboxId: string, state: MailboxState): Promise<MailboxSnapshot | null> {
    const key = MailboxViews.key(user, mailboxId);
    for (;;) {
      const cached = this.snapshots.get(key);
      if (cached && cached.state.uidValidity === state.uidValidity && (sameState(cached.state, state) || cached.state.highestModseq > state.highestModseq)) {
        this.touch(key, cached);
        return cached;
      }
      const running = this.loading.get(key);
      if (!running) break;
      const got = await running;
      if (got && got.state.uidValidity === state.uidValidity && got.state.highestModseq >= state.highestModseq) return got;
      if (!got) return null;
    }
    const run = this.read(index, user, mailboxId, state, this.snapshots.get(key));
    this.loading.set(key, run);
    try {
      const snap = await run;
      if (snap) this.offer(user, mailboxId, snap);
      return snap;
    } finally {
      this.loading.delete(key);
    }
  }

  private async read(
    index: MailIndex,
    user: string,
    mailboxId: string,
    state: MailboxState,
    base: MailboxSnapshot | undefined,
  ): Promise<MailboxSnapshot | null> {
    // A table much larger than the mailbox (flags changed a lot) is not carried on.
    if (base && base.state.uidValidity === state.uidValidity && base.table.size <= 2 * base.count + 1024) {
      // The hint: base.state is one state read (or a changesSince's state), its uidNext read with its highestModseq.
      const changes = await index.changesSince(user, mailboxId, base.state.highestModseq, { uidNext: base.state.uidNext });
      if (!changes) return null;
      if (changes.complete && changes.state.uidValidity === base.state.uidValidity) return base.withChanges(changes);
    }
    const records = await index.listMessages(user, mailboxId);
    return MailboxSnapshot.fromRecords(state, records);
  }

  /**
   * Keeps `snap` as the mailbox's snapshot unless the cached one is newer (or of a newer
   * UIDVALIDITY); returns the one kept.
   */
  offer(user: string, mailboxId: string, snap: MailboxSnapshot): MailboxSnapshot {
    const key = MailboxViews.key(user, mailboxId);
    const cached = this.snapshots.get(key);
    if (cached && cached !== snap) {
      const newer = cached.state.uidValidity === snap.state.uidValidity ? cached.state.highestModseq >= snap.state.highestModseq : false;
      if (newer) return cached;
      this.cachedMessages -= cached.count;
      this.snapshots.delete(key);
    }
    if (cached !== snap) {
      this.snapshots.set(key, snap);
      this.cachedMessages += snap.count;
    } else this.touch(key, snap);
    this.evict();
    return this.snapshots.get(key) ?? snap;
  }

  private touch(key: string, snap: MailboxSnapshot): void {
    this.snapshots.delete(key);
    this.snapshots.set(key, snap);
  }

  private evict(): void {
    while (this.cachedMessages > this.maxMessages && this.snapshots.size > 1) {
      const [k, s] = this.snapshots.entries().next().value!;
      this.snapshots.delete(k);
      this.cachedMessages -= s.count;
    }
  }
}
