/**
 * \Recent (RFC 3501 §2.3.2): a message is recent in exactly one session — the first that is
 * told about it with the mailbox selected read-write. IMAP4rev2 drops the flag (RFC 9051
 * Appendix E); rev2 sessions never see it.
 *
 * The mail index keeps no per-session state, so the claim is kept per process: for each
 * mailbox, the lowest UID not yet claimed. The first time this process sees a mailbox, the
 * mark starts at its UIDNEXT (messages that arrived while nobody here watched are not
 * recent). Sessions in different processes or containers may therefore both see a message as
 * recent; within one listener process the "exactly one session" rule holds. Marks live only in
 * memory and are bounded by the number of mailboxes touched.
 */

export class RecentTracker {
  private readonly marks = new Map<string, number>();
  private readonly maxEntries: number;

  constructor(maxEntries = 100_000) {
    this.maxEntries = maxEntries;
  }

  /** Sets the mark the first time a mailbox is seen. */
  observe(mailboxId: string, uidNext: number): void {
    if (this.marks.has(mailboxId)) return;
    if (this.marks.size >= this.maxEntries) {
      const first = this.marks.keys().next().value;
      if (first !== undefined) this.marks.delete(first);
    }
    this.marks.set(mailboxId, uidNext);
  }

  /** Claims the given ascending UIDs that nobody claimed yet; returns the claimed ones. */
  claim(mailboxId: string, uids: ArrayLike<number>): number[] {
    const mark = this.marks.get(mailboxId) ?? Infinity;
    const out: number[] = [];
    let max = 0;
    for (let i = 0; i < uids.length; i++) {
      const u = uids[i];
      if (u >= mark) out.push(u);
      if (u > max) max = u;
    }
    if (out.length > 0) this.marks.set(mailboxId, max + 1);
    return out;
  }

  /** The unclaimed UIDs among the given ones (EXAMINE, STATUS RECENT): no claim is made. */
  peek(mailboxId: string, uids: ArrayLike<number>): number[] {
    const mark = this.marks.get(mailboxId) ?? Infinity;
    const out: number[] = [];
    for (let i = 0; i < uids.length; i++) if (uids[i] >= mark) out.push(uids[i]);
    return out;
  }

  mark(mailboxId: string): number | undefined {
    return this.marks.get(mailboxId);
  }
}
