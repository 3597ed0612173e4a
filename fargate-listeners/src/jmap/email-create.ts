/**
 * Email/set create (RFC 8621 §4.6): an Email given as properties becomes an RFC 5322 message,
 * composed by nodemailer's MailComposer (the composer our submission tests already rely on),
 * then appended like IMAP APPEND. Supported: from, sender, to, cc, bcc, replyTo, subject,
 * sentAt, messageId, inReplyTo, references, keywords, mailboxIds, receivedAt, textBody and
 * htmlBody (one part each, with its value in bodyValues) and attachments by blobId. Not
 * supported (invalidProperties): bodyStructure, headers and header:… properties.
 */
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';
import type { SetError } from './errors.ts';

export interface CreateInput {
  props: Record<string, unknown>;
  readBlob(blobId: string): Promise<Buffer | null>;
}

const ALLOWED = new Set([
  'mailboxIds',
  'keywords',
  'receivedAt',
  'from',
  'sender',
  'to',
  'cc',
  'bcc',
  'replyTo',
  'subject',
  'sentAt',
  'messageId',
  'inReplyTo',
  'references',
  'textBody',
  'htmlBody',
  'attachments',
  'bodyValues',
]);

type Addr = { name: string; address: string };

function addresses(v: unknown, prop: string): Addr[] | SetError | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return { type: 'invalidProperties', properties: [prop] };
  const out: Addr[] = [];
  for (const a of v) {
    if (!a || typeof a !== 'object' || typeof a.email !== 'string' || !/^[^\s@<>]+@[^\s@<>]+$/.test(a.email))
      return { type: 'invalidProperties', properties: [prop] };
    out.push({ name: typeof a.name === 'string' ? a.name : '', address: a.email });
  }
  return out;
}

function ids(v: unknown, prop: string): string[] | SetError | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && /^[^\s<>]+$/.test(x))) return { type: 'invalidProperties', properties: [prop] };
  return v.map((x) => `<${x}>`);
}

const isErr = (v: unknown): v is SetError => !!v && typeof v === 'object' && !Array.isArray(v) && typeof (v as SetError).type === 'string';

/** The message bytes, or a SetError. */
export async function composeEmail(input: CreateInput): Promise<Buffer | SetError> {
  const p = input.props;
  for (const k of Object.keys(p)) if (!ALLOWED.has(k)) return { type: 'invalidProperties', properties: [k], description: `${k} cannot be set on create here` };
  const mail: Mail.Options = {};
  for (const [prop, key] of [
    ['from', 'from'],
    ['sender', 'sender'],
    ['to', 'to'],
    ['cc', 'cc'],
    ['bcc', 'bcc'],
    ['replyTo', 'replyTo'],
  ] as const) {
    const a = addresses(p[prop], prop);
    if (isErr(a)) return a;
    if (a) (mail as Record<string, unknown>)[key] = key === 'sender' ? a[0] : a;
  }
  if (p.subject !== undefined && p.subject !== null) {
    if (typeof p.subject !== 'string') return { type: 'invalidProperties', properties: ['subject'] };
    mail.subject = p.subject;
  }
  if (p.sentAt !== undefined && p.sentAt !== null) {
    const t = typeof p.sentAt === 'string' ? Date.parse(p.sentAt) : NaN;
    if (!Number.isFinite(t)) return { type: 'invalidProperties', properties: ['sentAt'] };
    mail.date = new Date(t);
  }
  const mid = ids(p.messageId, 'messageId');
  if (isErr(mid)) return mid;
  if (mid) mail.messageId = mid[0];
  const irt = ids(p.inReplyTo, 'inReplyTo');
  if (isErr(irt)) return irt;
  if (irt) mail.inReplyTo = irt.join(' ');
  const refs = ids(p.references, 'references');
  if (isErr(refs)) return refs;
  if (refs) mail.references = refs;
  // Bcc stays in the stored copy (a draft or sent copy shows whom it went to).
  const values = (p.bodyValues ?? {}) as Record<string, { value?: unknown }>;
  if (typeof values !== 'object' || Array.isArray(values)) return { type: 'invalidProperties', properties: ['bodyValues'] };
  for (const [prop, type] of [
    ['textBody', 'text/plain'],
    ['htmlBody', 'text/html'],
  ] as const) {
    const list = p[prop];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list) || list.length !== 1) return { type: 'invalidProperties', properties: [prop], description: 'one part' };
    const part = list[0] as Record<string, unknown>;
    if (!part || typeof part.partId !== 'string' || (part.type !== undefined && part.type !== type)) return { type: 'invalidProperties', properties: [prop] };
    const v = values[part.partId];
    if (!v || typeof v.value !== 'string') return { type: 'invalidProperties', properties: ['bodyValues'], description: `no value for part ${part.partId}` };
    if (prop === 'textBody') mail.text = v.value;
    else mail.html = v.value;
  }
  if (p.attachments !== undefined && p.attachments !== null) {
    if (!Array.isArray(p.attachments)) return { type: 'invalidProperties', properties: ['attachments'] };
    mail.attachments = [];
    for (const a of p.attachments as Array<Record<string, unknown>>) {
      if (!a || typeof a.blobId !== 'string') return { type: 'invalidProperties', properties: ['attachments'] };
      const content = await input.readBlob(a.blobId);
      if (!content) return { type: 'blobNotFound', notFound: [a.blobId] };
      mail.attachments.push({
        content,
        filename: typeof a.name === 'string' ? a.name : undefined,
        contentType: typeof a.type === 'string' ? a.type : 'application/octet-stream',
        contentDisposition: a.disposition === 'inline' ? 'inline' : 'attachment',
        cid: typeof a.cid === 'string' ? a.cid : undefined,
      });
    }
  }
  if (mail.text === undefined && mail.html === undefined) mail.text = '';
  const node = new MailComposer(mail).compile();
  node.keepBcc = true;
  return new Promise<Buffer>((resolve, reject) => node.build((err, buf) => (err ? reject(err) : resolve(buf))));
}
