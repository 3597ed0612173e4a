/**
 * The ingest job delivers to the mailbox the MX's verdict names (issue 14): Junk is the
 * user's \Junk special-use mailbox (RFC 6154), wherever the user renamed it; a user without
 * one gets the message in INBOX rather than not at all. On both adapter sets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createUser } from '#core/accounts/accounts.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { runIngestJob, type IngestJob } from '#core/ingest/ingest-job.ts';
import { silentLogger } from '#core/log.ts';
import { ADAPTER_KINDS, makeAdapters } from '../support/mail-system.ts';

const alice = 'alice@example.test';

describe.each(ADAPTER_KINDS)('ingest: the verdict picks the mailbox (%s adapters)', (kind) => {
  let adapters: Adapters;
  let cleanup: () => Promise<void>;
  let dir: string;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'junk-verdict-'));
    ({ adapters, cleanup } = await makeAdapters(kind, dir));
    await adapters.index.addDomain('example.test');
    await createUser(adapters.index, alice, 'pw');
  });
  afterEach(async () => {
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  let n = 0;
  async function deliver(verdict: IngestJob['verdict']) {
    const id = `job${++n}`;
    const blobKey = `m/${id}`;
    const raw = Buffer.from(`Subject: ${id}\r\n\r\nbody\r\n`);
    await adapters.blobs.put(blobKey, raw);
    await adapters.index.holdBlob(blobKey, id);
    const job: IngestJob = { id, blobKey, mailFrom: 'x@remote.test', rcptTo: [alice], receivedAt: Date.now(), source: 'mx', size: raw.length, verdict };
    await runIngestJob(job, { adapters, logger: silentLogger });
    return id;
  }
  async function subjects(mailbox: string) {
    const mb = await adapters.index.getMailbox(alice, mailbox);
    return (await adapters.index.listMessages(alice, mb!.id, { withMeta: true })).map((m) => m.meta!.envelope.subject);
  }

  it('delivers a Junk verdict to Junk, no verdict and INBOX to INBOX', async () => {
    const junk = await deliver({ mailbox: 'Junk', reasons: ['dmarc=fail policy=quarantine'] });
    const plain = await deliver(undefined);
    const inbox = await deliver({ mailbox: 'INBOX' });
    expect(await subjects('Junk')).toEqual([junk]);
    expect(await subjects('INBOX')).toEqual([plain, inbox]);
  });

  it('finds a renamed \\Junk mailbox, and falls back to INBOX when the user has none', async () => {
    await adapters.index.renameMailbox(alice, 'Junk', 'Spam');
    const toSpam = await deliver({ mailbox: 'Junk' });
    expect(await subjects('Spam')).toEqual([toSpam]);
    await adapters.index.deleteMailbox(alice, 'Spam');
    const toInbox = await deliver({ mailbox: 'Junk' });
    expect(await subjects('INBOX')).toEqual([toInbox]);
  });
});
