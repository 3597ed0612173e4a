/** What every protocol listener (SMTP, IMAP, POP3) is given, and what it gives back. */
import type { Adapters } from '#core/adapters/adapters.ts';
import type { MailConfig } from '#core/config.ts';
import type { Logger } from '#core/log.ts';
import type { AuthThrottle } from './auth-throttle.ts';
import type { MailboxEvents } from '#core/mailbox/events.ts';
import type { ProxyConfig } from './proxy-protocol.ts';
import type { TlsMaterial } from './tls.ts';

export interface ListenerDeps {
  adapters: Adapters;
  config: MailConfig;
  tls: TlsMaterial;
  logger: Logger;
  events: MailboxEvents;
  /** PROXY protocol settings: use createProxiedServer() from proxy-protocol.ts for every TCP listener. */
  proxy: ProxyConfig;
  /**
   * The process's one failed-login throttle (auth-throttle.ts), shared by IMAP, POP3 and
   * submission: failures spent on one protocol count against the others.
   */
  authThrottle: AuthThrottle;
}

export interface RunningListener {
  name: string;
  /** The bound port (useful when 0 was asked for). */
  port: number;
  /**
   * Stop accepting; let sessions finish their current command, then tell them the server is
   * going away (421 / BYE / -ERR) and close. Resolves when every connection is closed or
   * after `graceMs`, when the rest are destroyed.
   */
  close(graceMs?: number): Promise<void>;
  /** Open client connections now (logged every minute for the dashboard's connection graph). */
  activeConnections?(): number;
}
