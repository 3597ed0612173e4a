/**
 * The local job workers on a thread of their own (fargate-listeners/src/ingest-thread.ts), as
 * `npm start` runs them: a message accepted over SMTP is delivered by the thread, through its
 * own connections to the data directory, not on the listeners' event loop; the listeners'
 * sessions (IDLE) still hear of the delivery at once; stopping the system ends the thread.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import { eventually, override, startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { smtplibSend } from '../support/smtplib.ts';

describe('ingest thread', () => {
  let sys: TestSystem | undefined;
  afterEach(async () => {
    await sys?.stop();
    sys = undefined;
  });

  it('delivers on its own thread, and the listeners hear of the delivery', async () => {
    let listenerAppends = 0;
    sys = await startTestSystem({
      ingestThread: true,
      wrapAdapters: (a: Adapters) => ({
        ...a,
        index: override(a.index, {
          appendMessage: (...args: Parameters<Adapters['index']['appendMessage']>) => {
            listenerAppends++;
            return a.index.appendMessage(...args);
          },
        }),
      }),
    });
    await sys.addUser('alice@example.test', 'pw');
    const inbox = (await sys.adapters.index.getMailbox('alice@example.test', 'INBOX'))!;
    const heard: string[] = [];
    sys.system.deps.events.subscribe('alice@example.test', (mailboxId) => heard.push(mailboxId));

    const r = await smtplibSend({ port: sys.port('smtp-mx'), from: 'x@remote.test', to: ['alice@example.test'], data: 'Subject: threaded\r\n\r\nbody\r\n' });
    expect(r.outcome, r.stderr).toEqual({ refused: {} });
    await eventually(async () => (await sys!.adapters.index.listMessages('alice@example.test', inbox.id)).length === 1);
    const [m] = await sys.adapters.index.listMessages('alice@example.test', inbox.id, { withMeta: true });
    expect(m.meta!.envelope.subject).toBe('threaded');
    await eventually(async () => heard.includes(inbox.id));
    // The listeners' own index connection made no append: the thread did.
    expect(listenerAppends).toBe(0);
  });
});
