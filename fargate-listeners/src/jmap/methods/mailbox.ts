/**
 * Mailbox/get, /changes, /query, /queryChanges, /set (RFC 8621 §2) on the index's mailboxes,
 * through the same index calls and write path (MailboxWrites) as IMAP CREATE/RENAME/DELETE
 * (fargate-listeners/src/imap/session/commands/mailboxes.ts), with the same name rules
 * (mailbox-names.ts validateNewName) and the same ceiling of mailboxes per user.
 *
 * Roles come from the special-use attribute (RFC 6154 ↔ RFC 8621 §2: `\Sent` → `sent`, …),
 * INBOX is `inbox`. Counts: totalEmails/unreadEmails count Emails (ids.ts) with a copy here;
 * totalThreads the threads with an Email here, unreadThreads those with an Email here without
 * `$seen` (the simplest reading RFC 8621 §2 offers). Every user owns all
 * their mailboxes: myRights are all true (no sharing yet).
 */
import { IndexError, type Mailbox, type SpecialUse } from '#core/ports/mail-index.ts';
import { MAX_MAILBOXES_PER_USER, MailboxNameError, SEPARATOR, validateNewName } from '../../imap/session/mailbox-names.ts';
import type { MethodContext, MethodDef } from '../api.ts';
import { MAIL } from '../capabilities.ts';
import { MethodError, invalidArguments, type SetError } from '../errors.ts';
import { emailKeywords, loadEmails, mailboxViews, type MailboxView } from '../account-view.ts';
import type { JmapServices } from '../services.ts';
import { decodeState, encodeState, shortHash } from '../state.ts';
import { getIds, optionalBool, optionalInt, optionalObject, optionalString, pick, requireAccount, resolveId, selectProperties } from './common.ts';

const ROLE_OF: Record<SpecialUse, string> = {
  '\\Sent': 'sent',
  '\\Drafts': 'drafts',
  '\\Trash': 'trash',
  '\\Junk': 'junk',
  '\\Archive': 'archive',
  '\\All': 'all',
  '\\Flagged': 'flagged',
};
const SPECIAL_USE_OF = new Map(Object.entries(ROLE_OF).map(([su, role]) => [role, su as SpecialUse]));

const PROPERTIES = ['id', 'name', 'parentId', 'role', 'sortOrder', 'totalEmails', 'unreadEmails', 'totalThreads', 'unreadThreads', 'myRights', 'isSubscribed'];
const COUNT_PROPERTIES = new Set(['totalEmails', 'unreadEmails', 'totalThreads', 'unreadThreads']);

const ALL_RIGHTS = {
  mayReadItems: true,
  mayAddItems: true,
  mayRemoveItems: true,
  maySetSeen: true,
  maySetKeywords: true,
  mayCreateChild: true,
  mayRename: true,
  mayDelete: true,
  maySubmit: true,
};

function roleOf(m: Mailbox): string | null {
  if (m.name === 'INBOX') return 'inbox';
  return m.specialUse ? ROLE_OF[m.specialUse] : null;
}

interface Snapshot {
  mailboxes: Mailbox[];
  views: MailboxView[];
  subscribed: Set<string>;
  state: string;
}

async function snapshot(svc: JmapServices, user: string): Promise<Snapshot> {
  const [mailboxes, subs] = await Promise.all([svc.index.listMailboxes(user), svc.index.listSubscriptions(user)]);
  const subscribed = new Set(subs);
  const views = mailboxViews(mailboxes);
  const entries = views.map((v) => [
    v.mailbox.id,
    shortHash([v.name, v.parentId, v.mailbox.specialUse, subscribed.has(v.mailbox.name), v.mailbox.messageCount, v.mailbox.highestModseq]),
  ]);
  return { mailboxes, views, subscribed, state: encodeState({ m: entries }) };
}

export async function mailboxState(svc: JmapServices, user: string): Promise<string> {
  return (await snapshot(svc, user)).state;
}

interface Counts {
  total: number;
  unread: number;
  threads: Set<string>;
  unreadThreads: Set<string>;
}

async function counts(svc: JmapServices, user: string, mailboxes: Mailbox[]): Promise<Map<string, Counts>> {
  const { emails } = await loadEmails(svc.index, user, { mailboxes });
  const out = new Map<string, Counts>(mailboxes.map((m) => [m.id, { total: 0, unread: 0, threads: new Set(), unreadThreads: new Set() }]));
  for (const e of emails.values()) {
    const unread = !emailKeywords(e).$seen;
    for (const id of new Set(e.copies.map((c) => c.mailboxId))) {
      const c = out.get(id)!;
      c.total++;
      c.threads.add(e.threadId);
      if (unread) {
        c.unread++;
        c.unreadThreads.add(e.threadId);
      }
    }
  }
  return out;
}

function toJmap(v: MailboxView, subscribed: Set<string>, count: Counts | undefined): Record<string, unknown> {
  return {
    id: v.mailbox.id,
    name: v.name,
    parentId: v.parentId,
    role: roleOf(v.mailbox),
    sortOrder: v.mailbox.name === 'INBOX' ? 0 : 10,
    totalEmails: count?.total ?? 0,
    unreadEmails: count?.unread ?? 0,
    totalThreads: count?.threads.size ?? 0,
    unreadThreads: count?.unreadThreads.size ?? 0,
    myRights: ALL_RIGHTS,
    isSubscribed: subscribed.has(v.mailbox.name),
  };
}

function ifInState(args: Record<string, unknown>, state: string): void {
  const expected = optionalString(args, 'ifInState');
  if (expected !== null && expected !== state) throw new MethodError('stateMismatch', 'ifInState does not match the current state');
}

export function mailboxMethods(svc: JmapServices): Record<string, MethodDef> {
  async function get(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const ids = getIds(args, ctx, svc.limits.maxObjectsInGet);
    const properties = selectProperties(args, PROPERTIES);
    const snap = await snapshot(svc, ctx.user);
    const wanted = ids ? snap.views.filter((v) => ids.includes(v.mailbox.id)) : snap.views;
    const needCounts = properties.some((p) => COUNT_PROPERTIES.has(p));
    const c = needCounts
      ? await counts(
          svc,
          ctx.user,
          wanted.map((v) => v.mailbox),
        )
      : new Map();
    const list = wanted.map((v) => pick(toJmap(v, snap.subscribed, c.get(v.mailbox.id)), properties));
    const found = new Set(wanted.map((v) => v.mailbox.id));
    return { accountId, state: snap.state, list, notFound: ids ? ids.filter((id) => !found.has(id)) : [] };
  }

  async function changes(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const since = optionalString(args, 'sinceState');
    if (since === null) throw invalidArguments('sinceState is required');
    optionalInt(args, 'maxChanges', 0, 1);
    const old = decodeState(since) as { m?: unknown } | null;
    if (!old || !Array.isArray(old.m)) throw new MethodError('cannotCalculateChanges', 'Unknown state');
    const before = new Map<string, string>();
    for (const e of old.m) if (Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'string') before.set(e[0], e[1]);
    const snap = await snapshot(svc, ctx.user);
    const now = decodeState(snap.state) as { m: Array<[string, string]> };
    const created: string[] = [];
    const updated: string[] = [];
    for (const [id, h] of now.m) {
      const prev = before.get(id);
      if (prev === undefined) created.push(id);
      else if (prev !== h) updated.push(id);
      before.delete(id);
    }
    return {
      accountId,
      oldState: since,
      newState: snap.state,
      hasMoreChanges: false,
      created,
      updated,
      destroyed: [...before.keys()],
      // Which properties changed is not kept: null means "any" (RFC 8621 §2.2).
      updatedProperties: null,
    };
  }

  async function query(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const filter = optionalObject(args, 'filter');
    const sort = args.sort;
    const position = optionalInt(args, 'position', 0, Number.MIN_SAFE_INTEGER);
    const limit = args.limit === undefined || args.limit === null ? null : optionalInt(args, 'limit', 0);
    const calculateTotal = optionalBool(args, 'calculateTotal', false);
    if (optionalBool(args, 'sortAsTree', false) || optionalBool(args, 'filterAsTree', false)) {
      // Accepted: our order (by name) already lists parents before children.
    }
    const snap = await snapshot(svc, ctx.user);
    let views = snap.views;
    if (filter) {
      for (const key of Object.keys(filter)) {
        if (!['parentId', 'name', 'role', 'hasAnyRole', 'isSubscribed'].includes(key)) throw new MethodError('unsupportedFilter', `Unknown filter ${key}`);
      }
      views = views.filter((v) => {
        if ('parentId' in filter && v.parentId !== filter.parentId) return false;
        if (typeof filter.name === 'string' && !v.name.toLowerCase().includes(filter.name.toLowerCase())) return false;
        if ('role' in filter && roleOf(v.mailbox) !== filter.role) return false;
        if (typeof filter.hasAnyRole === 'boolean' && (roleOf(v.mailbox) !== null) !== filter.hasAnyRole) return false;
        if (typeof filter.isSubscribed === 'boolean' && snap.subscribed.has(v.mailbox.name) !== filter.isSubscribed) return false;
        return true;
      });
    }
    let descending = false;
    if (sort !== undefined && sort !== null) {
      if (!Array.isArray(sort)) throw invalidArguments('sort must be an array');
      for (const s of sort as Array<Record<string, unknown>>) {
        if (!s || (s.property !== 'name' && s.property !== 'sortOrder')) throw new MethodError('unsupportedSort', 'Mailboxes sort by name or sortOrder');
        if (s.property === 'name') descending = s.isAscending === false;
      }
    }
    const sorted = [...views].sort((a, b) => {
      const ka = a.mailbox.name === 'INBOX' ? '' : a.mailbox.name;
      const kb = b.mailbox.name === 'INBOX' ? '' : b.mailbox.name;
      return (ka < kb ? -1 : ka > kb ? 1 : 0) * (descending ? -1 : 1);
    });
    const start = position < 0 ? Math.max(0, sorted.length + position) : Math.min(position, sorted.length);
    const page = sorted.slice(start, limit === null ? undefined : start + limit);
    const out: Record<string, unknown> = { accountId, queryState: snap.state, canCalculateChanges: false, position: start, ids: page.map((v) => v.mailbox.id) };
    if (calculateTotal) out.total = sorted.length;
    if (limit !== null) out.limit = limit;
    return out;
  }

  async function set(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const user = ctx.user;
    const before = await snapshot(svc, user);
    ifInState(args, before.state);
    const create = optionalObject(args, 'create') ?? {};
    const update = optionalObject(args, 'update') ?? {};
    const destroy = (args.destroy ?? []) as unknown;
    if (!Array.isArray(destroy) || !destroy.every((d) => typeof d === 'string')) throw invalidArguments('destroy must be an array of ids');
    const removeEmails = optionalBool(args, 'onDestroyRemoveEmails', false);
    const total = Object.keys(create).length + Object.keys(update).length + destroy.length;
    if (total > svc.limits.maxObjectsInSet) throw new MethodError('requestTooLarge', `At most ${svc.limits.maxObjectsInSet} objects in one /set`);

    const created: Record<string, unknown> = {};
    const notCreated: Record<string, SetError> = {};
    const updated: Record<string, unknown> = {};
    const notUpdated: Record<string, SetError> = {};
    const destroyed: string[] = [];
    const notDestroyed: Record<string, SetError> = {};

    const current = async () => svc.index.listMailboxes(user);
    const fullName = (all: Mailbox[], parentId: unknown, name: string): string | SetError => {
      if (parentId === null || parentId === undefined) return name;
      if (typeof parentId !== 'string') return { type: 'invalidProperties', properties: ['parentId'] };
      const parent = all.find((m) => m.id === resolveId(parentId, ctx));
      if (!parent) return { type: 'invalidProperties', properties: ['parentId'], description: 'No such parent mailbox' };
      return parent.name + SEPARATOR + name;
    };
    const checkName = (name: unknown): SetError | null => {
      if (typeof name !== 'string' || name.length === 0)
        return { type: 'invalidProperties', properties: ['name'], description: 'name must be a non-empty string' };
      if (name.includes(SEPARATOR)) return { type: 'invalidProperties', properties: ['name'], description: `name may not contain ${SEPARATOR}` };
      return null;
    };

    for (const [cid, raw] of Object.entries(create)) {
      try {
        if (!raw || typeof raw !== 'object') throw { type: 'invalidProperties', description: 'not an object' };
        const m = raw as Record<string, unknown>;
        for (const k of Object.keys(m)) {
          if (!['name', 'parentId', 'role', 'isSubscribed', 'sortOrder'].includes(k)) throw { type: 'invalidProperties', properties: [k] };
        }
        const bad = checkName(m.name);
        if (bad) throw bad;
        const all = await current();
        const name = fullName(all, m.parentId, m.name as string);
        if (typeof name !== 'string') throw name;
        validateNewName(name);
        if (name.toUpperCase() === 'INBOX' || all.some((x) => x.name === name)) throw { type: 'alreadyExists', description: 'A mailbox with that name exists' };
        let specialUse: SpecialUse | null = null;
        if (m.role !== undefined && m.role !== null) {
          specialUse = typeof m.role === 'string' ? (SPECIAL_USE_OF.get(m.role) ?? null) : null;
          if (!specialUse) throw { type: 'invalidProperties', properties: ['role'], description: 'Unsupported role' };
        }
        if (all.length + 1 > MAX_MAILBOXES_PER_USER) throw { type: 'overQuota', description: `At most ${MAX_MAILBOXES_PER_USER} mailboxes` };
        const mb = await svc.index.createMailbox(user, name, { specialUse, subscribed: m.isSubscribed === true });
        svc.events.notify(user, mb.id);
        ctx.createdIds.set(cid, mb.id);
        created[cid] = {
          id: mb.id,
          role: roleOf(mb),
          sortOrder: 10,
          totalEmails: 0,
          unreadEmails: 0,
          totalThreads: 0,
          unreadThreads: 0,
          myRights: ALL_RIGHTS,
          isSubscribed: m.isSubscribed === true,
        };
      } catch (err) {
        notCreated[cid] = setError(err);
      }
    }

    for (const [rawId, raw] of Object.entries(update)) {
      const id = resolveId(rawId, ctx);
      try {
        if (!raw || typeof raw !== 'object') throw { type: 'invalidPatch' };
        const patch = raw as Record<string, unknown>;
        const all = await current();
        const views = mailboxViews(all);
        const view = views.find((v) => v.mailbox.id === id);
        if (!view) throw { type: 'notFound' };
        for (const k of Object.keys(patch)) {
          if (!['name', 'parentId', 'role', 'isSubscribed', 'sortOrder'].includes(k)) throw { type: 'invalidProperties', properties: [k] };
        }
        if ('role' in patch && patch.role !== roleOf(view.mailbox))
          throw { type: 'invalidProperties', properties: ['role'], description: 'Roles cannot be changed' };
        if ('sortOrder' in patch && typeof patch.sortOrder !== 'number') throw { type: 'invalidProperties', properties: ['sortOrder'] };
        let mailbox = view.mailbox;
        if ('name' in patch || 'parentId' in patch) {
          const name = 'name' in patch ? patch.name : view.name;
          const bad = checkName(name);
          if (bad) throw bad;
          const target = fullName(all, 'parentId' in patch ? patch.parentId : view.parentId, name as string);
          if (typeof target !== 'string') throw target;
          if (target !== mailbox.name) {
            if (mailbox.name === 'INBOX') throw { type: 'forbidden', description: 'INBOX cannot be renamed' };
            if (target.startsWith(mailbox.name + SEPARATOR))
              throw { type: 'invalidProperties', properties: ['parentId'], description: 'A mailbox cannot move below itself' };
            validateNewName(target);
            if (all.some((x) => x.name === target)) throw { type: 'alreadyExists' };
            mailbox = await renameTree(svc, user, all, mailbox, target);
          }
        }
        if (typeof patch.isSubscribed === 'boolean') await svc.index.setSubscribed(user, mailbox.name, patch.isSubscribed);
        svc.events.notify(user, mailbox.id);
        updated[id] = null;
      } catch (err) {
        notUpdated[rawId] = setError(err);
      }
    }

    for (const rawId of destroy as string[]) {
      const id = resolveId(rawId, ctx);
      try {
        const all = await current();
        const mailbox = all.find((m) => m.id === id);
        if (!mailbox) throw { type: 'notFound' };
        if (mailbox.name === 'INBOX') throw { type: 'forbidden', description: 'INBOX cannot be destroyed' };
        if (all.some((m) => m.name.startsWith(mailbox.name + SEPARATOR))) throw { type: 'mailboxHasChild' };
        if (mailbox.messageCount > 0 && !removeEmails) throw { type: 'mailboxHasEmail' };
        await svc.writes.deleteMailbox(user, mailbox);
        destroyed.push(id);
      } catch (err) {
        notDestroyed[rawId] = setError(err);
      }
    }

    const after = await mailboxState(svc, user);
    return { accountId, oldState: before.state, newState: after, created, updated, destroyed, notCreated, notUpdated, notDestroyed };
  }

  return {
    'Mailbox/get': { capability: MAIL, handle: get },
    'Mailbox/changes': { capability: MAIL, handle: changes },
    'Mailbox/query': { capability: MAIL, handle: query },
    'Mailbox/queryChanges': {
      capability: MAIL,
      handle: async (args, ctx) => {
        requireAccount(args, ctx);
        throw new MethodError('cannotCalculateChanges', 'Run Mailbox/query again');
      },
    },
    'Mailbox/set': { capability: MAIL, handle: (args, ctx) => svc.locks.run(ctx.user, () => set(args, ctx)) },
  };
}

/** Renames a mailbox and its inferiors (RFC 9051 §6.3.6, as IMAP RENAME does); subscriptions move with them. */
async function renameTree(svc: JmapServices, user: string, all: Mailbox[], mailbox: Mailbox, target: string): Promise<Mailbox> {
  const from = mailbox.name;
  const children = all.filter((m) => m.name.startsWith(from + SEPARATOR));
  const renames: Array<[string, string]> = [[from, target], ...children.map((c): [string, string] => [c.name, target + c.name.slice(from.length)])];
  for (const [, t] of renames) validateNewName(t);
  const subscribed = new Set(await svc.index.listSubscriptions(user));
  let renamed = mailbox;
  for (const [oldName, newName] of renames) {
    const r = await svc.index.renameMailbox(user, oldName, newName);
    if (oldName === from) renamed = r;
    svc.events.notify(user, r.id);
    if (subscribed.has(oldName)) {
      await svc.index.setSubscribed(user, newName, true);
      await svc.index.setSubscribed(user, oldName, false);
    }
  }
  return renamed;
}

/** A thrown SetError as is; a name error or index conflict as the SetError it means; anything else rethrown. */
export function setError(err: unknown): SetError {
  if (err instanceof MailboxNameError) return { type: 'invalidProperties', properties: ['name'], description: err.message };
  if (err instanceof IndexError) {
    if (err.code === 'EXISTS') return { type: 'alreadyExists', description: err.message };
    if (err.code === 'NOT_FOUND') return { type: 'notFound', description: err.message };
    return { type: 'invalidProperties', description: err.message };
  }
  if (err && typeof err === 'object' && !(err instanceof Error) && typeof (err as SetError).type === 'string') return err as SetError;
  throw err;
}
