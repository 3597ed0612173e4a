/**
 * Collected addresses, as Thunderbird and Roundcube keep them: the recipients of mail a user
 * sends land in an automatic address book, "Collected addresses" (id `collected`), so the
 * webmail and phones can suggest them.
 *
 *  - Where: the ingest job of every authenticated submission (core/ingest/ingest-job.ts), the
 *    one path SMTP submission (port 587/465) and JMAP EmailSubmission/set share. A job with the
 *    null reverse-path (vacation auto-replies) collects nothing.
 *  - Who: the envelope recipients (Bcc included), each with the display name the To:/Cc:/Bcc:
 *    fields give it; never the user's own address.
 *  - No duplicates: an address already on a card of any of the user's address books is not
 *    collected again (compared case-insensitively). A collected card is named by a hash of its
 *    address, so a retried ingest job finds it and writes nothing. Cost: a message to people
 *    collected before reads only those cards; one to a new address reads the user's cards once.
 *  - The setting: on by default; `mailctl contacts collect <address> on|off` turns it off and on
 *    for one user, stored as a small JSON document in the blob store
 *    (`settings/contacts/<address>`), as the junk models are. Turning it off keeps the book and
 *    its cards (the user may delete them like any other).
 *  - Collecting never fails the delivery: an error is logged.
 */
import { createHash } from 'node:crypto';
import type { Adapters } from '../adapters/adapters.ts';
import type { Logger } from '../log.ts';
import type { MailboxEvents } from '../mailbox/events.ts';
import { parseAddressList } from '../mime/envelope.ts';
import { fieldValue, parseHeaderFields } from '../mime/header.ts';
import { BlobNotFoundError, type BlobStore } from '../ports/blob-store.ts';
import { CONTACTS_CHANGED, ContactError, type ContactStore } from '../ports/contacts.ts';
import { jsContactToVCard, newContactUid } from './jscontact.ts';
import { checkVCard, unescapeText } from './vcard.ts';

export const COLLECTED_BOOK = { id: 'collected', displayName: 'Collected addresses' } as const;
/** The book CardDAV and JMAP make on first use (fargate-listeners/src/dav/carddav-routes.ts). */
const DEFAULT_BOOK = { id: 'default', displayName: 'Contacts' } as const;
/** Where each user's contact settings live in the blob store (the ingest function may read them: infra/pipeline.ts). */
export const CONTACT_SETTINGS_PREFIX = 'settings/contacts/';
const SETTINGS_PREFIX = CONTACT_SETTINGS_PREFIX;
/** At most this many addresses are collected from one message. */
const MAX_PER_MESSAGE = 50;

export interface ContactSettings {
  /** Whether recipients of sent mail are collected (default true). */
  collect: boolean;
}

export async function readContactSettings(blobs: BlobStore, user: string): Promise<ContactSettings> {
  try {
    const v = JSON.parse((await blobs.get(SETTINGS_PREFIX + user)).toString('utf8')) as Partial<ContactSettings>;
    return { collect: v.collect !== false };
  } catch (err) {
    if (err instanceof BlobNotFoundError) return { collect: true };
    if (err instanceof SyntaxError) return { collect: true };
    throw err;
  }
}

export async function writeContactSettings(blobs: BlobStore, user: string, settings: ContactSettings): Promise<void> {
  await blobs.put(SETTINGS_PREFIX + user, Buffer.from(JSON.stringify(settings)));
}

export async function removeContactSettings(blobs: BlobStore, user: string): Promise<void> {
  await blobs.delete(SETTINGS_PREFIX + user);
}

/** Display names of the addresses in the To:, Cc: and Bcc: fields (lower-cased address → name). */
function headerNames(raw: Buffer): Map<string, string> {
  const names = new Map<string, string>();
  for (const f of parseHeaderFields(raw)) {
    if (f.key !== 'to' && f.key !== 'cc' && f.key !== 'bcc') continue;
    for (const a of parseAddressList(fieldValue(raw, f))) {
      if (!a.mailbox || !a.host) continue;
      const address = `${a.mailbox}@${a.host}`.toLowerCase();
      const name = (a.name ?? '').replace(/[\r\n]+/g, ' ').trim();
      if (name && !names.has(address)) names.set(address, name.slice(0, 200));
    }
  }
  return names;
}

/** Every email address on the user's cards, lower-cased. */
async function knownAddresses(store: ContactStore, user: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const book of await store.listAddressBooks(user)) {
    const infos = await store.listContacts(user, book.id);
    for (let i = 0; i < infos.length; i += 200) {
      for (const c of await store.getContacts(
        user,
        book.id,
        infos.slice(i, i + 200).map((x) => x.name),
      )) {
        try {
          for (const p of checkVCard(c.data).properties) if (p.name === 'EMAIL') out.add(unescapeText(p.value).trim().toLowerCase());
        } catch {
          // a card that does not parse has no address to compare
        }
      }
    }
  }
  return out;
}

export function collectedCardName(address: string): string {
  return `collected-${createHash('sha256').update(address).digest('base64url').slice(0, 24)}.vcf`;
}

export interface CollectJob {
  source: 'mx' | 'submission';
  authUser?: string;
  mailFrom: string;
  rcptTo: string[];
}

/** Adds the job's recipients to the sender's Collected book (see the module comment); returns how many cards it made. */
export async function collectRecipients(
  deps: { adapters: Pick<Adapters, 'contacts' | 'blobs'>; logger: Logger; events?: MailboxEvents },
  job: CollectJob,
  raw: Buffer,
): Promise<number> {
  if (job.source !== 'submission' || !job.authUser || job.mailFrom === '') return 0;
  const user = job.authUser.toLowerCase();
  const store = deps.adapters.contacts;
  try {
    if (!(await readContactSettings(deps.adapters.blobs, user)).collect) return 0;
    const recipients = [...new Set(job.rcptTo.map((r) => r.toLowerCase()))].filter((r) => r !== user && r.includes('@')).slice(0, MAX_PER_MESSAGE);
    if (recipients.length === 0) return 0;
    // Collected before (the card is named by the address): nothing to read beyond those cards.
    const books = await store.listAddressBooks(user);
    const already = books.some((b) => b.id === COLLECTED_BOOK.id)
      ? new Set((await store.getContacts(user, COLLECTED_BOOK.id, recipients.map(collectedCardName))).map((c) => c.name))
      : new Set<string>();
    const candidates = recipients.filter((r) => !already.has(collectedCardName(r)));
    if (candidates.length === 0) return 0;
    // An address new to Collected: the other books are read once to see whether it is on a card.
    const known = await knownAddresses(store, user);
    const fresh = candidates.filter((r) => !known.has(r));
    if (fresh.length === 0) return 0;
    if (!books.some((b) => b.id === COLLECTED_BOOK.id)) {
      // CardDAV and JMAP make the default book when a user has none; a Collected book made first
      // would hide that, so the default one comes with it.
      for (const book of books.length === 0 ? [DEFAULT_BOOK, COLLECTED_BOOK] : [COLLECTED_BOOK]) {
        try {
          await store.createAddressBook(user, book);
        } catch (err) {
          if (!(err instanceof ContactError && err.code === 'EXISTS')) throw err;
        }
      }
    }
    const names = headerNames(raw);
    let made = 0;
    for (const address of fresh) {
      const name = names.get(address);
      const uid = newContactUid();
      const data = jsContactToVCard({
        '@type': 'Card',
        version: '1.0',
        uid,
        name: { full: name ?? address },
        emails: { e1: { address } },
      });
      try {
        await store.putContact(user, COLLECTED_BOOK.id, collectedCardName(address), { data, uid }, { ifNoneMatch: true });
        made++;
      } catch (err) {
        // Already collected (a retried job, or a concurrent one): nothing to do.
        if (!(err instanceof ContactError && err.code === 'PRECONDITION_FAILED')) throw err;
      }
    }
    if (made > 0) deps.events?.notify(user, CONTACTS_CHANGED);
    return made;
  } catch (err) {
    deps.logger.warn('collecting recipients failed; the message is delivered all the same', { user, err: err as Error });
    return 0;
  }
}
