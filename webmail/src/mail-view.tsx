/**
 * The signed-in screen: mailboxes on the left, the message list (newest first, 50 rows at a
 * time, more as it scrolls), the open message on the right. New mail and changes made on other
 * devices arrive by push (JmapClient.watch) and refresh what is shown; the unread count of the
 * Inbox is in the page title. Conversations (one row per thread, conversations.ts) are on
 * unless switched off.
 *
 * Keyboard: j / k next / previous message, c compose, r reply, a reply all, f forward,
 * e archive, # delete, u mark unread, s flag, / search, Escape back to the list.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { JmapClient } from './jmap.ts';
import { byRole, displayName, mailboxTree, type Mailbox } from './mailboxes.ts';
import { MailboxIcon } from './icons.tsx';
import { useShortcuts } from './shortcuts.ts';
import { Settings } from './settings.tsx';
import { MessageView } from './message-view.tsx';
import { formatDate, senderName, type EmailSummary, addressList, type EmailAddress } from './emails.ts';
import { Compose, EMPTY_DRAFT, type Draft, type Identity } from './compose.tsx';
import { MethodError } from './jmap.ts';
import { MEMBER_PROPERTIES, memberIds, membersByThread, membersOf, senderNames, threadCall, threadSizes, type Member } from './conversations.ts';
import { ThreadView } from './thread-view.tsx';
import { ContactsView } from './contacts-view.tsx';
import { CONTACTS, cardEmails, createCard, defaultBook, loadAddressBook, suggestionsOf } from './contacts.ts';

const PAGE = 50;
const LIST_PROPERTIES = ['id', 'threadId', 'mailboxIds', 'keywords', 'from', 'subject', 'receivedAt', 'preview', 'hasAttachment', 'size'];

export function MailView({ client, onSignOut }: { client: JmapClient; onSignOut(): void }) {
  const [mailboxes, setMailboxes] = useState<Mailbox[]>([]);
  const [current, setCurrent] = useState<string | null>(null);
  const [search, setSearch] = useState('');
  const [emails, setEmails] = useState<EmailSummary[]>([]);
  const [total, setTotal] = useState(0);
  const [openId, setOpenId] = useState<string | null>(null);
  const [checked, setChecked] = useState<Set<string>>(new Set());
  const [status, setStatus] = useState('');
  const [composing, setComposing] = useState<Draft | null>(null);
  const [settings, setSettings] = useState(false);
  const [contactsOpen, setContactsOpen] = useState(false);
  const hasContacts = client.session.using.includes(CONTACTS);
  const [identities, setIdentities] = useState<Identity[]>([]);
  const [suggestions, setSuggestions] = useState<string[]>([]);
  const [conversations, setConversations] = useState(true);
  const [threads, setThreads] = useState<Map<string, Member[]>>(new Map());
  const [sizes, setSizes] = useState<Map<string, number>>(new Map());
  const searchRef = useRef<HTMLInputElement>(null);
  const loading = useRef(false);

  const loadMailboxes = useCallback(async () => {
    const res = await client.request('Mailbox/get', { ids: null });
    const list = res.list as Mailbox[];
    setMailboxes(list);
    setCurrent((c) => c ?? byRole(list, 'inbox')?.id ?? list[0]?.id ?? null);
  }, [client]);

  /** The first `count` rows of the current view, from the top. */
  const loadEmails = useCallback(
    async (count: number) => {
      if (!current) return;
      const filter: Record<string, unknown> = search ? { inMailbox: current, text: search } : { inMailbox: current };
      const [query, got, thread] = await client.call([
        [
          'Email/query',
          {
            accountId: client.session.accountId,
            filter,
            sort: [{ property: 'receivedAt', isAscending: false }],
            position: 0,
            limit: count,
            calculateTotal: true,
            collapseThreads: conversations,
          },
          'q',
        ],
        ['Email/get', { accountId: client.session.accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: LIST_PROPERTIES }, 'g'],
        ...(conversations ? [threadCall(client.session.accountId)] : []),
      ]);
      const byId = new Map((got.list as EmailSummary[]).map((e) => [e.id, e]));
      const rows = (query.ids as string[]).map((id) => byId.get(id)).filter((e): e is EmailSummary => Boolean(e));
      // The threads' members, a second request: Thread/get tells how many there are to load.
      const [members] = conversations
        ? await client.call([['Email/get', { accountId: client.session.accountId, ids: memberIds(thread, rows), properties: MEMBER_PROPERTIES }, 'm']])
        : [null];
      setEmails(rows);
      setTotal(query.total as number);
      setThreads(members ? membersByThread(thread, members) : new Map());
      setSizes(members ? threadSizes(thread) : new Map());
    },
    [client, current, search, conversations],
  );

  useEffect(() => {
    void loadMailboxes();
  }, [loadMailboxes]);
  // The addresses one may send from (RFC 8621 §6); a server without Identity: the account's own.
  useEffect(() => {
    client
      .request('Identity/get', { ids: null })
      .then((res) => setIdentities(res.list as Identity[]))
      .catch((err: unknown) => {
        if (!(err instanceof MethodError)) throw err;
      });
  }, [client]);

  /**
   * Compose suggestions: the address book first, then the people one wrote to (Sent) and heard
   * from (Inbox), most recent first.
   */
  const loadSuggestions = useCallback(async () => {
    const accountId = client.session.accountId;
    const seen = new Map<string, string>();
    if (hasContacts)
      for (const s of suggestionsOf((await loadAddressBook(client)).cards)) {
        const email = (/<([^<>]+)>$/.exec(s)?.[1] ?? s).toLowerCase();
        if (!seen.has(email)) seen.set(email, s);
      }
    const add = (list: EmailAddress[] | null | undefined) => {
      for (const a of list ?? [])
        if (a.email.toLowerCase() !== client.session.username.toLowerCase() && !seen.has(a.email.toLowerCase()))
          seen.set(a.email.toLowerCase(), addressList([a]));
    };
    for (const box of [byRole(mailboxes, 'sent'), byRole(mailboxes, 'inbox')]) {
      if (!box) continue;
      const [, got] = await client.call([
        ['Email/query', { accountId, filter: { inMailbox: box.id }, sort: [{ property: 'receivedAt', isAscending: false }], limit: 200 }, 'q'],
        ['Email/get', { accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: ['from', 'to', 'cc'] }, 'g'],
      ]);
      for (const e of got.list as Array<{ from: EmailAddress[] | null; to: EmailAddress[] | null; cc: EmailAddress[] | null }>) {
        if (box.role === 'sent') {
          add(e.to);
          add(e.cc);
        } else add(e.from);
      }
    }
    setSuggestions([...seen.values()]);
  }, [client, mailboxes, hasContacts]);
  /** "Add sender to contacts" (a message's From): a new card in the default address book, unless one has the address. */
  const addSender = async (from: EmailAddress) => {
    try {
      const { books, cards } = await loadAddressBook(client);
      const book = defaultBook(books);
      const name = from.name || from.email;
      if (cards.some((c) => cardEmails(c).some((e) => e.toLowerCase() === from.email.toLowerCase()))) return setStatus(`${name} is already in your contacts.`);
      if (!book) return setStatus('There is no address book to add to.');
      await createCard(client, book, { kind: 'individual', ...(from.name ? { name: { full: from.name } } : {}), emails: { e1: { address: from.email } } });
      setStatus(`${name} added to your contacts.`);
    } catch (err) {
      setStatus(`Not added: ${(err as Error).message}.`);
    }
  };
  const compose = useCallback(
    (draft: Draft) => {
      setComposing(draft);
      void loadSuggestions();
    },
    [loadSuggestions],
  );
  useEffect(() => {
    setChecked(new Set());
    void loadEmails(PAGE);
  }, [loadEmails]);
  const shown = useRef(PAGE);
  useEffect(() => {
    shown.current = Math.max(PAGE, emails.length);
  }, [emails]);
  // Push: refresh mailboxes and the rows on screen.
  useEffect(
    () =>
      client.watch(() => {
        void loadMailboxes();
        void loadEmails(shown.current);
      }),
    [client, loadMailboxes, loadEmails],
  );
  const inbox = byRole(mailboxes, 'inbox');
  useEffect(() => {
    const box = mailboxes.find((m) => m.id === current);
    const unread = inbox?.unreadEmails ?? 0;
    document.title = `${unread > 0 ? `(${unread}) ` : ''}${box ? displayName(box) : 'Mail'} – Mail`;
  }, [mailboxes, current, inbox]);

  const loadMore = async () => {
    if (loading.current || emails.length >= total) return;
    loading.current = true;
    try {
      await loadEmails(emails.length + PAGE);
    } finally {
      loading.current = false;
    }
  };

  /**
   * The messages an action applies to: the checked rows, else the open one; with conversations,
   * every message of their threads (`all`, for keywords) or those in this mailbox (`here`, for moves).
   */
  const targets = (scope: 'all' | 'here' = 'all'): string[] => {
    const rows = checked.size > 0 ? [...checked] : openId ? [openId] : [];
    if (!conversations) return rows;
    const ids = new Set<string>();
    for (const id of rows) {
      const row = emails.find((e) => e.id === id);
      if (!row) ids.add(id);
      else for (const m of membersOf(row, threads)) if (scope === 'all' || (current && m.mailboxIds[current])) ids.add(m.id);
    }
    return [...ids];
  };
  const refresh = async () => {
    await Promise.all([loadMailboxes(), loadEmails(Math.max(PAGE, emails.length))]);
  };
  const setKeyword = async (keyword: string, value: boolean) => {
    const ids = targets();
    if (ids.length === 0) return;
    await client.request('Email/set', { update: Object.fromEntries(ids.map((id) => [id, { [`keywords/${keyword}`]: value ? true : null }])) });
    await refresh();
  };
  const moveTo = async (role: string) => {
    const target = byRole(mailboxes, role);
    if (target) await moveToBox(target);
  };
  const moveToBox = async (target: Mailbox) => {
    const ids = targets('here');
    if (ids.length === 0) return;
    const update = Object.fromEntries(ids.map((id) => [id, { mailboxIds: { [target.id]: true } }]));
    const res = await client.request('Email/set', { update });
    const failed = Object.keys(res.notUpdated ?? {}).length;
    setStatus(failed ? `${failed} could not be moved.` : `Moved to ${displayName(target)}.`);
    next(ids);
    await refresh();
  };
  const remove = async () => {
    const ids = targets('here');
    if (ids.length === 0) return;
    const box = mailboxes.find((m) => m.id === current);
    if (box?.role === 'trash') {
      if (!window.confirm(ids.length === 1 ? 'Delete this message for good?' : `Delete ${ids.length} messages for good?`)) return;
      await client.request('Email/set', { destroy: ids });
      setStatus('Deleted.');
      next(ids);
      await refresh();
    } else await moveTo('trash');
  };
  /** After the open message leaves the list: open the one below it. */
  const next = (gone: string[]) => {
    setChecked(new Set());
    if (!openId || !gone.includes(openId)) return;
    const rest = emails.filter((e) => !gone.includes(e.id));
    const i = emails.findIndex((e) => e.id === openId);
    setOpenId(rest[Math.min(i, rest.length - 1)]?.id ?? null);
  };
  const open = (id: string) => {
    setSettings(false);
    setContactsOpen(false);
    setOpenId(id);
  };
  /** Mailbox/set (RFC 8621 §2.5): create, rename, destroy; a refusal is shown as it came. */
  const mailboxSet = async (args: Record<string, unknown>, done: string) => {
    const res = await client.request('Mailbox/set', args);
    const failure = Object.values({ ...(res.notCreated ?? {}), ...(res.notUpdated ?? {}), ...(res.notDestroyed ?? {}) } as Record<
      string,
      { type: string; description?: string }
    >)[0];
    setStatus(failure ? `Not done: ${failure.type === 'mailboxHasEmail' ? 'the folder is not empty' : (failure.description ?? failure.type)}.` : done);
    await loadMailboxes();
    return res;
  };
  const newFolder = async () => {
    const name = window.prompt('Name of the new folder')?.trim();
    if (!name) return;
    const res = await mailboxSet({ create: { n: { name, parentId: null } } }, `Folder “${name}” created.`);
    const created = (res.created as Record<string, { id: string }> | undefined)?.n;
    if (created) setCurrent(created.id);
  };
  const renameFolder = async () => {
    const box = mailboxes.find((m) => m.id === current);
    if (!box || box.role) return;
    const name = window.prompt('New name of the folder', box.name)?.trim();
    if (!name || name === box.name) return;
    await mailboxSet({ update: { [box.id]: { name } } }, `Folder renamed to “${name}”.`);
  };
  const deleteFolder = async () => {
    const box = mailboxes.find((m) => m.id === current);
    if (!box || box.role) return;
    if (!window.confirm(`Delete the folder “${box.name}”?`)) return;
    const res = await mailboxSet({ destroy: [box.id], onDestroyRemoveEmails: false }, `Folder “${box.name}” deleted.`);
    if ((res.destroyed as string[] | undefined)?.includes(box.id)) setCurrent(byRole(mailboxes, 'inbox')?.id ?? null);
  };
  const currentBox = mailboxes.find((m) => m.id === current);
  const openRow = emails.find((e) => e.id === openId);
  const openThread = openRow ? membersOf(openRow, threads) : null;

  useShortcuts((key) => {
    if (composing) return false;
    const i = emails.findIndex((m) => m.id === openId);
    if (key === 'j' && emails.length) open(emails[Math.min(emails.length - 1, i + 1)].id);
    else if (key === 'k' && emails.length) open(emails[Math.max(0, i - 1)].id);
    else if (key === 'e') void moveTo('archive');
    else if (key === '#') void remove();
    else if (key === 'u') void setKeyword('$seen', false);
    else if (key === 's') void setKeyword('$flagged', !(emails[i] && membersOf(emails[i], threads).some((m) => m.keywords.$flagged)));
    else if (key === '/') searchRef.current?.focus();
    else if (key === 'c') compose(EMPTY_DRAFT);
    else if (key === 'Escape') setOpenId(null);
    else return false;
    return true;
  });

  return (
    <div class={`mail ${openId || composing || settings || contactsOpen ? 'reading' : ''}`}>
      <header class="top">
        <button type="button" class="primary" onClick={() => compose(EMPTY_DRAFT)}>
          Compose
        </button>
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            setSearch(searchRef.current?.value.trim() ?? '');
            setOpenId(null);
          }}
        >
          <label for="search" class="visually-hidden">
            Search
          </label>
          <input id="search" ref={searchRef} type="search" placeholder="Search mail" />
          <button type="submit">Search</button>
        </form>
        <span class="user">{client.session.username}</span>
        {hasContacts && (
          <button
            type="button"
            onClick={() => {
              setContactsOpen(true);
              setSettings(false);
              setOpenId(null);
            }}
          >
            Contacts
          </button>
        )}
        <button
          type="button"
          onClick={() => {
            setSettings(true);
            setContactsOpen(false);
            setOpenId(null);
          }}
        >
          Settings
        </button>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <nav class="mailboxes" aria-label="Mailboxes">
        <ul>
          {mailboxTree(mailboxes).map(({ mailbox: m, depth }) => (
            <li key={m.id} style={{ paddingLeft: `${depth * 12}px` }}>
              <button
                type="button"
                aria-current={m.id === current ? 'page' : undefined}
                onClick={() => {
                  setCurrent(m.id);
                  setSearch('');
                  if (searchRef.current) searchRef.current.value = '';
                  setOpenId(null);
                }}
              >
                <MailboxIcon role={m.role} /> {displayName(m)}
                {m.unreadEmails > 0 && (
                  <span class="count" aria-label={`${m.unreadEmails} unread`}>
                    {m.unreadEmails}
                  </span>
                )}
              </button>
            </li>
          ))}
        </ul>
        <div class="folder-actions">
          <button type="button" onClick={() => void newFolder()}>
            New folder
          </button>
          <button type="button" onClick={() => void renameFolder()} disabled={!currentBox || Boolean(currentBox.role)}>
            Rename folder
          </button>
          <button type="button" onClick={() => void deleteFolder()} disabled={!currentBox || Boolean(currentBox.role)}>
            Delete folder
          </button>
        </div>
      </nav>
      <section class="list" aria-label="Messages">
        <div class="toolbar" role="toolbar" aria-label="Actions">
          <button type="button" onClick={() => void setKeyword('$seen', true)}>
            Mark read
          </button>
          <button type="button" onClick={() => void setKeyword('$seen', false)}>
            Mark unread
          </button>
          <button type="button" onClick={() => void setKeyword('$flagged', true)}>
            Flag
          </button>
          <button type="button" onClick={() => void moveTo('archive')}>
            Archive
          </button>
          <button type="button" onClick={() => void remove()}>
            Delete
          </button>
          {currentBox?.role === 'junk' ? (
            <button type="button" onClick={() => void moveTo('inbox')}>
              Not junk
            </button>
          ) : (
            <button type="button" onClick={() => void moveTo('junk')}>
              Junk
            </button>
          )}
          <label for="move-to" class="visually-hidden">
            Move to
          </label>
          <select
            id="move-to"
            value=""
            onChange={(ev) => {
              const box = mailboxes.find((m) => m.id === (ev.currentTarget as HTMLSelectElement).value);
              (ev.currentTarget as HTMLSelectElement).value = '';
              if (box) void moveToBox(box);
            }}
          >
            <option value="">Move to…</option>
            {mailboxTree(mailboxes)
              .filter(({ mailbox: m }) => m.id !== current)
              .map(({ mailbox: m, depth }) => (
                <option key={m.id} value={m.id}>
                  {'\u00a0'.repeat(depth * 2)}
                  {displayName(m)}
                </option>
              ))}
          </select>
          <label class="switch">
            <input type="checkbox" checked={conversations} onChange={(ev) => setConversations((ev.currentTarget as HTMLInputElement).checked)} /> Conversations
          </label>
        </div>
        <p class="status" role="status">
          {search ? `${total} found for “${search}”. ` : ''}
          {status}
        </p>
        <ul class="messages">
          {emails.map((e) => {
            const members = membersOf(e, threads);
            const size = Math.max(members.length, sizes.get(e.threadId) ?? 0);
            const unread = members.some((m) => !m.keywords.$seen);
            const flagged = members.some((m) => m.keywords.$flagged);
            return (
              <li key={e.id} class={`${unread ? 'unread' : ''} ${e.id === openId ? 'open' : ''}`} data-email-id={e.id}>
                <input
                  type="checkbox"
                  aria-label={`Select message from ${senderName(e)}: ${e.subject ?? ''}`}
                  checked={checked.has(e.id)}
                  onChange={(ev) => {
                    const next = new Set(checked);
                    if ((ev.currentTarget as HTMLInputElement).checked) next.add(e.id);
                    else next.delete(e.id);
                    setChecked(next);
                  }}
                />
                <button type="button" class="row" onClick={() => open(e.id)}>
                  <span class="from">
                    {members.length > 1 ? senderNames(members, client.session.username) : senderName(e)}
                    {size > 1 && (
                      <>
                        <span class="thread-count" aria-hidden="true">
                          {size}
                        </span>
                        <span class="visually-hidden">, {size} messages</span>
                      </>
                    )}
                  </span>
                  <span class="marks">
                    {flagged && (
                      <span class="flag" title="Flagged">
                        Flagged
                      </span>
                    )}
                    {e.hasAttachment && (
                      <span class="clip" title="Has attachment">
                        Attachment
                      </span>
                    )}
                    {unread && <span class="visually-hidden">Unread</span>}
                  </span>
                  <time dateTime={e.receivedAt}>{formatDate(e.receivedAt)}</time>
                  <span class="subject">{e.subject || '(no subject)'}</span>
                  <span class="preview">{e.preview}</span>
                </button>
              </li>
            );
          })}
        </ul>
        {emails.length < total && <LoadMore onVisible={loadMore} />}
        {emails.length === 0 && <p class="empty">{search ? 'Nothing found.' : 'No messages.'}</p>}
      </section>
      <section class="reader" aria-label="Open message">
        {settings && !composing ? (
          <Settings client={client} onClose={() => setSettings(false)} />
        ) : contactsOpen && !composing ? (
          <ContactsView
            client={client}
            onClose={() => setContactsOpen(false)}
            onWrite={(to) => compose({ ...EMPTY_DRAFT, to: `${to}, ` })}
            onChange={() => void loadSuggestions()}
          />
        ) : composing ? (
          <Compose
            key={composing.draftId ?? JSON.stringify(composing).slice(0, 200)}
            client={client}
            mailboxes={mailboxes}
            identities={identities}
            suggestions={suggestions}
            initial={composing}
            onDone={(message) => {
              setComposing(null);
              setStatus(message);
              if (currentBox?.role === 'drafts') setOpenId(null);
              void refresh();
            }}
          />
        ) : openId && openThread && openThread.length > 1 ? (
          <ThreadView
            key={`${openId} ${openThread.length}`}
            client={client}
            members={openThread}
            total={Math.max(openThread.length, sizes.get(openRow!.threadId) ?? 0)}
            isDraft={currentBox?.role === 'drafts'}
            onClose={() => setOpenId(null)}
            onRead={() => void refresh()}
            onCompose={compose}
            onAddSender={hasContacts ? (from: EmailAddress) => void addSender(from) : undefined}
          />
        ) : openId ? (
          <MessageView
            key={openId}
            client={client}
            id={openId}
            isDraft={currentBox?.role === 'drafts'}
            onClose={() => setOpenId(null)}
            onRead={() => void refresh()}
            onCompose={compose}
            onAddSender={hasContacts ? (from: EmailAddress) => void addSender(from) : undefined}
          />
        ) : (
          <p class="empty">Select a message to read it.</p>
        )}
      </section>
    </div>
  );
}

/** Loads the next rows when the end of the list scrolls into view. */
function LoadMore({ onVisible }: { onVisible(): void }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const o = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && onVisible());
    if (ref.current) o.observe(ref.current);
    return () => o.disconnect();
  }, [onVisible]);
  return (
    <div ref={ref} class="more">
      <button type="button" onClick={onVisible}>
        Load more
      </button>
    </div>
  );
}
