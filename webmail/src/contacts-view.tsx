/**
 * Contacts: the address book (contacts.ts): a searchable list of people and groups, a form to
 * create or edit a person (name, email, phone, organisation, note, groups), deletion, and new
 * groups. Write to a person starts a message to them.
 */
import { useCallback, useEffect, useState } from 'preact/hooks';
import type { JmapClient } from './jmap.ts';
import {
  cardEmails,
  cardName,
  cardPatch,
  createCard,
  defaultBook,
  destroyCard,
  fieldsOf,
  isGroup,
  loadAddressBook,
  updateCard,
  type AddressBook,
  type Card,
  type ContactFields,
} from './contacts.ts';

export function ContactsView({ client, onClose, onWrite, onChange }: { client: JmapClient; onClose(): void; onWrite(to: string): void; onChange(): void }) {
  const [books, setBooks] = useState<AddressBook[]>([]);
  const [cards, setCards] = useState<Card[] | null>(null);
  const [filter, setFilter] = useState('');
  const [editing, setEditing] = useState<Card | 'new' | null>(null);
  const [status, setStatus] = useState('');

  const load = useCallback(async () => {
    const got = await loadAddressBook(client);
    setBooks(got.books);
    setCards(got.cards);
  }, [client]);
  useEffect(() => {
    void load().catch((err: Error) => setStatus(`The address book could not be loaded (${err.message}).`));
  }, [load]);

  const groups = (cards ?? []).filter(isGroup);
  const f = filter.trim().toLowerCase();
  const shown = (cards ?? []).filter((c) => !f || cardName(c).toLowerCase().includes(f) || cardEmails(c).some((e) => e.toLowerCase().includes(f)));
  const done = async (message: string) => {
    setStatus(message);
    setEditing(null);
    await load();
    onChange();
  };
  const newGroup = async () => {
    const name = window.prompt('Name of the new group')?.trim();
    const book = defaultBook(books);
    if (!name || !book) return;
    try {
      await createCard(client, book, { kind: 'group', name: { full: name }, members: {} });
      await done(`Group “${name}” created.`);
    } catch (err) {
      setStatus(`Not created: ${(err as Error).message}.`);
    }
  };

  if (editing)
    return (
      <ContactForm
        client={client}
        card={editing === 'new' ? null : editing}
        book={defaultBook(books)}
        groups={groups}
        onDone={(message) => void done(message)}
        onCancel={() => setEditing(null)}
      />
    );
  return (
    <section class="contacts" aria-labelledby="contacts-title">
      <div class="message-actions">
        <button type="button" class="back" onClick={onClose}>
          Back
        </button>
        <button type="button" class="primary" onClick={() => setEditing('new')}>
          New contact
        </button>
        <button type="button" onClick={() => void newGroup()}>
          New group
        </button>
      </div>
      <h2 id="contacts-title">Contacts</h2>
      <label for="contacts-filter">Find a contact</label>
      <input id="contacts-filter" type="search" value={filter} onInput={(e) => setFilter((e.currentTarget as HTMLInputElement).value)} />
      <p class="status" role="status">
        {status}
      </p>
      {cards === null ? (
        <p class="empty">Loading…</p>
      ) : shown.length === 0 ? (
        <p class="empty">{f ? 'Nobody found.' : 'No contacts yet.'}</p>
      ) : (
        <ul class="contact-list" aria-label="Contacts">
          {shown.map((c) => (
            <li key={c.id}>
              <span class="contact-name">
                {cardName(c)}
                {isGroup(c) && ` (group of ${Object.keys(c.members ?? {}).length})`}
              </span>
              <span class="contact-email">{cardEmails(c).join(', ')}</span>
              <span class="contact-actions">
                {cardEmails(c).length > 0 && (
                  <button type="button" aria-label={`Write to ${cardName(c)}`} onClick={() => onWrite(`${cardName(c)} <${cardEmails(c)[0]}>`)}>
                    Write
                  </button>
                )}
                {!isGroup(c) && (
                  <button type="button" aria-label={`Edit ${cardName(c)}`} onClick={() => setEditing(c)}>
                    Edit
                  </button>
                )}
                <button
                  type="button"
                  aria-label={`Delete ${cardName(c)}`}
                  onClick={() => {
                    if (!window.confirm(`Delete ${cardName(c)}?`)) return;
                    void destroyCard(client, c.id)
                      .then(() => done(`${cardName(c)} deleted.`))
                      .catch((err: Error) => setStatus(`Not deleted: ${err.message}.`));
                  }}
                >
                  Delete
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function ContactForm({
  client,
  card,
  book,
  groups,
  onDone,
  onCancel,
}: {
  client: JmapClient;
  card: Card | null;
  book: AddressBook | undefined;
  groups: Card[];
  onDone(message: string): void;
  onCancel(): void;
}) {
  const [fields, setFields] = useState<ContactFields>(fieldsOf(card));
  const [member, setMember] = useState<Set<string>>(new Set(groups.filter((g) => card && g.members?.[card.uid]).map((g) => g.id)));
  const [status, setStatus] = useState('');
  const set = (k: keyof ContactFields) => (e: Event) => setFields({ ...fields, [k]: (e.currentTarget as HTMLInputElement).value });

  const save = async (e: Event) => {
    e.preventDefault();
    if (!fields.name.trim() && !fields.email.trim()) return setStatus('A contact needs a name or an email address.');
    try {
      let uid = card?.uid;
      if (card) await updateCard(client, card.id, cardPatch(fields, card));
      else {
        if (!book) return setStatus('There is no address book to add to.');
        const id = await createCard(client, book, { kind: 'individual', ...cardPatch(fields, null) });
        const got = await client.request('ContactCard/get', { ids: [id], properties: ['uid'] });
        uid = (got.list as Array<{ uid: string }>)[0]?.uid;
      }
      // Group membership: the group card's members map (RFC 9553 §2.1.6).
      for (const g of groups) {
        const want = member.has(g.id);
        if (!uid || want === Boolean(g.members?.[uid])) continue;
        // The whole map: a group without members has no `members` to patch a path into.
        const members = { ...(g.members ?? {}) };
        if (want) members[uid] = true;
        else delete members[uid];
        await updateCard(client, g.id, { members: Object.keys(members).length > 0 ? members : null });
      }
      onDone(card ? `${fields.name || fields.email} saved.` : `${fields.name || fields.email} added.`);
    } catch (err) {
      setStatus(`Not saved: ${(err as Error).message}.`);
    }
  };

  const input = (id: keyof ContactFields, label: string, type: 'text' | 'email' | 'tel' = 'text') => (
    <>
      <label for={`contact-${id}`}>{label}</label>
      <input id={`contact-${id}`} {...({ type } as Record<string, string>)} value={fields[id]} onInput={set(id)} />
    </>
  );
  return (
    <form class="contact-form" aria-label={card ? 'Edit contact' : 'New contact'} onSubmit={save}>
      <h2>{card ? `Edit ${cardName(card)}` : 'New contact'}</h2>
      {input('name', 'Name')}
      {input('email', 'Email address', 'email')}
      {input('phone', 'Phone', 'tel')}
      {input('organization', 'Organisation')}
      <label for="contact-note">Note</label>
      <textarea id="contact-note" rows={3} value={fields.note} onInput={set('note')} />
      {groups.length > 0 && (
        <fieldset>
          <legend>Groups</legend>
          {groups.map((g) => (
            <label key={g.id}>
              <input
                type="checkbox"
                checked={member.has(g.id)}
                onChange={(e) => {
                  const next = new Set(member);
                  if ((e.currentTarget as HTMLInputElement).checked) next.add(g.id);
                  else next.delete(g.id);
                  setMember(next);
                }}
              />{' '}
              {cardName(g)}
            </label>
          ))}
        </fieldset>
      )}
      <p class="status" role="status">
        {status}
      </p>
      <div class="compose-actions">
        <button type="submit" class="primary">
          Save
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
