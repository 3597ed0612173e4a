/**
 * An open conversation: its messages oldest first, from every mailbox (a reply in Sent
 * included). The newest is open, the others are one line each (sender, date, preview) and
 * open on a click; r / a / f answer the newest.
 */
import { useState } from 'preact/hooks';
import type { JmapClient } from './jmap.ts';
import type { Draft } from './compose.tsx';
import { senderNames, type Member } from './conversations.ts';
import { formatDate, type EmailAddress } from './emails.ts';
import { MessageView } from './message-view.tsx';

export function ThreadView({
  client,
  members,
  total,
  isDraft,
  onClose,
  onRead,
  onCompose,
  onAddSender,
}: {
  client: JmapClient;
  members: Member[];
  /** Messages in the thread; more than `members` when only the newest were loaded. */
  total: number;
  isDraft: boolean;
  onClose(): void;
  onRead(): void;
  onCompose(draft: Draft): void;
  onAddSender?(from: EmailAddress): void;
}) {
  const newest = members[members.length - 1].id;
  const [open, setOpen] = useState<Set<string>>(new Set([newest]));
  return (
    <section class="thread" aria-label={`Conversation of ${total} messages`}>
      <div class="message-actions">
        <button type="button" class="back" onClick={onClose}>
          Back
        </button>
      </div>
      {total > members.length && <p class="empty">{total - members.length} older messages of this conversation are not shown.</p>}
      <ol class="thread-messages">
        {members.map((m) => (
          <li key={m.id}>
            {open.has(m.id) ? (
              <MessageView
                client={client}
                id={m.id}
                isDraft={isDraft}
                onClose={onClose}
                onRead={onRead}
                onCompose={onCompose}
                onAddSender={onAddSender}
                inThread
                shortcuts={m.id === newest}
              />
            ) : (
              <button
                type="button"
                class={`thread-item ${m.keywords.$seen ? '' : 'unread'}`}
                aria-expanded="false"
                onClick={() => setOpen(new Set([...open, m.id]))}
              >
                <span class="from">{senderNames([m], client.session.username)}</span>
                <time dateTime={m.receivedAt}>{formatDate(m.receivedAt)}</time>
                <span class="preview">{m.preview}</span>
              </button>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}
