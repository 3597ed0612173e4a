/**
 * The junk filter's header fields, written by the MX listener into mail from the internet
 * for one recipient (fargate-listeners/src/smtp/trust/inbound-trust.ts), below our
 * Authentication-Results and above our Received:
 *
 *   X-Spam-Score: 0.9731
 *   X-Spam-Status: Yes, score=0.9731, threshold=0.90, tokens=37
 *   	"subject:viagra" 0.99, "url:cheap-pills.example" 0.99, …
 *
 * `Yes` when the message goes to Junk: its score reaches JUNK_THRESHOLD, or the listener's
 * verdict sends it there whatever the score (DMARC quarantine, GTUBE), which is then named
 * (`verdict="GTUBE"`). `tokens` counts the discriminating tokens combined, and the five most
 * telling follow with their probability. 0.5 with no tokens is a model that knows nothing yet
 * (a new user).
 *
 * Only then: the stored bytes are one blob shared by every recipient of a transaction
 * (invariant 5), and each user's model is their own, so mail for several recipients gets no
 * score fields (each recipient's score still picks their mailbox at delivery,
 * core/junk/delivery-verdict.ts). Mail from SMTP_TRUSTED_NETWORKS gets none either (as it gets
 * no Authentication-Results) and keeps the fields it came with (a trusted relay's filter).
 * From anyone else, X-Spam-Score, X-Spam-Status and X-Spam-Flag fields are removed first:
 * nobody can forge our verdict.
 */
import { withoutHeaderFields } from '../mime/header.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import { classify, isTrained, type Classification } from './classifier.ts';
import { junkModelsFor } from './model-store.ts';
import { tokenize } from './tokenize.ts';

/** Fields that look like a filter's verdict: removed from mail of untrusted senders. */
const FORGEABLE = new Set(['x-spam-score', 'x-spam-status', 'x-spam-flag']);
const CLUES_SHOWN = 5;

/** `raw` without the X-Spam-Score/Status/Flag fields of its top-level header; `raw` itself when it has none. */
export function withoutJunkFields(raw: Buffer): { message: Buffer; removed: number } {
  return withoutHeaderFields(raw, (f) => FORGEABLE.has(f.key));
}

/**
 * The two fields (CRLF-terminated) for a classification against `threshold`; `junkVerdict`:
 * the reasons of a verdict that sends the message to Junk anyway (null: none).
 */
export function spamFields({ score, clues }: Classification, threshold: number, junkVerdict: string[] | null = null): string {
  const s = score.toFixed(4);
  // Token text comes from the message: no quote, backslash or control character gets into ours.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  const shown = clues.slice(0, CLUES_SHOWN).map(([t, f]) => `"${t.replace(/["\\\x00-\x1f\x7f]/g, '')}" ${f.toFixed(2)}`);
  // eslint-disable-next-line no-control-regex -- as above
  const verdict = junkVerdict ? `, verdict="${junkVerdict.join('; ').replace(/["\\\x00-\x1f\x7f]/g, '')}"` : '';
  const status = `X-Spam-Status: ${score >= threshold || junkVerdict ? 'Yes' : 'No'}, score=${s}, threshold=${threshold.toFixed(2)}${verdict}, tokens=${clues.length}`;
  return `X-Spam-Score: ${s}\r\n${status}${shown.length ? `\r\n\t${shown.join(', ')}` : ''}\r\n`;
}

/**
 * The one recipient's model's score of `raw`, whether it reaches `threshold`, and the fields
 * recording it (`junkVerdict`: as for spamFields).
 */
export async function scoreForRecipient(
  blobs: BlobStore,
  user: string,
  raw: Buffer,
  threshold: number,
  junkVerdict: string[] | null,
): Promise<{ score: number; junk: boolean; fields: string }> {
  const model = await junkModelsFor(blobs).read(user);
  // An untrained model scores everything 0.5: the message need not be read.
  const c = isTrained(model) ? classify(model, tokenize(raw)) : classify(model, []);
  return { score: Number(c.score.toFixed(4)), junk: c.score >= threshold, fields: spamFields(c, threshold, junkVerdict) };
}
