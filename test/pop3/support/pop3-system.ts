/**
 * A mail system (test/support/mail-system.ts, local or aws adapters) with POP3 listeners of
 * this test's own options on free loopback ports, and a user whose INBOX is filled.
 */
import type { Adapters } from '#core/adapters/adapters.ts';
import { appendToMailbox } from '#core/mailbox/writes.ts';
import type { Logger } from '#core/log.ts';
import { startPop3Listeners, type Pop3ListenerOptions } from '#listeners/pop3/pop3-listener.ts';
import type { RunningListener } from '#listeners/listener.ts';
import type { ProxyConfig } from '#listeners/proxy-protocol.ts';
import { startTestSystem, type AdapterKind, type TestSystem } from '../../support/mail-system.ts';

export interface Pop3TestSystem {
  ts: TestSystem;
  port: number;
  tlsPort: number;
  user: string;
  password: string;
  /** Appends messages to the user's INBOX in order; returns their UIDs. */
  fill(messages: Buffer[]): Promise<number[]>;
  /** UIDs now in the user's INBOX, read from the index. */
  inboxUids(): Promise<number[]>;
  stop(): Promise<void>;
}

export async function startPop3System(
  kind: AdapterKind,
  options: Pop3ListenerOptions & { env?: Record<string, string>; proxy?: ProxyConfig; wrapAdapters?: (adapters: Adapters) => Adapters; logger?: Logger } = {},
): Promise<Pop3TestSystem> {
  const { env, proxy, wrapAdapters, logger, ...listenerOptions } = options;
  const ts = await startTestSystem({ adapters: kind, workers: false, env, proxy, wrapAdapters, logger });
  let listeners: RunningListener[] = [];
  try {
    listeners = await startPop3Listeners(ts.system.deps, { port: 0, tlsPort: 0, failureDelay: { baseMs: 10, maxMs: 50 }, ...listenerOptions });
  } catch (e) {
    await ts.stop();
    throw e;
  }
  const user = `pop-${Math.random().toString(36).slice(2, 8)}@example.test`;
  const password = 'secret pass';
  await ts.addUser(user, password);
  return {
    ts,
    port: listeners.find((l) => l.name === 'pop3')!.port,
    tlsPort: listeners.find((l) => l.name === 'pop3s')!.port,
    user,
    password,
    async fill(messages) {
      const uids: number[] = [];
      for (const raw of messages) uids.push((await appendToMailbox(ts.adapters, user, 'INBOX', raw)).uid);
      return uids;
    },
    async inboxUids() {
      const mb = await ts.adapters.index.getMailbox(user, 'INBOX');
      return (await ts.adapters.index.listMessages(user, mb!.id)).map((m) => m.uid);
    },
    async stop() {
      await Promise.all(listeners.map((l) => l.close(500)));
      await ts.stop();
    },
  };
}
