/**
 * One message: its header fields, its body (HTML sanitised in a sandboxed frame, or plain
 * text), its attachments (downloadable) and the raw message. Opening it marks it read.
 */
import { useEffect, useState } from 'preact/hooks';
import { useShortcuts } from './shortcuts.ts';
import type { JmapClient } from './jmap.ts';
import { addressList, formatSize, type EmailAddress } from './emails.ts';
import { linkify, safeMessageHtml } from './message-frame.ts';
import type { Draft } from './compose.tsx';
import { forwardDraft, replyDraft, resumeDraft, type SourceEmail } from './reply.ts';

interface BodyPart {
  partId: string | null;
  blobId: string | null;
  type: string;
  name: string | null;
  size: number;
  cid: string | null;
  disposition: string | null;
}

interface FullEmail {
  id: string;
  blobId: string;
  subject: string | null;
  from: EmailAddress[] | null;
  to: EmailAddress[] | null;
  cc: EmailAddress[] | null;
  bcc: EmailAddress[] | null;
  replyTo: EmailAddress[] | null;
  messageId: string[] | null;
  inReplyTo: string[] | null;
  references: string[] | null;
  receivedAt: string;
  keywords: Record<string, boolean>;
  htmlBody: BodyPart[];
  textBody: BodyPart[];
  attachments: BodyPart[];
  bodyValues: Record<string, { value: string }>;
}

/** What Reply, Forward and resuming a draft start from. */
function source(e: FullEmail): SourceEmail {
  const html = e.htmlBody.find((p) => p.type === 'text/html' && p.partId && e.bodyValues[p.partId]);
  const texts = e.textBody.filter((p) => p.partId && e.bodyValues[p.partId] && p.type === 'text/plain');
  const text =
    texts.length > 0
      ? texts.map((p) => e.bodyValues[p.partId!].value).join('\n')
      : html
        ? (new DOMParser().parseFromString(e.bodyValues[html.partId!].value, 'text/html').body.textContent ?? '')
        : '';
  return {
    ...e,
    text,
    ...(html && texts.length === 0 ? { html: e.bodyValues[html.partId!].value } : {}),
    attachments: e.attachments.filter((p) => p.blobId).map((p) => ({ blobId: p.blobId!, name: p.name ?? 'attachment', type: p.type, size: p.size })),
  };
}

export function MessageView({
  client,
  id,
  isDraft,
  onClose,
  onRead,
  onCompose,
  inThread = false,
  shortcuts = true,
  onAddSender,
}: {
  client: JmapClient;
  id: string;
  isDraft: boolean;
  onClose(): void;
  onRead(): void;
  onCompose(draft: Draft): void;
  /** Shown inside a conversation (thread-view.tsx): no Back button of its own. */
  inThread?: boolean;
  /** Whether r / a / f act on this message (one message of a conversation has them). */
  shortcuts?: boolean;
  /** Offered as "Add sender to contacts" when the server has an address book. */
  onAddSender?(from: EmailAddress): void;
}) {
  const [email, setEmail] = useState<FullEmail | null>(null);
  const [error, setError] = useState('');
  const [allowRemote, setAllowRemote] = useState(false);
  const [inline, setInline] = useState<Map<string, string>>(new Map());
  const [raw, setRaw] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    void (async () => {
      try {
        const res = await client.request('Email/get', {
          ids: [id],
          properties: [
            'id',
            'blobId',
            'subject',
            'from',
            'to',
            'cc',
            'bcc',
            'replyTo',
            'messageId',
            'inReplyTo',
            'references',
            'receivedAt',
            'keywords',
            'htmlBody',
            'textBody',
            'attachments',
            'bodyValues',
          ],
          bodyProperties: ['partId', 'blobId', 'type', 'name', 'size', 'cid', 'disposition'],
          fetchHTMLBodyValues: true,
          fetchTextBodyValues: true,
        });
        const e = (res.list as FullEmail[])[0];
        if (!live) return;
        if (!e) {
          setError('This message is gone.');
          return;
        }
        if (isDraft && e.keywords.$draft) {
          onCompose(resumeDraft(source(e)));
          return;
        }
        setEmail(e);
        if (!e.keywords.$seen) {
          await client.request('Email/set', { update: { [id]: { 'keywords/$seen': true } } });
          onRead();
        }
        // Inline images (cid:) as data: URLs, so the frame needs no request of its own.
        const map = new Map<string, string>();
        for (const p of e.attachments)
          if (p.cid && p.blobId && p.type.startsWith('image/') && p.size <= 5 * 1024 * 1024) {
            const blob = await client.download(p.blobId, p.name ?? 'image', p.type);
            map.set(p.cid.replace(/^<|>$/g, ''), await dataUrl(blob));
          }
        if (live && map.size > 0) setInline(map);
      } catch (err) {
        if (live) setError(`The message could not be loaded (${(err as Error).message}).`);
      }
    })();
    return () => {
      live = false;
    };
  }, [client, id]);

  useShortcuts((key) => {
    if (!email || !shortcuts) return false;
    if (key === 'r') onCompose(replyDraft(source(email), client.session.username, false));
    else if (key === 'a') onCompose(replyDraft(source(email), client.session.username, true));
    else if (key === 'f') onCompose(forwardDraft(source(email), false));
    else return false;
    return true;
  });

  if (error)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!email) return <p class="empty">Loading…</p>;

  const html = email.htmlBody.find((p) => p.type === 'text/html' && p.partId && email.bodyValues[p.partId]);
  const texts = email.textBody.filter((p) => p.partId && email.bodyValues[p.partId] && p.type.startsWith('text/'));
  const safe = html ? safeMessageHtml(email.bodyValues[html.partId!].value, { allowRemote, inline }) : null;
  const files = email.attachments.filter((p) => !(p.cid && inline.has(p.cid.replace(/^<|>$/g, ''))));

  const save = async (p: BodyPart) => {
    const blob = await client.download(p.blobId!, p.name ?? 'attachment', p.type);
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = p.name ?? 'attachment';
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  };
  const showRaw = async () => {
    const blob = await client.download(email.blobId, 'message.eml', 'text/plain');
    setRaw(await blob.text());
  };

  return (
    <article class="message" aria-labelledby={`message-subject-${id}`}>
      <div class="message-actions">
        {!inThread && (
          <button type="button" class="back" onClick={onClose}>
            Back
          </button>
        )}
        <button type="button" onClick={() => onCompose(replyDraft(source(email), client.session.username, false))}>
          Reply
        </button>
        <button type="button" onClick={() => onCompose(replyDraft(source(email), client.session.username, true))}>
          Reply all
        </button>
        <button type="button" onClick={() => onCompose(forwardDraft(source(email), false))}>
          Forward
        </button>
        <button type="button" onClick={() => onCompose(forwardDraft(source(email), true))}>
          Forward as attachment
        </button>
        {onAddSender && email.from?.[0] && email.from[0].email.toLowerCase() !== client.session.username.toLowerCase() && (
          <button type="button" onClick={() => onAddSender(email.from![0])}>
            Add sender to contacts
          </button>
        )}
        <button type="button" onClick={() => (raw === null ? void showRaw() : setRaw(null))}>
          {raw === null ? 'View raw message' : 'Show message'}
        </button>
      </div>
      <h2 id={`message-subject-${id}`}>{email.subject || '(no subject)'}</h2>
      <dl class="fields">
        <dt>From</dt>
        <dd>{addressList(email.from)}</dd>
        <dt>To</dt>
        <dd>{addressList(email.to)}</dd>
        {email.cc && email.cc.length > 0 && (
          <>
            <dt>Cc</dt>
            <dd>{addressList(email.cc)}</dd>
          </>
        )}
        <dt>Date</dt>
        <dd>
          <time dateTime={email.receivedAt}>{new Date(email.receivedAt).toLocaleString()}</time>
        </dd>
      </dl>
      {raw !== null ? (
        <pre class="raw" aria-label="Raw message">
          {raw}
        </pre>
      ) : safe ? (
        <>
          {safe.blockedRemote > 0 && !allowRemote && (
            <p class="remote-notice">
              Remote content in this message is blocked to protect your privacy.{' '}
              <button type="button" onClick={() => setAllowRemote(true)}>
                Show remote content
              </button>
            </p>
          )}
          <iframe class="body-frame" title="Message body" sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc={safe.document} />
        </>
      ) : (
        <div class="text-body">
          {texts.map((p) => (
            <pre key={p.partId}>
              {linkify(email.bodyValues[p.partId!].value).map((piece, i) =>
                typeof piece === 'string' ? (
                  piece
                ) : (
                  <a key={i} href={piece.href} target="_blank" rel="noopener noreferrer">
                    {piece.href}
                  </a>
                ),
              )}
            </pre>
          ))}
        </div>
      )}
      {files.length > 0 && (
        <section class="attachments" aria-label="Attachments">
          <h3>Attachments</h3>
          <ul>
            {files.map((p) => (
              <li key={p.partId ?? p.blobId}>
                <button type="button" onClick={() => void save(p)} disabled={!p.blobId}>
                  {p.name ?? p.type} ({formatSize(p.size)})
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
    </article>
  );
}

function dataUrl(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
}
