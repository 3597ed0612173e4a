/**
 * The junk filter that learns from the user (issue 14, item 4): moving a message into the
 * \Junk mailbox (RFC 6154) through MailboxWrites — the write IMAP COPY/MOVE and JMAP
 * Email/set share — trains it as spam, moving it out trains it as ham, and the user's model
 * then decides INBOX or Junk at delivery. A new user's model is neutral. On both adapter sets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createUser } from '#core/accounts/accounts.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { loadConfig } from '#core/config.ts';
import { runIngestJob, type IngestJob } from '#core/ingest/ingest-job.ts';
import { classify, emptyModel, MAX_TOKENS, modelStats, train } from '#core/junk/classifier.ts';
import { junkModelsFor, modelKey } from '#core/junk/model-store.ts';
import { junkTrainingSettled, trainMessages } from '#core/junk/training.ts';
import { tokenize } from '#core/junk/tokenize.ts';
import { silentLogger } from '#core/log.ts';
import { MailboxWrites } from '#core/mailbox/writes.ts';
import { ADAPTER_KINDS, makeAdapters } from '../support/mail-system.ts';

const alice = 'alice@example.test';

function spam(i: number): Buffer {
  return Buffer.from(
    `From: "Best Deals" <offers${i}@cheap-pills${i % 3}.example>\r\nTo: ${alice}\r\nSubject: Cheap viagra and casino bonus ${i}\r\n` +
      `Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><font color=red>BUY NOW</font> cheap viagra, free casino bonus, ` +
      `limited offer, click http://cheap-pills${i % 3}.example/buy?id=${i} unsubscribe</body></html>\r\n`,
  );
}

function ham(i: number): Buffer {
  return Buffer.from(
    `From: Bob <bob@colleague.example>\r\nTo: ${alice}\r\nSubject: Minutes of the project meeting ${i}\r\n\r\n` +
      `Hi Alice,\r\nattached are the minutes of Tuesday's meeting. The release schedule moves to next week; ` +
      `please review the budget spreadsheet before Friday.\r\nThanks, Bob\r\n`,
  );
}

describe('the classifier', () => {
  it('gives 0.5 (not junk) with a neutral model: a new user starts from nothing', () => {
    expect(classify(emptyModel(), tokenize(spam(1))).score).toBe(0.5);
  });

  it('scores trained-like spam near 1 and trained-like ham near 0, and untrains on a change of mind', () => {
    const model = emptyModel();
    for (let i = 0; i < 10; i++) train(model, `s${i}`, 'spam', tokenize(spam(i)));
    for (let i = 0; i < 10; i++) train(model, `h${i}`, 'ham', tokenize(ham(i)));
    expect(classify(model, tokenize(spam(99))).score).toBeGreaterThan(0.95);
    expect(classify(model, tokenize(ham(99))).score).toBeLessThan(0.05);
    expect(train(model, 's0', 'spam', tokenize(spam(0)))).toBe(false); // same class again: nothing changes
    expect(train(model, 's0', 'ham', tokenize(spam(0)))).toBe(true);
    expect(modelStats(model)).toMatchObject({ spam: 9, ham: 11 });
  });

  it('keeps the model bounded: past MAX_TOKENS the rarest tokens are pruned', () => {
    const model = emptyModel();
    const common = Array.from({ length: 50 }, (_, i) => `common${i}`);
    for (let m = 0; model.tokens.size < MAX_TOKENS && m < 2000; m++) {
      train(model, `m${m}`, m % 2 ? 'spam' : 'ham', [...common, ...Array.from({ length: 200 }, (_, i) => `rare${m}_${i}`)]);
    }
    train(model, 'last', 'spam', [...common, ...Array.from({ length: 200 }, (_, i) => `rare_last_${i}`)]);
    expect(model.tokens.size).toBeLessThanOrEqual(MAX_TOKENS);
    expect(model.tokens.get('common0')).toBeDefined();
  });

  it('refuses a JUNK_THRESHOLD that is not a number above 0.5 and at most 1', () => {
    expect(loadConfig({ JUNK_THRESHOLD: '0.8' }).inbound.junkThreshold).toBe(0.8);
    expect(loadConfig({}).inbound.junkThreshold).toBe(0.9);
    for (const bad of ['0.5', '1.5', 'high', '-1']) expect(() => loadConfig({ JUNK_THRESHOLD: bad })).toThrow(/JUNK_THRESHOLD/);
  });
});

describe.each(ADAPTER_KINDS)('training by moves, deciding at delivery (%s adapters)', (kind) => {
  let adapters: Adapters;
  let cleanup: () => Promise<void>;
  let dir: string;
  let writes: MailboxWrites;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'junk-filter-'));
    ({ adapters, cleanup } = await makeAdapters(kind, dir));
    await adapters.index.addDomain('example.test');
    await createUser(adapters.index, alice, 'pw');
    writes = new MailboxWrites(adapters, { log: silentLogger });
  });
  afterEach(async () => {
    await junkTrainingSettled();
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const mailbox = async (name: string) => (await adapters.index.getMailbox(alice, name))!;
  const stats = async () => modelStats(await junkModelsFor(adapters.blobs).update(alice, () => false));
  /** Appends to `from` and moves it to `to` as IMAP MOVE does: copy, then expunge. */
  async function move(raw: Buffer, from: string, to: string) {
    const a = await writes.append(alice, from, raw);
    const { mapping } = await writes.copy(alice, a.mailboxId, [a.uid], (await mailbox(to)).id);
    await writes.expunge(alice, a.mailboxId, [a.uid]);
    return mapping[0].to;
  }
  let n = 0;
  async function deliver(raw: Buffer) {
    const id = `job${++n}`;
    const blobKey = `messages/test/${id}`;
    await adapters.blobs.put(blobKey, raw);
    const job: IngestJob = { id, blobKey, mailFrom: 'x@remote.test', rcptTo: [alice], receivedAt: Date.now(), source: 'mx', size: raw.length, held: false };
    await runIngestJob(job, { adapters, logger: silentLogger });
  }
  const count = async (name: string) => (await adapters.index.listMessages(alice, (await mailbox(name)).id)).length;

  it('a new user gets even spam-looking mail in INBOX (neutral model, score 0.5)', async () => {
    await deliver(spam(1));
    expect([await count('INBOX'), await count('Junk')]).toEqual([1, 0]);
    expect(await adapters.blobs.exists(modelKey(alice))).toBe(false);
  });

  it('a move into Junk trains spam, out of Junk trains ham instead, into Trash trains nothing', async () => {
    const uid = await move(spam(1), 'INBOX', 'Junk');
    await junkTrainingSettled();
    expect(await stats()).toMatchObject({ spam: 1, ham: 0, trackedMessages: 1 });
    const junk = await mailbox('Junk');
    await writes.copy(alice, junk.id, [uid], (await mailbox('Archive')).id); // out of Junk, not to Trash: ham
    await junkTrainingSettled();
    expect(await stats()).toMatchObject({ spam: 0, ham: 1, trackedMessages: 1 });
    await move(spam(2), 'Junk', 'Trash');
    await move(ham(2), 'INBOX', 'Archive');
    await junkTrainingSettled();
    expect(await stats()).toMatchObject({ spam: 0, ham: 1 });
  });

  it('after the user moved spam to Junk and kept ham, similar spam is delivered to Junk and ham to INBOX', async () => {
    for (let i = 0; i < 6; i++) await move(spam(i), 'INBOX', 'Junk');
    for (let i = 0; i < 6; i++) await move(ham(i), 'Junk', 'INBOX');
    await junkTrainingSettled();
    expect(await stats()).toMatchObject({ spam: 6, ham: 6 });
    const [inbox, junk] = [await count('INBOX'), await count('Junk')];
    await deliver(spam(50));
    await deliver(ham(50));
    expect([(await count('INBOX')) - inbox, (await count('Junk')) - junk]).toEqual([1, 1]);
  });

  it('two trainings at once in one process lose no counts (serialised per user)', async () => {
    const keys: string[] = [];
    for (let i = 0; i < 8; i++) {
      const key = `messages/test/c${i}`;
      await adapters.blobs.put(key, i % 2 ? spam(i) : ham(i));
      keys.push(key);
    }
    await Promise.all(keys.map((k, i) => trainMessages(adapters, alice, i % 2 ? 'spam' : 'ham', [k])));
    expect(await stats()).toMatchObject({ spam: 4, ham: 4, trackedMessages: 8 });
  });
});
