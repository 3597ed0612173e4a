/**
 * A batch's ingest jobs for one mailbox run one after another (functions/sqs-batch.ts chains):
 * concurrent appends to one mailbox race on its UID condition and cancel DynamoDB
 * transactions (issue 11 item 4). On the emulator, a batch of 10 jobs for one mailbox cancels
 * none (counted at the SDK middleware by bench/aws-meter.ts) and delivers each message once;
 * jobs for different mailboxes still run concurrently; failures stay per record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createUser } from '#core/accounts/accounts.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { setAwsClientHook } from '#core/adapters/aws/clients.ts';
import { awsResourceEnv, createAwsAdapters, destroyAwsResources, provisionAwsResources, type AwsResourceRefs } from '#core/adapters/aws/index.ts';
import type { IngestJob } from '#core/ingest/ingest-job.ts';
import { silentLogger } from '#core/log.ts';
import { ingestJobBody } from '#functions/job-bodies.ts';
import { chainsOf, processSqsBatch, type SqsRecord } from '#functions/sqs-batch.ts';
import { AwsMeter, totals } from '../../bench/aws-meter.ts';
import { emulatorClientConfig, emulatorEnv } from '../support/emulator.ts';
import { lambdaContext, takeSqsEvent } from '../support/lambda-events.ts';
import { uniquePrefix } from '../support/mail-system.ts';

const job = (id: string, rcptTo: string[]): IngestJob => ({
  id,
  blobKey: `messages/order/${id}`,
  mailFrom: 'x@remote.test',
  rcptTo,
  receivedAt: 1_764_000_000_000,
  source: 'mx',
  size: 10,
  // As the accept path queues it: a hold (taken in queueJobs) only with several recipients.
  held: rcptTo.length > 1,
});
const record = (j: IngestJob | string): SqsRecord => {
  const id = typeof j === 'string' ? 'bad' : j.id;
  return { messageId: `m-${id}`, receiptHandle: `r-${id}`, body: typeof j === 'string' ? j : JSON.stringify(j), attributes: { ApproximateReceiveCount: '1' } };
};
const ids = (chain: SqsRecord[]) => chain.map((r) => r.messageId);

describe('chains of a batch', () => {
  it('jobs sharing any recipient (case-insensitively) go in one chain, in record order; others and undecodable records alone', () => {
    const records = [
      record(job('a1', ['alice@example.test'])),
      record(job('b1', ['bob@example.test'])),
      record(job('c1', ['carol@example.test'])),
      record(job('a2', ['Alice@Example.TEST'])),
      record(job('ab', ['dave@example.test', 'bob@example.test', 'alice@example.test'])),
      record('{"not": "a job"}'),
      record(job('c2', ['carol@example.test'])),
    ];
    const keys = (j: IngestJob) => j.rcptTo.map((r) => r.toLowerCase());
    const chains = chainsOf(records, ingestJobBody, keys).map(ids);
    expect(chains).toEqual([['m-a1', 'm-b1', 'm-a2', 'm-ab'], ['m-c1', 'm-c2'], ['m-bad']]);
    // Without keys, every record is its own chain (run concurrently, as before).
    expect(chainsOf(records, ingestJobBody).map(ids)).toHaveLength(records.length);
  });

  it('runs one mailbox’s jobs one at a time while another mailbox’s jobs run alongside; a failure stays on its record', async () => {
    const records = [
      ...['a1', 'a2', 'a3'].map((id) => record(job(id, ['alice@example.test']))),
      ...['b1', 'b2'].map((id) => record(job(id, ['bob@example.test']))),
    ];
    const running = new Map<string, number>();
    let overlap = 0;
    let bobStarted!: () => void;
    const bobHasStarted = new Promise<void>((r) => (bobStarted = r));
    const done: string[] = [];
    const response = await processSqsBatch<IngestJob>(
      { Records: records },
      { logger: silentLogger, body: ingestJobBody, serialiseOn: (j) => j.rcptTo },
      async ({ body }) => {
        const mailbox = body.rcptTo[0];
        running.set(mailbox, (running.get(mailbox) ?? 0) + 1);
        if (running.get(mailbox)! > 1) overlap++;
        if (mailbox === 'bob@example.test') bobStarted();
        // Alice's first job waits until Bob's chain has started: with the chains run one after
        // the other this never resolves (and the test times out).
        if (body.id === 'a1') await bobHasStarted;
        await new Promise((r) => setImmediate(r));
        running.set(mailbox, running.get(mailbox)! - 1);
        done.push(body.id);
        if (body.id === 'a2') throw new Error('a2 fails alone');
      },
    );
    expect(overlap).toBe(0);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm-a2' }]);
    expect(done.filter((id) => id.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(done.filter((id) => id.startsWith('b'))).toEqual(['b1', 'b2']);
  });
});

describe('ingest Lambda on the emulator: a batch for one mailbox', () => {
  let refs: AwsResourceRefs;
  let adapters: Adapters;
  const meter = new AwsMeter();
  const clientConfig = () => emulatorClientConfig(inject('awsEndpoint'));

  beforeAll(async () => {
    refs = await provisionAwsResources(clientConfig(), uniquePrefix());
    adapters = await createAwsAdapters({ refs, clientConfig: clientConfig() });
    Object.assign(process.env, awsResourceEnv(refs), emulatorEnv(clientConfig()), { LOG_LEVEL: 'error' });
    await adapters.index.addDomain('example.test');
    await createUser(adapters.index, 'alice@example.test', 'pw');
    await createUser(adapters.index, 'bob@example.test', 'pw');
    // The handler's own clients (made on its first call) are metered.
    meter.connect(clientConfig());
    meter.enabled = false;
    setAwsClientHook(meter.hook);
  });
  afterAll(async () => {
    setAwsClientHook(undefined);
    await adapters?.close();
    if (refs) await destroyAwsResources(clientConfig(), refs).catch(() => {});
  });

  const queueJobs = async (jobs: IngestJob[]) => {
    for (const j of jobs) {
      await adapters.blobs.put(j.blobKey, Buffer.from(`Subject: ${j.id}\r\n\r\nhello\r\n`));
      if (j.held) await adapters.index.holdBlob(j.blobKey, j.id);
      await adapters.queue.send<IngestJob>('ingest', j);
    }
    return takeSqsEvent(clientConfig(), refs.queueUrls.ingest, jobs.length);
  };
  const subjects = async (user: string) => {
    const inbox = (await adapters.index.getMailbox(user, 'INBOX'))!;
    const msgs = await adapters.index.listMessages(user, inbox.id, { withMeta: true });
    return { subjects: msgs.map((m) => m.meta!.envelope.subject ?? '').sort(), uids: msgs.map((m) => m.uid) };
  };

  it('10 jobs for one mailbox: no cancelled transaction, each message delivered once with UIDs 1..10', async () => {
    const jobs = Array.from({ length: 10 }, (_, i) => job(`one${String(i).padStart(2, '0')}`, ['alice@example.test']));
    const event = await queueJobs(jobs);
    expect(event.Records).toHaveLength(10);
    const { handler } = await import('#functions/ingest.ts');
    meter.enabled = true;
    meter.reset();
    const response = await handler(event, lambdaContext());
    const counted = totals(await meter.snapshot());
    meter.enabled = false;
    expect(response.batchItemFailures).toEqual([]);
    expect(counted.dynamodb).toBeGreaterThan(0);
    expect(counted.cancelled).toBe(0);
    const alice = await subjects('alice@example.test');
    expect(alice.subjects).toEqual(jobs.map((j) => j.id));
    expect(alice.uids).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('a batch mixing two mailboxes delivers every job to each, without cancelled transactions', async () => {
    const jobs = Array.from({ length: 10 }, (_, i) => job(`mix${i}`, [i % 2 ? 'bob@example.test' : 'alice@example.test']));
    const event = await queueJobs(jobs);
    const { handler } = await import('#functions/ingest.ts');
    meter.enabled = true;
    meter.reset();
    const response = await handler(event, lambdaContext());
    const counted = totals(await meter.snapshot());
    meter.enabled = false;
    expect(response.batchItemFailures).toEqual([]);
    expect(counted.cancelled).toBe(0);
    expect((await subjects('bob@example.test')).subjects).toEqual(['mix1', 'mix3', 'mix5', 'mix7', 'mix9']);
    expect((await subjects('alice@example.test')).subjects.filter((s) => s.startsWith('mix'))).toEqual(['mix0', 'mix2', 'mix4', 'mix6', 'mix8']);
  });
});
