/**
 * `mailctl contacts import|export <address> <file.vcf> [--book <id>]`: vCards in and out of a
 * user's address book (core/ports/contacts.ts), several cards to a file as address books
 * export them (RFC 6350 §3.1 allows a sequence of vCards).
 *
 * Import stores each card as it is in the file, with two exceptions: a card without a UID (allowed in
 * vCard 3.0, required by CardDAV, RFC 6352 §5.1) gets a UID line after its VERSION line, and a
 * vCard 3.0 is stored as 4.0, the stored form (core/contacts/vcard-version.ts). A card
 * whose UID the book already holds replaces that card, so importing the same file twice
 * changes nothing. Cards that are not valid vCards are listed and skipped (exit 1); the others
 * are imported.
 */
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { Adapters } from '../adapters/adapters.ts';
import { toVCard4 } from '../contacts/vcard-version.ts';
import { VCardError, checkVCard, splitVCards } from '../contacts/vcard.ts';
import { CONTACT_NAME, ContactError, contactEtag } from '../ports/contacts.ts';

export class ContactsUsageError extends Error {}

/** The book a command works on: `--book <id>`, default `default` (created, as CardDAV does, when the user has none). */
async function bookArg(adapters: Adapters, user: string, args: string[], create: boolean): Promise<string> {
  let id = 'default';
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--book' && args[i + 1]) id = args[++i];
    else throw new ContactsUsageError(`unknown option ${args[i]}`);
  }
  if (!(await adapters.contacts.getAddressBook(user, id))) {
    if (!create) throw new ContactError('NOT_FOUND', `${user} has no address book ${id}`);
    await adapters.contacts.createAddressBook(user, id === 'default' ? { id, displayName: 'Contacts' } : { id, displayName: id });
  }
  return id;
}

function withUid(card: Buffer, uid: string): Buffer {
  const text = card.toString('utf8');
  const m = /^VERSION:[^\r\n]*(\r?\n)/im.exec(text);
  if (!m) return card;
  const at = m.index + m[0].length;
  return Buffer.from(`${text.slice(0, at)}UID:${uid}${m[1]}${text.slice(at)}`);
}

export async function importContacts(
  adapters: Adapters,
  user: string,
  file: string,
  options: string[],
  io: { out(line: string): void; err(line: string): void },
): Promise<number> {
  const book = await bookArg(adapters, user, options, true);
  let cards: Buffer[];
  try {
    cards = splitVCards(await readFile(file));
  } catch (err) {
    if (err instanceof VCardError) throw new ContactsUsageError(`${file}: ${err.message}`);
    throw err;
  }
  const byUid = new Map((await adapters.contacts.listContacts(user, book)).map((c) => [c.uid, c]));
  let added = 0;
  let replaced = 0;
  let unchanged = 0;
  let skipped = 0;
  for (const [i, original] of cards.entries()) {
    let data = original;
    let uid: string;
    try {
      uid = checkVCard(data).uid ?? '';
      if (!uid) {
        uid = randomUUID();
        data = withUid(data, uid);
        checkVCard(data);
      }
      data = toVCard4(data);
    } catch (err) {
      if (!(err instanceof VCardError)) throw err;
      io.err(`card ${i + 1}: skipped: ${err.message}`);
      skipped++;
      continue;
    }
    const existing = byUid.get(uid);
    if (existing && existing.etag === contactEtag(data)) {
      unchanged++;
      continue;
    }
    const name = existing?.name ?? (CONTACT_NAME.test(`${uid}.vcf`) ? `${uid}.vcf` : `${contactEtag(Buffer.from(uid)).slice(0, 32)}.vcf`);
    try {
      const r = await adapters.contacts.putContact(user, book, name, { data, uid });
      byUid.set(uid, r.contact);
      if (r.created) added++;
      else replaced++;
    } catch (err) {
      if (!(err instanceof ContactError) || err.code === 'CONFLICT') throw err;
      io.err(`card ${i + 1} (UID ${uid}): skipped: ${err.message}`);
      skipped++;
    }
  }
  io.out(
    `imported ${added + replaced} of ${cards.length} cards into ${user}/${book}: ${added} new, ${replaced} replaced, ${unchanged} unchanged, ${skipped} skipped`,
  );
  return skipped > 0 ? 1 : 0;
}

export async function exportContacts(adapters: Adapters, user: string, file: string, options: string[], io: { out(line: string): void }): Promise<number> {
  const book = await bookArg(adapters, user, options, false);
  const infos = await adapters.contacts.listContacts(user, book);
  const parts: Buffer[] = [];
  for (let i = 0; i < infos.length; i += 100) {
    const cards = await adapters.contacts.getContacts(
      user,
      book,
      infos.slice(i, i + 100).map((c) => c.name),
    );
    cards.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const c of cards) {
      parts.push(c.data);
      // Cards are kept as sent; one without a final line break still needs one before the next.
      if (c.data.length > 0 && c.data[c.data.length - 1] !== 0x0a) parts.push(Buffer.from('\r\n'));
    }
  }
  await writeFile(file, Buffer.concat(parts), { mode: 0o600 });
  io.out(`exported ${infos.length} cards of ${user}/${book} to ${file}`);
  return 0;
}
