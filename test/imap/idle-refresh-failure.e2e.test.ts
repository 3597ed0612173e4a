/**
 * IDLE (RFC 2177) when the index fails a read during a wake-up: the session's refresh fails
 * once, and the watcher (fargate-listeners/src/imap/session/commands/idle.ts) wakes it again
 * soon, instead of leaving it stale until the next change or the slow poll (here 60 s).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MailIndex } from '#core/ports/mail-index.ts';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

describe('IDLE after a failed refresh (local adapters)', () => {
  let sys: ImapTestSystem;
  /** Reads of the index (other than the watcher's mailboxState) fail this many more times. */
  let failReads = 0;
  let failed = 0;
  beforeAll(async () => {
    sys = await startImapSystem('local', {
      limits: { idlePollMs: 60_000 },
      wrapAdapters: (adapters) => {
        const index = new Proxy(adapters.index, {
          get(target, prop, receiver) {
            const v = Reflect.get(target, prop, receiver) as unknown;
            if (typeof v !== 'function') return v;
            return (...args: unknown[]) => {
              if (failReads > 0 && prop !== 'mailboxState' && /^(get|list|changes|mailbox)/.test(String(prop))) {
                failReads--;
                failed++;
                return Promise.reject(new Error('index briefly unavailable'));
              }
              return (v as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        }) as MailIndex;
        return { ...adapters, index };
      },
    });
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('tells the idling session of a message whose wake-up refresh failed once, within 3 s, with the poll at 60 s', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    await c.command('SELECT INBOX');
    c.write('I1 IDLE\r\n');
    expect(await c.line()).toBe('+ idling');
    await new Promise((r) => setTimeout(r, 200));
    failReads = 1;
    await sys.deliver(sampleMessage('during an index hiccup'));
    expect(await c.line(3000)).toBe('* 1 EXISTS');
    expect(failed).toBe(1);
    c.write('DONE\r\n');
    for (let l = await c.line(); !l.startsWith('I1 '); l = await c.line());
    c.close();
  });
});
