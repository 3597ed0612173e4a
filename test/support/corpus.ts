/**
 * The shared corpus of real-world messages: ../shared/corpus next to the repository (see its
 * README and MANIFEST.tsv), or MIME_CORPUS_DIR. The one place tests find it.
 *
 * When CI is set a missing (or empty) corpus is a failure: the test file that asks for it
 * fails at load. Elsewhere the suites that need it are skipped, with the reason in their name.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe } from 'vitest';

export const CORPUS_DIR = process.env.MIME_CORPUS_DIR ? path.resolve(process.env.MIME_CORPUS_DIR) : path.resolve(import.meta.dirname, '../../../shared/corpus');

export interface CorpusFile {
  name: string;
  raw: Buffer;
}

/** Names of the corpus's .eml files, sorted; [] when it is absent (outside CI). */
export function corpusNames(): string[] {
  const names = existsSync(CORPUS_DIR)
    ? readdirSync(CORPUS_DIR)
        .filter((f) => f.endsWith('.eml'))
        .sort()
    : [];
  if (names.length === 0 && process.env.CI) throw new Error(`CI is set and the message corpus is missing: no .eml files in ${CORPUS_DIR}`);
  return names;
}

/** Path of a file of the corpus (MANIFEST.tsv, or an .eml by name). */
export function corpusPath(name: string): string {
  return path.join(CORPUS_DIR, name);
}

/** Every .eml file of the corpus with its bytes, sorted by name. */
export function corpusFiles(): CorpusFile[] {
  return corpusNames().map((name) => ({ name, raw: readFileSync(corpusPath(name)) }));
}

/** describe() over the corpus; when there is none (outside CI) a skipped suite saying why. */
export function describeWithCorpus(name: string, fn: () => void): void {
  if (corpusNames().length > 0) describe(name, fn);
  else describe.skip(`${name} (skipped: no corpus at ${CORPUS_DIR}; with CI set this fails)`, fn);
}
