/**
 * "Is this message already here?" when UIDs cannot tell (a source folder whose UIDVALIDITY
 * changed, or Gmail's All Mail that repeats every label): the same Message-ID (angle brackets
 * and surrounding space dropped), the same size and the same INTERNALDATE to the second.
 * A message without a Message-ID matches on size and date alone.
 */
import type { MailIndex } from '../ports/mail-index.ts';

export function dedupKey(messageId: string | null | undefined, size: number, internalDate: number): string {
  const id = (messageId ?? '').trim().replace(/^<(.*)>$/, '$1');
  return `${id}\n${size}\n${Math.floor(internalDate / 1000)}`;
}

export class DedupIndex {
  private readonly keys: Set<string>;

  private constructor(keys: Set<string>) {
    this.keys = keys;
  }

  /** The messages of `mailbox` (by name), or of all the user's mailboxes when null. */
  static async load(index: MailIndex, user: string, mailbox: string | null): Promise<DedupIndex> {
    const keys = new Set<string>();
    for (const box of await index.listMailboxes(user)) {
      if (mailbox !== null && box.name !== mailbox) continue;
      for (const m of await index.listMessages(user, box.id, { withMeta: true })) keys.add(dedupKey(m.meta?.envelope.messageId, m.size, m.internalDate));
    }
    return new DedupIndex(keys);
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }
}
