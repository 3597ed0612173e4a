/**
 * Back-references between method calls (RFC 8620 §3.7): an argument named `#name` whose value
 * is a ResultReference `{resultOf, name, path}` is replaced by the value at `path` (a JSON
 * Pointer, RFC 6901, extended with `*`) in the earlier response with call id `resultOf` and
 * method name `name`.
 */
import { MethodError } from './errors.ts';

export type Invocation = [string, Record<string, unknown>, string];

function bad(description: string): MethodError {
  return new MethodError('invalidResultReference', description);
}

/**
 * Evaluates a JSON Pointer with RFC 8620's `*`: on an array, `*` applies the rest of the path
 * to each item, and when every result is an array they are concatenated into one.
 */
export function evaluatePointer(value: unknown, pointer: string): unknown {
  if (pointer === '') return value;
  if (!pointer.startsWith('/')) throw bad(`path ${JSON.stringify(pointer)} is not a JSON Pointer`);
  const tokens = pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  const walk = (current: unknown, i: number): unknown => {
    if (i === tokens.length) return current;
    const token = tokens[i];
    if (Array.isArray(current)) {
      if (token === '*') {
        const items = current.map((item) => walk(item, i + 1));
        return items.every(Array.isArray) ? (items as unknown[][]).flat() : items;
      }
      if (!/^(0|[1-9][0-9]*)$/.test(token)) throw bad(`path token ${JSON.stringify(token)} is not an array index`);
      const n = Number(token);
      if (n >= current.length) throw bad(`path index ${n} is out of range`);
      return walk(current[n], i + 1);
    }
    if (current !== null && typeof current === 'object') {
      if (!Object.prototype.hasOwnProperty.call(current, token)) throw bad(`path ${JSON.stringify(pointer)} not found in the result`);
      return walk((current as Record<string, unknown>)[token], i + 1);
    }
    throw bad(`path ${JSON.stringify(pointer)} not found in the result`);
  };
  return walk(value, 0);
}

/** Returns `args` with every `#name` reference replaced by its value (a new object). */
export function resolveReferences(args: Record<string, unknown>, responses: readonly Invocation[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    if (!key.startsWith('#')) {
      out[key] = value;
      continue;
    }
    const name = key.slice(1);
    if (Object.prototype.hasOwnProperty.call(args, name)) throw new MethodError('invalidArguments', `both ${name} and #${name} given`);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad(`#${name} is not a ResultReference`);
    const ref = value as Record<string, unknown>;
    if (typeof ref.resultOf !== 'string' || typeof ref.name !== 'string' || typeof ref.path !== 'string') {
      throw bad(`#${name} needs resultOf, name and path strings`);
    }
    // The first response with that call id and name (one call may answer with several, §3.7).
    const source = responses.find((r) => r[2] === ref.resultOf && r[0] === ref.name);
    if (!source) throw bad(`no earlier ${ref.name} result with call id ${JSON.stringify(ref.resultOf)}`);
    out[name] = evaluatePointer(source[1], ref.path);
  }
  return out;
}
