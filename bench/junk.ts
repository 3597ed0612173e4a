/**
 * The junk filter on real mail (issue 14): one user's model trained through the product's own
 * training path — messages appended and moved into Junk (spam) or out of Junk to INBOX (ham)
 * by MailboxWrites, the write IMAP MOVE and JMAP Email/set share, in selections of
 * MOVE_BATCH as a user moves a screenful — on 70 % of the SpamAssassin public corpus
 * (bench/junk-corpus.ts), then the other 30 % scored as delivery scores it (junkScore with
 * the default JUNK_THRESHOLD). Local adapters in a temporary directory.
 * Goal: ≥ 95 % of spam caught with ≤ 0.5 % of ham sent to Junk.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createUser } from '#core/accounts/accounts.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { DEFAULT_JUNK_THRESHOLD, junkScore } from '#core/junk/delivery-verdict.ts';
import { junkModelsFor } from '#core/junk/model-store.ts';
import { modelStats } from '#core/junk/classifier.ts';
import { junkTrainingSettled } from '#core/junk/training.ts';
import { silentLogger } from '#core/log.ts';
import { MailboxWrites } from '#core/mailbox/writes.ts';
import { indexMessage } from '#core/mime/index-message.ts';
import { junkFigures, loadJunkCorpus } from './junk-corpus.ts';

const MOVE_BATCH = 100;
const USER = 'bench@example.test';

export async function benchJunk(): Promise<Record<string, number>> {
  const corpus = loadJunkCorpus();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-junk-'));
  const adapters = await createLocalAdapters({ dataDir: dir });
  try {
    await adapters.index.addDomain('example.test');
    await createUser(adapters.index, USER, 'bench-password');
    const writes = new MailboxWrites(adapters, { log: silentLogger });
    const box = async (name: string) => (await adapters.index.getMailbox(USER, name))!;
    const [inbox, junk] = [await box('INBOX'), await box('Junk')];
    const training = corpus.filter((m) => m.train);
    const t0 = performance.now();
    for (const spam of [true, false]) {
      const set = training.filter((m) => m.spam === spam);
      const [from, to] = spam ? [inbox, junk] : [junk, inbox];
      for (let i = 0; i < set.length; i += MOVE_BATCH) {
        const uids: number[] = [];
        for (const m of set.slice(i, i + MOVE_BATCH)) uids.push((await writes.append(USER, from.name, m.raw)).uid);
        // IMAP MOVE: copy, then expunge the source (fargate-listeners/src/imap/session/commands/copy-move.ts).
        const { mapping } = await writes.copy(USER, from.id, uids, to.id);
        await writes.expunge(
          USER,
          from.id,
          mapping.map((x) => x.from),
        );
      }
    }
    await junkTrainingSettled();
    const trainMs = performance.now() - t0;
    const model = await junkModelsFor(adapters.blobs).read(USER);
    const stats = modelStats(model);
    const testing = corpus.filter((m) => !m.train);
    const t1 = performance.now();
    const tested = [];
    for (const m of testing)
      tested.push({ message: m, junk: (await junkScore(adapters.blobs, USER, m.raw, indexMessage(m.raw), DEFAULT_JUNK_THRESHOLD)).junk });
    const classifyMs = performance.now() - t1;
    const f = junkFigures(tested);
    if (stats.spam + stats.ham !== training.length) throw new Error(`trained ${stats.spam + stats.ham} of ${training.length} messages moved`);
    return {
      junk_trained_spam: stats.spam,
      junk_trained_ham: stats.ham,
      junk_model_tokens: stats.tokens,
      junk_train_messages_per_s: Number((training.length / (trainMs / 1000)).toFixed(1)),
      junk_classify_ms_per_message: Number((classifyMs / testing.length).toFixed(2)),
      junk_tested_spam: f.tested.spam,
      junk_tested_ham: f.tested.ham,
      junk_spam_caught_pct: f.spamCaughtPercent,
      junk_ham_to_junk_pct: f.hamToJunkPercent,
      junk_hard_ham_to_junk_pct: f.hardHamToJunkPercent,
    };
  } finally {
    await adapters.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) console.log(await benchJunk());
