/**
 * A failed "mailbox changed" publish never fails a delivery (docs/deploy.md, "Push between
 * listener tasks"): the ingest Lambda handler, configured with a push topic that does not
 * exist, delivers the message, reports no batch item failure and logs a warning; the
 * listeners' slow poll finds the message.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { createUser } from '#core/accounts/accounts.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { awsResourceEnv, createAwsAdapters, destroyAwsResources, provisionAwsResources, type AwsResourceRefs } from '#core/adapters/aws/index.ts';
import type { IngestJob } from '#core/ingest/ingest-job.ts';
import { PUSH } from '#core/resources.ts';
import { emulatorClientConfig, emulatorEnv } from '../support/emulator.ts';
import { uniquePrefix } from '../support/mail-system.ts';
import { lambdaContext, takeSqsEvent } from '../support/lambda-events.ts';

describe('ingest Lambda handler with a push topic that cannot be published to', () => {
  let refs: AwsResourceRefs;
  let adapters: Adapters;
  const clientConfig = () => emulatorClientConfig(inject('awsEndpoint'));

  beforeAll(async () => {
    const prefix = uniquePrefix();
    refs = await provisionAwsResources(clientConfig(), prefix);
    adapters = await createAwsAdapters({ refs, clientConfig: clientConfig() });
    Object.assign(process.env, awsResourceEnv(refs), emulatorEnv(clientConfig()), {
      LOG_LEVEL: 'warn',
      [PUSH.env.topicArn]: `arn:aws:sns:us-east-1:123456789012:${prefix}-no-such-topic`,
      [PUSH.env.queuePrefix]: PUSH.queuePrefix(prefix),
    });
    await adapters.index.addDomain('example.test');
    await createUser(adapters.index, 'alice@example.test', 'pw');
  });
  afterAll(async () => {
    await adapters?.close();
    if (refs) await destroyAwsResources(clientConfig(), refs).catch(() => {});
  });

  it('stores the message, fails no record and logs a warning', async () => {
    const raw = Buffer.from('Subject: unannounced\r\n\r\nhello\r\n');
    await adapters.blobs.put('messages/push/failure', raw);
    await adapters.queue.send<IngestJob>('ingest', {
      id: 'PUSHFAIL1',
      blobKey: 'messages/push/failure',
      mailFrom: 'x@remote.test',
      rcptTo: ['alice@example.test'],
      receivedAt: Date.now(),
      source: 'mx',
      size: raw.length,
    });
    const event = await takeSqsEvent(clientConfig(), refs.queueUrls.ingest, 1);
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      lines.push(String(chunk));
      return write(chunk, ...(rest as []));
    });
    try {
      const { handler } = await import('#functions/ingest.ts');
      const response = await handler(event, lambdaContext());
      expect(response.batchItemFailures).toEqual([]);
    } finally {
      spy.mockRestore();
    }
    const inbox = (await adapters.index.getMailbox('alice@example.test', 'INBOX'))!;
    const msgs = await adapters.index.listMessages('alice@example.test', inbox.id, { withMeta: true });
    expect(msgs.map((m) => m.meta!.envelope.subject)).toEqual(['unannounced']);
    const warnings = lines.map((l) => JSON.parse(l) as { level: string; msg: string; mailboxId?: string }).filter((l) => l.level === 'warn');
    expect(warnings).toContainEqual(expect.objectContaining({ msg: expect.stringMatching(/change notification not published/), mailboxId: inbox.id }));
  });
});
