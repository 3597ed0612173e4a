/**
 * Blob download and upload (RFC 8620 §6). Download: `GET /jmap/download/{accountId}/{blobId}/{name}?accept={type}`
 * serves a whole message (blob ids `B…`) or one body part decoded from its transfer encoding
 * (`P…`), after checking that the account holds a message with that blob. Upload:
 * `POST /jmap/upload/{accountId}/` stores the body (at most maxSizeUpload octets) as a blob
 * and answers {accountId, blobId, type, size}; Email/import turns it into a message.
 *
 * Uploaded blobs live in the blob store under `jmap-uploads/{accountId}/` and are only
 * readable by their account. Nothing references them in the index: Email/import stores the
 * message as a new message blob, and the upload stays (a client may import it again). On AWS a
 * bucket lifecycle rule removes uploads after a day (core/resources.ts); the local file store
 * keeps them. They count against no quota (docs/jmap.md, "Limits").
 */
import { randomUUID } from 'node:crypto';
import { MESSAGE_BUCKET } from '#core/resources.ts';
import { indexMessage } from '#core/mime/index-message.ts';
import type { MailIndex } from '#core/ports/mail-index.ts';
import { decodeTransfer, findPart } from '../imap/session/body-sections.ts';
import { loadEmails } from './account-view.ts';
import { parseBlobId } from './ids.ts';
import type { JmapServices } from './services.ts';

export const UPLOAD_PREFIX = MESSAGE_BUCKET.uploadPrefix;

export function uploadBlobId(key: string): string {
  return 'U' + Buffer.from(key, 'utf8').toString('base64url');
}

/** The blob store key of an uploaded blob of `accountId`, or null. */
export function uploadKeyOf(blobId: string, accountId: string): string | null {
  if (!/^U[A-Za-z0-9_-]{1,254}$/.test(blobId)) return null;
  const key = Buffer.from(blobId.slice(1), 'base64url').toString('utf8');
  return key.startsWith(`${UPLOAD_PREFIX}${accountId}/`) && !key.includes('..') ? key : null;
}

export function newUploadKey(accountId: string): string {
  return `${UPLOAD_PREFIX}${accountId}/${randomUUID()}`;
}

/** The bytes a blob id names for this user, or null when the user has no such blob. */
export async function readBlob(svc: JmapServices, index: MailIndex, user: string, accountId: string, blobId: string): Promise<Buffer | null> {
  const upload = uploadKeyOf(blobId, accountId);
  if (upload) {
    try {
      return await svc.blobs.get(upload);
    } catch {
      return null;
    }
  }
  const parsed = parseBlobId(blobId);
  if (!parsed) return null;
  if (parsed.blobKey.startsWith(`${UPLOAD_PREFIX}${accountId}/`) && !parsed.blobKey.includes('..')) {
    // A body part of an uploaded message (the part blob ids Email/parse gives).
    let raw: Buffer;
    try {
      raw = await svc.blobs.get(parsed.blobKey);
    } catch {
      return null;
    }
    if (parsed.partId === null) return raw;
    const part = findPart(indexMessage(raw).mime, parsed.partId.split('.').map(Number));
    if (!part) return null;
    const body = raw.subarray(part.bodyStart, part.bodyEnd);
    return decodeTransfer(body, part.encoding) ?? body;
  }
  const view = await loadEmails(index, user);
  const email = [...view.emails.values()].find((e) => e.blobKey === parsed.blobKey);
  if (!email) return null;
  const raw = await svc.blobs.get(email.blobKey);
  if (parsed.partId === null) return raw;
  const [record] = await index.getMessages(user, email.copies[0].mailboxId, [email.copies[0].uid]);
  if (!record?.meta) return null;
  const part = findPart(record.meta.mime, parsed.partId.split('.').map(Number));
  if (!part) return null;
  const body = raw.subarray(part.bodyStart, part.bodyEnd);
  return decodeTransfer(body, part.encoding) ?? body;
}
