/**
 * EmailSubmission/get, /changes, /query, /queryChanges, /set (RFC 8621 §7). Sending is SMTP
 * submission's path (smtp/submit-message.ts: the same sender and recipient checks, the same
 * ingest job): local recipients get the message at once, others through the outbound queue.
 *
 *  - The envelope, when not given, comes from the Email (§7.5): MAIL FROM the Sender: address,
 *    else the From: one; RCPT TO every To:, Cc: and Bcc: address, once each. SMTP parameters
 *    are not supported (submissionExtensions is empty), so an envelope address with
 *    parameters is invalidProperties. The Bcc: fields are removed from what is sent.
 *  - The identity must be one of the user's (Identity/get) and its address the MAIL FROM
 *    (forbiddenMailFrom otherwise); the From: must be the user's own (forbiddenFrom).
 *  - There is no delayed sending (maxDelayedSend 0): a submission is queued when it is
 *    created, so undoStatus is `final` from the start and can never be `canceled`
 *    (an update asking for it is `cannotUnsend`). deliveryStatus is null (§7: "if known";
 *    the outbound queue does not report back), dsnBlobIds and mdnBlobIds are empty (DSNs
 *    arrive in the INBOX as mail).
 *  - onSuccessUpdateEmail / onSuccessDestroyEmail: for each submission created (`#creationId`)
 *    or named by id that succeeded, an implicit Email/set on its Email follows, answered as a
 *    second response with the same call id (§7.5) — e.g. moving the sent copy from Drafts to
 *    Sent and clearing `$draft`.
 *
 * Stored as account objects of kind `EmailSubmission` (MailIndex.putAccountObject); the
 * state string is their counter, so /changes and /query are reads of those records only.
 */
import { randomUUID } from 'node:crypto';
import { headerAddresses } from '#core/mime/header-addresses.ts';
import { BlobNotFoundError } from '#core/ports/blob-store.ts';
import { IndexError } from '#core/ports/mail-index.ts';
import { SubmitRefusal, submitMessage } from '../../smtp/submit-message.ts';
import type { ListenerDeps } from '../../listener.ts';
import type { MethodContext, MethodDef } from '../api.ts';
import { withFollowUps } from '../api.ts';
import { SUBMISSION } from '../capabilities.ts';
import { MethodError, invalidArguments, type SetError } from '../errors.ts';
import { loadEmails } from '../account-view.ts';
import type { JmapServices } from '../services.ts';
import { emailMethods } from './email.ts';
import { loadIdentities } from './identity.ts';
import { getIds, optionalBool, optionalInt, optionalObject, optionalString, pick, requireAccount, resolveId, selectProperties } from './common.ts';

export const SUBMISSION_KIND = 'EmailSubmission';
/**
 * RFC 8621 §7: a server may delete EmailSubmission objects some time after the message was
 * sent. Ours go this long after their sendAt (destroyed by the next EmailSubmission/set, so
 * /changes reports it), which bounds what /get and /query read to a week of sending.
 */
export const SUBMISSION_RETENTION_DAYS = 7;
const PROPERTIES = ['id', 'identityId', 'emailId', 'threadId', 'envelope', 'sendAt', 'undoStatus', 'deliveryStatus', 'dsnBlobIds', 'mdnBlobIds'];

interface Address {
  email: string;
  parameters: null;
}

export interface Submission {
  id: string;
  identityId: string;
  emailId: string;
  threadId: string;
  envelope: { mailFrom: Address; rcptTo: Address[] };
  sendAt: string;
  undoStatus: 'final';
  deliveryStatus: null;
  dsnBlobIds: string[];
  mdnBlobIds: string[];
}

function utcDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A state string of ours: the counter as decimal digits. */
function parseState(s: string): number | null {
  return /^(0|[1-9][0-9]{0,15})$/.test(s) ? Number(s) : null;
}

/** An Envelope given by the client (§7: Address objects, parameters null), or a SetError. */
function parseEnvelope(v: unknown): Submission['envelope'] | SetError {
  const bad: SetError = { type: 'invalidProperties', properties: ['envelope'] };
  if (!v || typeof v !== 'object' || Array.isArray(v)) return bad;
  const e = v as Record<string, unknown>;
  const address = (a: unknown): Address | null => {
    if (!a || typeof a !== 'object' || Array.isArray(a)) return null;
    const o = a as Record<string, unknown>;
    if (typeof o.email !== 'string') return null;
    if (o.parameters !== undefined && o.parameters !== null && !(typeof o.parameters === 'object' && Object.keys(o.parameters).length === 0)) return null;
    return { email: o.email, parameters: null };
  };
  const mailFrom = address(e.mailFrom);
  if (!mailFrom || !Array.isArray(e.rcptTo)) return { ...bad, description: 'envelope needs mailFrom and rcptTo; SMTP parameters are not supported' };
  const rcptTo = e.rcptTo.map(address);
  if (rcptTo.some((r) => r === null)) return { ...bad, description: 'bad rcptTo address; SMTP parameters are not supported' };
  return { mailFrom, rcptTo: rcptTo as Address[] };
}

/** RFC 8621 §7.5: the envelope of an Email sent without one. */
function envelopeOf(raw: Buffer): Submission['envelope'] {
  const sender = headerAddresses(raw, 'sender').addresses[0] ?? headerAddresses(raw, 'from').addresses[0] ?? '';
  const rcpt = [...new Set(['to', 'cc', 'bcc'].flatMap((h) => headerAddresses(raw, h).addresses))];
  return { mailFrom: { email: sender, parameters: null }, rcptTo: rcpt.map((email) => ({ email, parameters: null })) };
}

function refusalError(err: SubmitRefusal, limits: { maxSize: number }): SetError {
  switch (err.type) {
    case 'invalidRecipients':
      return { type: 'invalidRecipients', invalidRecipients: err.addresses, description: err.message };
    case 'tooManyRecipients':
      return { type: 'tooManyRecipients', description: err.message };
    case 'tooLarge':
      return { type: 'tooLarge', maxSize: limits.maxSize, description: err.message };
    case 'temporary':
      return { type: 'serverFail', description: err.message };
    default:
      return { type: err.type, description: err.message };
  }
}

export function emailSubmissionMethods(svc: JmapServices, deps: Pick<ListenerDeps, 'adapters' | 'config' | 'logger'>): Record<string, MethodDef> {
  const emailSet = emailMethods(svc)['Email/set'];
  async function all(user: string): Promise<{ state: number; list: Submission[] }> {
    const r = await svc.index.listAccountObjects(user, SUBMISSION_KIND);
    return { state: r.state, list: r.objects.map((o) => ({ ...(JSON.parse(o.data!) as Omit<Submission, 'id'>), id: o.id })) };
  }

  async function get(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const properties = selectProperties(args, PROPERTIES);
    const ids = getIds(args, ctx, svc.limits.maxObjectsInGet);
    const { state, list } = await all(ctx.user);
    if (!ids && list.length > svc.limits.maxObjectsInGet) throw new MethodError('requestTooLarge', 'Too many submissions; ask for ids');
    const byId = new Map(list.map((s) => [s.id, s]));
    const wanted = ids ?? list.map((s) => s.id);
    return {
      accountId,
      state: String(state),
      list: wanted.filter((id) => byId.has(id)).map((id) => pick(byId.get(id) as unknown as Record<string, unknown>, properties)),
      notFound: wanted.filter((id) => !byId.has(id)),
    };
  }

  async function changes(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const sinceState = optionalString(args, 'sinceState');
    if (sinceState === null) throw invalidArguments('sinceState is required');
    const maxChanges = optionalInt(args, 'maxChanges', 0, 1);
    const since = parseState(sinceState);
    if (since === null) throw new MethodError('cannotCalculateChanges', 'Not a state of ours');
    const r = await svc.index.listAccountObjects(ctx.user, SUBMISSION_KIND, { since });
    if (since > r.state) throw new MethodError('cannotCalculateChanges', 'The state is from the future');
    const created: string[] = [];
    const updated: string[] = [];
    const destroyed: string[] = [];
    for (const o of r.objects) {
      const isNew = o.createdModseq > since;
      if (o.data === null) {
        if (!isNew) destroyed.push(o.id);
      } else (isNew ? created : updated).push(o.id);
    }
    if (maxChanges && created.length + updated.length + destroyed.length > maxChanges) {
      throw new MethodError('cannotCalculateChanges', 'More changes than maxChanges; query again');
    }
    return { accountId, oldState: sinceState, newState: String(r.state), hasMoreChanges: false, created, updated, destroyed };
  }

  const FILTERS = new Set(['identityIds', 'emailIds', 'threadIds', 'undoStatus', 'before', 'after']);
  const SORTS = new Set(['emailId', 'threadId', 'sentAt']);

  function matches(s: Submission, f: Record<string, unknown>): boolean {
    if ('operator' in f) {
      const conds = f.conditions as Array<Record<string, unknown>>;
      if (f.operator === 'AND') return conds.every((c) => matches(s, c));
      if (f.operator === 'OR') return conds.some((c) => matches(s, c));
      return !conds.some((c) => matches(s, c));
    }
    const sendAt = Date.parse(s.sendAt);
    if (Array.isArray(f.identityIds) && !f.identityIds.includes(s.identityId)) return false;
    if (Array.isArray(f.emailIds) && !f.emailIds.includes(s.emailId)) return false;
    if (Array.isArray(f.threadIds) && !f.threadIds.includes(s.threadId)) return false;
    if (typeof f.undoStatus === 'string' && f.undoStatus !== s.undoStatus) return false;
    if (typeof f.before === 'string' && !(sendAt < Date.parse(f.before))) return false;
    if (typeof f.after === 'string' && !(sendAt >= Date.parse(f.after))) return false;
    return true;
  }

  function checkFilter(f: unknown, depth = 0): void {
    if (depth > 10 || !f || typeof f !== 'object' || Array.isArray(f)) throw new MethodError('unsupportedFilter', 'A filter is an object');
    const o = f as Record<string, unknown>;
    if ('operator' in o) {
      if (!['AND', 'OR', 'NOT'].includes(o.operator as string) || !Array.isArray(o.conditions))
        throw new MethodError('unsupportedFilter', 'Bad FilterOperator');
      for (const c of o.conditions) checkFilter(c, depth + 1);
      return;
    }
    for (const [k, v] of Object.entries(o)) {
      if (!FILTERS.has(k)) throw new MethodError('unsupportedFilter', `Unsupported filter condition ${k}`);
      if (k.endsWith('Ids') ? !Array.isArray(v) || !v.every((x) => typeof x === 'string') : typeof v !== 'string') {
        throw new MethodError('unsupportedFilter', `Bad value for ${k}`);
      }
      if ((k === 'before' || k === 'after') && !Number.isFinite(Date.parse(v as string))) throw new MethodError('unsupportedFilter', `${k} takes a UTCDate`);
    }
  }

  async function query(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const filter = optionalObject(args, 'filter');
    if (filter) checkFilter(filter);
    const sort = args.sort ?? [];
    if (!Array.isArray(sort)) throw invalidArguments('sort must be an array');
    for (const c of sort as Array<Record<string, unknown>>) {
      if (!c || !SORTS.has(c.property as string)) throw new MethodError('unsupportedSort', 'EmailSubmissions sort by emailId, threadId or sentAt');
    }
    const position = optionalInt(args, 'position', 0, -Number.MAX_SAFE_INTEGER);
    const limit = args.limit === undefined || args.limit === null ? null : optionalInt(args, 'limit', 0);
    const calculateTotal = optionalBool(args, 'calculateTotal', false);
    if (args.anchor !== undefined && args.anchor !== null) throw new MethodError('anchorNotFound', 'Anchors are not supported here; use position');
    const { state, list } = await all(ctx.user);
    const found = filter ? list.filter((s) => matches(s, filter)) : list;
    const key = (s: Submission, p: string) => (p === 'sentAt' ? s.sendAt : p === 'emailId' ? s.emailId : s.threadId);
    found.sort((a, b) => {
      for (const c of sort as Array<Record<string, unknown>>) {
        const x = key(a, c.property as string);
        const y = key(b, c.property as string);
        if (x !== y) return (x < y ? -1 : 1) * (c.isAscending === false ? -1 : 1);
      }
      return a.sendAt < b.sendAt ? -1 : a.sendAt > b.sendAt ? 1 : a.id < b.id ? -1 : 1;
    });
    const start = position < 0 ? Math.max(0, found.length + position) : Math.min(position, found.length);
    const page = found.slice(start, limit === null ? undefined : start + limit);
    const out: Record<string, unknown> = { accountId, queryState: String(state), canCalculateChanges: false, position: start, ids: page.map((s) => s.id) };
    if (calculateTotal) out.total = found.length;
    if (limit !== null) out.limit = limit;
    return out;
  }

  async function set(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const user = ctx.user;
    const before = await svc.index.listAccountObjects(user, SUBMISSION_KIND);
    const ifInState = optionalString(args, 'ifInState');
    if (ifInState !== null && ifInState !== String(before.state)) throw new MethodError('stateMismatch', 'ifInState does not match the current state');
    const create = optionalObject(args, 'create') ?? {};
    const update = optionalObject(args, 'update') ?? {};
    const destroy = args.destroy ?? [];
    if (!Array.isArray(destroy) || !destroy.every((d) => typeof d === 'string')) throw invalidArguments('destroy must be an array of ids');
    const onSuccessUpdate = optionalObject(args, 'onSuccessUpdateEmail');
    const onSuccessDestroy = args.onSuccessDestroyEmail ?? null;
    if (onSuccessDestroy !== null && (!Array.isArray(onSuccessDestroy) || !onSuccessDestroy.every((d) => typeof d === 'string'))) {
      throw invalidArguments('onSuccessDestroyEmail must be an array of ids');
    }
    if (Object.keys(create).length + Object.keys(update).length + destroy.length > svc.limits.maxObjectsInSet) {
      throw new MethodError('requestTooLarge', `At most ${svc.limits.maxObjectsInSet} objects in one /set`);
    }
    const created: Record<string, unknown> = {};
    const notCreated: Record<string, SetError> = {};
    const updated: Record<string, unknown> = {};
    const notUpdated: Record<string, SetError> = {};
    const destroyed: string[] = [];
    const notDestroyed: Record<string, SetError> = {};
    /** Submission id (and `#creationId`) → its Email id, for the submissions that succeeded here. */
    const succeeded = new Map<string, string>();
    const existing = new Map(before.objects.map((o) => [o.id, JSON.parse(o.data!) as Omit<Submission, 'id'>]));

    if (Object.keys(create).length > 0) {
      const identities = new Map((await loadIdentities(svc, user)).identities.map((i) => [i.id, i]));
      const view = await loadEmails(svc.index, user);
      for (const [cid, raw] of Object.entries(create)) {
        if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
          notCreated[cid] = { type: 'invalidProperties', description: 'not an EmailSubmission object' };
          continue;
        }
        const props = raw as Record<string, unknown>;
        const unknown = Object.keys(props).find((k) => !['identityId', 'emailId', 'envelope', 'undoStatus'].includes(k));
        if (unknown) {
          notCreated[cid] = { type: 'invalidProperties', properties: [unknown], description: `${unknown} is set by the server` };
          continue;
        }
        if (props.undoStatus !== undefined && props.undoStatus !== 'final') {
          notCreated[cid] = { type: 'invalidProperties', properties: ['undoStatus'], description: 'Submissions are final at once (no delayed sending)' };
          continue;
        }
        const identity = typeof props.identityId === 'string' ? identities.get(resolveId(props.identityId, ctx)) : undefined;
        if (!identity) {
          notCreated[cid] = { type: 'invalidProperties', properties: ['identityId'], description: 'No such identity' };
          continue;
        }
        const email = typeof props.emailId === 'string' ? view.emails.get(resolveId(props.emailId, ctx)) : undefined;
        if (!email) {
          notCreated[cid] = { type: 'invalidProperties', properties: ['emailId'], description: 'No such email' };
          continue;
        }
        let bytes: Buffer;
        try {
          bytes = await svc.blobs.get(email.blobKey);
        } catch (err) {
          if (!(err instanceof BlobNotFoundError)) throw err;
          notCreated[cid] = { type: 'invalidProperties', properties: ['emailId'], description: 'The email is gone' };
          continue;
        }
        let envelope: Submission['envelope'];
        if (props.envelope === undefined || props.envelope === null) envelope = envelopeOf(bytes);
        else {
          const parsed = parseEnvelope(props.envelope);
          if ('type' in parsed) {
            notCreated[cid] = parsed;
            continue;
          }
          envelope = parsed;
        }
        // RFC 8621 §7.5 forbiddenMailFrom: the identity says whom the user sends as.
        if (envelope.mailFrom.email.toLowerCase() !== identity.email) {
          notCreated[cid] = { type: 'forbiddenMailFrom', description: `The envelope sender must be the identity's address ${identity.email}` };
          continue;
        }
        let queued: { queueId: string };
        try {
          queued = await submitMessage(deps, {
            user,
            raw: bytes,
            mailFrom: envelope.mailFrom.email,
            rcptTo: envelope.rcptTo.map((r) => r.email),
            clientAddress: ctx.clientAddress ?? 'unknown',
            // The Received: `with`: no IANA mail transmission type names JMAP; an atom that says what it was.
            protocol: 'JMAP',
            removeBcc: true,
          });
        } catch (err) {
          if (!(err instanceof SubmitRefusal)) throw err;
          notCreated[cid] = refusalError(err, { maxSize: deps.config.maxMessageSize });
          continue;
        }
        const submission: Submission = {
          id: 'S' + randomUUID().replace(/-/g, ''),
          identityId: identity.id,
          emailId: email.id,
          threadId: email.threadId,
          envelope,
          sendAt: utcDate(Date.now()),
          undoStatus: 'final',
          deliveryStatus: null,
          dsnBlobIds: [],
          mdnBlobIds: [],
        };
        const { id, ...data } = submission;
        try {
          await svc.index.putAccountObject(user, SUBMISSION_KIND, id, JSON.stringify(data));
        } catch (err) {
          // The message is queued: saying it failed would make the client send it again. It is
          // reported created; only the record is missing from later /get and /query.
          ctx.log.error('JMAP submission sent but not recorded', { submission: id, queueId: queued.queueId, err: err as Error });
        }
        ctx.log.info('JMAP submission', { submission: id, queueId: queued.queueId, email: email.id });
        ctx.createdIds.set(cid, id);
        succeeded.set('#' + cid, email.id);
        succeeded.set(id, email.id);
        created[cid] = {
          id,
          threadId: submission.threadId,
          sendAt: submission.sendAt,
          undoStatus: 'final',
          deliveryStatus: null,
          dsnBlobIds: [],
          mdnBlobIds: [],
        };
        if (props.envelope === undefined || props.envelope === null) (created[cid] as Record<string, unknown>).envelope = envelope;
      }
    }

    for (const [rawId, patch] of Object.entries(update)) {
      const id = resolveId(rawId, ctx);
      const current = existing.get(id);
      if (!current) {
        notUpdated[rawId] = { type: 'notFound' };
        continue;
      }
      if (!patch || typeof patch !== 'object' || Array.isArray(patch)) {
        notUpdated[rawId] = { type: 'invalidPatch' };
        continue;
      }
      const p = patch as Record<string, unknown>;
      const other = Object.keys(p).find((k) => k !== 'undoStatus');
      if (other) {
        notUpdated[rawId] = { type: 'invalidProperties', properties: [other], description: 'Only undoStatus can change' };
        continue;
      }
      if (p.undoStatus === 'canceled') {
        notUpdated[rawId] = { type: 'cannotUnsend', description: 'The message has been sent (no delayed sending here)' };
        continue;
      }
      if (p.undoStatus !== undefined && p.undoStatus !== current.undoStatus) {
        notUpdated[rawId] = { type: 'invalidProperties', properties: ['undoStatus'] };
        continue;
      }
      updated[id] = null;
      succeeded.set(id, current.emailId);
    }

    for (const rawId of destroy as string[]) {
      const id = resolveId(rawId, ctx);
      const current = existing.get(id);
      try {
        if (!current) throw new IndexError('NOT_FOUND', id);
        await svc.index.putAccountObject(user, SUBMISSION_KIND, id, null);
      } catch (err) {
        if (!(err instanceof IndexError && err.code === 'NOT_FOUND')) throw err;
        notDestroyed[rawId] = { type: 'notFound' };
        continue;
      }
      destroyed.push(id);
      succeeded.set(id, current!.emailId);
    }

    // Submissions past their retention go now (not reported in this call's `destroyed`: the client did not ask).
    const cutoff = Date.now() - SUBMISSION_RETENTION_DAYS * 24 * 3600 * 1000;
    for (const [id, sub] of existing) {
      if (Date.parse(sub.sendAt) >= cutoff || destroyed.includes(id)) continue;
      try {
        await svc.index.putAccountObject(user, SUBMISSION_KIND, id, null);
      } catch (err) {
        if (!(err instanceof IndexError && err.code === 'NOT_FOUND')) throw err;
      }
    }

    const after = await svc.index.listAccountObjects(user, SUBMISSION_KIND);
    const result: Record<string, unknown> = {
      accountId,
      oldState: String(before.state),
      newState: String(after.state),
      created,
      updated,
      destroyed,
      notCreated,
      notUpdated,
      notDestroyed,
    };
    return { result, onSuccessUpdate, onSuccessDestroy: onSuccessDestroy as string[] | null, succeeded };
  }

  async function setWithFollowUps(args: Record<string, unknown>, ctx: MethodContext) {
    const { result, onSuccessUpdate, onSuccessDestroy, succeeded } = await svc.locks.run(`${ctx.user}\u0000submission`, () => set(args, ctx));
    // RFC 8621 §7.5: the implicit Email/set, only for the submissions that succeeded.
    const emailUpdate: Record<string, unknown> = {};
    for (const [key, patch] of Object.entries(onSuccessUpdate ?? {})) {
      const emailId = succeeded.get(key);
      if (emailId) emailUpdate[emailId] = patch;
    }
    const emailDestroy = (onSuccessDestroy ?? []).map((key) => succeeded.get(key)).filter((id): id is string => id !== undefined);
    if (Object.keys(emailUpdate).length === 0 && emailDestroy.length === 0) return result;
    // The messages are sent whatever happens now: a failing Email/set is its own error response,
    // never the EmailSubmission/set's (the client would send again).
    try {
      const emailResult = await emailSet.handle({ accountId: ctx.accountId, update: emailUpdate, destroy: emailDestroy }, ctx);
      return withFollowUps(result, [['Email/set', emailResult]]);
    } catch (err) {
      if (err instanceof MethodError) return withFollowUps(result, [['error', err.response()]]);
      ctx.log.error('implicit Email/set after EmailSubmission/set failed', { err: err as Error });
      return withFollowUps(result, [['error', { type: 'serverFail', description: 'The implicit Email/set failed' }]]);
    }
  }

  return {
    'EmailSubmission/get': { capability: SUBMISSION, handle: get },
    'EmailSubmission/changes': { capability: SUBMISSION, handle: changes },
    'EmailSubmission/query': { capability: SUBMISSION, handle: query },
    'EmailSubmission/queryChanges': {
      capability: SUBMISSION,
      handle: async (args, ctx) => {
        requireAccount(args, ctx);
        throw new MethodError('cannotCalculateChanges', 'Run EmailSubmission/query again');
      },
    },
    'EmailSubmission/set': { capability: SUBMISSION, handle: setWithFollowUps },
  };
}
