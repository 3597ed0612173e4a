/** Our mailbox an import writes into: found by special use, or by name, else created with its parents. */
import { IndexError, type MailIndex, type SpecialUse } from '../ports/mail-index.ts';

/** Returns the name of the mailbox to append to (an existing one with the special use wins). */
export async function ensureMailbox(index: MailIndex, user: string, name: string, specialUse: SpecialUse | null): Promise<string> {
  if (name.toUpperCase() === 'INBOX') return 'INBOX';
  const boxes = await index.listMailboxes(user);
  if (specialUse) {
    const withUse = boxes.find((b) => b.specialUse === specialUse);
    if (withUse) return withUse.name;
  }
  const existing = new Set(boxes.map((b) => b.name));
  if (existing.has(name)) return name;
  // Superior names first (RFC 9051 §6.3.4, as IMAP CREATE does here).
  const parts = name.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const n = parts.slice(0, i).join('/');
    if (existing.has(n)) continue;
    try {
      await index.createMailbox(user, n, { specialUse: i === parts.length ? specialUse : null, subscribed: false });
    } catch (err) {
      if (!(err instanceof IndexError && err.code === 'EXISTS')) throw err;
    }
    existing.add(n);
  }
  return name;
}
