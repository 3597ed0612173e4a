/**
 * The one seeded PRNG of the fuzz tests, and the loop that runs a fuzz case once per seed.
 *
 * Every run gets its own seed (the base seed + the run's number), so a failure names exactly
 * one seed and reproduces alone:
 *
 *   FUZZ_SEED=<seed> FUZZ_RUNS=1 npx vitest run test/imap/session-fuzz.test.ts
 *
 * FUZZ_SEED replaces the base seed of every fuzz loop in the files run, FUZZ_RUNS the number of
 * runs (more runs: a longer search; the defaults keep each test under a few seconds).
 */

export interface Prng {
  /** The seed this generator started from. */
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** A whole number in [0, n). */
  int(n: number): number;
  /** A whole number in [min, max]. */
  between(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  bytes(n: number): Buffer;
}

/** mulberry32: small, fast, and the same sequence on every machine for a given seed. */
export function prng(seed: number): Prng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    seed: seed >>> 0,
    next,
    int,
    between: (min, max) => min + int(max - min + 1),
    chance: (p) => next() < p,
    pick: (items) => items[int(items.length)],
    bytes: (n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
  };
}

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got ${JSON.stringify(v)}`);
  return n;
}

export interface FuzzOptions {
  /** Base seed (FUZZ_SEED replaces it). */
  seed: number;
  /** Number of runs (FUZZ_RUNS replaces it). */
  runs: number;
}

/**
 * Runs `body` once per seed (base, base+1, ...). A failing run is rethrown with its seed and
 * the command line that repeats it alone; the original error is the cause.
 */
export async function fuzzRuns(label: string, options: FuzzOptions, body: (rnd: Prng, run: number) => void | Promise<void>): Promise<void> {
  const base = envInt('FUZZ_SEED') ?? options.seed;
  const runs = envInt('FUZZ_RUNS') ?? options.runs;
  for (let run = 0; run < runs; run++) {
    const seed = (base + run) >>> 0;
    try {
      await body(prng(seed), run);
    } catch (err) {
      const e = err as Error;
      throw new Error(`${label}: failed with seed ${seed} (reproduce: FUZZ_SEED=${seed} FUZZ_RUNS=1): ${e?.message ?? String(err)}`, { cause: err });
    }
  }
}
