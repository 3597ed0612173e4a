/** Argument checks every standard method shares (RFC 8620 §5). */
import { MethodError, invalidArguments } from '../errors.ts';
import type { MethodContext } from '../api.ts';

export function requireAccount(args: Record<string, unknown>, ctx: MethodContext): string {
  if (typeof args.accountId !== 'string') throw invalidArguments('accountId is required');
  if (args.accountId !== ctx.accountId) throw new MethodError('accountNotFound', `No account ${args.accountId}`);
  return args.accountId;
}

export function optionalStringArray(args: Record<string, unknown>, name: string): string[] | null {
  const v = args[name];
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalidArguments(`${name} must be an array of strings or null`);
  return v as string[];
}

export function optionalObject(args: Record<string, unknown>, name: string): Record<string, unknown> | null {
  const v = args[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidArguments(`${name} must be an object or null`);
  return v as Record<string, unknown>;
}

export function optionalString(args: Record<string, unknown>, name: string): string | null {
  const v = args[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw invalidArguments(`${name} must be a string`);
  return v;
}

export function optionalInt(args: Record<string, unknown>, name: string, fallback: number, min = 0): number {
  const v = args[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw invalidArguments(`${name} must be an integer ≥ ${min}`);
  return v;
}

export function optionalBool(args: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const v = args[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw invalidArguments(`${name} must be a boolean`);
  return v;
}

/** The properties to return: all when null; unknown ones are invalidArguments (RFC 8620 §5.1); `id` always. */
export function selectProperties(args: Record<string, unknown>, all: readonly string[], defaults: readonly string[] = all): string[] {
  const asked = optionalStringArray(args, 'properties');
  if (!asked) return [...new Set(['id', ...defaults])];
  const known = new Set(all);
  for (const p of asked) if (!known.has(p) && !p.startsWith('header:')) throw invalidArguments(`Unknown property ${p}`);
  return [...new Set(['id', ...asked])];
}

/** `ids` of a /get call: null = all (bounded by maxObjectsInGet), resolved `#creationId`s. */
export function getIds(args: Record<string, unknown>, ctx: MethodContext, maxObjects: number): string[] | null {
  const ids = optionalStringArray(args, 'ids');
  if (ids && ids.length > maxObjects) throw new MethodError('requestTooLarge', `At most ${maxObjects} ids in one /get`);
  return ids ? ids.map((id) => (id.startsWith('#') ? (ctx.createdIds.get(id.slice(1)) ?? id) : id)) : null;
}

/** The creation-id reference `#k` resolved (RFC 8620 §5.3), or the id as given. */
export function resolveId(id: string, ctx: MethodContext): string {
  return id.startsWith('#') ? (ctx.createdIds.get(id.slice(1)) ?? id) : id;
}

export function pick(obj: Record<string, unknown>, properties: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of properties) if (p in obj) out[p] = obj[p];
  return out;
}
