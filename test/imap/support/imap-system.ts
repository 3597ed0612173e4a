/**
 * A mail system (test/support/mail-system.ts, local or aws adapters) with IMAP listeners on
 * free loopback ports, and a user with the default mailboxes.
 */
import { appendToMailbox } from '#core/mailbox/writes.ts';
import type { RunningListener } from '#listeners/listener.ts';
import { startImapListeners, type ImapListenerOptions } from '#listeners/imap/imap-listener.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import type { Logger } from '#core/log.ts';
import { startTestSystem, type AdapterKind, type TestSystem, type TestSystemOptions } from '../../support/mail-system.ts';

export interface ImapTestSystem {
  ts: TestSystem;
  port: number;
  tlsPort: number;
  user: string;
  password: string;
  /** Appends straight through the ports (as ingest does) and notifies; returns the UID. */
  deliver(raw: Buffer, mailbox?: string, flags?: string[]): Promise<number>;
  uids(mailbox?: string): Promise<number[]>;
  stop(): Promise<void>;
}

export async function startImapSystem(
  kind: AdapterKind = 'local',
  options: ImapListenerOptions & {
    env?: Record<string, string>;
    wrapAdapters?: (adapters: Adapters) => Adapters;
    logger?: Logger;
    changeFeed?: TestSystemOptions['changeFeed'];
  } = {},
): Promise<ImapTestSystem> {
  const { env, wrapAdapters, logger, changeFeed, ...listenerOptions } = options;
  const ts = await startTestSystem({ adapters: kind, workers: false, env, wrapAdapters, logger, changeFeed });
  let listeners: RunningListener[] = [];
  try {
    listeners = await startImapListeners(ts.system.deps, { port: 0, tlsPort: 0, ...listenerOptions });
  } catch (e) {
    await ts.stop();
    throw e;
  }
  const user = `imap-${Math.random().toString(36).slice(2, 8)}@example.test`;
  const password = 'secret pass';
  await ts.addUser(user, password);
  return {
    ts,
    port: listeners.find((l) => l.name === 'imap')!.port,
    tlsPort: listeners.find((l) => l.name === 'imaps')!.port,
    user,
    password,
    async deliver(raw, mailbox = 'INBOX', flags = []) {
      const r = await appendToMailbox(ts.adapters, user, mailbox, raw, { flags });
      ts.system.deps.events.notify(user, r.mailboxId);
      return r.uid;
    },
    async uids(mailbox = 'INBOX') {
      const mb = await ts.adapters.index.getMailbox(user, mailbox);
      return (await ts.adapters.index.listMessages(user, mb!.id)).map((m) => m.uid);
    },
    async stop() {
      await Promise.all(listeners.map((l) => l.close(500)));
      await ts.stop();
    },
  };
}

/** A small message with a given subject and body. */
export function sampleMessage(subject: string, body = 'Hello there.\r\n', extra = ''): Buffer {
  return Buffer.from(
    `From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: ${subject}\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@example.test>\r\n${extra}\r\n${body}`,
  );
}
