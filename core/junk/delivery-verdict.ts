/**
 * The junk filter at delivery (core/ingest/ingest-job.ts): for each local recipient of mail
 * that came in at the MX, the recipient's own model scores the message (classifier.ts); a
 * score at or above JUNK_THRESHOLD sends it to Junk, as does the listener's verdict (DMARC
 * quarantine, GTUBE: fargate-listeners/src/smtp/trust/). A score of 0.5 is a model that knows
 * nothing yet (a new user) or a message with no telling words: INBOX.
 *
 * The score is logged with the delivery (`junkScore`). Mail for one recipient was scored by
 * the MX listener already, which wrote X-Spam-Score/X-Spam-Status into it (spam-fields.ts) and
 * put the outcome in the job's verdict; it is not scored again. Mail for several recipients
 * gets no such fields: the stored bytes are one blob shared by them all (invariant 5), and
 * each recipient's score is their own.
 */
import type { MessageMeta } from '../mime/types.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import { classify, DEFAULT_JUNK_THRESHOLD, isTrained } from './classifier.ts';
import { junkModelsFor } from './model-store.ts';
import { tokenize } from './tokenize.ts';

export { DEFAULT_JUNK_THRESHOLD };

export interface JunkScore {
  /** 0 (ham) … 1 (spam), four decimals. */
  score: number;
  junk: boolean;
  /** Discriminating tokens used. */
  tokens: number;
}

/** `user`'s model's score of `raw`, and whether it reaches `threshold`. */
export async function junkScore(blobs: BlobStore, user: string, raw: Buffer, meta: MessageMeta, threshold: number): Promise<JunkScore> {
  const model = await junkModelsFor(blobs).read(user);
  // An untrained model scores everything 0.5: the message need not be read.
  const { score, clues } = isTrained(model) ? classify(model, tokenize(raw, meta)) : classify(model, []);
  return { score: Number(score.toFixed(4)), junk: score >= threshold, tokens: clues.length };
}
