/**
 * Writing: a new message, a reply, reply-all or forward (inline, or the original attached).
 * To/Cc/Bcc suggest past correspondents; attachments come from the picker or by drag and drop
 * and are uploaded as JMAP blobs at once. Plain text, or simple rich text (bold, italic, lists,
 * links) sent as HTML with a plain-text alternative. The draft is saved to Drafts a few seconds
 * after each change (JMAP Emails are immutable: each save creates the new draft, then destroys
 * the previous one) and can be resumed by opening it there. Send creates the Email and an
 * EmailSubmission in one request; on success the server moves it to Sent and clears $draft
 * (onSuccessUpdateEmail, RFC 8621 §7.5).
 */
import DOMPurify from 'dompurify';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { JmapClient } from './jmap.ts';
import { addressList, formatSize, type EmailAddress } from './emails.ts';
import { byRole, type Mailbox } from './mailboxes.ts';
import { parseAddresses } from './addresses.ts';
import { AddressInput } from './address-input.tsx';

export interface Identity {
  id: string;
  name: string;
  email: string;
}

export interface Attachment {
  blobId: string;
  name: string;
  type: string;
  size: number;
  disposition?: 'attachment' | 'inline';
}

/** What a compose window starts with (empty for a new message). */
export interface Draft {
  /** The saved draft this continues (it is replaced on save and destroyed on send). */
  draftId?: string;
  to: string;
  cc: string;
  bcc: string;
  subject: string;
  text: string;
  html?: string;
  inReplyTo?: string[];
  references?: string[];
  attachments: Attachment[];
}

export const EMPTY_DRAFT: Draft = { to: '', cc: '', bcc: '', subject: '', text: '', attachments: [] };
const AUTOSAVE_MS = 3000;

export function Compose({
  client,
  mailboxes,
  identities,
  suggestions,
  initial,
  onDone,
}: {
  client: JmapClient;
  mailboxes: Mailbox[];
  identities: Identity[];
  suggestions: string[];
  initial: Draft;
  onDone(message: string): void;
}) {
  const [draft, setDraft] = useState<Draft>(initial);
  const [identityId, setIdentityId] = useState(identities[0]?.id ?? '');
  const [rich, setRich] = useState(initial.html !== undefined);
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  const [dragging, setDragging] = useState(false);
  const savedId = useRef<string | undefined>(initial.draftId);
  const dirty = useRef(false);
  const editor = useRef<HTMLDivElement>(null);
  const saving = useRef<Promise<void> | null>(null);
  const drafts = byRole(mailboxes, 'drafts');
  const sent = byRole(mailboxes, 'sent');
  const identity = identities.find((i) => i.id === identityId) ?? identities[0];

  const update = (patch: Partial<Draft>) => {
    dirty.current = true;
    setDraft((d) => ({ ...d, ...patch }));
  };

  /** The Email/set create object for the current fields. */
  const emailObject = (d: Draft, keywords: Record<string, boolean>) => {
    const from: EmailAddress[] = identity ? [{ name: identity.name || null, email: identity.email }] : [{ name: null, email: client.session.username }];
    const html = rich ? DOMPurify.sanitize(editor.current?.innerHTML ?? d.html ?? '') : undefined;
    const text = rich ? (editor.current?.innerText ?? d.text) : d.text;
    const body: Record<string, unknown> = html
      ? {
          textBody: [{ partId: 't', type: 'text/plain' }],
          htmlBody: [{ partId: 'h', type: 'text/html' }],
          bodyValues: { t: { value: text }, h: { value: `<!doctype html><html><body>${html}</body></html>` } },
        }
      : { textBody: [{ partId: 't', type: 'text/plain' }], bodyValues: { t: { value: text } } };
    return {
      mailboxIds: drafts ? { [drafts.id]: true } : {},
      keywords,
      from,
      to: parseAddresses(d.to),
      cc: parseAddresses(d.cc),
      bcc: parseAddresses(d.bcc),
      subject: d.subject,
      ...(d.inReplyTo ? { inReplyTo: d.inReplyTo } : {}),
      ...(d.references ? { references: d.references } : {}),
      ...body,
      attachments: d.attachments.map((a) => ({ blobId: a.blobId, type: a.type, name: a.name, disposition: a.disposition ?? 'attachment' })),
    };
  };

  const save = async (): Promise<void> => {
    if (!drafts || !dirty.current) return;
    dirty.current = false;
    const previous = savedId.current;
    const res = await client.request('Email/set', {
      create: { d: emailObject(draft, { $draft: true, $seen: true }) },
      ...(previous ? { destroy: [previous] } : {}),
    });
    const created = (res.created as Record<string, { id: string }> | undefined)?.d;
    if (created) {
      savedId.current = created.id;
      setStatus('Draft saved.');
    } else setStatus('The draft could not be saved.');
  };
  const saveNow = () => {
    saving.current = (saving.current ?? Promise.resolve()).then(save).catch(() => setStatus('The draft could not be saved.'));
    return saving.current;
  };
  useEffect(() => {
    const t = setTimeout(() => dirty.current && void saveNow(), AUTOSAVE_MS);
    return () => clearTimeout(t);
  });

  const upload = async (files: FileList | File[]) => {
    for (const file of Array.from(files)) {
      setStatus(`Uploading ${file.name}…`);
      try {
        const a = await client.upload(file);
        update({ attachments: [...draft.attachments, { blobId: a.blobId, name: file.name, type: file.type || 'application/octet-stream', size: a.size }] });
        setStatus(`${file.name} attached.`);
      } catch (err) {
        setStatus(`${file.name} could not be uploaded (${(err as Error).message}).`);
      }
    }
  };

  const send = async (e: Event) => {
    e.preventDefault();
    if (parseAddresses(draft.to).length + parseAddresses(draft.cc).length + parseAddresses(draft.bcc).length === 0) {
      setStatus('Add at least one recipient.');
      return;
    }
    setBusy(true);
    setStatus('Sending…');
    await saving.current;
    const accountId = client.session.accountId;
    const onSuccess: Record<string, unknown> = { 'keywords/$draft': null };
    if (drafts) onSuccess[`mailboxIds/${drafts.id}`] = null;
    if (sent) onSuccess[`mailboxIds/${sent.id}`] = true;
    try {
      const [set, submission] = await client.call([
        ['Email/set', { accountId, create: { m: emailObject(draft, { $draft: true, $seen: true }) } }, 'e'],
        [
          'EmailSubmission/set',
          { accountId, create: { s: { emailId: '#m', ...(identity ? { identityId: identity.id } : {}) } }, onSuccessUpdateEmail: { '#s': onSuccess } },
          's',
        ],
      ]);
      const notCreated = (set.notCreated as Record<string, { description?: string; type: string }> | undefined)?.m;
      const notSubmitted = (submission.notCreated as Record<string, { description?: string; type: string }> | undefined)?.s;
      if (notCreated || notSubmitted) {
        const why = notCreated ?? notSubmitted!;
        setStatus(`Not sent: ${why.description ?? why.type}.`);
        setBusy(false);
        return;
      }
      if (savedId.current) await client.request('Email/set', { destroy: [savedId.current] });
      onDone('Message sent.');
    } catch (err) {
      setStatus(`Not sent: ${(err as Error).message}.`);
      setBusy(false);
    }
  };

  const discard = async () => {
    dirty.current = false;
    await saving.current;
    if (savedId.current) await client.request('Email/set', { destroy: [savedId.current] });
    onDone('Draft discarded.');
  };
  const close = async () => {
    await saveNow();
    onDone(savedId.current ? 'Draft saved to Drafts.' : '');
  };
  const exec = (command: string, value?: string) => {
    editor.current?.focus();
    document.execCommand(command, false, value);
    dirty.current = true;
  };

  return (
    <form
      class={`compose ${dragging ? 'dragging' : ''}`}
      aria-label="Compose"
      onSubmit={send}
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => {
        e.preventDefault();
        setDragging(false);
        if (e.dataTransfer?.files.length) void upload(e.dataTransfer.files);
      }}
    >
      {identities.length > 1 && (
        <>
          <label for="compose-from">From</label>
          <select id="compose-from" value={identityId} onChange={(e) => setIdentityId((e.currentTarget as HTMLSelectElement).value)}>
            {identities.map((i) => (
              <option key={i.id} value={i.id}>
                {addressList([{ name: i.name || null, email: i.email }])}
              </option>
            ))}
          </select>
        </>
      )}
      {(['to', 'cc', 'bcc'] as const).map((field) => (
        <>
          <label for={`compose-${field}`}>{field === 'to' ? 'To' : field === 'cc' ? 'Cc' : 'Bcc'}</label>
          <AddressInput id={`compose-${field}`} value={draft[field]} onInput={(v) => update({ [field]: v })} suggestions={suggestions} />
        </>
      ))}
      <label for="compose-subject">Subject</label>
      <input id="compose-subject" type="text" value={draft.subject} onInput={(e) => update({ subject: (e.currentTarget as HTMLInputElement).value })} />
      <div class="compose-format" role="toolbar" aria-label="Formatting">
        <label>
          <input type="checkbox" checked={rich} onChange={(e) => setRich((e.currentTarget as HTMLInputElement).checked)} /> Rich text
        </label>
        {rich && (
          <>
            <button type="button" onClick={() => exec('bold')}>
              Bold
            </button>
            <button type="button" onClick={() => exec('italic')}>
              Italic
            </button>
            <button type="button" onClick={() => exec('insertUnorderedList')}>
              List
            </button>
            <button
              type="button"
              onClick={() => {
                const url = window.prompt('Link address (https://…)');
                if (url && /^https?:\/\//i.test(url)) exec('createLink', url);
              }}
            >
              Link
            </button>
          </>
        )}
      </div>
      {rich ? (
        <div
          id="compose-body"
          class="editor"
          ref={editor}
          contentEditable
          role="textbox"
          aria-multiline="true"
          aria-label="Message"
          onInput={() => (dirty.current = true)}
          dangerouslySetInnerHTML={{ __html: DOMPurify.sanitize(draft.html ?? textToHtml(draft.text)) }}
        />
      ) : (
        <>
          <label for="compose-body" class="visually-hidden">
            Message
          </label>
          <textarea id="compose-body" rows={14} value={draft.text} onInput={(e) => update({ text: (e.currentTarget as HTMLTextAreaElement).value })} />
        </>
      )}
      <div class="compose-attachments">
        <label for="compose-files">Attach files</label>
        <input
          id="compose-files"
          type="file"
          multiple
          onChange={(e) => (e.currentTarget as HTMLInputElement).files && void upload((e.currentTarget as HTMLInputElement).files!)}
        />
        <ul aria-label="Attached files">
          {draft.attachments.map((a, i) => (
            <li key={a.blobId}>
              {a.name} ({formatSize(a.size)}){' '}
              <button type="button" onClick={() => update({ attachments: draft.attachments.filter((_, j) => j !== i) })} aria-label={`Remove ${a.name}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      </div>
      <p class="status" role="status">
        {status}
      </p>
      <div class="compose-actions">
        <button type="submit" class="primary" disabled={busy}>
          Send
        </button>
        <button type="button" onClick={() => void close()} disabled={busy}>
          Close
        </button>
        <button type="button" onClick={() => void discard()} disabled={busy}>
          Discard
        </button>
      </div>
    </form>
  );
}

function textToHtml(text: string): string {
  const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return escaped
    .split('\n')
    .map((l) => `<div>${l || '<br>'}</div>`)
    .join('');
}
