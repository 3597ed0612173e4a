/**
 * The selected mailbox as this session's client knows it: the sequence number ↔ UID map,
 * the flags last told, and the changes (from other sessions, processes, ingest) not yet told.
 *
 * Sequence numbers are positions in `uids` (ascending). Changes found by refresh() are only
 * *recorded*; flushUpdates() turns them into untagged responses at the points the session
 * allows (RFC 3501 §7.4.1, RFC 9051 §7.5.1): EXISTS and FETCH FLAGS at any command, EXPUNGE
 * never while a FETCH, STORE or SEARCH (sequence-number commands) is running, so a client's
 * sequence numbers never shift under it. An expunged message stays in `uids` ("pending") until
 * its EXPUNGE is sent.
 */
import type { MailIndex, MailboxChanges, MailboxState, MessageRecord } from '#core/ports/mail-index.ts';
import { flagList } from '../protocol/encode.ts';
import { formatNumberSet, lowerBound, resolveSequenceNumbers, resolveUidIndexes, type SequenceSet } from '../protocol/sequence-set.ts';
import type { UpdateContext } from './contexts.ts';
import { FlagTable, MailboxSnapshot, type MailboxViews } from './mailbox-views.ts';
import type { RecentTracker } from './recent.ts';

export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((f) => s.has(f));
}

function sameState(a: MailboxState, b: MailboxState | null): boolean {
  return !!b && a.uidValidity === b.uidValidity && a.uidNext === b.uidNext && a.highestModseq === b.highestModseq && a.messageCount === b.messageCount;
}

function sameArray(a: ArrayLike<number>, b: ArrayLike<number>, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

const NO_FLAGS: readonly string[] = Object.freeze([]);

export class SelectedMailbox {
  readonly id: string;
  name: string;
  readonly readOnly: boolean;
  readonly uidValidity: number;
  readonly user: string;
  /**
   * The view, packed (mailbox-views.ts): UIDs in sequence order (ascending), each message's
   * flag-set id in `table` (flags as stored in the index, no \Recent) and its mod-sequence as
   * last read or written (RFC 7162 §3.1.4.2 MODSEQ), the first `n` entries of each array. While
   * `owned` is false the arrays are the shared snapshot's and are never written: a change
   * copies them first (copy on write), share() gives the copy up again.
   */
  private uidArr: Uint32Array = new Uint32Array(0);
  private flagArr: Uint32Array = new Uint32Array(0);
  private modArr: Float64Array = new Float64Array(0);
  private n = 0;
  private owned = true;
  private table = new FlagTable();
  private uidView: Uint32Array | null = null;
  private readonly views: MailboxViews | null;
  /** UIDs recent in this session (RFC 3501 §2.3.2). */
  readonly recent = new Set<number>();
  /** Expunged in the index, still in `uids` until the client is told. */
  readonly pendingExpunge = new Set<number>();
  /** UIDs whose flags changed elsewhere and are not yet told. */
  readonly pendingFlags = new Set<number>();
  /** Keywords the client was told about in FLAGS / PERMANENTFLAGS. */
  readonly keywords = new Set<string>();
  private keywordsChanged = false;
  /** Message count the client believes (last EXISTS minus EXPUNGEs sent since). */
  announcedCount = 0;
  /** Highest UID ever put in the view. */
  private lastUid = 0;
  private knownState: MailboxState | null = null;
  /**
   * This session's own writes since knownState was read, so refresh() can tell them from
   * changes made elsewhere without listing the whole mailbox (see refresh()).
   */
  private own = { modseqs: new Set<number>(), unknownUids: new Set<number>(), expungeOps: 0, expunged: 0, appended: [] as number[] };
  /** UIDs saved by SEARCH RETURN (SAVE) for `$` (RFC 5182). */
  savedSearch: number[] = [];
  /** Searches made with RETURN (UPDATE), alive while this mailbox is selected (contexts.ts). */
  contexts: UpdateContext[] = [];
  /**
   * While contexts live: the messages new or with changed flags / mod-sequence since their
   * results were last brought up to date (null when no context lives).
   */
  contextTouched: Set<number> | null = null;
  /** The mailbox no longer exists (deleted elsewhere). */
  gone = false;
  uidNext = 1;

  constructor(init: { id: string; name: string; user: string; readOnly: boolean; uidValidity: number; views?: MailboxViews }) {
    this.id = init.id;
    this.name = init.name;
    this.user = init.user;
    this.readOnly = init.readOnly;
    this.uidValidity = init.uidValidity;
    this.views = init.views ?? null;
  }

  /**
   * First load at SELECT/EXAMINE: the whole view, told in full by the SELECT responses. The
   * snapshot (the process's, mailbox-views.ts) is shared, not copied.
   */
  load(snap: MailboxSnapshot, recent: RecentTracker): void {
    const state = snap.state;
    this.knownState = state;
    this.resetOwn();
    this.adopt(snap);
    this.lastUid = this.n > 0 ? this.uidArr[this.n - 1] : 0;
    for (const k of snap.keywords()) this.keywords.add(k);
    this.uidNext = Math.max(state.uidNext, this.lastUid + 1);
    const uids = this.uids;
    const got = this.readOnly ? recent.peek(this.id, uids) : recent.claim(this.id, uids);
    for (const u of got) this.recent.add(u);
    this.announcedCount = this.n;
    this.keywordsChanged = false;
  }

  /** Refers to the snapshot's arrays (never written while shared). */
  private adopt(snap: MailboxSnapshot): void {
    this.uidArr = snap.uids;
    this.flagArr = snap.flagIds;
    this.modArr = snap.modseqs;
    this.n = snap.count;
    this.table = snap.table;
    this.owned = false;
    this.uidView = null;
  }

  /** Makes the arrays this session's own, with room for `extra` more messages. */
  private writable(extra = 0): void {
    const need = this.n + extra;
    if (this.owned && need <= this.uidArr.length) return;
    const cap = this.owned ? Math.max(need, Math.ceil(this.uidArr.length * 1.5) + 8) : need + 8;
    const uids = new Uint32Array(cap);
    const flags = new Uint32Array(cap);
    const mods = new Float64Array(cap);
    uids.set(this.uidArr.subarray(0, this.n));
    flags.set(this.flagArr.subarray(0, this.n));
    mods.set(this.modArr.subarray(0, this.n));
    this.uidArr = uids;
    this.flagArr = flags;
    this.modArr = mods;
    this.owned = true;
    this.uidView = null;
  }

  /**
   * After the view was brought up to date: a view that holds exactly what the process's
   * snapshot holds shares its arrays again; a view newer than the process's snapshot becomes
   * it (then it is not written any more: the next change copies). Not while an expunged
   * message waits in the view for its EXPUNGE (a snapshot holds no expunged message).
   */
  private share(): void {
    const views = this.views;
    const known = this.knownState;
    if (!views || !this.owned || !known || this.pendingExpunge.size > 0 || this.gone) return;
    const cached = views.peek(this.user, this.id);
    if (cached && cached.count === this.n && cached.table === this.table) {
      if (sameArray(cached.uids, this.uidArr, this.n) && sameArray(cached.flagIds, this.flagArr, this.n) && sameArray(cached.modseqs, this.modArr, this.n)) {
        this.adopt(cached);
        return;
      }
    }
    if (cached && cached.state.uidValidity === this.uidValidity && cached.state.highestModseq >= known.highestModseq) return;
    const n = this.n;
    const snap = new MailboxSnapshot(known, this.table, this.uidArr.slice(0, n), this.flagArr.slice(0, n), this.modArr.slice(0, n));
    views.offer(this.user, this.id, snap);
    this.adopt(snap);
  }

  /** Index of a UID in the view, or -1. */
  private indexOf(uid: number): number {
    const i = lowerBound(this.uidArr, uid, 0, this.n);
    return i < this.n && this.uidArr[i] === uid ? i : -1;
  }

  /** UIDs in sequence order (ascending); read-only (a view of the packed array). */
  get uids(): Uint32Array {
    if (!this.uidView || this.uidView.length !== this.n || this.uidView.buffer !== this.uidArr.buffer) this.uidView = this.uidArr.subarray(0, this.n);
    return this.uidView;
  }

  /** The UIDs not waiting for their EXPUNGE, ascending (a new array). */
  liveUids(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.n; i++) if (!this.pendingExpunge.has(this.uidArr[i])) out.push(this.uidArr[i]);
    return out;
  }

  /** UID at a 0-based position. */
  uidAt(i: number): number {
    return this.uidArr[i];
  }

  /** Flags as stored in the index (no \Recent), or none for a UID not in the view. */
  storedFlags(uid: number): readonly string[] {
    const i = this.indexOf(uid);
    return i < 0 ? NO_FLAGS : this.table.get(this.flagArr[i]);
  }

  /** 0-based position of the first message without \Seen, or -1 (SELECT's UNSEEN, rev1). */
  firstUnseen(): number {
    for (let i = 0; i < this.n; i++) if (this.table.isUnseen(this.flagArr[i])) return i;
    return -1;
  }

  get count(): number {
    return this.n;
  }

  /**
   * The mailbox's HIGHESTMODSEQ as of the last refresh (RFC 7162 §3.1.2.1): every change up to
   * it is in the view (told, or waiting in the pending sets to be told).
   */
  get highestModseq(): number {
    // mod-sequence-value is ≥ 1 (RFC 7162 §7); a client takes 0 for "no mod-sequences".
    return Math.max(1, this.knownState?.highestModseq ?? 1);
  }

  modseqOf(uid: number): number {
    const i = this.indexOf(uid);
    return i < 0 ? 0 : this.modArr[i];
  }

  /** 1-based sequence number of a UID in the view, or 0. */
  seqOf(uid: number): number {
    return this.indexOf(uid) + 1;
  }

  /** Flags as the client sees them (\Recent added for rev1 sessions). */
  flagsOf(uid: number, withRecent: boolean): readonly string[] {
    const f = this.storedFlags(uid);
    return withRecent && this.recent.has(uid) ? [...f, '\\Recent'] : f;
  }

  /** View positions (0-based) selected by a set; SequenceError for a bad sequence number. */
  resolve(set: SequenceSet, uid: boolean): number[] {
    if (set.saved) {
      const out: number[] = [];
      for (const u of this.savedSearch) {
        const s = this.seqOf(u);
        if (s > 0) out.push(s - 1);
      }
      return out;
    }
    if (uid) return resolveUidIndexes(set.ranges, this.uids);
    return resolveSequenceNumbers(set.ranges, this.n).map((s) => s - 1);
  }

  /**
   * Reads the mailbox state (one cheap index read); when it moved, reads what changed and
   * records it. Returns false when the mailbox is gone.
   *
   * When the only movement is this session's own writes (STORE, FETCH setting \Seen,
   * EXPUNGE, APPEND into this mailbox) nothing more is read: the view already holds them.
   * Proof that nothing else happened: every write takes the mailbox's highestModseq
   * + 1 (both adapters), so when the modseqs between the old and the new highestModseq are
   * all accounted for by our own writes — each distinct known modseq counts one, each
   * expunge at least one — there was no room for anybody else's change. uidNext and the
   * message count must match our own appends and expunges too.
   *
   * Anything else — another session's, process's or the ingest's change — is read from the
   * index's change log (MailIndex.changesSince since the last known highestModseq): the
   * messages appended or re-flagged since and the UIDs expunged since, at a cost that follows
   * the changes, not the mailbox (docs/imap.md, "Cost"). Only when the log no longer reaches
   * back that far (`complete: false`, tombstones trimmed) is the mailbox listed in full.
   */
  async refresh(index: MailIndex, recent: RecentTracker, force = false): Promise<boolean> {
    const state = await index.mailboxState(this.user, this.id);
    if (!state || state.uidValidity !== this.uidValidity) {
      this.gone = true;
      return false;
    }
    if (!force && sameState(state, this.knownState)) {
      this.resetOwn();
      return true;
    }
    if (!force && (await this.explainedByOwnWrites(index, state, recent))) {
      this.knownState = state;
      this.uidNext = Math.max(state.uidNext, this.lastUid + 1);
      this.resetOwn();
      this.share();
      return true;
    }
    const known = this.knownState;
    if (!force && known) {
      // knownState is always one state read (SELECT's mailboxState, a refresh's mailboxState
      // or changesSince's state), never advanced by our own writes (those go to `own` and
      // this.uidNext): its uidNext is the one read with its highestModseq, as the port's hint
      // contract requires.
      const changes = await index.changesSince(this.user, this.id, known.highestModseq, { uidNext: known.uidNext });
      if (!changes || changes.state.uidValidity !== this.uidValidity) {
        this.gone = true;
        return false;
      }
      if (changes.complete) {
        this.applyChanges(changes, recent);
        this.knownState = changes.state;
        this.uidNext = Math.max(changes.state.uidNext, this.lastUid + 1);
        this.resetOwn();
        this.share();
        return true;
      }
    }
    const records = await index.listMessages(this.user, this.id);
    this.apply(records, recent);
    this.knownState = state;
    this.uidNext = Math.max(state.uidNext, this.lastUid + 1);
    this.resetOwn();
    this.share();
    return true;
  }

  /** Records what the change log reported: expunges, flag changes, new messages. */
  private applyChanges(changes: MailboxChanges, recent: RecentTracker): void {
    for (const uid of changes.expunged) {
      if (this.seqOf(uid) === 0 || this.pendingExpunge.has(uid)) continue;
      this.pendingExpunge.add(uid);
      this.pendingFlags.delete(uid);
    }
    const fresh: MessageRecord[] = [];
    for (const r of changes.changed) {
      if (r.uid > this.lastUid) fresh.push(r);
      else if (this.seqOf(r.uid) > 0 && !this.pendingExpunge.has(r.uid)) this.noteChange(r);
    }
    this.addNew(fresh, recent);
  }

  private resetOwn(): void {
    this.own = { modseqs: new Set(), unknownUids: new Set(), expungeOps: 0, expunged: 0, appended: [] };
  }

  private async explainedByOwnWrites(index: MailIndex, state: MailboxState, recent: RecentTracker): Promise<boolean> {
    const known = this.knownState;
    const own = this.own;
    if (!known) return false;
    if (own.modseqs.size === 0 && own.unknownUids.size === 0 && own.expungeOps === 0 && own.appended.length === 0) return false;
    const appended = [...new Set(own.appended)].sort((a, b) => a - b);
    if (state.messageCount !== known.messageCount + appended.length - own.expunged) return false;
    // Our appends must be exactly the UIDs allocated since (invariant 3: UIDs are dense).
    if (state.uidNext !== known.uidNext + appended.length) return false;
    for (let i = 0; i < appended.length; i++) if (appended[i] !== known.uidNext + i) return false;
    const modseqs = new Set(own.modseqs);
    let fresh: MessageRecord[] = [];
    if (own.unknownUids.size > 0 || appended.length > 0) {
      // Flag writes whose modseq we were not told, and our new messages: read just those.
      const uids = [...own.unknownUids].filter((u) => !this.pendingExpunge.has(u));
      const got = uids.length > 0 ? await index.getMessages(this.user, this.id, uids) : [];
      if (got.length !== uids.length) return false;
      for (const r of got) {
        modseqs.add(r.modseq);
        const i = this.indexOf(r.uid);
        if (i < 0) return false;
        if (this.modArr[i] !== r.modseq) {
          this.writable();
          this.modArr[i] = r.modseq;
        }
        if (!sameFlags(this.table.get(this.flagArr[i]), r.flags)) return false;
      }
      if (appended.length > 0) {
        fresh = await index.listMessages(this.user, this.id, { uidFrom: appended[0], uidTo: appended[appended.length - 1] });
        if (fresh.length !== appended.length) return false;
        for (const r of fresh) modseqs.add(r.modseq);
      }
    }
    for (const m of modseqs) if (m <= known.highestModseq || m > state.highestModseq) return false;
    if (state.highestModseq - known.highestModseq !== modseqs.size + own.expungeOps) return false;
    if (fresh.length > 0) this.addNew(fresh, recent);
    return true;
  }

  private apply(records: MessageRecord[], recent: RecentTracker): void {
    const byUid = new Map<number, MessageRecord>();
    for (const r of records) byUid.set(r.uid, r);
    for (const uid of [...this.uids]) {
      if (this.pendingExpunge.has(uid)) continue;
      const r = byUid.get(uid);
      if (!r) {
        this.pendingExpunge.add(uid);
        this.pendingFlags.delete(uid);
        continue;
      }
      this.noteChange(r);
    }
    this.addNew(records, recent);
  }

  /** A message in the view as the index has it now: flags or mod-sequence that moved are to be told. */
  private noteChange(r: MessageRecord): void {
    let i = this.indexOf(r.uid);
    if (i < 0) return;
    const old = this.table.get(this.flagArr[i]);
    const flagsMoved = !sameFlags(old, r.flags);
    const modseqMoved = this.modArr[i] !== r.modseq;
    if (!flagsMoved && !modseqMoved) return;
    this.writable();
    i = this.indexOf(r.uid);
    if (flagsMoved) {
      this.flagArr[i] = this.table.idOf(r.flags);
      this.noteKeywords(r.flags);
    }
    // A mod-sequence that moved with the flags unchanged (set and cleared again elsewhere)
    // is told too: a CONDSTORE client's cache holds MODSEQ (RFC 7162 §3.1.4.2).
    this.pendingFlags.add(r.uid);
    this.contextTouched?.add(r.uid);
    this.modArr[i] = r.modseq;
  }

  /** Puts messages above the highest UID seen into the view (recent claimed for them). */
  private addNew(records: MessageRecord[], recent: RecentTracker): void {
    const fresh: number[] = [];
    for (const r of records) {
      if (r.uid <= this.lastUid) continue;
      fresh.push(r.uid);
      this.contextTouched?.add(r.uid);
      this.writable(1);
      this.uidArr[this.n] = r.uid;
      this.flagArr[this.n] = this.table.idOf(r.flags);
      this.modArr[this.n] = r.modseq;
      this.n++;
      this.uidView = null;
      this.noteKeywords(r.flags);
      this.lastUid = r.uid;
    }
    if (fresh.length > 0) {
      const got = this.readOnly ? recent.peek(this.id, fresh) : recent.claim(this.id, fresh);
      for (const u of got) this.recent.add(u);
    }
  }

  noteKeywords(flags: string[]): void {
    for (const f of flags) {
      if (!f.startsWith('\\') && !this.keywords.has(f)) {
        this.keywords.add(f);
        this.keywordsChanged = true;
      }
    }
  }

  /**
   * Records flags this session itself changed (already told in its own responses). With the
   * modseq the index gave the change, the next refresh needs no read to recognise it.
   */
  setFlags(uid: number, flags: string[], modseq?: number): void {
    if (modseq !== undefined) this.own.modseqs.add(modseq);
    else this.own.unknownUids.add(uid);
    if (this.indexOf(uid) < 0) return;
    this.contextTouched?.add(uid);
    this.writable();
    const i = this.indexOf(uid);
    this.flagArr[i] = this.table.idOf(flags);
    if (modseq !== undefined) this.modArr[i] = modseq;
    this.noteKeywords(flags);
  }

  /**
   * Marks UIDs this session expunged (one index expunge call); their EXPUNGE goes out with
   * the next flush.
   */
  markExpunged(uids: number[]): void {
    if (uids.length > 0) {
      this.own.expungeOps++;
      this.own.expunged += uids.length;
    }
    for (const u of uids) if (this.seqOf(u) > 0) this.pendingExpunge.add(u);
  }

  /** Records a message this session appended to this mailbox (APPEND). */
  noteOwnAppend(uid: number, modseq: number): void {
    this.own.appended.push(uid);
    this.own.modseqs.add(modseq);
  }

  /** FLAGS/PERMANENTFLAGS lines when new keywords appeared since last told (else none). */
  takeKeywordLines(): string[] {
    if (!this.keywordsChanged) return [];
    this.keywordsChanged = false;
    return this.flagsLines();
  }

  /** `* FLAGS` and `* OK [PERMANENTFLAGS]` lines for the current keyword set. */
  flagsLines(): string[] {
    const all = [...SYSTEM_FLAGS, ...this.keywords];
    const perm = this.readOnly ? '()' : flagList([...all, '\\*']);
    return [`* FLAGS ${flagList(all)}\r\n`, `* OK [PERMANENTFLAGS ${perm}] ${this.readOnly ? 'Read-only mailbox' : 'Flags permitted'}\r\n`];
  }

  /**
   * Untagged responses for recorded changes. allowExpunge is false during FETCH, STORE and
   * SEARCH (RFC 3501 §7.4.1). Order: FLAGS (new keywords), EXPUNGE (descending, so each number
   * is valid when sent) or, once QRESYNC is enabled, one VANISHED (RFC 7162 §3.2.10),
   * EXISTS/RECENT, then FETCH FLAGS — with UID and MODSEQ once CONDSTORE is enabled (§3.1).
   */
  flushUpdates(allowExpunge: boolean, rev2: boolean, ext: Extensions = NO_EXTENSIONS): string[] {
    const out: string[] = [];
    if (this.keywordsChanged) {
      out.push(...this.flagsLines());
      this.keywordsChanged = false;
    }
    if (allowExpunge && this.pendingExpunge.size > 0) {
      const seqs: number[] = [];
      const uids: number[] = [];
      for (const u of this.pendingExpunge) {
        const s = this.seqOf(u);
        if (s > 0) {
          seqs.push(s);
          uids.push(u);
        }
      }
      if (ext.qresync) {
        if (uids.length > 0) out.push(`* VANISHED ${formatNumberSet(uids.sort((a, b) => a - b))}\r\n`);
      } else {
        seqs.sort((a, b) => b - a);
        for (const s of seqs) out.push(`* ${s} EXPUNGE\r\n`);
      }
      const gone = this.pendingExpunge;
      this.writable();
      let k = 0;
      for (let i = 0; i < this.n; i++) {
        const u = this.uidArr[i];
        if (gone.has(u)) continue;
        this.uidArr[k] = u;
        this.flagArr[k] = this.flagArr[i];
        this.modArr[k] = this.modArr[i];
        k++;
      }
      this.n = k;
      this.uidView = null;
      for (const u of gone) {
        this.recent.delete(u);
        this.pendingFlags.delete(u);
      }
      this.savedSearch = this.savedSearch.filter((u) => !gone.has(u));
      this.announcedCount -= seqs.length;
      gone.clear();
      this.share();
    }
    if (this.n > this.announcedCount) {
      out.push(`* ${this.n} EXISTS\r\n`);
      this.announcedCount = this.n;
      // RECENT accompanies EXISTS for rev1 clients (RFC 3501 §7.3.2).
      if (!rev2) {
        out.push(`* ${this.recent.size} RECENT\r\n`);
      }
    }
    if (this.pendingFlags.size > 0) {
      const seqs: Array<[number, number]> = [];
      for (const u of this.pendingFlags) {
        if (this.pendingExpunge.has(u)) continue;
        const s = this.seqOf(u);
        if (s > 0) seqs.push([s, u]);
      }
      seqs.sort((a, b) => a[0] - b[0]);
      for (const [s, u] of seqs) {
        const modseq = ext.condstore ? ` MODSEQ (${this.modseqOf(u)})` : '';
        out.push(`* ${s} FETCH (UID ${u} FLAGS ${flagList(this.flagsOf(u, !rev2))}${modseq})\r\n`);
      }
      this.pendingFlags.clear();
    }
    return out;
  }
}

/** The RFC 7162 extensions a session has enabled, as far as unsolicited responses go. */
export interface Extensions {
  condstore: boolean;
  qresync: boolean;
}

const NO_EXTENSIONS: Extensions = { condstore: false, qresync: false };
