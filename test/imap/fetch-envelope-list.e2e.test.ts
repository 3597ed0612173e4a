/**
 * FETCH of a message list (UID FLAGS ENVELOPE RFC822.SIZE, with INTERNALDATE and MODSEQ) reads
 * MailIndex.listEnvelopes, not the records' meta (fargate-listeners/src/imap/session/commands/
 * fetch.ts), and answers byte for byte what the general FETCH path answers from the meta
 * (RFC 3501 §7.4.2 ENVELOPE) for every corpus message — in a session with UTF8=ACCEPT and in one
 * without (RFC 6855 §3), and for envelope rows without a text (written by older code).
 */
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import type { ListOptions, MailIndex } from '#core/ports/mail-index.ts';
import { override } from '../support/mail-system.ts';
import { corpusFiles } from '../support/corpus.ts';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

const calls = { listEnvelopes: 0, metaReads: 0 };

function counting(a: Adapters): Adapters {
  const index = override<MailIndex>(a.index, {
    listEnvelopes: (...args: Parameters<MailIndex['listEnvelopes']>) => {
      calls.listEnvelopes++;
      return a.index.listEnvelopes(...args);
    },
    listMessages: (user: string, mailboxId: string, options?: ListOptions) => {
      if (options?.withMeta) calls.metaReads++;
      return a.index.listMessages(user, mailboxId, options);
    },
  });
  return override(a, { index });
}

/** The list items, then the same with EMAILID, which only the general path answers. */
const LIST = 'FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE MODSEQ)';
const GENERAL = 'FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE MODSEQ EMAILID)';

describe('IMAP FETCH of a message list from the index envelopes (RFC 3501 §7.4.2)', () => {
  let sys: ImapTestSystem;
  let count = 0;
  beforeAll(async () => {
    sys = await startImapSystem('local', { wrapAdapters: counting });
    const raws = [
      sampleMessage('plain'),
      sampleMessage('caf\u00e9 8-bit', 'x\r\n', 'Cc: Zo\u00eb <z@example.test>\r\n'),
      sampleMessage(`long ${'x'.repeat(1100)}`),
      ...corpusFiles().map((f) => f.raw),
    ];
    for (const raw of raws) await sys.deliver(raw);
    count = raws.length;
  });
  afterAll(async () => {
    await sys?.stop();
  });

  async function compare(enable: string | null): Promise<void> {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    try {
      if (enable) expect((await c.command(`ENABLE ${enable}`)).tagged).toMatch(/ OK /);
      await c.command('SELECT INBOX');
      calls.listEnvelopes = 0;
      calls.metaReads = 0;
      const list = await c.command(LIST);
      expect(list.tagged).toMatch(/ OK /);
      expect(calls).toEqual({ listEnvelopes: 1, metaReads: 0 });
      const general = await c.command(GENERAL);
      expect(calls.metaReads).toBeGreaterThan(0);
      expect(list.untagged).toHaveLength(count);
      expect(list.untagged).toEqual(general.untagged.map((l) => l.replace(/ EMAILID \([^)]*\)/, '')));
      expect(list.literals).toEqual(general.literals);
    } finally {
      c.close();
    }
  }

  it('answers as the meta does, without UTF8=ACCEPT', async () => {
    await compare(null);
  });

  it('answers as the meta does with UTF8=ACCEPT (RFC 6855 §3: 8-bit text quoted) and with IMAP4rev2', async () => {
    await compare('UTF8=ACCEPT');
    await compare('IMAP4rev2');
  });

  it('answers as the meta does for envelope rows without a text (written by code that predates them)', async () => {
    const db = new DatabaseSync(path.join(sys.ts.dataDir, 'index.sqlite'));
    try {
      db.exec('UPDATE message_envelopes SET imap = NULL, json = NULL');
    } finally {
      db.close();
    }
    await compare(null);
    await compare('UTF8=ACCEPT');
  });
});
