/**
 * The outbound job function on its own (local adapters, injected DNS and SMTP transport):
 * per-recipient outcomes, backoff by re-queueing, the age limit, DSNs (never for the null
 * reverse-path), MX fallback, smart host routing, loop protection and idempotent routing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { createUser } from '#core/accounts/accounts.ts';
import { loadConfig, type MailConfig } from '#core/config.ts';
import { DnsNameNotFound, type DnsResolver } from '#core/dns/resolver.ts';
import type { IngestJob } from '#core/ingest/ingest-job.ts';
import { silentLogger } from '#core/log.ts';
import { enqueueOutbound, outboundBlobKey, type OutboundJob } from '#core/outbound/job.ts';
import { runOutboundJob, type OutboundDeps } from '#core/outbound/outbound-job.ts';
import { createOutboundRouting } from '#core/outbound/route.ts';
import { deliverDsn } from '#core/dsn/deliver-dsn.ts';
import type { SmtpAttempt, SmtpTarget } from '#core/outbound/smtp-delivery.ts';
import { hasBareNewline } from '../support/message-bytes.ts';

const MESSAGE = Buffer.from('From: Alice <alice@a.test>\r\nTo: x@remote.test\r\nSubject: hello\r\nMessage-ID: <m1@a.test>\r\n\r\nbody\r\n');

const resolver: DnsResolver = {
  async mx(domain) {
    if (domain === 'remote.test')
      return [
        { exchange: 'mx2.remote.test', priority: 20 },
        { exchange: 'mx1.remote.test', priority: 10 },
      ];
    throw new DnsNameNotFound(domain);
  },
  async addresses(host) {
    if (host === 'mx1.remote.test') return ['192.0.2.1'];
    if (host === 'mx2.remote.test') return ['192.0.2.2'];
    throw new DnsNameNotFound(host);
  },
  async txt() {
    return [];
  },
};

describe('outbound job', () => {
  let dir: string;
  let adapters: Adapters;
  let config: MailConfig;
  let calls: SmtpTarget[];
  let answer: (t: SmtpTarget, to: string[]) => SmtpAttempt;

  const deps = (over: Partial<OutboundDeps> = {}): OutboundDeps => ({
    adapters,
    config,
    logger: silentLogger,
    resolver,
    deliver: async (target, envelope) => {
      calls.push(target);
      return answer(target, envelope.to);
    },
    ...over,
  });

  async function newJob(rcptTo: string[], mailFrom = 'alice@a.test', createdAt = Date.now()): Promise<OutboundJob> {
    const queueId = `Q${Math.random().toString(36).slice(2, 10).toUpperCase()}`;
    await enqueueOutbound(adapters, { queueId, domain: 'remote.test', mailFrom, rcptTo, createdAt, bytes: MESSAGE });
    const [received] = await adapters.queue.receive<OutboundJob>('outbound', { max: 1, waitSeconds: 0 });
    await adapters.queue.ack('outbound', received.receipt);
    return received.body;
  }

  async function inbox(user: string) {
    const mb = await adapters.index.getMailbox(user, 'INBOX');
    const msgs = await adapters.index.listMessages(user, mb!.id);
    return Promise.all(msgs.map(async (m) => (await adapters.blobs.get(m.blobKey)).toString('utf8')));
  }

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'outbound-'));
    adapters = await createLocalAdapters({ dataDir: dir });
    config = loadConfig({ MAIL_DATA_DIR: dir, MAIL_HOSTNAME: 'mx.a.test', OUTBOUND_RETRY_BASE: '60', OUTBOUND_RETRY_MAX: '600', OUTBOUND_MAX_AGE: '3600' });
    await adapters.index.addDomain('a.test');
    await createUser(adapters.index, 'alice@a.test', 'pw');
    calls = [];
  });
  afterEach(async () => {
    await adapters.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives each recipient its own outcome: 2xx delivered, 4xx retried later, 5xx bounced with a DSN', async () => {
    const job = await newJob(['ok@remote.test', 'later@remote.test', 'gone@remote.test']);
    answer = (_t, to) => ({
      kind: 'done',
      replies: to.map((r) =>
        r.startsWith('ok')
          ? { recipient: r, code: 250, reply: '250 2.0.0 queued' }
          : r.startsWith('later')
            ? { recipient: r, code: 451, reply: '451 4.2.0 greylisted' }
            : { recipient: r, code: 550, reply: '550 5.1.1 <gone@remote.test>: no such user' },
      ),
    });
    const before = Date.now();
    const result = await runOutboundJob(job, deps());
    expect(result).toMatchObject({ delivered: ['ok@remote.test'], deferred: ['later@remote.test'], failed: ['gone@remote.test'] });
    expect(calls.map((c) => c.name)).toEqual(['mx1.remote.test']); // lowest preference first
    expect(calls[0]).toMatchObject({ host: '192.0.2.1', port: 25, tls: 'opportunistic' });

    const [dsn] = await inbox('alice@a.test');
    expect(dsn).toContain('Content-Type: multipart/report; report-type=delivery-status;');
    expect(dsn).toContain(
      'Final-Recipient: rfc822; gone@remote.test\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx1.remote.test\r\nDiagnostic-Code: smtp; 550 5.1.1 <gone@remote.test>: no such user',
    );
    expect(dsn).not.toContain('Final-Recipient: rfc822; later@remote.test');
    expect(dsn).not.toContain('Final-Recipient: rfc822; ok@remote.test');
    expect(dsn).toContain('Subject: hello'); // the original header section
    // Delivered into the sender's INBOX with the null reverse-path (RFC 5321 §4.4, RFC 3464 §2).
    expect(dsn).toMatch(/^Return-Path: <>\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx\.a\.test>\r\n/);

    // The deferred recipient goes back to the queue with the backoff; the blob stays.
    const stats = await adapters.queue.stats('outbound');
    expect(stats.delayed).toBe(1);
    expect(result.retryAt! - before).toBeGreaterThanOrEqual(59_000);
    expect(await adapters.blobs.exists(job.blobKey)).toBe(true);
  });

  it('re-sends a job received before its notBefore without delivering, and retries with doubled backoff', async () => {
    const job = await newJob(['later@remote.test']);
    answer = () => ({ kind: 'unreachable', reply: 'connect ECONNREFUSED' });
    const now = Date.now();
    const r1 = await runOutboundJob({ ...job, attempts: 2 }, deps({ now: () => now }));
    // After 3 attempts: base 60 s * 2^2 = 240 s.
    expect(r1.retryAt).toBe(now + 240_000);
    calls = [];
    const r2 = await runOutboundJob({ ...job, notBefore: now + 500_000 }, deps({ now: () => now }));
    expect(calls).toHaveLength(0);
    expect(r2.deferred).toEqual(['later@remote.test']);
  });

  it('passes the turn to the next MX host when one cannot be reached (RFC 5321 §5.1)', async () => {
    const job = await newJob(['ok@remote.test']);
    answer = (t, to) =>
      t.name === 'mx1.remote.test'
        ? { kind: 'unreachable', reply: 'timeout' }
        : { kind: 'done', replies: to.map((r) => ({ recipient: r, code: 250, reply: '250 ok' })) };
    const result = await runOutboundJob(job, deps());
    expect(calls.map((c) => c.name)).toEqual(['mx1.remote.test', 'mx2.remote.test']);
    expect(result.delivered).toEqual(['ok@remote.test']);
    expect(await adapters.blobs.exists(job.blobKey)).toBe(false); // the job's own copy is gone
    // A duplicate of the finished job is dropped.
    calls = [];
    expect(await runOutboundJob(job, deps())).toMatchObject({ alreadyDone: true });
    expect(calls).toHaveLength(0);
  });

  it('fails with 4.4.7 and a DSN once the age limit is reached, naming the last error', async () => {
    const job = await newJob(['later@remote.test'], 'alice@a.test', Date.now() - 3_600_000);
    answer = () => ({ kind: 'refused', code: 421, reply: '421 4.7.0 try again later' });
    const result = await runOutboundJob(job, deps());
    expect(result.failed).toEqual(['later@remote.test']);
    const [dsn] = await inbox('alice@a.test');
    expect(dsn).toContain('Status: 4.4.7');
    expect(dsn).toContain('Diagnostic-Code: smtp; 421 4.7.0 try again later');
    expect((await adapters.queue.stats('outbound')).delayed).toBe(0);
  });

  it('never bounces a message with the null reverse-path', async () => {
    const job = await newJob(['gone@remote.test'], '');
    answer = (_t, to) => ({ kind: 'done', replies: to.map((r) => ({ recipient: r, code: 550, reply: '550 5.1.1 no' })) });
    const result = await runOutboundJob(job, deps());
    expect(result.failed).toEqual(['gone@remote.test']);
    expect(await inbox('alice@a.test')).toEqual([]);
    expect((await adapters.queue.stats('outbound')).visible).toBe(0);
    expect(await adapters.blobs.exists(job.blobKey)).toBe(false);
  });

  it('bounces at once for a null MX and a domain that does not exist', async () => {
    for (const [domain, status] of [
      ['null.test', '5.1.10'],
      ['nxdomain.test', '5.1.2'],
    ] as const) {
      const job = { ...(await newJob(['x@remote.test'])), domain, rcptTo: [`x@${domain}`] };
      const r = await runOutboundJob(
        job,
        deps({ resolver: { ...resolver, mx: async (d) => (d === 'null.test' ? [{ exchange: '', priority: 0 }] : resolver.mx(d)) } }),
      );
      expect(r.failed).toEqual([`x@${domain}`]);
      expect(calls).toHaveLength(0);
      const dsns = await inbox('alice@a.test');
      expect(dsns.at(-1)).toContain(`Final-Recipient: rfc822; x@${domain}\r\nAction: failed\r\nStatus: ${status}\r\n`);
    }
  });

  it('sends everything through the smart host when one is configured', async () => {
    config = loadConfig({
      MAIL_DATA_DIR: dir,
      MAIL_HOSTNAME: 'mx.a.test',
      SMART_HOST: 'relay.example',
      SMART_HOST_PORT: '2587',
      SMART_HOST_USER: 'u',
      SMART_HOST_PASSWORD: 'p',
    });
    const job = await newJob(['ok@remote.test']);
    answer = (_t, to) => ({ kind: 'done', replies: to.map((r) => ({ recipient: r, code: 250, reply: '250 ok' })) });
    await runOutboundJob(job, deps({ resolver: { ...resolver, mx: () => Promise.reject(new Error('no DNS with a smart host')) } }));
    expect(calls).toEqual([
      expect.objectContaining({ host: 'relay.example', port: 2587, tls: 'starttls', verifyCertificate: true, auth: { user: 'u', pass: 'p' } }),
    ]);
  });
});

describe('routing of remote recipients', () => {
  let dir: string;
  let adapters: Adapters;
  let config: MailConfig;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'routing-'));
    adapters = await createLocalAdapters({ dataDir: dir });
    config = loadConfig({ MAIL_DATA_DIR: dir, MAIL_HOSTNAME: 'mx.a.test', OUTBOUND_MAX_RECEIVED: '10' });
    await adapters.index.addDomain('a.test');
    await createUser(adapters.index, 'alice@a.test', 'pw');
  });
  afterEach(async () => {
    await adapters.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const job = (over: Partial<IngestJob> = {}): IngestJob => ({
    id: 'ING1',
    blobKey: 'messages/x',
    mailFrom: 'alice@a.test',
    rcptTo: ['x@remote.test'],
    receivedAt: Date.now(),
    source: 'submission',
    authUser: 'alice@a.test',
    size: MESSAGE.length,
    ...over,
  });

  it('queues one outbound job per domain, once per ingest job even when ingest runs twice', async () => {
    const routing = createOutboundRouting({ adapters, config, logger: silentLogger });
    const byDomain = new Map([
      ['remote.test', ['x@remote.test', 'y@remote.test']],
      ['other.test', ['z@other.test']],
    ]);
    await routing.routeRemote({ job: job(), byDomain, raw: MESSAGE });
    await routing.routeRemote({ job: job(), byDomain, raw: MESSAGE });
    const jobs = await adapters.queue.receive<OutboundJob>('outbound', { max: 10, waitSeconds: 0 });
    expect(jobs.map((j) => [j.body.domain, j.body.rcptTo]).sort()).toEqual([
      ['other.test', ['z@other.test']],
      ['remote.test', ['x@remote.test', 'y@remote.test']],
    ]);
    // The job's own copy of the bytes, independent of the ingest blob (invariant 5).
    expect((await adapters.blobs.get(outboundBlobKey('ING1', 'remote.test'))).equals(MESSAGE)).toBe(true);
  });

  it('bounces a message that has passed too many hosts (loop), and never relays for the MX listener', async () => {
    const routing = createOutboundRouting({ adapters, config, logger: silentLogger });
    const looping = Buffer.concat([Buffer.from('Received: from x by y; Tue, 24 Nov 2026 05:00:00 +0000\r\n'.repeat(11)), MESSAGE]);
    await routing.routeRemote({ job: job(), byDomain: new Map([['remote.test', ['x@remote.test']]]), raw: looping });
    expect((await adapters.queue.stats('outbound')).visible).toBe(0);
    const mb = await adapters.index.getMailbox('alice@a.test', 'INBOX');
    const [m] = await adapters.index.listMessages('alice@a.test', mb!.id);
    expect((await adapters.blobs.get(m.blobKey)).toString()).toContain('Status: 5.4.6');

    await expect(
      routing.routeRemote({ job: job({ id: 'ING2', source: 'mx' }), byDomain: new Map([['remote.test', ['x@remote.test']]]), raw: MESSAGE }),
    ).rejects.toThrow(/refusing to relay/);
    expect((await adapters.queue.stats('outbound')).visible).toBe(0);
  });

  it('sends a DSN for a remote sender back out with the null reverse-path (never to be bounced again)', async () => {
    await deliverDsn({ adapters, logger: silentLogger }, 'R1', {
      reportingMta: 'mx.a.test',
      to: 'someone@remote.test',
      arrivalDate: Date.now(),
      queueId: 'Q1',
      recipients: [{ recipient: 'alice2@a.test', action: 'failed', status: '5.1.1' }],
      original: MESSAGE,
    });
    await deliverDsn({ adapters, logger: silentLogger }, 'R1', {
      reportingMta: 'mx.a.test',
      to: 'someone@remote.test',
      arrivalDate: Date.now(),
      queueId: 'Q1',
      recipients: [{ recipient: 'alice2@a.test', action: 'failed', status: '5.1.1' }],
      original: MESSAGE,
    });
    const jobs = await adapters.queue.receive<OutboundJob>('outbound', { max: 10, waitSeconds: 0 });
    expect(jobs).toHaveLength(1);
    expect(jobs[0].body).toMatchObject({ mailFrom: '', domain: 'remote.test', rcptTo: ['someone@remote.test'] });
    expect((await adapters.blobs.get(jobs[0].body.blobKey)).toString()).toContain('Final-Recipient: rfc822; alice2@a.test');
  });

  it('sends a DSN for unknown local users of a submission', async () => {
    const routing = createOutboundRouting({ adapters, config, logger: silentLogger });
    await routing.onUnknownLocal(job({ rcptTo: ['nobody@a.test'] }), ['nobody@a.test'], MESSAGE);
    await routing.onUnknownLocal(job({ rcptTo: ['nobody@a.test'] }), ['nobody@a.test'], MESSAGE); // redelivered ingest
    const mb = await adapters.index.getMailbox('alice@a.test', 'INBOX');
    const msgs = await adapters.index.listMessages('alice@a.test', mb!.id);
    expect(msgs).toHaveLength(1);
    expect((await adapters.blobs.get(msgs[0].blobKey)).toString()).toContain('Final-Recipient: rfc822; nobody@a.test\r\nAction: failed\r\nStatus: 5.1.1');
  });

  it('relays without the Return-Path written for local delivery: relaying is not final delivery (RFC 5321 §4.4)', async () => {
    const routing = createOutboundRouting({ adapters, config, logger: silentLogger });
    const stored = Buffer.concat([Buffer.from('Return-Path: <alice@a.test>\r\n'), MESSAGE]);
    await routing.routeRemote({ job: job(), byDomain: new Map([['remote.test', ['x@remote.test']]]), raw: stored });
    expect((await adapters.blobs.get(outboundBlobKey('ING1', 'remote.test'))).equals(MESSAGE)).toBe(true);
  });

  it('never puts a bare LF or CR in a DSN, even for an original stored with bare LFs (SMTP smuggling)', async () => {
    const original = Buffer.from('Return-Path: <alice@a.test>\r\nFrom: alice@a.test\nTo: x@remote.test\nSubject: old\r.\rMAIL FROM:<evil@x.test>\n\nbody\n.\n');
    await deliverDsn({ adapters, logger: silentLogger }, 'R2', {
      reportingMta: 'mx.a.test',
      to: 'someone@remote.test',
      arrivalDate: Date.now(),
      queueId: 'Q2',
      recipients: [{ recipient: 'x@remote.test', action: 'failed', status: '5.1.1', diagnostic: 'no\nsuch\ruser' }],
      original,
    });
    const [out] = await adapters.queue.receive<OutboundJob>('outbound', { max: 1, waitSeconds: 0 });
    const remote = await adapters.blobs.get(out.body.blobKey);
    expect(hasBareNewline(remote)).toBe(false);
    expect(remote.toString()).toContain('Subject: old\r\n.\r\nMAIL FROM:<evil@x.test>\r\n');
    // Going out (not a final delivery): no Return-Path of ours on top.
    expect(remote.toString()).toMatch(/^From: Mail Delivery System/);
    await deliverDsn({ adapters, logger: silentLogger }, 'R3', {
      reportingMta: 'mx.a.test',
      to: 'alice@a.test',
      arrivalDate: Date.now(),
      queueId: 'Q3',
      recipients: [{ recipient: 'x@remote.test', action: 'failed', status: '5.1.1' }],
      original,
    });
    const mb = await adapters.index.getMailbox('alice@a.test', 'INBOX');
    const [m] = await adapters.index.listMessages('alice@a.test', mb!.id);
    const local = (await adapters.blobs.get(m.blobKey)).toString('latin1');
    expect(hasBareNewline(Buffer.from(local, 'latin1'))).toBe(false);
    expect(local).toMatch(/^Return-Path: <>\r\nFrom: Mail Delivery System/);
  });
});
