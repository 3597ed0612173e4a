/**
 * Invariant 1 (no accepted mail is lost) and invariant 2 (exactly once in a mailbox):
 * storage/queue failures give 451 so the sender retries; a crash (kill -9) between the 250 and
 * ingest still delivers exactly once after restart; a redelivered ingest job never duplicates.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { createUser } from '#core/accounts/accounts.ts';
import { runIngestJob, type IngestJob } from '#core/ingest/ingest-job.ts';
import { silentLogger } from '#core/log.ts';
import { freePort } from '../support/emulator.ts';
import { LineClient } from '../support/line-client.ts';
import { eventually, override, startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { storedBlobNames, storedBlobs } from '../support/local-blobs.ts';
import { smtplibSend } from '../support/smtplib.ts';

/** One message from x@remote.test to alice over the MX port, sent with smtplib. */
function sendWithSmtplib(port: number, to = ['alice@example.test']) {
  return smtplibSend({ port, from: 'x@remote.test', to, data: 'Subject: t\r\n\r\nbody\r\n' });
}

/** The 451 4.3.0 a sender retries on (RFC 5321 §4.2.5: a transient failure after DATA). */
const RETRY_LATER = { error: 'data-error', code: 451, message: expect.stringMatching(/^4\.3\.0 /) };

/** Blob deletes, recorded in `deleted` and passed on. */
function recordingDeletes(blobs: Adapters['blobs'], deleted: string[]): Adapters['blobs'] {
  return override(blobs, {
    delete: async (k: string) => {
      deleted.push(k);
      await blobs.delete(k);
    },
  });
}

async function sendRaw(port: number): Promise<string> {
  const c = await LineClient.connect(port);
  await c.smtpReply();
  await c.send('EHLO t');
  await c.send('MAIL FROM:<x@remote.test>');
  await c.send('RCPT TO:<alice@example.test>');
  await c.send('DATA');
  c.write('Subject: crash test\r\n\r\nbody\r\n.\r\n');
  const reply = await c.smtpReply();
  c.close();
  return reply;
}

describe('no accepted mail is lost', () => {
  let sys: TestSystem | undefined;
  afterEach(async () => {
    await sys?.stop();
    sys = undefined;
  });

  it('answers 451 4.3.0 when the blob store fails, and accepts once it works again', async () => {
    let failing = true;
    sys = await startTestSystem({
      wrapAdapters: (a: Adapters) => ({
        ...a,
        blobs: override(a.blobs, { put: (k, b) => (failing ? Promise.reject(new Error('disk on fire')) : a.blobs.put(k, b)) }),
      }),
    });
    await sys.addUser('alice@example.test', 'pw');
    const r = await sendWithSmtplib(sys.port('smtp-mx'));
    expect(r.outcome, r.stderr).toEqual(RETRY_LATER);
    failing = false;
    const r2 = await sendWithSmtplib(sys.port('smtp-mx'));
    expect(r2.outcome, r2.stderr).toEqual({ refused: {} });
    const mb = await sys.adapters.index.getMailbox('alice@example.test', 'INBOX');
    await eventually(async () => (await sys!.adapters.index.listMessages('alice@example.test', mb!.id)).length === 1);
  });

  /** Starts a system with one part broken by `breakPart`, sends one message: refused with 451 4.3.0 and its blob deleted. */
  async function refusedWithoutLeftoverBlob(
    breakPart: (a: Adapters) => Partial<Adapters>,
    options: { workers?: boolean; to?: string[] } = {},
  ): Promise<TestSystem> {
    const deleted: string[] = [];
    const ts = (sys = await startTestSystem({
      workers: options.workers,
      wrapAdapters: (a: Adapters) => ({ ...a, ...breakPart(a), blobs: recordingDeletes(a.blobs, deleted) }),
    }));
    for (const u of options.to ?? ['alice@example.test']) await ts.addUser(u, 'pw');
    const r = await sendWithSmtplib(ts.port('smtp-mx'), options.to);
    expect(r.outcome, r.stderr).toEqual(RETRY_LATER);
    expect(deleted).toHaveLength(1);
    expect(await ts.adapters.blobs.exists(deleted[0])).toBe(false);
    return ts;
  }

  it('answers 451 4.3.0 when the queue fails, and leaves no blob behind', async () => {
    await refusedWithoutLeftoverBlob((a) => ({ queue: override(a.queue, { send: () => Promise.reject(new Error('queue down')) }) }));
  });

  it('answers 451 4.3.0 when the blob cannot be held for its job (several recipients: a hold), and leaves no blob and no job behind', async () => {
    const ts = await refusedWithoutLeftoverBlob((a) => ({ index: override(a.index, { holdBlob: () => Promise.reject(new Error('index down')) }) }), {
      workers: false,
      to: ['alice@example.test', 'bob@example.test'],
    });
    expect((await ts.adapters.queue.stats('ingest')).visible).toBe(0);
  });

  it('delivers exactly once after kill -9 between the 250 and ingest', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mail-crash-'));
    try {
      const setup = await createLocalAdapters({ dataDir });
      await setup.index.addDomain('example.test');
      await createUser(setup.index, 'alice@example.test', 'pw');
      await setup.close();

      const port = await freePort();
      const env = {
        ...process.env,
        MAIL_DATA_DIR: dataDir,
        SMTP_PORT: String(port),
        SUBMISSION_PORT: '0',
        SUBMISSIONS_PORT: '0',
        IMAP_PORT: '0',
        IMAPS_PORT: '0',
        POP3_PORT: '0',
        POP3S_PORT: '0',
        HTTPS_PORT: '0',
        HTTP_PORT: '0',
        MAIL_HOSTNAME: 'mx.test',
      };
      const start = (workers: boolean) => {
        const child = spawn(process.execPath, ['fargate-listeners/src/local-main.ts'], {
          env: { ...env, MAIL_WORKERS: workers ? '1' : '0' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const started = new Promise<void>((resolve, reject) => {
          let out = '';
          child.stdout.on('data', (d) => {
            out += d;
            if (out.includes('mail system started')) resolve();
          });
          child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
        });
        return { child, started };
      };

      // 1. Listeners only: the 250 is given, the job waits in the queue; then kill -9.
      const first = start(false);
      await first.started;
      expect(await sendRaw(port)).toMatch(/^250 2\.0\.0 Ok: queued as /);
      first.child.kill('SIGKILL');
      await new Promise((r) => first.child.once('exit', r));

      const check = await createLocalAdapters({ dataDir });
      expect((await check.queue.stats('ingest')).visible).toBe(1);
      const inbox = (await check.index.getMailbox('alice@example.test', 'INBOX'))!;
      expect(await check.index.listMessages('alice@example.test', inbox.id)).toHaveLength(0);

      // 2. Restart with workers: delivered, once.
      const second = start(true);
      await second.started;
      await eventually(async () => (await check.index.listMessages('alice@example.test', inbox.id)).length === 1);
      second.child.kill('SIGTERM');
      const exitCode = await new Promise((r) => second.child.once('exit', (c) => r(c)));
      expect(exitCode).toBe(0);
      const after = await check.index.listMessages('alice@example.test', inbox.id, { withMeta: true });
      expect(after).toHaveLength(1);
      expect(after[0].meta!.envelope.subject).toBe('crash test');
      expect((await check.queue.stats('ingest')).visible + (await check.queue.stats('ingest')).inFlight).toBe(0);
      await check.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a redelivered ingest job (at-least-once queue) never duplicates the message', async () => {
    sys = await startTestSystem({ workers: false });
    await sys.addUser('alice@example.test', 'pw');
    await sys.addUser('bob@example.test', 'pw');
    const raw = Buffer.from('Subject: twice\r\n\r\nbody\r\n');
    await sys.adapters.blobs.put('messages/test/dup', raw);
    await sys.adapters.index.holdBlob('messages/test/dup', 'JOB1'); // as the accept path does
    const job: IngestJob = {
      id: 'JOB1',
      blobKey: 'messages/test/dup',
      mailFrom: 'x@remote.test',
      rcptTo: ['alice@example.test', 'bob@example.test'],
      receivedAt: Date.now(),
      source: 'mx',
      size: raw.length,
    };
    const first = await runIngestJob(job, { adapters: sys.adapters, logger: silentLogger });
    const second = await runIngestJob(job, { adapters: sys.adapters, logger: silentLogger });
    expect(first.delivered.map((d) => d.duplicate)).toEqual([false, false]);
    expect(second.delivered.map((d) => d.duplicate)).toEqual([true, true]);
    expect(second.delivered.map((d) => d.uid)).toEqual(first.delivered.map((d) => d.uid));
    for (const u of ['alice@example.test', 'bob@example.test']) {
      const mb = await sys.adapters.index.getMailbox(u, 'INBOX');
      expect(await sys.adapters.index.listMessages(u, mb!.id)).toHaveLength(1);
    }
    expect(await sys.adapters.blobs.exists('messages/test/dup')).toBe(true);
  });
});

describe('ingest blob lifetime (invariant 5)', () => {
  it('deletes the blob of a job that delivered to no mailbox (its hold was the last reference), and treats a redelivery of it as done', async () => {
    const sys = await startTestSystem({ workers: false });
    try {
      await sys.addDomain('example.test');
      const raw = Buffer.from('Subject: nobody\r\n\r\nbody\r\n');
      await sys.adapters.blobs.put('messages/test/nobody', raw);
      await sys.adapters.index.holdBlob('messages/test/nobody', 'JOB2'); // as the accept path does
      const job: IngestJob = {
        id: 'JOB2',
        blobKey: 'messages/test/nobody',
        mailFrom: 'x@remote.test',
        rcptTo: ['ghost@example.test'],
        receivedAt: Date.now(),
        source: 'mx',
        size: raw.length,
      };
      const first = await runIngestJob(job, { adapters: sys.adapters, logger: silentLogger });
      expect(first.unknown).toEqual(['ghost@example.test']);
      expect(await sys.adapters.blobs.exists('messages/test/nobody')).toBe(false);
      const again = await runIngestJob(job, { adapters: sys.adapters, logger: silentLogger });
      expect(again).toEqual({ delivered: [], remote: 0, unknown: [] });
    } finally {
      await sys.stop();
    }
  });
});

describe('DATA that fails half-way (invariant 6)', () => {
  let sys: TestSystem | undefined;
  afterEach(async () => {
    await sys?.stop();
    sys = undefined;
  });

  async function openData(port: number): Promise<LineClient> {
    const c = await LineClient.connect(port);
    await c.smtpReply();
    await c.send('EHLO t');
    await c.send('MAIL FROM:<x@remote.test>');
    await c.send('RCPT TO:<alice@example.test>');
    expect(await c.send('DATA')).toMatch(/^354 /);
    return c;
  }

  it('stops storing an oversized message at the limit and keeps nothing of it', async () => {
    sys = await startTestSystem({ env: { MAX_MESSAGE_SIZE: String(100_000) } });
    await sys.addUser('alice@example.test', 'pw');
    const c = await openData(sys.port('smtp-mx'));
    const line = 'y'.repeat(998) + '\r\n';
    let maxStored = 0;
    c.write('Subject: huge\r\n\r\n');
    for (let i = 0; i < 5000; i++) {
      // ~5 MB in all: well past the limit; what sits on disk meanwhile must stay small.
      c.write(line);
      if (i % 500 === 0) {
        await new Promise((r) => setTimeout(r, 5));
        const { rows, files } = storedBlobs(sys.dataDir);
        for (const b of [...rows, ...files]) maxStored = Math.max(maxStored, b.size);
      }
    }
    c.write('.\r\n');
    expect(await c.smtpReply(20_000)).toMatch(/^552 5\.3\.4 /);
    expect(maxStored).toBeLessThan(1_000_000);
    expect(storedBlobNames(sys.dataDir)).toEqual([]);
    expect(await c.send('NOOP')).toMatch(/^250 /);
    c.close();
  });

  it('removes the partial blob when the client disconnects mid-DATA, and keeps serving', async () => {
    sys = await startTestSystem();
    await sys.addUser('alice@example.test', 'pw');
    const c = await openData(sys.port('smtp-mx'));
    c.write('Subject: cut\r\n\r\n' + ('z'.repeat(998) + '\r\n').repeat(2000));
    await new Promise((r) => setTimeout(r, 200));
    c.close();
    await eventually(async () => storedBlobNames(sys!.dataDir).length === 0);
    // The server is fine and accepts the next message.
    const d = await openData(sys.port('smtp-mx'));
    d.write('Subject: next\r\n\r\nok\r\n.\r\n');
    expect(await d.smtpReply()).toMatch(/^250 /);
    d.close();
  });

  it('answers 451 at once when the blob store fails on a large message', async () => {
    sys = await startTestSystem({
      wrapAdapters: (a: Adapters) => ({ ...a, blobs: override(a.blobs, { put: () => Promise.reject(new Error('S3 down')) }) }),
    });
    await sys.addUser('alice@example.test', 'pw');
    const c = await openData(sys.port('smtp-mx'));
    c.write('Subject: big\r\n\r\n' + ('w'.repeat(998) + '\r\n').repeat(2000) + '.\r\n');
    expect(await c.smtpReply(10_000)).toMatch(/^451 4\.3\.0 /);
    c.close();
  });
});
