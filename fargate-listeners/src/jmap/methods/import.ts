/**
 * Email/import (RFC 8621 §4.8): a blob (usually uploaded, RFC 8620 §6.1) becomes a message in
 * the given mailboxes with the given keywords and receivedAt, through MailboxWrites.append
 * (as IMAP APPEND) and MailboxWrites.copy for further mailboxes, so IDLE and EventSource
 * sessions hear of it. The message must parse as RFC 5322 (a header block with at least one
 * field), else `invalidEmail`.
 */
import { accountIdOf, blobIdOf, emailIdOf, threadIdOf } from '../ids.ts';
import type { MethodContext, MethodDef } from '../api.ts';
import { MAIL } from '../capabilities.ts';
import { MethodError, invalidArguments, type SetError } from '../errors.ts';
import { flagsOfKeywords, isValidKeyword } from '../account-view.ts';
import { readBlob } from '../blob-routes.ts';
import { parseHeaderFields } from '#core/mime/header.ts';
import type { JmapServices } from '../services.ts';
import { emailState } from './email.ts';
import { optionalObject, optionalString, requireAccount, resolveId } from './common.ts';

export function importMethods(svc: JmapServices): Record<string, MethodDef> {
  async function importEmails(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const user = ctx.user;
    const mailboxes = await svc.index.listMailboxes(user);
    const oldState = emailState(mailboxes);
    const expected = optionalString(args, 'ifInState');
    if (expected !== null && expected !== oldState) throw new MethodError('stateMismatch', 'ifInState does not match the current state');
    const emails = optionalObject(args, 'emails');
    if (!emails) throw invalidArguments('emails is required');
    if (Object.keys(emails).length > svc.limits.maxObjectsInSet)
      throw new MethodError('requestTooLarge', `At most ${svc.limits.maxObjectsInSet} emails in one Email/import`);
    const created: Record<string, unknown> = {};
    const notCreated: Record<string, SetError> = {};
    for (const [cid, raw] of Object.entries(emails)) {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
        notCreated[cid] = { type: 'invalidProperties', description: 'not an EmailImport object' };
        continue;
      }
      const e = raw as Record<string, unknown>;
      if (typeof e.blobId !== 'string') {
        notCreated[cid] = { type: 'invalidProperties', properties: ['blobId'] };
        continue;
      }
      const ids =
        e.mailboxIds && typeof e.mailboxIds === 'object' && !Array.isArray(e.mailboxIds) ? Object.keys(e.mailboxIds).map((id) => resolveId(id, ctx)) : [];
      const targets = ids.map((id) => mailboxes.find((m) => m.id === id));
      if (ids.length === 0 || targets.some((t) => !t) || Object.values(e.mailboxIds as object).some((v) => v !== true)) {
        notCreated[cid] = { type: 'invalidProperties', properties: ['mailboxIds'] };
        continue;
      }
      const keywords = e.keywords === undefined || e.keywords === null ? {} : e.keywords;
      if (typeof keywords !== 'object' || Array.isArray(keywords) || !Object.entries(keywords).every(([k, v]) => v === true && isValidKeyword(k))) {
        notCreated[cid] = { type: 'invalidProperties', properties: ['keywords'] };
        continue;
      }
      let internalDate = Date.now();
      if (e.receivedAt !== undefined && e.receivedAt !== null) {
        internalDate = typeof e.receivedAt === 'string' ? Date.parse(e.receivedAt) : NaN;
        if (!Number.isFinite(internalDate)) {
          notCreated[cid] = { type: 'invalidProperties', properties: ['receivedAt'] };
          continue;
        }
      }
      const bytes = await readBlob(svc, svc.index, user, accountIdOf(user), e.blobId);
      if (!bytes) {
        notCreated[cid] = { type: 'blobNotFound', notFound: [e.blobId] };
        continue;
      }
      if (bytes.length > svc.limits.maxSizeUpload) {
        notCreated[cid] = { type: 'tooLarge', maxSize: svc.limits.maxSizeUpload };
        continue;
      }
      if (parseHeaderFields(bytes).length === 0) {
        notCreated[cid] = { type: 'invalidEmail', description: 'The blob is not an RFC 5322 message (no header fields)' };
        continue;
      }
      const flags = flagsOfKeywords(
        Object.keys(keywords).map((k) => k.toLowerCase()),
        [],
      );
      const first = targets[0]!;
      const appended = await svc.writes.append(user, first.name, bytes, { flags, internalDate });
      for (const t of targets.slice(1)) await svc.writes.copy(user, first.id, [appended.uid], t!.id);
      const [record] = await svc.index.getMessages(user, first.id, [appended.uid]);
      const id = emailIdOf(record.blobKey);
      ctx.createdIds.set(cid, id);
      created[cid] = { id, blobId: blobIdOf(record.blobKey), threadId: threadIdOf(record, id), size: bytes.length };
    }
    return { accountId, oldState, newState: emailState(await svc.index.listMailboxes(user)), created, notCreated };
  }
  return { 'Email/import': { capability: MAIL, handle: (args, ctx) => svc.locks.run(ctx.user, () => importEmails(args, ctx)) } };
}
