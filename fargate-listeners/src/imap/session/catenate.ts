/**
 * CATENATE (RFC 4469): a message made of TEXT literals and IMAP URLs (protocol/imap-url.ts) to
 * messages or parts of messages in the user's own mailboxes, put together before anything is
 * stored, so a failing part fails the APPEND with nothing written (and with MULTIAPPEND, every
 * message of it: RFC 4469 §3, RFC 3502).
 *
 * - URL parts are the octets of the named section copied unchanged (§3: no conversion, no
 *   check that they make a sensible message; the client supplies boundaries and headers), read
 *   from the blob store by range; their size is known from the index before any byte is read.
 *   Resolving one sets no \Seen (§3) and changes nothing about the selected mailbox.
 * - Only the session's own mailboxes are looked up (invariant 4): a URL that names another
 *   user's mailbox, an absolute URL or a URLAUTH one gets the same `NO [BADURL …]` as a URL to
 *   a message that does not exist, so nothing about other users can be learnt from it.
 *   BADURL carries the first URL that failed (§4.1).
 * - TEXT parts are the literal's octets, with CRLF line endings as any APPEND (a literal8 as
 *   received).
 * - Memory: the bytes of every message of one APPEND together stay within APPENDLIMIT (the
 *   `budget`); a part that would pass it is refused with `NO [TOOBIG]` (§4.2, RFC 7889) before
 *   it is read.
 */
import { selectHeaderFields } from '#core/mime/header.ts';
import { toCanonicalCrlf } from '#core/mime/crlf.ts';
import { BlobNotFoundError } from '#core/ports/blob-store.ts';
import type { MessageRecord } from '#core/ports/mail-index.ts';
import { ImapUrlError, parseImapUrl, urlForResponse, type ImapMessageUrl } from '#listeners/imap/protocol/imap-url.ts';
import type { CatPart } from '#listeners/imap/protocol/requests.ts';
import { planSection } from './body-sections.ts';
import { bad, no } from './errors.ts';
import { normalizeInbox } from './mailbox-names.ts';
import type { ImapSession } from './session.ts';

/** What the messages of one APPEND may still add up to (octets). */
export interface AppendBudget {
  left: number;
}

const badUrl = (url: string, why: string, which: string) => no(`CATENATE part could not be used: ${why}${which}`, `BADURL ${urlForResponse(url)}`);

function take(budget: AppendBudget, n: number, which: string): void {
  if (n > budget.left) throw no(`Message larger than APPENDLIMIT (the messages of one APPEND count together)${which}`, 'TOOBIG');
  budget.left -= n;
}

/** Bytes [start, end) of the message as the URL's partial narrows them. */
function narrow(start: number, end: number, partial: ImapMessageUrl['partial']): [number, number] {
  if (!partial) return [start, end];
  const from = Math.min(end, start + partial.start);
  return [from, partial.length === null ? end : Math.min(end, from + partial.length)];
}

async function resolveUrl(s: ImapSession, url: string, budget: AppendBudget, which: string): Promise<Buffer> {
  let parsed: ImapMessageUrl;
  try {
    parsed = parseImapUrl(url);
  } catch (err) {
    if (err instanceof ImapUrlError) throw badUrl(url, err.message, which);
    throw err;
  }
  const { index, blobs } = s.deps.adapters;
  const notFound = () => badUrl(url, 'no such message or part', which);
  const mailbox = await index.getMailbox(s.user!, normalizeInbox(parsed.mailbox));
  if (!mailbox || (parsed.uidValidity !== null && parsed.uidValidity !== mailbox.uidValidity)) throw notFound();
  const [rec]: MessageRecord[] = await index.getMessages(s.user!, mailbox.id, [parsed.uid], { withMeta: parsed.section ? 'structure' : false });
  if (!rec || (parsed.section && !rec.meta)) throw notFound();
  const read = async (start: number, end: number): Promise<Buffer> => {
    if (start >= end) return Buffer.alloc(0);
    try {
      return await blobs.getRange(rec.blobKey, start, end);
    } catch (err) {
      // Expunged (and its blob deleted) since the index read.
      if (err instanceof BlobNotFoundError) throw notFound();
      throw err;
    }
  };
  if (!parsed.section) {
    const [start, end] = narrow(0, rec.size, parsed.partial);
    take(budget, end - start, which);
    return read(start, end);
  }
  const plan = planSection(rec.meta!, rec.size, parsed.section);
  if (plan.kind === 'nil') throw notFound();
  if (plan.kind === 'fields') {
    const block = await read(plan.start, Math.min(plan.end, rec.size));
    const selected = selectHeaderFields(block, plan.fields, plan.not);
    const [start, end] = narrow(0, selected.length, parsed.partial);
    take(budget, end - start, which);
    return selected.subarray(start, end);
  }
  const [start, end] = narrow(plan.start, Math.min(plan.end, rec.size), parsed.partial);
  take(budget, end - start, which);
  return read(start, end);
}

/** The message the parts make, in order; `which` names the message in errors (MULTIAPPEND). */
export async function assembleCatenate(s: ImapSession, parts: CatPart[], budget: AppendBudget, which: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    if (part.kind === 'url') {
      chunks.push(await resolveUrl(s, part.url, budget, which));
      continue;
    }
    // RFC 6855 §4: the UTF8 form only once UTF8=ACCEPT (or IMAP4rev2) is enabled.
    if (part.utf8 && !s.utf8) throw bad(`CATENATE UTF8 needs ENABLE UTF8=ACCEPT${which}`);
    const bytes = part.binary ? part.bytes : toCanonicalCrlf(part.bytes);
    take(budget, bytes.length, which);
    chunks.push(bytes);
  }
  const message = Buffer.concat(chunks);
  if (message.length === 0) throw no(`Empty message${which}`);
  return message;
}
