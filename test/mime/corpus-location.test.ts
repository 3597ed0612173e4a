/** Where the tests find the shared corpus (test/support/corpus.ts), and what CI makes of its absence. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

async function freshCorpusModule() {
  vi.resetModules();
  return import('../support/corpus.ts');
}

describe('the corpus helper', () => {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'no-corpus-'));
  afterEach(() => vi.unstubAllEnvs());

  it('reads ../shared/corpus next to the repository by default', async () => {
    vi.stubEnv('MIME_CORPUS_DIR', '');
    const m = await freshCorpusModule();
    expect(m.CORPUS_DIR).toBe(path.resolve(import.meta.dirname, '../../../shared/corpus'));
  });

  it('with CI set, a missing corpus is an error, not an empty list', async () => {
    vi.stubEnv('CI', 'true');
    vi.stubEnv('MIME_CORPUS_DIR', path.join(empty, 'absent'));
    const m = await freshCorpusModule();
    expect(() => m.corpusNames()).toThrow(/CI is set and the message corpus is missing/);
    vi.stubEnv('MIME_CORPUS_DIR', empty); // present but without messages: the same
    const again = await freshCorpusModule();
    expect(() => again.corpusFiles()).toThrow(/corpus is missing/);
  });

  it('without CI, a missing corpus gives no files (the suites that need it are skipped, saying why)', async () => {
    vi.stubEnv('CI', '');
    vi.stubEnv('MIME_CORPUS_DIR', path.join(empty, 'absent'));
    expect((await freshCorpusModule()).corpusNames()).toEqual([]);
    rmSync(empty, { recursive: true, force: true });
  });
});
