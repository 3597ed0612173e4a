/**
 * A queue that cannot be read (disk full) is logged as one persistent fault, not once per poll
 * of each of the worker's loops, and its end is logged with the number of failed polls
 * (core/worker.ts; issue 18 item 8).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { createLogger } from '#core/log.ts';
import { startWorker } from '#core/worker.ts';
import { eventually, override } from '../support/mail-system.ts';

describe('worker: a persistent queue fault', () => {
  let adapters: Adapters | undefined;
  let dataDir: string | undefined;
  afterEach(async () => {
    await adapters?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('is logged once while it lasts (polls back off), and its end once with the count', async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'worker-faults-'));
    adapters = await createLocalAdapters({ dataDir });
    const lines: Array<Record<string, any>> = [];
    const logger = createLogger({}, 'debug', (l) => lines.push(JSON.parse(l)));
    let diskFull = true;
    let polls = 0;
    const real = adapters.queue;
    const queue = override(real, {
      receive: ((...args: Parameters<typeof real.receive>) => {
        polls++;
        return diskFull ? Promise.reject(new Error('database or disk is full')) : real.receive(...args);
      }) as typeof real.receive,
    });
    const handled: string[] = [];
    const worker = startWorker<{ id: string }>(queue, 'ingest', async (job) => void handled.push(job.body.id), logger, { concurrency: 4 });
    await new Promise((r) => setTimeout(r, 3500));
    diskFull = false;
    await real.send('ingest', { id: 'after' });
    await eventually(async () => handled.includes('after'), 10_000);
    await worker.stop();

    const failed = lines.filter((l) => l.msg === 'queue receive failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 'error', queue: 'ingest' });
    // Four loops backing off from 1 s: about 12 polls in 3.5 s, not 14 a second.
    expect(polls).toBeGreaterThan(4);
    expect(polls).toBeLessThan(30);
    const recovered = lines.filter((l) => l.msg === 'queue receive recovered');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]).toMatchObject({ level: 'info', queue: 'ingest' });
    expect(recovered[0].failedPolls).toBeGreaterThanOrEqual(4);
    expect(lines.filter((l) => l.level === 'error')).toHaveLength(1);
  });
});
