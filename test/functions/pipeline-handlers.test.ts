/**
 * The AWS pipeline as Lambda runs it, on the emulator: a submission's ingest job goes through
 * the ingest handler (local recipient delivered, remote recipient routed to the outbound queue)
 * and the outbound handler delivers it by MX lookup (a DNS server of the test's own) to a
 * remote SMTP server on loopback. Handlers get real SQS records as Lambda would.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { createUser } from '#core/accounts/accounts.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { awsResourceEnv, createAwsAdapters, destroyAwsResources, provisionAwsResources, type AwsResourceRefs } from '#core/adapters/aws/index.ts';
import type { IngestJob } from '#core/ingest/ingest-job.ts';
import { lambdaContext, takeSqsEvent } from '../support/lambda-events.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { emulatorClientConfig, emulatorEnv } from '../support/emulator.ts';
import { uniquePrefix } from '../support/mail-system.ts';

describe('ingest and outbound Lambda handlers', () => {
  let refs: AwsResourceRefs;
  let adapters: Adapters;
  let dns: TestDnsServer;
  let remote: SMTPServer;
  const received: Array<{ from: string; to: string[]; data: string }> = [];
  const clientConfig = () => emulatorClientConfig(inject('awsEndpoint'));

  beforeAll(async () => {
    refs = await provisionAwsResources(clientConfig(), uniquePrefix());
    adapters = await createAwsAdapters({ refs, clientConfig: clientConfig() });
    remote = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c) => chunks.push(c));
        stream.on('end', () => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            data: Buffer.concat(chunks).toString(),
          });
          cb();
        });
      },
    });
    await new Promise<void>((r) => remote.listen(0, '127.0.0.1', () => r()));
    dns = await startDnsServer({
      'remote.test': [{ type: 'MX', preference: 10, exchange: 'mx.remote.test' }],
      'mx.remote.test': [{ type: 'A', address: '127.0.0.1' }],
    });
    // What the CDK stack sets on the functions, plus the emulator in place of AWS.
    Object.assign(process.env, awsResourceEnv(refs), emulatorEnv(clientConfig()), {
      LOG_LEVEL: 'error',
      MAIL_HOSTNAME: 'mx.example.test',
      DNS_SERVERS: dns.server,
      OUTBOUND_SMTP_PORT: String((remote.server.address() as AddressInfo).port),
    });
    await adapters.index.addDomain('example.test');
    await createUser(adapters.index, 'alice@example.test', 'pw');
    await createUser(adapters.index, 'bob@example.test', 'pw');
  });
  afterAll(async () => {
    await adapters?.close();
    await dns?.close();
    await new Promise<void>((r) => (remote ? remote.close(() => r()) : r()));
    if (refs) await destroyAwsResources(clientConfig(), refs).catch(() => {});
  });

  it('delivers the local copy, routes the remote one, and the outbound handler hands it over by MX', async () => {
    const raw = Buffer.from(
      'From: alice@example.test\r\nTo: bob@example.test, carol@remote.test\r\nSubject: both ways\r\nMessage-ID: <x1@example.test>\r\nDate: Tue, 24 Nov 2026 06:00:00 +0000\r\n\r\nhello\r\n',
    );
    await adapters.blobs.put('messages/pipeline/1', raw);
    await adapters.index.holdBlob('messages/pipeline/1', 'PIPE1');
    const job: IngestJob = {
      id: 'PIPE1',
      blobKey: 'messages/pipeline/1',
      mailFrom: 'alice@example.test',
      rcptTo: ['bob@example.test', 'carol@remote.test'],
      receivedAt: Date.now(),
      source: 'submission',
      authUser: 'alice@example.test',
      size: raw.length,
    };
    await adapters.queue.send('ingest', job);

    const ingest = await import('#functions/ingest.ts');
    expect(await ingest.handler(await takeSqsEvent(clientConfig(), refs.queueUrls.ingest, 1), lambdaContext())).toEqual({ batchItemFailures: [] });
    const inbox = (await adapters.index.getMailbox('bob@example.test', 'INBOX'))!;
    expect(await adapters.index.listMessages('bob@example.test', inbox.id)).toHaveLength(1);

    const outbound = await import('#functions/outbound.ts');
    const event = await takeSqsEvent(clientConfig(), refs.queueUrls.outbound, 1);
    expect(event.Records).toHaveLength(1);
    expect(await outbound.handler(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(received).toHaveLength(1);
    expect(received[0].from).toBe('alice@example.test');
    expect(received[0].to).toEqual(['carol@remote.test']);
    expect(received[0].data).toContain('Subject: both ways');
    expect(received[0].data).toContain('\r\n\r\nhello\r\n');
    expect(dns.queries).toContain('remote.test MX');
    // Nothing is left to retry.
    expect((await adapters.queue.stats('outbound')).visible + (await adapters.queue.stats('outbound')).delayed).toBe(0);
  });
});
