/**
 * Identity/get, /changes, /set (RFC 8621 §6). The identities are the addresses SMTP
 * submission lets the user send as (ownAddresses, smtp/submission-listener.ts): each has a
 * default identity (id from the address, `mayDelete: false`, name empty until the user sets
 * one) and the user may create more for the same addresses (another name or signature).
 * Creating one for any other address is `forbiddenFrom`: what Identity offers is exactly what
 * EmailSubmission (and SMTP submission) will accept as sender.
 *
 * Stored as account objects of kind `Identity` (MailIndex.putAccountObject): a default
 * identity only once it is changed, the others when created. The state is the objects'
 * counter and a hash of the own addresses, so /changes can tell when the address list itself
 * moved (then cannotCalculateChanges: the client refetches).
 */
import { createHash, randomUUID } from 'node:crypto';
import { IndexError, MAX_ACCOUNT_OBJECT_BYTES } from '#core/ports/mail-index.ts';
import { ownAddresses } from '../../smtp/submission-listener.ts';
import type { MethodContext, MethodDef } from '../api.ts';
import { SUBMISSION } from '../capabilities.ts';
import { MethodError, invalidArguments, type SetError } from '../errors.ts';
import type { JmapServices } from '../services.ts';
import { shortHash } from '../state.ts';
import { getIds, optionalInt, optionalObject, optionalString, pick, requireAccount, resolveId, selectProperties } from './common.ts';

export const IDENTITY_KIND = 'Identity';
const PROPERTIES = ['id', 'name', 'email', 'replyTo', 'bcc', 'textSignature', 'htmlSignature', 'mayDelete'];
const SETTABLE = ['name', 'replyTo', 'bcc', 'textSignature', 'htmlSignature'];

export interface Identity {
  id: string;
  name: string;
  email: string;
  replyTo: Array<{ name: string | null; email: string }> | null;
  bcc: Array<{ name: string | null; email: string }> | null;
  textSignature: string;
  htmlSignature: string;
  mayDelete: boolean;
}

/** The default identity's id for an address. */
export function defaultIdentityId(address: string): string {
  return 'I' + createHash('sha256').update(`identity:${address}`).digest('base64url').slice(0, 22);
}

function defaultIdentity(address: string): Identity {
  return { id: defaultIdentityId(address), name: '', email: address, replyTo: null, bcc: null, textSignature: '', htmlSignature: '', mayDelete: false };
}

function fromStored(id: string, data: string, own: readonly string[]): Identity | null {
  const v = JSON.parse(data) as Omit<Identity, 'id' | 'mayDelete'>;
  if (!own.includes(v.email)) return null; // an address the user no longer has
  const isDefault = own.some((a) => defaultIdentityId(a) === id);
  return { ...defaultIdentity(v.email), ...v, id, mayDelete: !isDefault };
}

function stateOf(counter: number, own: readonly string[]): string {
  return `${counter}-${shortHash(own)}`;
}

/** The user's identities now, with the state they are of. */
export async function loadIdentities(svc: JmapServices, user: string): Promise<{ state: string; counter: number; identities: Identity[] }> {
  const own = ownAddresses(user);
  const stored = await svc.index.listAccountObjects(user, IDENTITY_KIND);
  const byId = new Map<string, Identity>();
  for (const a of own) byId.set(defaultIdentityId(a), defaultIdentity(a));
  for (const o of stored.objects) {
    const identity = o.data === null ? null : fromStored(o.id, o.data, own);
    if (identity) byId.set(o.id, identity);
  }
  return { state: stateOf(stored.state, own), counter: stored.state, identities: [...byId.values()] };
}

type Addresses = Identity['replyTo'];

function addressList(v: unknown): Addresses | undefined {
  if (v === null) return null;
  if (!Array.isArray(v)) return undefined;
  const out: NonNullable<Addresses> = [];
  for (const a of v) {
    if (!a || typeof a !== 'object' || typeof a.email !== 'string' || !/^[^\s@<>]+@[^\s@<>]+$/.test(a.email)) return undefined;
    if (a.name !== undefined && a.name !== null && typeof a.name !== 'string') return undefined;
    out.push({ name: typeof a.name === 'string' ? a.name : null, email: a.email });
  }
  return out;
}

/** Applies the settable properties of `props` to `target`; the first bad property, or null. */
function applyProps(target: Identity, props: Record<string, unknown>): string | null {
  for (const [k, v] of Object.entries(props)) {
    if (k === 'name' || k === 'textSignature' || k === 'htmlSignature') {
      if (typeof v !== 'string') return k;
      target[k] = v;
    } else if (k === 'replyTo' || k === 'bcc') {
      const list = addressList(v);
      if (list === undefined) return k;
      target[k] = list;
    } else return k;
  }
  return null;
}

function stored(i: Identity): string {
  return JSON.stringify({ name: i.name, email: i.email, replyTo: i.replyTo, bcc: i.bcc, textSignature: i.textSignature, htmlSignature: i.htmlSignature });
}

/** A SetError when the identity is too large to store (MAX_ACCOUNT_OBJECT_BYTES), else null. */
function tooLarge(i: Identity): SetError | null {
  return Buffer.byteLength(stored(i)) > MAX_ACCOUNT_OBJECT_BYTES
    ? { type: 'tooLarge', description: `An identity is at most ${MAX_ACCOUNT_OBJECT_BYTES} bytes (names, addresses and signatures together)` }
    : null;
}

export function identityMethods(svc: JmapServices): Record<string, MethodDef> {
  async function get(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const properties = selectProperties(args, PROPERTIES);
    const ids = getIds(args, ctx, svc.limits.maxObjectsInGet);
    const { state, identities } = await loadIdentities(svc, ctx.user);
    const byId = new Map(identities.map((i) => [i.id, i]));
    const wanted = ids ?? identities.map((i) => i.id);
    return {
      accountId,
      state,
      list: wanted.filter((id) => byId.has(id)).map((id) => pick(byId.get(id) as unknown as Record<string, unknown>, properties)),
      notFound: wanted.filter((id) => !byId.has(id)),
    };
  }

  async function changes(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const since = optionalString(args, 'sinceState');
    if (since === null) throw invalidArguments('sinceState is required');
    const maxChanges = optionalInt(args, 'maxChanges', 0, 1);
    const own = ownAddresses(ctx.user);
    const m = /^(\d+)-(.+)$/.exec(since);
    if (!m || m[2] !== shortHash(own)) throw new MethodError('cannotCalculateChanges', 'The state is not one of ours, or the addresses changed');
    const list = await svc.index.listAccountObjects(ctx.user, IDENTITY_KIND, { since: Number(m[1]) });
    if (Number(m[1]) > list.state) throw new MethodError('cannotCalculateChanges', 'The state is from the future');
    const defaults = new Set(own.map(defaultIdentityId));
    const created: string[] = [];
    const updated: string[] = [];
    const destroyed: string[] = [];
    for (const o of list.objects) {
      const isNew = o.createdModseq > Number(m[1]) && !defaults.has(o.id);
      if (o.data === null) {
        if (!isNew) destroyed.push(o.id);
      } else (isNew ? created : updated).push(o.id);
    }
    if (maxChanges && created.length + updated.length + destroyed.length > maxChanges) {
      throw new MethodError('cannotCalculateChanges', 'More changes than maxChanges; call Identity/get');
    }
    return { accountId, oldState: since, newState: stateOf(list.state, own), hasMoreChanges: false, created, updated, destroyed };
  }

  async function set(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const user = ctx.user;
    const before = await loadIdentities(svc, user);
    const ifInState = optionalString(args, 'ifInState');
    if (ifInState !== null && ifInState !== before.state) throw new MethodError('stateMismatch', 'ifInState does not match the current state');
    const create = optionalObject(args, 'create') ?? {};
    const update = optionalObject(args, 'update') ?? {};
    const destroy = args.destroy ?? [];
    if (!Array.isArray(destroy) || !destroy.every((d) => typeof d === 'string')) throw invalidArguments('destroy must be an array of ids');
    if (Object.keys(create).length + Object.keys(update).length + destroy.length > svc.limits.maxObjectsInSet) {
      throw new MethodError('requestTooLarge', `At most ${svc.limits.maxObjectsInSet} objects in one /set`);
    }
    const own = ownAddresses(user);
    const byId = new Map(before.identities.map((i) => [i.id, i]));
    const created: Record<string, unknown> = {};
    const notCreated: Record<string, SetError> = {};
    const updated: Record<string, unknown> = {};
    const notUpdated: Record<string, SetError> = {};
    const destroyed: string[] = [];
    const notDestroyed: Record<string, SetError> = {};

    for (const [cid, raw] of Object.entries(create)) {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
        notCreated[cid] = { type: 'invalidProperties', description: 'not an Identity object' };
        continue;
      }
      const { email, id, mayDelete, ...props } = raw as Record<string, unknown>;
      if (id !== undefined || mayDelete !== undefined) {
        notCreated[cid] = { type: 'invalidProperties', properties: [id !== undefined ? 'id' : 'mayDelete'], description: 'set by the server' };
        continue;
      }
      if (typeof email !== 'string') {
        notCreated[cid] = { type: 'invalidProperties', properties: ['email'] };
        continue;
      }
      const address = email.toLowerCase();
      // RFC 8621 §6.3: forbiddenFrom when the user may not send from the address.
      if (!own.includes(address)) {
        notCreated[cid] = { type: 'forbiddenFrom', description: `You may send only as ${own.join(', ')}` };
        continue;
      }
      const identity: Identity = { ...defaultIdentity(address), id: 'I' + randomUUID().replace(/-/g, ''), mayDelete: true };
      const bad = applyProps(identity, props);
      if (bad) {
        notCreated[cid] = { type: 'invalidProperties', properties: [bad] };
        continue;
      }
      const large = tooLarge(identity);
      if (large) {
        notCreated[cid] = large;
        continue;
      }
      await svc.index.putAccountObject(user, IDENTITY_KIND, identity.id, stored(identity));
      byId.set(identity.id, identity);
      ctx.createdIds.set(cid, identity.id);
      created[cid] = {
        id: identity.id,
        mayDelete: true,
        ...pick(
          identity as unknown as Record<string, unknown>,
          SETTABLE.filter((p) => !(p in props)),
        ),
      };
    }

    for (const [rawId, patch] of Object.entries(update)) {
      const id = resolveId(rawId, ctx);
      const current = byId.get(id);
      if (!current) {
        notUpdated[rawId] = { type: 'notFound' };
        continue;
      }
      if (!patch || typeof patch !== 'object' || Array.isArray(patch)) {
        notUpdated[rawId] = { type: 'invalidPatch' };
        continue;
      }
      const next: Identity = { ...current };
      const p = patch as Record<string, unknown>;
      const immutable = Object.keys(p).find((k) => (k === 'email' && p.email !== current.email) || k === 'id' || k === 'mayDelete');
      if (immutable) {
        notUpdated[rawId] = { type: 'invalidProperties', properties: [immutable], description: `${immutable} cannot be changed` };
        continue;
      }
      const bad = applyProps(next, Object.fromEntries(Object.entries(p).filter(([k]) => k !== 'email')));
      if (bad) {
        notUpdated[rawId] = { type: 'invalidProperties', properties: [bad] };
        continue;
      }
      const large = tooLarge(next);
      if (large) {
        notUpdated[rawId] = large;
        continue;
      }
      await svc.index.putAccountObject(user, IDENTITY_KIND, id, stored(next));
      byId.set(id, next);
      updated[id] = null;
    }

    for (const rawId of destroy as string[]) {
      const id = resolveId(rawId, ctx);
      const current = byId.get(id);
      if (!current) {
        notDestroyed[rawId] = { type: 'notFound' };
        continue;
      }
      if (!current.mayDelete) {
        notDestroyed[rawId] = { type: 'forbidden', description: 'The identity of an address of yours cannot be destroyed' };
        continue;
      }
      try {
        await svc.index.putAccountObject(user, IDENTITY_KIND, id, null);
      } catch (err) {
        if (!(err instanceof IndexError && err.code === 'NOT_FOUND')) throw err;
      }
      byId.delete(id);
      destroyed.push(id);
    }

    const after = await loadIdentities(svc, user);
    return { accountId, oldState: before.state, newState: after.state, created, updated, destroyed, notCreated, notUpdated, notDestroyed };
  }

  return {
    'Identity/get': { capability: SUBMISSION, handle: get },
    'Identity/changes': { capability: SUBMISSION, handle: changes },
    'Identity/set': { capability: SUBMISSION, handle: (args, ctx) => svc.locks.run(ctx.user, () => set(args, ctx)) },
  };
}
