/**
 * Email/get, /query, /changes, /set, Thread/get, /changes and SearchSnippet/get (RFC 8621
 * §3, §4, §5) on the index's messages. An Email is the set of copies of one stored message
 * (same blob key) across the user's mailboxes (ids.ts, account-view.ts); keyword changes set
 * the IMAP flags of every copy through MailboxWrites.updateFlags, and mailboxIds changes are
 * IMAP COPY and EXPUNGE through MailboxWrites, so IDLE sessions hear them at once.
 *
 * Email/changes reads each mailbox's change log (MailIndex.changesSince) from the modseq the
 * client's state recorded, with the blob key of each expunged UID (withBlobKeys), so it names
 * the Email that lost a copy: destroyed when no copy is left, updated (mailboxIds) otherwise.
 * It answers cannotCalculateChanges (the client resynchronises, RFC 8620 §5.2) when the log
 * does not reach back (trimmed), for tombstones written before the log kept blob keys, and
 * when a mailbox was destroyed since (its messages leave no tombstones).
 *
 * The account's messages come from the process's AccountCache (account-cache.ts), brought
 * forward from the change log, so /get, /query and /changes do not list the account each time.
 */
import type { Mailbox, MessageRecord } from '#core/ports/mail-index.ts';
import type { MethodContext, MethodDef } from '../api.ts';
import { MAIL } from '../capabilities.ts';
import { MethodError, invalidArguments, type SetError } from '../errors.ts';
import { emailKeywords, flagsOfKeywords, isValidKeyword, loadEmails, threadsOf, type EmailView } from '../account-view.ts';
import {
  BODY_PROPERTIES,
  DEFAULT_BODY_PROPERTIES,
  bodyLists,
  decodePartText,
  htmlToText,
  jmapTree,
  partObject,
  previewOf,
  truncateUtf8,
  type JmapPart,
} from '../email-body.ts';
import { headerFields, headerProperty, parseHeaderProperty, type HeaderProperty } from '../email-headers.ts';
import { blobIdOf, emailIdOf, threadIdOf, threadIdOfEmail } from '../ids.ts';
import { readBlob } from '../blob-routes.ts';
import { previewByRange } from '../email-preview.ts';
import { parseEmails } from './email-parse.ts';
import { composeEmail } from '../email-create.ts';
import type { JmapServices } from '../services.ts';
import { decodeState, encodeState } from '../state.ts';
import { getIds, optionalBool, optionalInt, optionalObject, optionalString, optionalStringArray, requireAccount, resolveId } from './common.ts';

const PROPERTIES = [
  'id',
  'blobId',
  'threadId',
  'mailboxIds',
  'keywords',
  'size',
  'receivedAt',
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
  'headers',
  'bodyStructure',
];
const DEFAULT_PROPERTIES = PROPERTIES.filter((p) => p !== 'headers' && p !== 'bodyStructure');

/** Convenience properties and the header form they are (RFC 8621 §4.1.3). */
const CONVENIENCE: Record<string, HeaderProperty> = {
  messageId: { name: 'Message-ID', form: 'MessageIds', all: false },
  inReplyTo: { name: 'In-Reply-To', form: 'MessageIds', all: false },
  references: { name: 'References', form: 'MessageIds', all: false },
  sender: { name: 'Sender', form: 'Addresses', all: false },
  from: { name: 'From', form: 'Addresses', all: false },
  to: { name: 'To', form: 'Addresses', all: false },
  cc: { name: 'Cc', form: 'Addresses', all: false },
  bcc: { name: 'Bcc', form: 'Addresses', all: false },
  replyTo: { name: 'Reply-To', form: 'Addresses', all: false },
  subject: { name: 'Subject', form: 'Text', all: false },
  sentAt: { name: 'Date', form: 'Date', all: false },
};
const NEEDS_RAW = new Set(['bodyValues', 'headers']);

function utcDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function emailState(mailboxes: readonly Mailbox[]): string {
  return encodeState({ e: mailboxes.map((m) => [m.id, m.highestModseq, m.uidNext]) });
}

function ifInState(args: Record<string, unknown>, state: string): void {
  const expected = optionalString(args, 'ifInState');
  if (expected !== null && expected !== state) throw new MethodError('stateMismatch', 'ifInState does not match the current state');
}

function hasAttachment(lists: { attachments: JmapPart[] }): boolean {
  return lists.attachments.some((p) => !(p.disposition !== 'attachment' && p.type.startsWith('image/') && p.part.id));
}

export function emailMethods(svc: JmapServices): Record<string, MethodDef> {
  async function header(r: MessageRecord): Promise<Buffer> {
    const meta = r.meta!;
    if (meta.header !== null) return Buffer.from(meta.header, 'latin1');
    return svc.blobs.getRange(r.blobKey, 0, meta.mime.bodyStart);
  }

  /** Email views of `ids` with the meta of one copy each. */
  async function withMeta(user: string, emails: EmailView[]): Promise<Map<string, MessageRecord>> {
    const byMailbox = new Map<string, EmailView[]>();
    for (const e of emails) {
      const list = byMailbox.get(e.copies[0].mailboxId) ?? [];
      list.push(e);
      byMailbox.set(e.copies[0].mailboxId, list);
    }
    const out = new Map<string, MessageRecord>();
    await Promise.all(
      [...byMailbox].map(async ([mailboxId, list]) => {
        const uids = list.map((e) => e.copies[0].uid);
        const records = await svc.index.getMessages(user, mailboxId, uids);
        const byUid = new Map(records.map((r) => [r.uid, r]));
        for (const e of list) {
          const r = byUid.get(e.copies[0].uid);
          if (r?.meta) out.set(e.id, r);
        }
      }),
    );
    return out;
  }

  /** One Email's properties; `given`: the message's bytes, when they are not (all) at r.blobKey (Email/parse). */
  async function render(e: EmailView, r: MessageRecord, properties: string[], args: Record<string, unknown>, given?: Buffer): Promise<Record<string, unknown>> {
    const meta = r.meta!;
    const bodyProperties = optionalStringArray(args, 'bodyProperties') ?? DEFAULT_BODY_PROPERTIES;
    for (const p of bodyProperties) if (!BODY_PROPERTIES.includes(p) && !p.startsWith('header:')) throw invalidArguments(`Unknown body property ${p}`);
    const fetchText = optionalBool(args, 'fetchTextBodyValues', false);
    const fetchHtml = optionalBool(args, 'fetchHTMLBodyValues', false);
    const fetchAll = optionalBool(args, 'fetchAllBodyValues', false);
    const maxBytes = optionalInt(args, 'maxBodyValueBytes', 0);
    const wantsValues = properties.includes('bodyValues') && (fetchText || fetchHtml || fetchAll);
    const needsRaw = properties.some((p) => NEEDS_RAW.has(p) && (p !== 'bodyValues' || wantsValues)) || bodyProperties.includes('headers');
    const raw = given ?? (needsRaw ? await svc.blobs.get(r.blobKey) : null);
    const tree = jmapTree(meta.mime);
    const lists = bodyLists(tree);
    const fields = headerFields(given ? given.subarray(0, meta.mime.bodyStart) : await header(r));
    const out: Record<string, unknown> = {};
    for (const p of properties) {
      if (p in CONVENIENCE) {
        out[p] = headerProperty(fields, CONVENIENCE[p]);
        continue;
      }
      if (p.startsWith('header:')) {
        const hp = parseHeaderProperty(p);
        if (!hp) throw invalidArguments(`Malformed property ${p}`);
        out[p] = headerProperty(fields, hp);
        continue;
      }
      switch (p) {
        case 'id':
          out.id = e.id;
          break;
        case 'blobId':
          out.blobId = blobIdOf(e.blobKey);
          break;
        case 'threadId':
          out.threadId = e.threadId;
          break;
        case 'mailboxIds':
          out.mailboxIds = Object.fromEntries(e.copies.map((c) => [c.mailboxId, true]));
          break;
        case 'keywords':
          out.keywords = emailKeywords(e);
          break;
        case 'size':
          out.size = e.size;
          break;
        case 'receivedAt':
          out.receivedAt = utcDate(e.internalDate);
          break;
        case 'hasAttachment':
          out.hasAttachment = hasAttachment(lists);
          break;
        case 'preview':
          out.preview = raw ? previewOf(raw, lists) : await previewByRange(svc.blobs, e.blobKey, lists);
          break;
        case 'headers':
          out.headers = fields;
          break;
        case 'bodyStructure':
          out.bodyStructure = partObject(tree, e.blobKey, [...bodyProperties, 'subParts'], raw);
          break;
        case 'textBody':
        case 'htmlBody':
        case 'attachments':
          out[p] = lists[p].map((x) => partObject(x, e.blobKey, bodyProperties, raw));
          break;
        case 'bodyValues': {
          const values: Record<string, unknown> = {};
          if (raw) {
            const parts = new Set<JmapPart>();
            if (fetchText || fetchAll) lists.textBody.forEach((x) => parts.add(x));
            if (fetchHtml || fetchAll) lists.htmlBody.forEach((x) => parts.add(x));
            for (const x of parts) {
              if (!x.partId || !x.type.startsWith('text/')) continue;
              const { value, isEncodingProblem } = decodePartText(raw, x.part);
              const t = truncateUtf8(value, maxBytes);
              values[x.partId] = { value: t.value, isEncodingProblem, isTruncated: t.isTruncated };
            }
          }
          out.bodyValues = values;
          break;
        }
      }
    }
    return out;
  }

  async function get(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const ids = getIds(args, ctx, svc.limits.maxObjectsInGet);
    const asked = optionalStringArray(args, 'properties');
    for (const p of asked ?? []) {
      if (!PROPERTIES.includes(p) && !(p.startsWith('header:') && parseHeaderProperty(p))) throw invalidArguments(`Unknown property ${p}`);
    }
    const properties = [...new Set(['id', ...(asked ?? DEFAULT_PROPERTIES)])];
    const view = await loadEmails(svc.index, ctx.user);
    const state = emailState(view.mailboxes);
    let wanted: EmailView[];
    if (ids) wanted = ids.map((id) => view.emails.get(id)).filter((e): e is EmailView => e !== undefined);
    else {
      wanted = [...view.emails.values()];
      if (wanted.length > svc.limits.maxObjectsInGet) throw new MethodError('requestTooLarge', 'Too many emails; ask for ids');
    }
    const metas = await withMeta(ctx.user, wanted);
    const list: Record<string, unknown>[] = [];
    const notFound = ids ? ids.filter((id) => !view.emails.has(id)) : [];
    for (const e of wanted) {
      const r = metas.get(e.id);
      if (!r) {
        notFound.push(e.id); // expunged between the two reads
        continue;
      }
      list.push(await render(e, r, properties, args));
    }
    return { accountId, state, list, notFound };
  }

  type Filter = Record<string, unknown>;
  const CONDITIONS = new Set([
    'inMailbox',
    'inMailboxOtherThan',
    'before',
    'after',
    'minSize',
    'maxSize',
    'hasKeyword',
    'notKeyword',
    'allInThreadHaveKeyword',
    'someInThreadHaveKeyword',
    'noneInThreadHaveKeyword',
    'hasAttachment',
    'text',
    'from',
    'to',
    'cc',
    'bcc',
    'subject',
    'body',
    'header',
  ]);
  const META_CONDITIONS = new Set(['hasAttachment', 'text', 'from', 'to', 'cc', 'bcc', 'subject', 'body', 'header']);

  function checkFilter(f: unknown, depth = 0): { meta: boolean; body: boolean } {
    if (depth > 10) throw new MethodError('unsupportedFilter', 'Filter nested too deep');
    if (!f || typeof f !== 'object' || Array.isArray(f)) throw new MethodError('unsupportedFilter', 'A filter is an object');
    const o = f as Filter;
    if ('operator' in o) {
      if (!['AND', 'OR', 'NOT'].includes(o.operator as string) || !Array.isArray(o.conditions))
        throw new MethodError('unsupportedFilter', 'Bad FilterOperator');
      const subs = (o.conditions as unknown[]).map((c) => checkFilter(c, depth + 1));
      return { meta: subs.some((s) => s.meta), body: subs.some((s) => s.body) };
    }
    let meta = false;
    let body = false;
    for (const [k, v] of Object.entries(o)) {
      if (!CONDITIONS.has(k)) throw new MethodError('unsupportedFilter', `Unsupported filter condition ${k}`);
      if (k === 'header') {
        if (!Array.isArray(v) || v.length < 1 || v.length > 2 || !v.every((x) => typeof x === 'string'))
          throw new MethodError('unsupportedFilter', 'header takes [name] or [name, value]');
      } else if (k === 'inMailboxOtherThan') {
        if (!Array.isArray(v)) throw new MethodError('unsupportedFilter', 'inMailboxOtherThan takes ids');
      } else if (['minSize', 'maxSize'].includes(k)) {
        if (typeof v !== 'number') throw new MethodError('unsupportedFilter', `${k} takes a number`);
      } else if (k === 'hasAttachment') {
        if (typeof v !== 'boolean') throw new MethodError('unsupportedFilter', 'hasAttachment takes a boolean');
      } else if (typeof v !== 'string') throw new MethodError('unsupportedFilter', `${k} takes a string`);
      if ((k === 'before' || k === 'after') && !Number.isFinite(Date.parse(v as string))) throw new MethodError('unsupportedFilter', `${k} takes a UTCDate`);
      if (META_CONDITIONS.has(k)) meta = true;
      if (k === 'text' || k === 'body') body = true;
    }
    return { meta, body };
  }

  interface Candidate {
    e: EmailView;
    /** The Emails of e's thread (e among them). */
    thread: EmailView[];
    r: MessageRecord | undefined;
    fields?: Array<{ name: string; value: string }>;
    bodyText?: string;
  }

  async function matches(c: Candidate, f: Filter): Promise<boolean> {
    if ('operator' in f) {
      const conds = f.conditions as Filter[];
      if (f.operator === 'AND') {
        for (const x of conds) if (!(await matches(c, x))) return false;
        return true;
      }
      if (f.operator === 'OR') {
        for (const x of conds) if (await matches(c, x)) return true;
        return false;
      }
      for (const x of conds) if (await matches(c, x)) return false;
      return true;
    }
    const kw = emailKeywords(c.e);
    const fieldText = async (name: string): Promise<string> => {
      c.fields ??= c.r ? headerFields(await header(c.r)) : [];
      const hp = { name, form: name === 'Subject' ? 'Text' : 'Addresses', all: true } as HeaderProperty;
      const v = headerProperty(c.fields, hp) as unknown[];
      return JSON.stringify(v).toLowerCase();
    };
    const bodyText = async (): Promise<string> => {
      if (c.bodyText === undefined) {
        c.bodyText = '';
        if (c.r?.meta) {
          const raw = await svc.blobs.get(c.e.blobKey);
          const lists = bodyLists(jmapTree(c.r.meta.mime));
          for (const p of [...lists.textBody, ...lists.htmlBody]) {
            if (!p.type.startsWith('text/')) continue;
            const t = decodePartText(raw, p.part).value;
            c.bodyText += ' ' + (p.type === 'text/html' ? htmlToText(t) : t).toLowerCase();
          }
        }
      }
      return c.bodyText;
    };
    for (const [k, v] of Object.entries(f)) {
      const s = typeof v === 'string' ? v.toLowerCase() : '';
      switch (k) {
        case 'inMailbox':
          if (!c.e.copies.some((x) => x.mailboxId === v)) return false;
          break;
        case 'inMailboxOtherThan':
          if (!c.e.copies.some((x) => !(v as string[]).includes(x.mailboxId))) return false;
          break;
        case 'before':
          if (!(c.e.internalDate < Date.parse(v as string))) return false;
          break;
        case 'after':
          if (!(c.e.internalDate >= Date.parse(v as string))) return false;
          break;
        case 'minSize':
          if (c.e.size < (v as number)) return false;
          break;
        case 'maxSize':
          if (c.e.size >= (v as number)) return false;
          break;
        case 'hasKeyword':
          if (!kw[s]) return false;
          break;
        case 'notKeyword':
          if (kw[s]) return false;
          break;
        // RFC 8621 §4.4.1: over every Email of the thread (this one included).
        case 'allInThreadHaveKeyword':
          if (!c.thread.every((x) => emailKeywords(x)[s])) return false;
          break;
        case 'someInThreadHaveKeyword':
          if (!c.thread.some((x) => emailKeywords(x)[s])) return false;
          break;
        case 'noneInThreadHaveKeyword':
          if (c.thread.some((x) => emailKeywords(x)[s])) return false;
          break;
        case 'hasAttachment':
          if (!c.r?.meta || hasAttachment(bodyLists(jmapTree(c.r.meta.mime))) !== v) return false;
          break;
        case 'from':
        case 'to':
        case 'cc':
        case 'bcc':
        case 'subject':
          if (!(await fieldText(k === 'subject' ? 'Subject' : k[0].toUpperCase() + k.slice(1))).includes(s)) return false;
          break;
        case 'body':
          if (!(await bodyText()).includes(s)) return false;
          break;
        case 'text': {
          let found = false;
          for (const name of ['From', 'To', 'Cc', 'Bcc', 'Subject']) if ((await fieldText(name)).includes(s)) found = true;
          if (!found && !(await bodyText()).includes(s)) return false;
          break;
        }
        case 'header': {
          const [name, value] = v as string[];
          c.fields ??= c.r ? headerFields(await header(c.r)) : [];
          const vals = headerProperty(c.fields, { name, form: 'Text', all: true }) as Array<string | null>;
          if (vals.length === 0) return false;
          if (value !== undefined && !vals.some((x) => (x ?? '').toLowerCase().includes(value.toLowerCase()))) return false;
          break;
        }
      }
    }
    return true;
  }

  async function queryIds(args: Record<string, unknown>, ctx: MethodContext) {
    const filter = optionalObject(args, 'filter');
    const need = filter ? checkFilter(filter) : { meta: false, body: false };
    const sort = (args.sort ?? [{ property: 'receivedAt', isAscending: false }]) as unknown;
    if (!Array.isArray(sort)) throw invalidArguments('sort must be an array');
    const comparators = (sort as Array<Record<string, unknown>>).map((s) => {
      if (!s || typeof s !== 'object' || (s.property !== 'receivedAt' && s.property !== 'size'))
        throw new MethodError('unsupportedSort', 'Emails sort by receivedAt or size');
      const dir = s.isAscending === false ? -1 : 1;
      const key = s.property === 'size' ? (e: EmailView) => e.size : (e: EmailView) => e.internalDate;
      return (a: EmailView, b: EmailView) => (key(a) - key(b)) * dir;
    });
    const view = await loadEmails(svc.index, ctx.user);
    let emails = [...view.emails.values()];
    if (filter) {
      const metas = need.meta ? await withMeta(ctx.user, emails) : new Map<string, MessageRecord>();
      const threads = threadsOf(view.emails);
      const kept: EmailView[] = [];
      for (const e of emails) if (await matches({ e, thread: threads.get(e.threadId) ?? [e], r: metas.get(e.id) }, filter)) kept.push(e);
      emails = kept;
    }
    emails.sort((a, b) => {
      for (const c of comparators) {
        const d = c(a, b);
        if (d !== 0) return d;
      }
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    // RFC 8621 §4.4.3 collapseThreads: an Email whose thread came earlier in the list is left out.
    if (optionalBool(args, 'collapseThreads', false)) {
      const seen = new Set<string>();
      emails = emails.filter((e) => !seen.has(e.threadId) && (seen.add(e.threadId), true));
    }
    return { view, ids: emails.map((e) => e.id) };
  }

  async function query(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    let position = optionalInt(args, 'position', 0, Number.MIN_SAFE_INTEGER);
    const anchor = optionalString(args, 'anchor');
    const anchorOffset = optionalInt(args, 'anchorOffset', 0, Number.MIN_SAFE_INTEGER);
    const limit = args.limit === undefined || args.limit === null ? null : optionalInt(args, 'limit', 0);
    const calculateTotal = optionalBool(args, 'calculateTotal', false);
    const { view, ids } = await queryIds(args, ctx);
    if (anchor !== null) {
      const i = ids.indexOf(anchor);
      if (i < 0) throw new MethodError('anchorNotFound');
      position = Math.max(0, i + anchorOffset);
    } else if (position < 0) position = Math.max(0, ids.length + position);
    position = Math.min(position, ids.length);
    const page = ids.slice(position, limit === null ? undefined : position + Math.min(limit, svc.limits.maxObjectsInGet));
    const out: Record<string, unknown> = { accountId, queryState: emailState(view.mailboxes), canCalculateChanges: false, position, ids: page };
    if (calculateTotal) out.total = ids.length;
    if (limit !== null) out.limit = Math.min(limit, svc.limits.maxObjectsInGet);
    return out;
  }

  async function changes(args: Record<string, unknown>, ctx: MethodContext, threads: boolean) {
    const accountId = requireAccount(args, ctx);
    const since = optionalString(args, 'sinceState');
    if (since === null) throw invalidArguments('sinceState is required');
    const maxChanges = args.maxChanges === undefined || args.maxChanges === null ? null : optionalInt(args, 'maxChanges', 0, 1);
    const old = decodeState(since) as { e?: unknown } | null;
    if (!old || !Array.isArray(old.e)) throw new MethodError('cannotCalculateChanges', 'Unknown state');
    const before = new Map<string, { modseq: number; uidNext: number }>();
    for (const x of old.e) if (Array.isArray(x) && typeof x[0] === 'string') before.set(x[0], { modseq: Number(x[1]), uidNext: Number(x[2]) });
    const view = await loadEmails(svc.index, ctx.user);
    // Per Email id: a copy changed or appended since (touched), a copy there at that state expunged since (lostOld).
    const touched = new Set<string>();
    const lostOld = new Set<string>();
    const copyIsNew = new Set<string>();
    const newMailboxes = new Set<string>();
    /** The thread of each Email that lost a copy (from the tombstone): Thread/changes names it when the Email is gone. */
    const goneThread = new Map<string, string>();
    for (const m of view.mailboxes) {
      const prev = before.get(m.id);
      before.delete(m.id);
      if (prev && prev.modseq === m.highestModseq) continue;
      if (!prev) {
        newMailboxes.add(m.id);
        continue;
      }
      const ch = await svc.index.changesSince(ctx.user, m.id, prev.modseq, { uidNext: prev.uidNext, withBlobKeys: true });
      if (!ch || !ch.complete) throw new MethodError('cannotCalculateChanges', 'The change log does not reach back to that state; query again');
      for (const r of ch.changed) {
        if (r.uid >= prev.uidNext) copyIsNew.add(`${m.id}:${r.uid}`);
        touched.add(emailIdOf(r.blobKey));
      }
      const blobKeys = ch.expungedBlobKeys ?? [];
      const threadIds = ch.expungedThreadIds ?? [];
      for (let i = 0; i < ch.expunged.length; i++) {
        const key = blobKeys[i];
        if (!key) throw new MethodError('cannotCalculateChanges', 'Messages were removed before the log kept their ids; query again');
        const id = emailIdOf(key);
        touched.add(id);
        goneThread.set(id, threadIdOf({ blobKey: key, threadId: threadIds[i] ?? undefined }, id));
        if (ch.expunged[i] < prev.uidNext) lostOld.add(id);
      }
    }
    if (before.size > 0) throw new MethodError('cannotCalculateChanges', 'A mailbox was destroyed since that state; query again');
    if (newMailboxes.size > 0) {
      for (const e of view.emails.values()) {
        for (const c of e.copies) {
          if (!newMailboxes.has(c.mailboxId)) continue;
          copyIsNew.add(`${c.mailboxId}:${c.uid}`);
          touched.add(e.id);
        }
      }
    }
    const created: string[] = [];
    const updated: string[] = [];
    const destroyed: string[] = [];
    // Per Email: created (every copy new since), updated, or destroyed (gone, and the client could have known it).
    const emailChange = new Map<string, 'created' | 'updated' | 'destroyed'>();
    for (const id of touched) {
      const e = view.emails.get(id);
      if (!e) {
        // Created and destroyed since: omitted (RFC 8620 §5.2).
        if (lostOld.has(id)) emailChange.set(id, 'destroyed');
        continue;
      }
      const isNew = !lostOld.has(id) && e.copies.every((c) => copyIsNew.has(`${c.mailboxId}:${c.uid}`));
      emailChange.set(id, isNew ? 'created' : 'updated');
    }
    if (!threads) {
      for (const [id, kind] of emailChange) (kind === 'created' ? created : kind === 'updated' ? updated : destroyed).push(id);
    } else {
      // A thread changes when one of its Emails did (its emailIds list). It is created when it
      // has Emails now and every one of them was created since; destroyed when it has none now
      // and one of its Emails was destroyed; updated otherwise.
      const now = threadsOf(view.emails);
      const touchedThreads = new Map<string, boolean>(); // thread id → an Email of it was destroyed
      for (const [id, kind] of emailChange) {
        const tid = view.emails.get(id)?.threadId ?? goneThread.get(id) ?? threadIdOfEmail(id);
        touchedThreads.set(tid, (touchedThreads.get(tid) ?? false) || kind === 'destroyed');
      }
      for (const [tid, lostOne] of touchedThreads) {
        const members = now.get(tid);
        if (!members) destroyed.push(tid);
        else if (!lostOne && members.every((e) => emailChange.get(e.id) === 'created')) created.push(tid);
        else updated.push(tid);
      }
    }
    if (maxChanges !== null && created.length + updated.length + destroyed.length > maxChanges) {
      throw new MethodError('cannotCalculateChanges', 'More changes than maxChanges; query again');
    }
    return { accountId, oldState: since, newState: emailState(view.mailboxes), hasMoreChanges: false, created, updated, destroyed };
  }

  async function set(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const user = ctx.user;
    let view = await loadEmails(svc.index, user);
    const oldState = emailState(view.mailboxes);
    ifInState(args, oldState);
    const create = optionalObject(args, 'create') ?? {};
    const update = optionalObject(args, 'update') ?? {};
    const destroy = (args.destroy ?? []) as unknown;
    if (!Array.isArray(destroy) || !destroy.every((d) => typeof d === 'string')) throw invalidArguments('destroy must be an array of ids');
    if (Object.keys(create).length + Object.keys(update).length + destroy.length > svc.limits.maxObjectsInSet) {
      throw new MethodError('requestTooLarge', `At most ${svc.limits.maxObjectsInSet} objects in one /set`);
    }
    const created: Record<string, unknown> = {};
    const notCreated: Record<string, SetError> = {};
    for (const [cid, raw] of Object.entries(create)) {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
        notCreated[cid] = { type: 'invalidProperties', description: 'not an Email object' };
        continue;
      }
      const props = raw as Record<string, unknown>;
      const mbIds =
        props.mailboxIds && typeof props.mailboxIds === 'object' && !Array.isArray(props.mailboxIds)
          ? Object.keys(props.mailboxIds).map((x) => resolveId(x, ctx))
          : [];
      const targets = mbIds.map((x) => view.mailboxes.find((m) => m.id === x));
      if (mbIds.length === 0 || targets.some((t) => !t)) {
        notCreated[cid] = { type: 'invalidProperties', properties: ['mailboxIds'] };
        continue;
      }
      const keywords = props.keywords ?? {};
      if (
        !keywords ||
        typeof keywords !== 'object' ||
        Array.isArray(keywords) ||
        !Object.entries(keywords).every(([k, v]) => v === true && isValidKeyword(k))
      ) {
        notCreated[cid] = { type: 'invalidProperties', properties: ['keywords'] };
        continue;
      }
      let internalDate = Date.now();
      if (props.receivedAt !== undefined && props.receivedAt !== null) {
        internalDate = typeof props.receivedAt === 'string' ? Date.parse(props.receivedAt) : NaN;
        if (!Number.isFinite(internalDate)) {
          notCreated[cid] = { type: 'invalidProperties', properties: ['receivedAt'] };
          continue;
        }
      }
      const bytes = await composeEmail({ props, readBlob: (blobId) => readBlob(svc, svc.index, user, accountId, blobId) });
      if (!Buffer.isBuffer(bytes)) {
        notCreated[cid] = bytes;
        continue;
      }
      if (bytes.length > svc.limits.maxSizeUpload) {
        notCreated[cid] = { type: 'tooLarge', maxSize: svc.limits.maxSizeUpload };
        continue;
      }
      const flags = flagsOfKeywords(
        Object.keys(keywords).map((k) => k.toLowerCase()),
        [],
      );
      const appended = await svc.writes.append(user, targets[0]!.name, bytes, { flags, internalDate });
      for (const t of targets.slice(1)) await svc.writes.copy(user, targets[0]!.id, [appended.uid], t!.id);
      const [record] = await svc.index.getMessages(user, targets[0]!.id, [appended.uid]);
      const newId = emailIdOf(record.blobKey);
      ctx.createdIds.set(cid, newId);
      created[cid] = { id: newId, blobId: blobIdOf(record.blobKey), threadId: threadIdOf(record, newId), size: bytes.length };
    }
    if (Object.keys(created).length > 0) view = await loadEmails(svc.index, user);
    const updated: Record<string, null> = {};
    const notUpdated: Record<string, SetError> = {};
    for (const [rawId, patch] of Object.entries(update)) {
      const id = resolveId(rawId, ctx);
      const e = view.emails.get(id);
      if (!e) {
        notUpdated[rawId] = { type: 'notFound' };
        continue;
      }
      const result = parsePatch(patch, e, view.mailboxes, ctx);
      if ('type' in result) {
        notUpdated[rawId] = result;
        continue;
      }
      // Keywords on every copy that stays, then copies into new mailboxes, then the removals.
      const keep = e.copies.filter((c) => result.mailboxIds.has(c.mailboxId));
      if (result.keywords) {
        for (const c of keep) {
          const flags = flagsOfKeywords(result.keywords, c.flags);
          await svc.writes.updateFlags(user, c.mailboxId, [c.uid], 'set', flags);
        }
      }
      const have = new Set(e.copies.map((c) => c.mailboxId));
      const source = keep[0] ?? e.copies[0];
      for (const target of result.mailboxIds) {
        if (have.has(target)) continue;
        const { mapping } = await svc.writes.copy(user, source.mailboxId, [source.uid], target);
        if (!keep[0] && result.keywords) {
          // The source copy goes away; the new copy already carries its updated flags only if set above.
          const copied = await svc.index.getMessages(
            user,
            target,
            mapping.map((m) => m.to),
            { withMeta: false },
          );
          for (const r of copied) await svc.writes.updateFlags(user, target, [r.uid], 'set', flagsOfKeywords(result.keywords, r.flags));
        }
      }
      for (const c of e.copies) if (!result.mailboxIds.has(c.mailboxId)) await svc.writes.expunge(user, c.mailboxId, [c.uid]);
      updated[id] = null;
    }
    const destroyed: string[] = [];
    const notDestroyed: Record<string, SetError> = {};
    if (destroy.length > 0) view = await loadEmails(svc.index, user);
    for (const rawId of destroy as string[]) {
      const id = resolveId(rawId, ctx);
      const e = view.emails.get(id);
      if (!e) {
        notDestroyed[rawId] = { type: 'notFound' };
        continue;
      }
      for (const c of e.copies) await svc.writes.expunge(user, c.mailboxId, [c.uid]);
      destroyed.push(id);
    }
    const newState = emailState(await svc.index.listMailboxes(user));
    return { accountId, oldState, newState, created, updated, destroyed, notCreated, notUpdated, notDestroyed };
  }

  async function threadGet(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const ids = getIds(args, ctx, svc.limits.maxObjectsInGet);
    const view = await loadEmails(svc.index, ctx.user);
    const state = emailState(view.mailboxes);
    const list: Record<string, unknown>[] = [];
    const notFound: string[] = [];
    const threads = threadsOf(view.emails);
    // RFC 8621 §3.1: emailIds sorted by receivedAt, oldest first (threadsOf).
    for (const tid of ids ?? threads.keys()) {
      const members = threads.get(tid);
      if (members) list.push({ id: tid, emailIds: members.map((e) => e.id) });
      else notFound.push(tid);
    }
    return { accountId, state, list, notFound };
  }

  async function snippets(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const emailIds = optionalStringArray(args, 'emailIds');
    if (!emailIds) throw invalidArguments('emailIds is required');
    if (emailIds.length > svc.limits.maxObjectsInGet) throw new MethodError('requestTooLarge');
    const filter = optionalObject(args, 'filter');
    if (filter) checkFilter(filter);
    const terms: string[] = [];
    const collect = (f: Filter) => {
      if ('operator' in f) {
        if (f.operator !== 'NOT') (f.conditions as Filter[]).forEach(collect);
        return;
      }
      for (const k of ['text', 'subject', 'body']) if (typeof f[k] === 'string') terms.push(f[k] as string);
    };
    if (filter) collect(filter);
    const view = await loadEmails(svc.index, ctx.user);
    const found = emailIds.map((id) => view.emails.get(id)).filter((e): e is EmailView => e !== undefined);
    const metas = await withMeta(ctx.user, found);
    const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const mark = (s: string | null): string | null => {
      if (!s || terms.length === 0) return null;
      const lower = s.toLowerCase();
      const hit = terms.find((t) => lower.includes(t.toLowerCase()));
      if (!hit) return null;
      const i = lower.indexOf(hit.toLowerCase());
      return esc(s.slice(0, i)) + '<mark>' + esc(s.slice(i, i + hit.length)) + '</mark>' + esc(s.slice(i + hit.length));
    };
    const list: Record<string, unknown>[] = [];
    for (const e of found) {
      const r = metas.get(e.id);
      if (!r) continue;
      const subject = headerProperty(headerFields(await header(r)), CONVENIENCE.subject) as string | null;
      const preview = terms.length > 0 ? previewOf(await svc.blobs.get(e.blobKey), bodyLists(jmapTree(r.meta!.mime))) : null;
      list.push({ emailId: e.id, subject: mark(subject), preview: mark(preview) });
    }
    return { accountId, list, notFound: emailIds.filter((id) => !view.emails.has(id)) };
  }

  return {
    'Email/get': { capability: MAIL, handle: get },
    'Email/query': { capability: MAIL, handle: query },
    'Email/queryChanges': {
      capability: MAIL,
      handle: async (args, ctx) => {
        requireAccount(args, ctx);
        throw new MethodError('cannotCalculateChanges', 'Run Email/query again');
      },
    },
    'Email/changes': { capability: MAIL, handle: (args, ctx) => changes(args, ctx, false) },
    'Email/parse': { capability: MAIL, handle: (args, ctx) => parseEmails(svc, args, ctx, { render, properties: PROPERTIES }) },
    'Email/set': { capability: MAIL, handle: (args, ctx) => svc.locks.run(ctx.user, () => set(args, ctx)) },
    'Thread/get': { capability: MAIL, handle: threadGet },
    'Thread/changes': { capability: MAIL, handle: (args, ctx) => changes(args, ctx, true) },
    'SearchSnippet/get': { capability: MAIL, handle: snippets },
  };
}

/** An Email/set update (RFC 8620 §5.3 PatchObject) of keywords and mailboxIds: the resulting sets, or a SetError. */
function parsePatch(
  patch: unknown,
  e: EmailView,
  mailboxes: readonly Mailbox[],
  ctx: MethodContext,
): { keywords: string[] | null; mailboxIds: Set<string> } | SetError {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return { type: 'invalidPatch' };
  let keywords: Set<string> | null = null;
  const mailboxIds = new Set(e.copies.map((c) => c.mailboxId));
  const known = new Set(mailboxes.map((m) => m.id));
  for (const [path, value] of Object.entries(patch as Record<string, unknown>)) {
    if (path === 'keywords') {
      if (!value || typeof value !== 'object' || Array.isArray(value)) return { type: 'invalidProperties', properties: ['keywords'] };
      keywords = new Set();
      for (const [k, v] of Object.entries(value)) {
        if (v !== true || !isValidKeyword(k)) return { type: 'invalidProperties', properties: ['keywords'] };
        keywords.add(k.toLowerCase());
      }
    } else if (path.startsWith('keywords/')) {
      const k = path.slice('keywords/'.length).replace(/~1/g, '/').replace(/~0/g, '~');
      if (!isValidKeyword(k) || (value !== true && value !== null)) return { type: 'invalidProperties', properties: [path] };
      keywords ??= new Set(Object.keys(emailKeywords(e)));
      if (value === true) keywords.add(k.toLowerCase());
      else keywords.delete(k.toLowerCase());
    } else if (path === 'mailboxIds') {
      if (!value || typeof value !== 'object' || Array.isArray(value)) return { type: 'invalidProperties', properties: ['mailboxIds'] };
      mailboxIds.clear();
      for (const [id, v] of Object.entries(value)) {
        if (v !== true) return { type: 'invalidProperties', properties: ['mailboxIds'] };
        mailboxIds.add(resolveId(id, ctx));
      }
    } else if (path.startsWith('mailboxIds/')) {
      const id = resolveId(path.slice('mailboxIds/'.length), ctx);
      if (value === true) mailboxIds.add(id);
      else if (value === null) mailboxIds.delete(id);
      else return { type: 'invalidProperties', properties: [path] };
    } else {
      return { type: 'invalidProperties', properties: [path], description: 'Only keywords and mailboxIds can change' };
    }
  }
  if (mailboxIds.size === 0) return { type: 'invalidProperties', properties: ['mailboxIds'], description: 'An Email must be in at least one mailbox' };
  for (const id of mailboxIds) if (!known.has(id)) return { type: 'invalidProperties', properties: ['mailboxIds'], description: `No mailbox ${id}` };
  return { keywords: keywords ? [...keywords] : null, mailboxIds };
}
