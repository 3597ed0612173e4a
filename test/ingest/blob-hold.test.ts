/**
 * Invariant 1 (no accepted mail is lost) against blob lifetime (invariant 5): the SMTP accept
 * path holds the blob for its ingest job, so a copy already delivered to one recipient can be
 * expunged (POP3 delete mode) while another recipient's delivery waits for a retry, and the
 * retry still finds the bytes. The job releases its hold at the end of a complete run, and the
 * blob is deleted once no reference is left.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import { runIngestJob, type IngestJob, type RemoteRecipients } from '#core/ingest/ingest-job.ts';
import { silentLogger } from '#core/log.ts';
import type { MailIndex } from '#core/ports/mail-index.ts';
import { smtplibSend } from '../support/smtplib.ts';
import { ADAPTER_KINDS, override, startTestSystem, type TestSystem } from '../support/mail-system.ts';

const alice = 'alice@example.test';
const bob = 'bob@example.test';

describe.each(ADAPTER_KINDS)('ingest job holds its blob until it has finished (%s adapters)', (kind) => {
  let sys: TestSystem | undefined;
  afterEach(async () => {
    await sys?.stop();
    sys = undefined;
  });

  /** Accepts one message over SMTP (the real accept path, which takes the hold) and returns its queued job. */
  async function acceptOverSmtp(rcpts: string[]): Promise<IngestJob> {
    const r = await smtplibSend({ port: sys!.port('smtp-mx'), from: 'x@remote.test', to: rcpts, data: 'Subject: held\r\n\r\nbody\r\n' });
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    const [job] = await sys!.adapters.queue.receive<IngestJob>('ingest', { waitSeconds: 5, visibilityTimeoutSeconds: 300 });
    expect(job.body.rcptTo).toEqual(rcpts);
    return job.body;
  }

  /** What POP3 DELE+QUIT does: expunge, then delete what the index reports orphaned. */
  async function expungeInbox(user: string): Promise<string[]> {
    const { index, blobs } = sys!.adapters;
    const mb = (await index.getMailbox(user, 'INBOX'))!;
    const uids = (await index.listMessages(user, mb.id)).map((m) => m.uid);
    const { orphanedBlobs } = await index.expunge(user, mb.id, uids);
    for (const key of orphanedBlobs) await blobs.delete(key);
    return orphanedBlobs;
  }

  async function subjects(user: string): Promise<string[]> {
    const mb = (await sys!.adapters.index.getMailbox(user, 'INBOX'))!;
    return (await sys!.adapters.index.listMessages(user, mb.id, { withMeta: true })).map((m) => m.meta!.envelope.subject ?? '');
  }

  it("bob's retried delivery still finds the blob after alice expunged her copy; the blob goes with the last reference", async () => {
    sys = await startTestSystem({ adapters: kind, workers: false });
    await sys.addUser(alice, 'pw');
    await sys.addUser(bob, 'pw');
    const job = await acceptOverSmtp([alice, bob]);

    // Bob's append fails once (a transient index error): the run throws, the queue retries.
    let failBob = true;
    const flaky: Adapters = {
      ...sys.adapters,
      index: override<MailIndex>(sys.adapters.index, {
        appendMessageTo: (user, mailboxName, message) => {
          if (user === bob && failBob) {
            failBob = false;
            return Promise.reject(new Error('throttled'));
          }
          return sys!.adapters.index.appendMessageTo(user, mailboxName, message);
        },
      }),
    };
    await expect(runIngestJob(job, { adapters: flaky, logger: silentLogger })).rejects.toThrow('throttled');
    expect(await subjects(alice)).toEqual(['held']);

    // Before the retry, alice downloads and deletes: her copy was not the last reference.
    expect(await expungeInbox(alice)).toEqual([]);
    expect(await sys.adapters.blobs.exists(job.blobKey)).toBe(true);

    // The retry delivers to bob (alice's delivery key is remembered: no second copy for her).
    const retry = await runIngestJob(job, { adapters: flaky, logger: silentLogger });
    expect(retry.delivered.map((d) => [d.recipient, d.duplicate])).toEqual([
      [alice, true],
      [bob, false],
    ]);
    expect(await subjects(bob)).toEqual(['held']);
    expect(await subjects(alice)).toEqual([]);
    // The job's hold is released; bob's copy still references the blob.
    expect(await sys.adapters.blobs.exists(job.blobKey)).toBe(true);

    // Bob deletes his copy: now no reference is left, the index reports it and it is deleted.
    expect(await expungeInbox(bob)).toEqual([job.blobKey]);
    expect(await sys.adapters.blobs.exists(job.blobKey)).toBe(false);

    // A redelivery of the finished job finds no blob and does nothing.
    expect(await runIngestJob(job, { adapters: sys.adapters, logger: silentLogger })).toEqual({ delivered: [], remote: 0, unknown: [] });
    expect(await subjects(bob)).toEqual([]);
  });

  it('a remote recipient whose routing failed gets the bytes on retry; the job deletes the blob when it held the last reference', async () => {
    sys = await startTestSystem({ adapters: kind, workers: false });
    await sys.addUser(alice, 'pw');
    // The job as the submission path queues it (the MX listener refuses remote recipients).
    const raw = Buffer.from('Subject: out\r\n\r\nbody\r\n');
    const blobKey = `messages/test/hold-${kind}-${Date.now()}`;
    await sys.adapters.blobs.put(blobKey, raw);
    const job: IngestJob = {
      id: `JOBR${kind}`,
      blobKey,
      mailFrom: alice,
      rcptTo: [alice, 'carol@remote.test'],
      receivedAt: Date.now(),
      source: 'submission',
      authUser: alice,
      size: raw.length,
    };
    await sys.adapters.index.holdBlob(blobKey, job.id);

    const routed: string[] = [];
    let failRoute = true;
    const routeRemote = async (r: RemoteRecipients) => {
      if (failRoute) {
        failRoute = false;
        throw new Error('outbound queue down');
      }
      routed.push(r.raw.toString());
    };
    await expect(runIngestJob(job, { adapters: sys.adapters, logger: silentLogger, routeRemote })).rejects.toThrow('outbound queue down');
    expect(await expungeInbox(alice)).toEqual([]);

    const retry = await runIngestJob(job, { adapters: sys.adapters, logger: silentLogger, routeRemote });
    expect(retry.remote).toBe(1);
    expect(routed).toEqual([raw.toString()]);
    // The release at the end dropped the last reference: the job deleted the blob itself.
    expect(await sys.adapters.blobs.exists(blobKey)).toBe(false);
  });

  it('a one-recipient job holds nothing: its delivery is the only reference, expunging it deletes the blob, a redelivery does nothing', async () => {
    sys = await startTestSystem({ adapters: kind, workers: false });
    await sys.addUser(alice, 'pw');
    const job = await acceptOverSmtp([alice]);
    expect(job.held).toBe(false);
    // No hold was taken: there is none to release.
    expect(await sys.adapters.index.releaseBlob(job.blobKey, job.id)).toEqual({ orphaned: false });
    const run = await runIngestJob(job, { adapters: sys.adapters, logger: silentLogger });
    expect(run.delivered.map((d) => [d.recipient, d.duplicate])).toEqual([[alice, false]]);
    expect(await sys.adapters.blobs.exists(job.blobKey)).toBe(true);
    // A redelivery before the expunge is a duplicate and changes no reference.
    expect((await runIngestJob(job, { adapters: sys.adapters, logger: silentLogger })).delivered.map((d) => d.duplicate)).toEqual([true]);
    expect(await expungeInbox(alice)).toEqual([job.blobKey]);
    expect(await sys.adapters.blobs.exists(job.blobKey)).toBe(false);
    expect(await runIngestJob(job, { adapters: sys.adapters, logger: silentLogger })).toEqual({ delivered: [], remote: 0, unknown: [] });
  });

  it('an unheld job that reaches nobody on a rerun keeps its blob: an earlier run may have delivered the sole copy (invariant 5)', async () => {
    sys = await startTestSystem({ adapters: kind, workers: false });
    await sys.addUser(alice, 'pw');
    const raw = Buffer.from('From: x@remote.test\r\nSubject: once\r\n\r\nbody\r\n');
    const blobKey = `messages/test/unheld-${kind}-${Date.now()}`;
    await sys.adapters.blobs.put(blobKey, raw);
    const job: IngestJob = {
      id: `JOBU${kind}`,
      blobKey,
      mailFrom: 'x@remote.test',
      rcptTo: [alice],
      receivedAt: Date.now(),
      source: 'mx',
      size: raw.length,
      held: false,
    };
    // Run 1 delivers the sole copy; its acknowledgement is lost.
    expect((await runIngestJob(job, { adapters: sys.adapters, logger: silentLogger })).delivered).toHaveLength(1);
    // Run 2 finds the address unknown (here: a job naming another spelling nobody has), delivers nothing.
    const rerun = { ...job, rcptTo: ['nobody@example.test'] };
    const run = await runIngestJob(rerun, { adapters: sys.adapters, logger: silentLogger, onUnknownLocal: async () => {} });
    expect(run.delivered).toEqual([]);
    // alice's message still has its bytes.
    expect(await sys.adapters.blobs.exists(blobKey)).toBe(true);
    expect(await subjects(alice)).toContain('once');
  });

  it('submission jobs hold their blob even with one recipient (they may be routed out or bounce)', async () => {
    sys = await startTestSystem({ adapters: kind, workers: false });
    await sys.addUser(alice, 'pw');
    const r = await smtplibSend({
      port: sys.port('submission'),
      from: alice,
      to: ['carol@remote.test'],
      data: `From: ${alice}\r\nSubject: out\r\n\r\nbody\r\n`,
      auth: { user: alice, password: 'pw' },
    });
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    const [job] = await sys.adapters.queue.receive<IngestJob>('ingest', { waitSeconds: 5, visibilityTimeoutSeconds: 300 });
    expect(job.body.held).toBe(true);
  });
});
