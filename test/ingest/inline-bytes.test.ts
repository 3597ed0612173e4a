/**
 * A small message's bytes ride along in its ingest job on SQS (core/ingest/queue-ingest.ts), so
 * the ingest function's first run parses them without an S3 GET. The blob stays the stored copy:
 * a redelivery reads it, so a job that completed before still finds its blob gone and delivers
 * nothing again (core/ingest/ingest-job.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import { INLINE_MESSAGE_BYTES } from '#core/adapters/aws/sqs-work-queue.ts';
import { runIngestJob, type IngestJob } from '#core/ingest/ingest-job.ts';
import { silentLogger } from '#core/log.ts';
import type { BlobStore } from '#core/ports/blob-store.ts';
import { smtplibSend } from '../support/smtplib.ts';
import { override, startTestSystem, type TestSystem } from '../support/mail-system.ts';

const alice = 'alice@example.test';

describe('ingest jobs carry small messages inline', () => {
  let sys: TestSystem | undefined;
  afterEach(async () => {
    await sys?.stop();
    sys = undefined;
  });

  async function acceptOverSmtp(data: string): Promise<IngestJob> {
    const r = await smtplibSend({ port: sys!.port('smtp-mx'), from: 'x@remote.test', to: [alice], data });
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    const [job] = await sys!.adapters.queue.receive<IngestJob>('ingest', { waitSeconds: 5, visibilityTimeoutSeconds: 300 });
    return job.body;
  }

  /** The adapters with a blob store whose reads of the message's blob fail, counting them. */
  function withoutBlobReads(adapters: Adapters, blobKey: string): { adapters: Adapters; reads: () => number } {
    let reads = 0;
    const blobs = override<BlobStore>(adapters.blobs, {
      get: (key) => {
        if (key !== blobKey) return adapters.blobs.get(key);
        reads++;
        return Promise.reject(new Error('blob read'));
      },
    });
    return { adapters: { ...adapters, blobs }, reads: () => reads };
  }

  async function subjects(): Promise<string[]> {
    const mb = (await sys!.adapters.index.getMailbox(alice, 'INBOX'))!;
    return (await sys!.adapters.index.listMessages(alice, mb.id, { withMeta: true })).map((m) => m.meta!.envelope.subject ?? '');
  }

  it('on SQS the job holds the exact stored bytes, and its first run delivers them without reading the blob', async () => {
    sys = await startTestSystem({ adapters: 'aws', workers: false });
    await sys.addUser(alice, 'pw');
    const job = await acceptOverSmtp('Subject: inline\r\n\r\nbody\r\n');
    expect(job.bytes).toBeDefined();
    expect(Buffer.from(job.bytes!, 'base64').equals(await sys.adapters.blobs.get(job.blobKey))).toBe(true);

    const noReads = withoutBlobReads(sys.adapters, job.blobKey);
    const run = await runIngestJob(job, { adapters: noReads.adapters, logger: silentLogger, firstReceive: true });
    expect(run.delivered.map((d) => d.duplicate)).toEqual([false]);
    expect(noReads.reads()).toBe(0);
    expect(await subjects()).toEqual(['inline']);
  });

  it('a redelivery reads the blob: once the delivered copy is expunged and its blob gone, the job delivers nothing again', async () => {
    sys = await startTestSystem({ adapters: 'aws', workers: false });
    await sys.addUser(alice, 'pw');
    const job = await acceptOverSmtp('Subject: once\r\n\r\nbody\r\n');
    await runIngestJob(job, { adapters: sys.adapters, logger: silentLogger, firstReceive: true });
    const { index, blobs } = sys.adapters;
    const mb = (await index.getMailbox(alice, 'INBOX'))!;
    const { orphanedBlobs } = await index.expunge(alice, mb.id, [1]);
    expect(orphanedBlobs).toEqual([job.blobKey]);
    for (const key of orphanedBlobs) await blobs.delete(key);

    // The queue delivers the job again (its ack was lost): the inline bytes are not used.
    const again = await runIngestJob(job, { adapters: sys.adapters, logger: silentLogger, firstReceive: false });
    expect(again.delivered).toEqual([]);
    expect(await subjects()).toEqual([]);
  });

  it('a message over the inline limit goes by its blob only', async () => {
    sys = await startTestSystem({ adapters: 'aws', workers: false });
    await sys.addUser(alice, 'pw');
    const line = 'x'.repeat(76) + '\r\n';
    const job = await acceptOverSmtp('Subject: big\r\n\r\n' + line.repeat(Math.ceil(INLINE_MESSAGE_BYTES / line.length) + 1));
    expect(job.size).toBeGreaterThan(INLINE_MESSAGE_BYTES);
    expect(job.bytes).toBeUndefined();
    const run = await runIngestJob(job, { adapters: sys.adapters, logger: silentLogger, firstReceive: true });
    expect(run.delivered.map((d) => d.duplicate)).toEqual([false]);
    expect(await subjects()).toEqual(['big']);
  });

  it('the local queue carries no bytes (the blob is a local file)', async () => {
    sys = await startTestSystem({ adapters: 'local', workers: false });
    await sys.addUser(alice, 'pw');
    const job = await acceptOverSmtp('Subject: local\r\n\r\nbody\r\n');
    expect(job.bytes).toBeUndefined();
  });
});
