/**
 * CREATE (RFC 9051 §6.3.4, RFC 6154 §5.2 USE), DELETE (§6.3.5), RENAME (§6.3.6; INBOX
 * special case RFC 3501 §6.3.5), SUBSCRIBE / UNSUBSCRIBE (§6.3.7–6.3.8).
 *
 * Subscriptions are a list of names apart from the mailboxes (core/ports/mail-index.ts):
 * SUBSCRIBE takes any valid name, existing or not; DELETE leaves the name subscribed
 * (§6.3.9: never removed "even if a mailbox by that name no longer exists"). RFC 9051 §6.3.6
 * says nothing of subscriptions on RENAME; as Dovecot and Cyrus do, a subscribed name moves
 * with its mailbox (the client asked for the new name, and a rename should not silently
 * drop a folder from its view); renaming INBOX moves messages only, so INBOX stays subscribed.
 */
import { IndexError, type SpecialUse } from '#core/ports/mail-index.ts';
import type { CreateRequest, MailboxRequest, RenameRequest } from '#listeners/imap/protocol/requests.ts';
import { ok, no, type Tagged } from '../errors.ts';
import { decodeMailboxName, MAX_MAILBOXES_PER_USER, parentsOf, SEPARATOR, validateNewName } from '../mailbox-names.ts';
import type { ImapSession } from '../session.ts';

/** Subscriptions are not bounded by the mailboxes any more; this keeps LSUB and the index bounded. */
const MAX_SUBSCRIPTIONS_PER_USER = MAX_MAILBOXES_PER_USER;

const SPECIAL_USES = new Set<string>(['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive', '\\All', '\\Flagged']);

function canonicalSpecialUse(flag: string): SpecialUse | null {
  for (const su of SPECIAL_USES) if (su.toLowerCase() === flag.toLowerCase()) return su as SpecialUse;
  return null;
}

/** A name to create: trailing separator dropped (RFC 9051 §6.3.4), then validated. */
function newName(s: ImapSession, bytes: Buffer): string {
  let name = decodeMailboxName(bytes, s.utf8);
  if (name.endsWith(SEPARATOR)) name = name.slice(0, -1);
  validateNewName(name);
  return name;
}

/** Creates missing superior names (RFC 9051 §6.3.4: "SHOULD create any superior hierarchical names"). */
async function createParents(s: ImapSession, name: string, existing: Set<string>): Promise<void> {
  const { index } = s.deps.adapters;
  for (const parent of parentsOf(name)) {
    if (existing.has(parent)) continue;
    try {
      await index.createMailbox(s.user!, parent, { subscribed: false });
    } catch (err) {
      if (!(err instanceof IndexError && err.code === 'EXISTS')) throw err;
    }
    existing.add(parent);
  }
}

export async function create(s: ImapSession, req: CreateRequest): Promise<Tagged> {
  const { index } = s.deps.adapters;
  const name = newName(s, req.mailbox);
  if (name === 'INBOX') throw no('INBOX always exists', 'ALREADYEXISTS');
  let specialUse: SpecialUse | null = null;
  if (req.specialUse.length > 0) {
    // One special use per mailbox here; anything else is refused (RFC 6154 §3: USEATTR).
    if (req.specialUse.length > 1) throw no('Only one special-use attribute per mailbox', 'USEATTR');
    specialUse = canonicalSpecialUse(req.specialUse[0]);
    if (!specialUse) throw no(`Unsupported special-use attribute ${req.specialUse[0]}`, 'USEATTR');
  }
  const all = await index.listMailboxes(s.user!);
  const existing = new Set(all.map((m) => m.name));
  if (existing.has(name)) throw no('Mailbox already exists', 'ALREADYEXISTS');
  // A quota on mailboxes keeps LIST (a pass over every name) and the index bounded.
  const added = 1 + parentsOf(name).filter((p) => !existing.has(p)).length;
  if (all.length + added > MAX_MAILBOXES_PER_USER) throw no(`At most ${MAX_MAILBOXES_PER_USER} mailboxes`, 'LIMIT');
  await createParents(s, name, existing);
  const created = await index.createMailbox(s.user!, name, { specialUse, subscribed: false });
  // RFC 8474 §4.1: the new mailbox's object id.
  return ok('CREATE completed', `MAILBOXID (${created.id})`);
}

export async function deleteMailbox(s: ImapSession, req: MailboxRequest): Promise<Tagged> {
  const { index } = s.deps.adapters;
  const name = decodeMailboxName(req.mailbox, s.utf8);
  if (name === 'INBOX') throw no('INBOX cannot be deleted', 'CANNOT');
  const mailbox = await index.getMailbox(s.user!, name);
  if (!mailbox) {
    const all = await index.listMailboxes(s.user!);
    // RFC 9051 §6.3.5: a \Noselect name with inferiors cannot be deleted.
    if (all.some((m) => m.name.startsWith(name + SEPARATOR))) throw no('Name has inferior hierarchical names and is not a mailbox', 'CANNOT');
    throw no('No such mailbox', 'NONEXISTENT');
  }
  await s.writes.deleteMailbox(s.user!, mailbox);
  if (s.selected?.id === mailbox.id) {
    s.deselect();
    if (s.rev2) s.untagged('OK [CLOSED] Selected mailbox deleted');
  }
  return ok('DELETE completed');
}

export async function rename(s: ImapSession, req: RenameRequest): Promise<Tagged> {
  const { index } = s.deps.adapters;
  const from = decodeMailboxName(req.from, s.utf8);
  const to = newName(s, req.to);
  if (to === 'INBOX') throw no('INBOX already exists', 'ALREADYEXISTS');
  const all = await index.listMailboxes(s.user!);
  const existing = new Set(all.map((m) => m.name));
  if (existing.has(to)) throw no('Target mailbox already exists', 'ALREADYEXISTS');

  if (from === 'INBOX') {
    // RFC 3501 §6.3.5 / RFC 9051 §6.3.6: all messages move to a new mailbox, INBOX stays (empty),
    // INBOX's inferiors are not renamed.
    const inbox = all.find((m) => m.name === 'INBOX');
    if (!inbox) throw no('No such mailbox', 'NONEXISTENT');
    await createParents(s, to, existing);
    const target = await index.createMailbox(s.user!, to, { subscribed: false });
    const uids = (await index.listMessages(s.user!, inbox.id)).map((m) => m.uid);
    if (uids.length > 0) {
      await s.writes.copy(s.user!, inbox.id, uids, target.id);
      await s.writes.expunge(s.user!, inbox.id, uids);
    }
    return ok('RENAME completed');
  }

  const source = all.find((m) => m.name === from);
  if (!source) throw no('No such mailbox', 'NONEXISTENT');
  if (to === from) throw no('Target mailbox already exists', 'ALREADYEXISTS');
  if (to.startsWith(from + SEPARATOR)) throw no('Cannot rename a mailbox into its own inferior', 'CANNOT');
  const children = all.filter((m) => m.name.startsWith(from + SEPARATOR));
  const renames: Array<[string, string]> = [[from, to], ...children.map((c): [string, string] => [c.name, to + c.name.slice(from.length)])];
  for (const [, target] of renames) {
    validateNewName(target);
    if (existing.has(target)) throw no(`Mailbox ${target} already exists`, 'ALREADYEXISTS');
  }
  const subscribed = new Set(await index.listSubscriptions(s.user!));
  await createParents(s, to, existing);
  // Parent first, then inferiors (RFC 9051 §6.3.6: inferior names are renamed too).
  for (const [oldName, newNameValue] of renames) {
    const renamed = await index.renameMailbox(s.user!, oldName, newNameValue);
    if (s.selected?.id === renamed.id) s.selected.name = renamed.name;
    s.deps.events.notify(s.user!, renamed.id);
    if (subscribed.has(oldName)) {
      await index.setSubscribed(s.user!, newNameValue, true);
      await index.setSubscribed(s.user!, oldName, false);
    }
  }
  return ok('RENAME completed');
}

export async function subscribe(s: ImapSession, req: MailboxRequest): Promise<Tagged> {
  const { index } = s.deps.adapters;
  const name = decodeMailboxName(req.mailbox, s.utf8);
  if (req.name === 'UNSUBSCRIBE') {
    // Idempotent: a name that is not subscribed is not an error (the list ends up as asked).
    await index.setSubscribed(s.user!, name, false);
    return ok('UNSUBSCRIBE completed');
  }
  // RFC 9051 §6.3.7: the name need not exist ("A server MAY validate ... that it exists"; we do
  // not, so a subscription can outlive and precede its mailbox), but it must be a valid name.
  validateNewName(name);
  const current = await index.listSubscriptions(s.user!);
  if (!current.includes(name) && current.length >= MAX_SUBSCRIPTIONS_PER_USER) throw no(`At most ${MAX_SUBSCRIPTIONS_PER_USER} subscriptions`, 'LIMIT');
  await index.setSubscribed(s.user!, name, true);
  return ok('SUBSCRIBE completed');
}
