/**
 * The junk filter measured on real mail (issue 14): trained on 70 % of the SpamAssassin
 * public corpus and scored on the other 30 % (the split of bench/junk-corpus.ts, which
 * `npm run bench` measures through the product's training path, bench/junk.ts). This test
 * trains through the classifier directly, for speed; the training path itself is covered by
 * test/junk/junk-filter.test.ts and test/junk/imap-move-trains.e2e.test.ts.
 *
 * Floors just below what the filter reaches at the default JUNK_THRESHOLD (0.9): 95.08 % of
 * spam caught, 0.32 % of ham (5.13 % of hard ham, 4 of 78) to Junk. The goal is ≥ 95 % and ≤ 0.5 %.
 * Not skipped when the corpus is missing: loadJunkCorpus throws and says how to install it.
 */
import { describe, expect, it } from 'vitest';
import { classify, DEFAULT_JUNK_THRESHOLD, emptyModel, train } from '#core/junk/classifier.ts';
import { tokenize } from '#core/junk/tokenize.ts';
import { junkFigures, loadJunkCorpus } from '../../bench/junk-corpus.ts';

describe('junk filter accuracy on the SpamAssassin public corpus', () => {
  it('catches at least 94.5 % of spam and sends at most 0.45 % of ham (7 % of hard ham) to Junk', { timeout: 300_000 }, () => {
    const corpus = loadJunkCorpus();
    const model = emptyModel();
    for (const m of corpus) if (m.train) train(model, m.name, m.spam ? 'spam' : 'ham', tokenize(m.raw));
    const tested = corpus.filter((m) => !m.train).map((message) => ({ message, junk: classify(model, tokenize(message.raw)).score >= DEFAULT_JUNK_THRESHOLD }));
    const f = junkFigures(tested);
    expect(f.tested.spam + f.tested.ham).toBeGreaterThan(1700);
    expect(f.spamCaughtPercent).toBeGreaterThanOrEqual(94.5);
    expect(f.hamToJunkPercent).toBeLessThanOrEqual(0.45);
    expect(f.hardHamToJunkPercent).toBeLessThanOrEqual(7);
  });
});
