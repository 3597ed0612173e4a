/**
 * RFC 8620 §5.3: of two Email/set calls with the same `ifInState`, exactly one may succeed; the
 * other gets stateMismatch. The index is slowed down so the two calls overlap for sure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { createUser } from '#core/accounts/accounts.ts';
import { silentLogger } from '#core/log.ts';
import { createMailboxEvents } from '#core/mailbox/events.ts';
import { MailboxWrites, appendToMailbox } from '#core/mailbox/writes.ts';
import type { MailIndex } from '#core/ports/mail-index.ts';
import { accountIdOf } from '#listeners/jmap/ids.ts';
import { coreLimits } from '#listeners/jmap/limits.ts';
import { emailMethods } from '#listeners/jmap/methods/email.ts';
import { AccountLocks, type JmapServices } from '#listeners/jmap/services.ts';
import { override } from '../support/mail-system.ts';

describe('Email/set with ifInState under concurrency', () => {
  let dir: string;
  let adapters: Adapters;
  const user = 'alice@example.test';
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'jmap-set-'));
    adapters = await createLocalAdapters({ dataDir: dir });
    await adapters.index.addDomain('example.test');
    await createUser(adapters.index, user, 'pw');
    await appendToMailbox(adapters, user, 'INBOX', Buffer.from('Subject: one\r\n\r\nbody\r\n'));
  });
  afterAll(async () => {
    await adapters?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets exactly one of two overlapping calls with the same ifInState win; the other gets stateMismatch', async () => {
    // Every listing waits, so both calls read the state before either writes (without the lock).
    const slow: MailIndex = override(adapters.index, {
      listMessages: async (...a: Parameters<MailIndex['listMessages']>) => {
        await new Promise((r) => setTimeout(r, 50));
        return adapters.index.listMessages(...a);
      },
    });
    const events = createMailboxEvents();
    const svc: JmapServices = {
      index: slow,
      blobs: adapters.blobs,
      contacts: adapters.contacts,
      writes: new MailboxWrites({ index: slow, blobs: adapters.blobs }, { events, log: silentLogger }),
      events,
      limits: coreLimits(1_000_000),
      locks: new AccountLocks(),
    };
    const methods = emailMethods(svc);
    const accountId = accountIdOf(user);
    const ctx = () => ({ user, accountId, createdIds: new Map<string, string>(), log: silentLogger });
    const q = await methods['Email/query'].handle({ accountId }, ctx());
    const id = (q.ids as string[])[0];
    const state = (await methods['Email/get'].handle({ accountId, ids: [id], properties: ['id'] }, ctx())).state;
    const attempt = (kw: string) =>
      methods['Email/set'].handle({ accountId, ifInState: state, update: { [id]: { [`keywords/${kw}`]: true } } }, ctx()).then(
        () => 'ok',
        (err: { type?: string }) => err.type,
      );
    const results = await Promise.all([attempt('$flagged'), attempt('$answered')]);
    expect(results.sort()).toEqual(['ok', 'stateMismatch']);
  });
});
