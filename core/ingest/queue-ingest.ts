/**
 * Hands an accepted message to the ingest queue: the one step every way into the system ends
 * with — the SMTP listeners (fargate-listeners/src/smtp/accept-message.ts), JMAP
 * EmailSubmission (fargate-listeners/src/smtp/submit-message.ts) and vacation auto-replies
 * (core/delivery/vacation.ts). The bytes are already in the blob store under `job.blobKey`.
 *
 * With `job.held`, the job first takes its own reference on the blob (index.holdBlob): a job of
 * several recipients, or one whose bytes may go out or bounce, keeps them alive until ingest
 * has finished every recipient (invariant 1; core/ingest/ingest-job.ts). When holding or
 * queueing fails, what was done is undone (the hold released, the blob deleted) and the error
 * is thrown as a QueueIngestError: nothing is half-accepted, the caller answers "try again".
 *
 * A caller that has the stored bytes at hand passes them: when the queue carries messages that
 * small inline (WorkQueue.inlineBytes; SQS: one 64 KiB billing chunk), the job takes a base64
 * copy and ingest parses it without reading the blob (runIngestJob, on a job's first receive).
 */
import type { Adapters } from '../adapters/adapters.ts';
import type { Logger } from '../log.ts';
import type { IngestJob } from './ingest-job.ts';

export class QueueIngestError extends Error {
  readonly stage: 'hold' | 'enqueue';
  constructor(stage: QueueIngestError['stage'], cause: unknown) {
    super(`ingest ${stage} failed`, { cause });
    this.name = 'QueueIngestError';
    this.stage = stage;
  }
}

export async function queueIngestJob(adapters: Pick<Adapters, 'index' | 'blobs' | 'queue'>, job: IngestJob, logger: Logger, raw?: Buffer): Promise<void> {
  if (raw && raw.length === job.size && raw.length <= (adapters.queue.inlineBytes ?? 0)) job = { ...job, bytes: raw.toString('base64') };
  try {
    if (job.held) await adapters.index.holdBlob(job.blobKey, job.id);
  } catch (err) {
    logger.error('blob hold failed', { queueId: job.id, err });
    await adapters.blobs.delete(job.blobKey).catch(() => {});
    throw new QueueIngestError('hold', err);
  }
  try {
    await adapters.queue.send('ingest', job);
  } catch (err) {
    logger.error('ingest enqueue failed', { queueId: job.id, err });
    if (job.held) await adapters.index.releaseBlob(job.blobKey, job.id).catch(() => {});
    await adapters.blobs.delete(job.blobKey).catch(() => {});
    throw new QueueIngestError('enqueue', err);
  }
}
