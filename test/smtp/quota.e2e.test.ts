/**
 * Quotas at delivery (RFC 9208 limits set with `mailctl user quota`): the MX refuses a local
 * recipient that is over quota at RCPT with 452 4.2.2 (RFC 3463 §3.3 "mailbox full", temporary:
 * the sender retries), counting the SIZE= that Python's smtplib declares (RFC 1870); the other
 * recipients of the transaction are accepted. A recipient that filled up between RCPT and
 * delivery is deferred: the ingest job fails for the queue to retry, nothing is lost and
 * nobody gets a second copy. On both adapters.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { QuotaDeferral, runIngestJob, type IngestJob } from '#core/ingest/ingest-job.ts';
import { silentLogger } from '#core/log.ts';
import { appendToMailbox } from '#core/mailbox/writes.ts';
import { ADAPTER_KINDS, startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { smtplibSend } from '../support/smtplib.ts';

const alice = 'alice@example.test';
const bob = 'bob@example.test';

describe.each(ADAPTER_KINDS)('quota at SMTP delivery (%s adapters)', (kind) => {
  let sys: TestSystem | undefined;
  afterEach(async () => {
    await sys?.stop();
    sys = undefined;
  });

  const inbox = async (user: string) => {
    const mb = (await sys!.adapters.index.getMailbox(user, 'INBOX'))!;
    return sys!.adapters.index.listMessages(user, mb.id);
  };

  it('RCPT of a local user over quota is 452 4.2.2, by message count or by the declared SIZE; the others are accepted (RFC 5321 §4.2.2, RFC 3463 §3.3)', async () => {
    sys = await startTestSystem({ adapters: kind, workers: false });
    await sys.addUser(alice, 'pw');
    await sys.addUser(bob, 'pw');
    await sys.adapters.index.setQuota(alice, { storage: null, messages: 0 });
    const data = 'Subject: to two\r\n\r\n' + 'body line\r\n'.repeat(200);
    const r = await smtplibSend({ port: sys.port('smtp-mx'), from: 'x@remote.test', to: [alice, bob], data });
    expect(r.outcome, r.stderr).toEqual({ refused: { [alice]: [452, '4.2.2 Mailbox full, try again later'] } });
    // Storage: 1000 octets left, and smtplib declares SIZE=2000-odd.
    await sys.adapters.index.setQuota(alice, { storage: 1000, messages: null });
    const sized = await smtplibSend({ port: sys.port('smtp-mx'), from: 'x@remote.test', to: [alice], data });
    expect(sized.outcome).toMatchObject({ error: 'rcpt-refused', recipients: { [alice]: [452, '4.2.2 Mailbox full, try again later'] } });
    // A small one fits.
    const small = await smtplibSend({ port: sys.port('smtp-mx'), from: 'x@remote.test', to: [alice], data: 'Subject: small\r\n\r\nhi\r\n' });
    expect(small.outcome).toEqual({ refused: {} });
  });

  it('a recipient over quota at delivery defers the job (the queue retries); the retry delivers once room is made, nobody twice, the hold released', async () => {
    sys = await startTestSystem({ adapters: kind, workers: false });
    await sys.addUser(alice, 'pw');
    await sys.addUser(bob, 'pw');
    const r = await smtplibSend({ port: sys.port('smtp-mx'), from: 'x@remote.test', to: [alice, bob], data: 'Subject: deferred\r\n\r\nbody\r\n' });
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    const [job] = await sys.adapters.queue.receive<IngestJob>('ingest', { waitSeconds: 5, visibilityTimeoutSeconds: 300 });
    // Alice fills up after RCPT: one message already, limit one.
    await appendToMailbox(sys.adapters, alice, 'INBOX', Buffer.from('Subject: first\r\n\r\nx\r\n'));
    await sys.adapters.index.setQuota(alice, { storage: null, messages: 1 });
    const run = runIngestJob(job.body, { adapters: sys.adapters, logger: silentLogger });
    await expect(run).rejects.toBeInstanceOf(QuotaDeferral);
    await expect(run).rejects.toMatchObject({ recipients: [alice] });
    expect(await inbox(alice)).toHaveLength(1);
    expect(await inbox(bob)).toHaveLength(1);
    // The bytes are still there for the retry (the job's hold was not released).
    expect(await sys.adapters.blobs.exists(job.body.blobKey)).toBe(true);
    await sys.adapters.index.setQuota(alice, { storage: null, messages: null });
    const done = await runIngestJob(job.body, { adapters: sys.adapters, logger: silentLogger });
    expect(done.delivered).toEqual([
      { recipient: alice, uid: 2, duplicate: false },
      { recipient: bob, uid: 1, duplicate: true },
    ]);
    expect(await inbox(alice)).toHaveLength(2);
    expect(await inbox(bob)).toHaveLength(1);
  });
});
