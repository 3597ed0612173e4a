/** The drafts that Reply, Reply all, Forward and a saved draft start from (RFC 5322 §3.6.4 threading fields). */
import type { Attachment, Draft } from './compose.tsx';
import { addressList, type EmailAddress } from './emails.ts';

export interface SourceEmail {
  id: string;
  blobId: string;
  subject: string | null;
  from: EmailAddress[] | null;
  to: EmailAddress[] | null;
  cc: EmailAddress[] | null;
  bcc?: EmailAddress[] | null;
  replyTo?: EmailAddress[] | null;
  messageId?: string[] | null;
  inReplyTo?: string[] | null;
  references?: string[] | null;
  receivedAt: string;
  /** The message's text, as the reader shows it (plain text, or the HTML's text). */
  text: string;
  html?: string;
  attachments: Attachment[];
}

const strip = (subject: string | null, prefix: RegExp) => (subject ?? '').replace(prefix, '').trim();

function quote(e: SourceEmail): string {
  const who = addressList(e.from) || 'someone';
  const quoted = e.text
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((l) => `> ${l}`)
    .join('\n');
  return `\n\nOn ${new Date(e.receivedAt).toLocaleString()}, ${who} wrote:\n${quoted}\n`;
}

function threading(e: SourceEmail): Pick<Draft, 'inReplyTo' | 'references'> {
  if (!e.messageId || e.messageId.length === 0) return {};
  return { inReplyTo: e.messageId, references: [...(e.references ?? []), ...e.messageId] };
}

const notMe = (me: string) => (a: EmailAddress) => a.email.toLowerCase() !== me.toLowerCase();

export function replyDraft(e: SourceEmail, me: string, all: boolean): Draft {
  const to = e.replyTo && e.replyTo.length > 0 ? e.replyTo : (e.from ?? []);
  const others = all ? [...(e.to ?? [])].filter(notMe(me)) : [];
  const cc = all ? (e.cc ?? []).filter(notMe(me)) : [];
  return {
    to: addressList([...to, ...others]),
    cc: addressList(cc),
    bcc: '',
    subject: `Re: ${strip(e.subject, /^(\s*(re|aw|sv)\s*:\s*)+/i)}`,
    text: quote(e),
    attachments: [],
    ...threading(e),
  };
}

export function forwardDraft(e: SourceEmail, asAttachment: boolean): Draft {
  const subject = `Fwd: ${strip(e.subject, /^(\s*(fwd?|wg)\s*:\s*)+/i)}`;
  if (asAttachment)
    return {
      to: '',
      cc: '',
      bcc: '',
      text: '',
      subject,
      attachments: [{ blobId: e.blobId, name: `${(e.subject || 'message').replace(/[\\/:*?"<>|]/g, '_')}.eml`, type: 'message/rfc822', size: 0 }],
    };
  const header = [
    '---------- Forwarded message ----------',
    `From: ${addressList(e.from)}`,
    `Date: ${new Date(e.receivedAt).toLocaleString()}`,
    `Subject: ${e.subject ?? ''}`,
    `To: ${addressList(e.to)}`,
    ...(e.cc && e.cc.length ? [`Cc: ${addressList(e.cc)}`] : []),
  ].join('\n');
  return { to: '', cc: '', bcc: '', subject, text: `\n\n${header}\n\n${e.text}`, attachments: e.attachments };
}

/** A saved draft, opened again to go on writing it. */
export function resumeDraft(e: SourceEmail): Draft {
  return {
    draftId: e.id,
    to: addressList(e.to),
    cc: addressList(e.cc),
    bcc: addressList(e.bcc),
    subject: e.subject ?? '',
    text: e.text,
    ...(e.html !== undefined ? { html: e.html } : {}),
    attachments: e.attachments,
    ...(e.inReplyTo ? { inReplyTo: e.inReplyTo } : {}),
    ...(e.references ? { references: e.references } : {}),
  };
}
