/** Comparing what a client wrote to disk with what was delivered, as multisets of byte strings. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export function filesIn(dir: string): Buffer[] {
  return readdirSync(dir)
    .sort()
    .map((f) => readFileSync(path.join(dir, f)));
}

/** Returns a description of the differences, or '' when `got` and `expected` hold the same byte strings. */
export function multisetDiff(got: Buffer[], expected: Array<{ name: string; bytes: Buffer }>): string {
  const left = new Map<string, number>();
  for (const g of got) left.set(g.toString('latin1'), (left.get(g.toString('latin1')) ?? 0) + 1);
  const missing: string[] = [];
  for (const e of expected) {
    const k = e.bytes.toString('latin1');
    const n = left.get(k) ?? 0;
    if (n === 0) missing.push(e.name);
    else left.set(k, n - 1);
  }
  const extra = [...left.values()].reduce((a, n) => a + n, 0);
  if (!missing.length && !extra) return '';
  return `${missing.length} expected message(s) not received exactly (${missing.slice(0, 5).join(', ')}), ${extra} unexpected file(s)`;
}
