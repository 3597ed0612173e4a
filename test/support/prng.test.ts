/** The fuzz tests' seeded PRNG and run loop: a failure names its seed, and the seed repeats it. */
import { afterEach, describe, expect, it } from 'vitest';
import { fuzzRuns, prng } from './prng.ts';

describe('fuzz PRNG and runs', () => {
  afterEach(() => {
    delete process.env.FUZZ_SEED;
    delete process.env.FUZZ_RUNS;
  });

  it('gives the same sequence for the same seed and another one for another seed', () => {
    const a = prng(99);
    const b = prng(99);
    const xs = Array.from({ length: 20 }, () => a.int(1000));
    expect(Array.from({ length: 20 }, () => b.int(1000))).toEqual(xs);
    expect(Array.from({ length: 20 }, () => prng(100).int(1000))).not.toEqual(xs);
  });

  it('names the failing seed, and FUZZ_SEED with FUZZ_RUNS=1 runs exactly that case again', async () => {
    const seen: number[] = [];
    const failOnSeventh = (label: string) =>
      fuzzRuns(label, { seed: 500, runs: 10 }, (rnd, run) => {
        seen.push(rnd.seed);
        if (rnd.seed === 506) throw new Error(`boom at run ${run}`);
      });
    await expect(failOnSeventh('case')).rejects.toThrow('case: failed with seed 506 (reproduce: FUZZ_SEED=506 FUZZ_RUNS=1): boom at run 6');
    expect(seen).toEqual([500, 501, 502, 503, 504, 505, 506]);
    seen.length = 0;
    process.env.FUZZ_SEED = '506';
    process.env.FUZZ_RUNS = '1';
    await expect(failOnSeventh('case')).rejects.toThrow('seed 506');
    expect(seen).toEqual([506]);
  });
});
