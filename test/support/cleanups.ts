/** Cleanups a test registers as it creates things, run after the describe block's tests. */
import { afterAll } from 'vitest';

export type Cleanup = () => Promise<void> | void;

/** An array to push cleanups onto; after all tests of the enclosing block they run, last pushed first. */
export function cleanupsAfterAll(): Cleanup[] {
  const cleanups: Cleanup[] = [];
  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return cleanups;
}
