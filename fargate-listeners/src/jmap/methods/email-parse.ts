/**
 * Email/parse (RFC 8621 §4.9): blobs read as RFC 5322 messages and answered as Email objects,
 * nothing stored. A blob is an upload (`U…`, RFC 8620 §6.1), a stored message (`B…`) or a body
 * part of one (`P…`, e.g. an attached message/rfc822). The message is indexed as delivery
 * indexes it (core/mime/index-message.ts) and rendered by Email/get's code from its bytes, so
 * the properties, header forms and body properties are the same. Properties that only a stored
 * Email has (id, threadId, mailboxIds, keywords, receivedAt) are null (§4.9).
 *
 * Body parts get blob ids that download (RFC 8620 §6.2): for an upload or a message, the part
 * of that blob; for a part of a message, the same part seen from the outer message (IMAP
 * section numbering goes on inside an attached message: part 2's part 1 is `2.1`).
 * A blob without a header block is `notParsable`; one the account cannot read `notFound`.
 */
import type { MessageRecord } from '#core/ports/mail-index.ts';
import { parseHeaderFields } from '#core/mime/header.ts';
import { indexMessage } from '#core/mime/index-message.ts';
import type { MessageMeta } from '#core/mime/types.ts';
import type { EmailView } from '../account-view.ts';
import type { MethodContext } from '../api.ts';
import { readBlob, uploadKeyOf } from '../blob-routes.ts';
import { MethodError, invalidArguments } from '../errors.ts';
import { parseHeaderProperty } from '../email-headers.ts';
import { blobIdOfPart, parseBlobId } from '../ids.ts';
import type { JmapServices } from '../services.ts';
import { optionalStringArray, requireAccount } from './common.ts';

/** RFC 8621 §4.9: the default properties of Email/parse. */
const DEFAULT_PARSE_PROPERTIES = [
  'messageId',
  'inReplyTo',
  'references',
  'sender',
  'from',
  'to',
  'cc',
  'bcc',
  'replyTo',
  'subject',
  'sentAt',
  'hasAttachment',
  'preview',
  'bodyValues',
  'textBody',
  'htmlBody',
  'attachments',
];
/** Properties of stored Emails only: null in a parsed one. */
const STORED_ONLY = new Set(['id', 'threadId', 'mailboxIds', 'keywords', 'receivedAt']);

export type RenderEmail = (
  e: EmailView,
  r: MessageRecord,
  properties: string[],
  args: Record<string, unknown>,
  given?: Buffer,
) => Promise<Record<string, unknown>>;

/** Where a parsed blob's bytes are: the key its part blob ids name, and the part path in front of theirs. */
function partIdsOf(blobId: string, accountId: string): { key: string; prefix: string | null } | null {
  const upload = uploadKeyOf(blobId, accountId);
  if (upload) return { key: upload, prefix: null };
  const parsed = parseBlobId(blobId);
  if (!parsed) return null;
  return { key: parsed.blobKey, prefix: parsed.partId };
}

/** Rewrites the part blob ids made against `placeholder` to the parts of `key` under `prefix`. */
function rebase(value: unknown, placeholder: string, key: string, prefix: string): void {
  if (Array.isArray(value)) {
    for (const v of value) rebase(v, placeholder, key, prefix);
    return;
  }
  if (!value || typeof value !== 'object') return;
  const o = value as Record<string, unknown>;
  if (typeof o.blobId === 'string') {
    const p = parseBlobId(o.blobId);
    if (p && p.blobKey === placeholder && p.partId) o.blobId = blobIdOfPart(key, `${prefix}.${p.partId}`);
  }
  for (const v of Object.values(o)) if (v && typeof v === 'object') rebase(v, placeholder, key, prefix);
}

export async function parseEmails(
  svc: JmapServices,
  args: Record<string, unknown>,
  ctx: MethodContext,
  email: { render: RenderEmail; properties: readonly string[] },
): Promise<Record<string, unknown>> {
  const accountId = requireAccount(args, ctx);
  const blobIds = optionalStringArray(args, 'blobIds');
  if (!blobIds) throw invalidArguments('blobIds is required');
  if (blobIds.length > svc.limits.maxObjectsInGet) throw new MethodError('requestTooLarge', `At most ${svc.limits.maxObjectsInGet} blobIds in one Email/parse`);
  const asked = optionalStringArray(args, 'properties');
  for (const p of asked ?? []) {
    if (!email.properties.includes(p) && !(p.startsWith('header:') && parseHeaderProperty(p))) throw invalidArguments(`Unknown property ${p}`);
  }
  const properties = [...new Set(asked ?? DEFAULT_PARSE_PROPERTIES)];
  const rendered = properties.filter((p) => !STORED_ONLY.has(p) && p !== 'blobId' && p !== 'size');
  const parsed: Record<string, unknown> = {};
  const notParsable: string[] = [];
  const notFound: string[] = [];
  for (const blobId of new Set(blobIds)) {
    const where = partIdsOf(blobId, accountId);
    const bytes = where ? await readBlob(svc, svc.index, ctx.user, accountId, blobId) : null;
    if (!where || !bytes) {
      notFound.push(blobId);
      continue;
    }
    let meta: MessageMeta;
    try {
      if (parseHeaderFields(bytes).length === 0) throw new Error('no header fields');
      meta = indexMessage(bytes);
    } catch {
      notParsable.push(blobId);
      continue;
    }
    // Part blob ids are made against `key`; for a part of a message they are rebased below.
    const key = where.prefix === null ? where.key : `parse:${blobId}`;
    const view: EmailView = {
      id: '',
      threadId: '',
      blobKey: key,
      size: bytes.length,
      internalDate: 0,
      copies: [],
      record: undefined as unknown as MessageRecord,
    };
    const record: MessageRecord = { uid: 0, modseq: 0, flags: [], internalDate: 0, size: bytes.length, blobKey: key, meta };
    view.record = record;
    const out = await email.render(view, record, rendered, args, bytes);
    if (where.prefix !== null) rebase(out, key, where.key, where.prefix);
    const result: Record<string, unknown> = {};
    for (const p of properties) {
      if (STORED_ONLY.has(p)) result[p] = null;
      else if (p === 'blobId') result.blobId = blobId;
      else if (p === 'size') result.size = bytes.length;
      else result[p] = out[p];
    }
    parsed[blobId] = result;
  }
  return { accountId, parsed, notParsable, notFound };
}
