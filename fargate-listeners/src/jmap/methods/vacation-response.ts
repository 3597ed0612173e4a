/**
 * VacationResponse/get and /set (RFC 8621 §8): one object per account, id `singleton`, that
 * cannot be created or destroyed. Stored as the account object `VacationResponse/singleton`
 * (core/delivery/vacation.ts, which honours it when mail is delivered: RFC 3834 rules, one
 * reply per sender per 7 days). The state is the objects' counter.
 */
import { VACATION_ID, VACATION_KIND, VACATION_OFF, markVacation, readVacation, type VacationSettings } from '#core/delivery/vacation.ts';
import { MAX_ACCOUNT_OBJECT_BYTES } from '#core/ports/mail-index.ts';
import type { MethodContext, MethodDef } from '../api.ts';
import { VACATION_RESPONSE } from '../capabilities.ts';
import { MethodError, invalidArguments, type SetError } from '../errors.ts';
import type { JmapServices } from '../services.ts';
import { getIds, optionalObject, optionalString, pick, requireAccount, selectProperties } from './common.ts';

const PROPERTIES = ['id', 'isEnabled', 'fromDate', 'toDate', 'subject', 'textBody', 'htmlBody'];
const UTC_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** The settings with `patch` applied, or the first bad property. */
function patched(current: VacationSettings, patch: Record<string, unknown>): VacationSettings | string {
  const next = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'id') {
      if (v !== VACATION_ID) return k;
    } else if (k === 'isEnabled') {
      if (typeof v !== 'boolean') return k;
      next.isEnabled = v;
    } else if (k === 'fromDate' || k === 'toDate') {
      if (v !== null && (typeof v !== 'string' || !UTC_DATE.test(v) || !Number.isFinite(Date.parse(v)))) return k;
      next[k] = v;
    } else if (k === 'subject' || k === 'textBody' || k === 'htmlBody') {
      if (v !== null && typeof v !== 'string') return k;
      next[k] = v;
    } else return k;
  }
  return next;
}

export function vacationResponseMethods(svc: JmapServices): Record<string, MethodDef> {
  async function current(user: string): Promise<{ state: string; settings: VacationSettings }> {
    const [settings, list] = await Promise.all([readVacation(svc.index, user), svc.index.listAccountObjects(user, VACATION_KIND)]);
    return { state: String(list.state), settings };
  }

  async function get(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const properties = selectProperties(args, PROPERTIES);
    const ids = getIds(args, ctx, svc.limits.maxObjectsInGet) ?? [VACATION_ID];
    const { state, settings } = await current(ctx.user);
    const object = { id: VACATION_ID, ...settings };
    return {
      accountId,
      state,
      list: ids.includes(VACATION_ID) ? [pick(object, properties)] : [],
      notFound: ids.filter((id) => id !== VACATION_ID),
    };
  }

  async function set(args: Record<string, unknown>, ctx: MethodContext) {
    const accountId = requireAccount(args, ctx);
    const before = await current(ctx.user);
    const ifInState = optionalString(args, 'ifInState');
    if (ifInState !== null && ifInState !== before.state) throw new MethodError('stateMismatch', 'ifInState does not match the current state');
    const create = optionalObject(args, 'create') ?? {};
    const update = optionalObject(args, 'update') ?? {};
    const destroy = args.destroy ?? [];
    if (!Array.isArray(destroy) || !destroy.every((d) => typeof d === 'string')) throw invalidArguments('destroy must be an array of ids');
    const notCreated: Record<string, SetError> = {};
    const updated: Record<string, unknown> = {};
    const notUpdated: Record<string, SetError> = {};
    const notDestroyed: Record<string, SetError> = {};
    // RFC 8621 §8.2: the singleton is never created nor destroyed.
    for (const cid of Object.keys(create)) notCreated[cid] = { type: 'singleton', description: 'There is one VacationResponse; update it' };
    for (const id of destroy as string[]) notDestroyed[id] = { type: 'singleton', description: 'The VacationResponse cannot be destroyed' };
    let settings = before.settings;
    for (const [id, patch] of Object.entries(update)) {
      if (id !== VACATION_ID) {
        notUpdated[id] = { type: 'notFound' };
        continue;
      }
      if (!patch || typeof patch !== 'object' || Array.isArray(patch)) {
        notUpdated[id] = { type: 'invalidPatch' };
        continue;
      }
      const next = patched(settings, patch as Record<string, unknown>);
      if (typeof next === 'string') {
        notUpdated[id] = { type: 'invalidProperties', properties: [next] };
        continue;
      }
      const stored: VacationSettings = { ...VACATION_OFF, ...next };
      if (Buffer.byteLength(JSON.stringify(stored)) > MAX_ACCOUNT_OBJECT_BYTES) {
        notUpdated[id] = { type: 'tooLarge', description: `The subject and bodies are at most ${MAX_ACCOUNT_OBJECT_BYTES} bytes together` };
        continue;
      }
      await svc.index.putAccountObject(ctx.user, VACATION_KIND, VACATION_ID, JSON.stringify(stored));
      if (stored.isEnabled !== settings.isEnabled || stored.isEnabled) await markVacation(svc.index, ctx.user, stored.isEnabled);
      settings = stored;
      updated[id] = null;
    }
    const after = await current(ctx.user);
    return {
      accountId,
      oldState: before.state,
      newState: after.state,
      created: {},
      updated,
      destroyed: [],
      notCreated,
      notUpdated,
      notDestroyed,
    };
  }

  return {
    'VacationResponse/get': { capability: VACATION_RESPONSE, handle: get },
    'VacationResponse/set': { capability: VACATION_RESPONSE, handle: (args, ctx) => svc.locks.run(`${ctx.user}\u0000vacation`, () => set(args, ctx)) },
  };
}
