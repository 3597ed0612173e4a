/**
 * The Lambda edge without Lambda: each record decoded and checked against its job type inside
 * its own try (a malformed body fails that record, not the batch), a batch whose every record
 * failed thrown (so the SQS poller backs off), and the invocation's request id and cold start
 * on every log line.
 */
import { describe, expect, it } from 'vitest';
import type { IngestJob } from '#core/ingest/ingest-job.ts';
import { createLogger } from '#core/log.ts';
import type { OutboundJob } from '#core/outbound/job.ts';
import { ingestJobBody, JobBodyError, outboundJobBody } from '#functions/job-bodies.ts';
import { invocationLogging } from '#functions/lambda-context.ts';
import { FullBatchFailureError, processSqsBatch, type SqsRecord } from '#functions/sqs-batch.ts';

const ingest: IngestJob = {
  id: 'Q1',
  blobKey: 'messages/q1',
  mailFrom: '',
  rcptTo: ['alice@example.test'],
  receivedAt: 1_764_000_000_000,
  source: 'mx',
  clientAddress: '192.0.2.1',
  size: 120,
};
const outbound: OutboundJob = {
  id: 'Q1/remote.test',
  queueId: 'Q1',
  blobKey: 'outbound/Q1/remote.test',
  mailFrom: 'alice@example.test',
  domain: 'remote.test',
  rcptTo: ['carol@remote.test'],
  createdAt: 1_764_000_000_000,
  attempts: 2,
  notBefore: 1_764_000_600_000,
  smtputf8: false,
  eightBit: true,
  size: 120,
  lastErrors: { 'carol@remote.test': { status: '4.4.1', diagnostic: 'connection refused', smtp: false } },
};

const record = (messageId: string, body: string): SqsRecord => ({
  messageId,
  receiptHandle: `r-${messageId}`,
  body,
  attributes: { ApproximateReceiveCount: '1' },
});

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, logger: createLogger({ function: 'test' }, 'debug', (l) => lines.push(JSON.parse(l))) };
}

describe('job bodies checked against their types', () => {
  it('accepts the jobs our own code sends', () => {
    expect(ingestJobBody(JSON.parse(JSON.stringify(ingest)))).toEqual(ingest);
    expect(outboundJobBody(JSON.parse(JSON.stringify(outbound)))).toEqual(outbound);
    expect(ingestJobBody({ ...ingest, source: 'submission', authUser: 'alice@example.test', heloName: 'x' }).source).toBe('submission');
    // The MX listener's inbound verdict (Junk for DMARC quarantine).
    const junk = { ...ingest, verdict: { mailbox: 'Junk', reasons: ['dmarc=fail policy=quarantine'] } };
    expect(ingestJobBody(JSON.parse(JSON.stringify(junk)))).toEqual(junk);
    expect(ingestJobBody({ ...ingest, held: false }).held).toBe(false);
  });

  it.each([
    ['not an object', 'hello', 'ingest job body must be a JSON object'],
    ['an array', [ingest], 'ingest job body must be a JSON object'],
    ['no recipients', { ...ingest, rcptTo: [] }, 'rcptTo must have at least 1 entry'],
    ['a recipient that is not a string', { ...ingest, rcptTo: ['alice@example.test', 7] }, 'rcptTo[1] must be a non-empty string'],
    ['an unknown source', { ...ingest, source: 'carrier-pigeon' }, 'source must be one of mx, submission'],
    ['a missing blob key', { ...ingest, blobKey: undefined }, 'blobKey must be a non-empty string'],
    ['a size as text', { ...ingest, size: '120' }, 'size must be a whole number'],
    ['a verdict naming another mailbox', { ...ingest, verdict: { mailbox: 'Trash' } }, 'verdict must be {mailbox: INBOX|Junk, reasons?}'],
    ['verdict reasons that are not text', { ...ingest, verdict: { mailbox: 'Junk', reasons: [1] } }, 'verdict reasons must be a list of strings'],
    ['a hold flag as text', { ...ingest, held: 'no' }, 'held must be true or false'],
  ])('refuses an ingest body with %s, naming the field', (_what, body, message) => {
    expect(() => ingestJobBody(body)).toThrow(JobBodyError);
    expect(() => ingestJobBody(body)).toThrow(message);
  });

  it('refuses outbound bodies that are not outbound jobs, without echoing their values', () => {
    expect(() => outboundJobBody({ ...outbound, attempts: -1 })).toThrow('outbound job body: attempts must be a whole number');
    expect(() => outboundJobBody({ ...outbound, smtputf8: 'no' })).toThrow('smtputf8 must be true or false');
    expect(() => outboundJobBody({ ...outbound, lastErrors: { 'carol@remote.test': { status: 4 } } })).toThrow('lastErrors must map each recipient');
    expect(() => outboundJobBody(ingest)).toThrow(JobBodyError);
    const err = (() => {
      try {
        outboundJobBody({ ...outbound, rcptTo: 'secret-person@remote.test' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).not.toContain('secret-person');
  });
});

describe('processSqsBatch', () => {
  it('fails only the records whose body does not decode or is not the job, and runs the others', async () => {
    const { logger, lines } = capture();
    const ran: string[] = [];
    const response = await processSqsBatch(
      {
        Records: [
          record('m1', JSON.stringify(ingest)),
          record('m2', '{"id": "Q2", "blobKey'),
          record('m3', JSON.stringify({ ...ingest, id: 'Q3' })),
          record('m4', JSON.stringify({ ...ingest, rcptTo: null })),
        ],
      },
      { logger, body: ingestJobBody },
      async (job) => {
        ran.push(job.body.id);
      },
    );
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }, { itemIdentifier: 'm4' }] });
    expect(ran.sort()).toEqual(['Q1', 'Q3']);
    expect(lines.filter((l) => l.msg === 'job failed').map((l) => [l.messageId, (l.err as { name: string }).name])).toEqual([
      ['m2', 'JobBodyError'],
      ['m4', 'JobBodyError'],
    ]);
  });

  it('throws FullBatchFailureError when every record failed, so the whole batch returns and the poller backs off', async () => {
    const { logger } = capture();
    const run = processSqsBatch({ Records: [record('m1', JSON.stringify(ingest)), record('m2', 'garbage')] }, { logger, body: ingestJobBody }, async () => {
      throw new Error('index unavailable');
    });
    await expect(run).rejects.toBeInstanceOf(FullBatchFailureError);
    await expect(run).rejects.toThrow('all 2 records of the batch failed');
  });

  it('an empty batch is not a failure', async () => {
    const { logger } = capture();
    expect(await processSqsBatch({ Records: [] }, { logger, body: ingestJobBody }, async () => {})).toEqual({ batchItemFailures: [] });
  });
});

describe('invocation logging', () => {
  it("puts the invocation's awsRequestId on every line, and coldStart true only on the container's first invocation", async () => {
    const { logger, lines } = capture();
    const forInvocation = invocationLogging(logger);
    for (const id of ['req-1', 'req-2']) {
      const log = forInvocation({ awsRequestId: id });
      await processSqsBatch({ Records: [record('m1', JSON.stringify(ingest)), record('m2', 'x')] }, { logger: log, body: ingestJobBody }, async () => {});
    }
    expect(lines.map((l) => [l.msg, l.awsRequestId, l.coldStart, l.function])).toEqual([
      ['job failed', 'req-1', true, 'test'],
      ['job failed', 'req-2', false, 'test'],
    ]);
  });
});
