/**
 * The words of a message as the junk classifier sees them (classifier.ts), after SpamBayes'
 * tokenizer and mox's junk filter: a set of distinct tokens, so a word repeated a hundred
 * times weighs as much as once.
 *
 *  - header tokens: the Subject's words (`subject:word`, encoded words decoded, RFC 2047),
 *    the domains of From, Reply-To, To and Cc and of the Message-ID (`from:example.com`,
 *    `from:example` for its registrable-looking parts), the names of fields present
 *    (`hdr:x-mailer`) and the words of a few telling fields (X-Mailer, User-Agent,
 *    Content-Type, Precedence, List-Id), and each part's media type (`ct:text/html`);
 *  - text tokens: the words of every text/plain and text/html part, transfer encoding and
 *    charset decoded (RFC 2045 §6), HTML tags removed (their names kept as `tag:font`), the
 *    host names and path words of URLs (`url:example.com`, `url:unsubscribe`), words written
 *    in capitals once more as such (`caps:FREE`), and for a word too long to be one a note of
 *    its first letter and length (`skip:x 40`), as SpamBayes does.
 *
 * Fields added by this system (Authentication-Results, Received, X-Spam-*) and the envelope
 * are not tokens: the verdicts already weigh on their own (core/junk/delivery-verdict.ts), and
 * a trained model must not learn our own headers.
 */
import libmime from 'libmime';
import { indexMessage, walkParts } from '../mime/index-message.ts';
import { fieldValue, parseHeaderFields, type HeaderField } from '../mime/header.ts';
import type { MessageMeta, MimePart } from '../mime/types.ts';

/** Text octets of one part looked at, at most (a 20 MiB attachment named text/plain is not all read). */
const PART_TEXT_LIMIT = 64 * 1024;
/** Text octets of a whole message looked at, at most. */
const MESSAGE_TEXT_LIMIT = 256 * 1024;
const MIN_WORD = 3;
const MAX_WORD = 20;
/** Fields whose words are tokens too (their names always are). */
const WORD_FIELDS = [
  'x-mailer',
  'user-agent',
  'content-type',
  'content-transfer-encoding',
  'precedence',
  'list-id',
  'x-priority',
  'importance',
  'organization',
  'x-msmail-priority',
];
const ADDRESS_FIELDS = ['from', 'reply-to', 'to', 'cc'];
/** Our own fields and trace fields: never tokens. */
const IGNORED_FIELDS = new Set(['authentication-results', 'arc-authentication-results', 'return-path', 'delivered-to']);

export function tokenize(raw: Buffer, meta: MessageMeta = indexMessage(raw)): Set<string> {
  const tokens = new Set<string>();
  headerTokens(raw, meta.mime, tokens);
  let budget = MESSAGE_TEXT_LIMIT;
  walkParts(meta.mime, (part) => {
    if (part !== meta.mime) tokens.add(`ct:${part.type}/${part.subtype}`);
    if (part.type !== 'text' || (part.subtype !== 'plain' && part.subtype !== 'html') || budget <= 0) return;
    if (part.disposition?.type === 'attachment') return;
    const text = decodedText(raw, part, Math.min(PART_TEXT_LIMIT, budget));
    budget -= text.length;
    textTokens(part.subtype === 'html' ? htmlToText(text, tokens) : text, tokens);
  });
  return tokens;
}

function headerTokens(raw: Buffer, root: MimePart, tokens: Set<string>): void {
  const fields = parseHeaderFields(raw, root.headerStart, root.bodyStart);
  const seenNames = new Set<string>();
  for (const f of fields) {
    // X-Spam-*: verdicts of other filters on the way (SpamAssassin's in the public corpus) and ours.
    if (IGNORED_FIELDS.has(f.key) || f.key.startsWith('x-spam-')) continue;
    if (!seenNames.has(f.key)) {
      seenNames.add(f.key);
      tokens.add(`hdr:${f.key}`);
    }
    if (f.key === 'subject') {
      for (const w of words(decoded(raw, f))) tokens.add(`subject:${w}`);
    } else if (ADDRESS_FIELDS.includes(f.key)) {
      const value = decoded(raw, f);
      for (const d of domainsIn(value)) addDomain(f.key, d, tokens);
      if (f.key === 'from') for (const w of words(value.replace(/<[^>]*>|\S+@\S+/g, ' '))) tokens.add(`from:${w}`);
    } else if (f.key === 'received') {
      receivedTokens(fieldValue(raw, f), tokens);
    } else if (f.key === 'message-id') {
      const m = /@([^>\s]+)>?/.exec(fieldValue(raw, f));
      if (m) addDomain('msgid', m[1].toLowerCase(), tokens);
    } else if (WORD_FIELDS.includes(f.key)) {
      for (const w of words(decoded(raw, f))) tokens.add(`${f.key}:${w}`);
    }
  }
  tokens.add(`ct:${root.type}/${root.subtype}`);
  const charset = root.params.find(([k]) => k === 'charset')?.[1];
  if (charset) tokens.add(`charset:${charset.toLowerCase()}`);
}

/** The hosts and networks of a trace field (SpamBayes' mine_received_headers): `received:example.com`, `received:192.0.2`. */
function receivedTokens(value: string, tokens: Set<string>): void {
  for (const m of value.matchAll(/\b(?:[a-z0-9-]+\.)+[a-z]{2,}\b/gi)) addDomain('received', m[0].toLowerCase(), tokens);
  for (const m of value.matchAll(/\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}\b/g)) {
    tokens.add(`received:${m[1]}.${m[2]}`);
    tokens.add(`received:${m[1]}.${m[2]}.${m[3]}`);
  }
}

function decoded(raw: Buffer, f: HeaderField): string {
  const v = fieldValue(raw, f);
  try {
    return libmime.decodeWords(v);
  } catch {
    return v;
  }
}

function domainsIn(value: string): string[] {
  const out: string[] = [];
  for (const m of value.matchAll(/@([a-z0-9.-]+\.[a-z]{2,})/gi)) out.push(m[1].toLowerCase());
  return out;
}

/** The domain and its last two labels (`from:mail.example.com`, `from:example.com`). */
function addDomain(prefix: string, domain: string, tokens: Set<string>): void {
  tokens.add(`${prefix}:${domain}`);
  const labels = domain.split('.');
  if (labels.length > 2) tokens.add(`${prefix}:${labels.slice(-2).join('.')}`);
}

/** The text of a part: transfer encoding undone, then the charset (latin1 when unknown). */
function decodedText(raw: Buffer, part: MimePart, limit: number): string {
  // Base64 grows by 4/3: read a little more than the limit of decoded octets.
  const end = Math.min(part.bodyEnd, part.bodyStart + Math.ceil(limit * 1.4));
  const body = raw.subarray(part.bodyStart, end);
  let bytes: Buffer;
  if (part.encoding === 'BASE64') bytes = Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
  else if (part.encoding === 'QUOTED-PRINTABLE') bytes = decodeQuotedPrintable(body);
  else bytes = body;
  bytes = bytes.subarray(0, limit);
  const charset = (part.params.find(([k]) => k === 'charset')?.[1] ?? 'us-ascii').toLowerCase();
  try {
    return new TextDecoder(charset === 'us-ascii' ? 'utf-8' : charset).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** RFC 2045 §6.7: `=XX` octets and soft line breaks. */
export function decodeQuotedPrintable(body: Buffer): Buffer {
  const out = Buffer.alloc(body.length);
  let o = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== 0x3d) {
      out[o++] = c;
      continue;
    }
    if (body[i + 1] === 0x0d && body[i + 2] === 0x0a) {
      i += 2;
      continue;
    }
    if (body[i + 1] === 0x0a) {
      i += 1;
      continue;
    }
    const hex = body.toString('latin1', i + 1, i + 3);
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out[o++] = parseInt(hex, 16);
      i += 2;
    } else out[o++] = c;
  }
  return out.subarray(0, o);
}

/** Tags out (their names kept as tokens), the commonest entities decoded. */
function htmlToText(html: string, tokens: Set<string>): string {
  const text = html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(style|script)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<\/?([a-z][a-z0-9]*)\b[^>]*>/gi, (tag, name: string) => {
      tokens.add(`tag:${name.toLowerCase()}`);
      const href = /\bhref\s*=\s*["']?([^"'\s>]+)/i.exec(tag);
      return href ? ` ${href[1]} ` : ' ';
    });
  return text
    .replace(/&nbsp;/gi, ' ')
    .replace(/&amp;/gi, '&')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Math.min(Number(n), 0x10ffff)));
}

function textTokens(text: string, tokens: Set<string>): void {
  for (const m of text.matchAll(/\b(?:https?:\/\/|www\.)([a-z0-9.-]+)([^\s"'<>]*)/gi)) {
    const host = m[1].toLowerCase().replace(/\.$/, '');
    addDomain('url', host, tokens);
    for (const p of m[2].toLowerCase().split(/[^a-z0-9]+/)) if (p.length >= 3 && p.length <= 20) tokens.add(`url:${p}`);
  }
  for (const raw of text.split(/\s+/)) {
    if (raw.length > MAX_WORD && !raw.includes('://')) {
      tokens.add(`skip:${raw[0].toLowerCase()} ${Math.floor(raw.length / 10) * 10}`);
      continue;
    }
    for (const w of words(raw)) tokens.add(w);
    if (/^[A-Z]{3,20}[!.,]*$/.test(raw)) tokens.add(`caps:${raw.replace(/[!.,]+$/, '')}`);
  }
}

/** Lower-case words of letters, digits and a few inner marks ($, ', -), MIN_WORD..MAX_WORD long. */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const m of text.toLowerCase().matchAll(/[\p{L}\p{N}$][\p{L}\p{N}$'-]*/gu)) {
    const w = m[0].replace(/['-]+$/, '');
    if (w.length >= MIN_WORD && w.length <= MAX_WORD) out.push(w);
  }
  return out;
}
