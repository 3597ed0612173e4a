/**
 * Directory harvesting defence on the MX listener: refused recipients (no such user, relaying
 * denied, bad syntax) are counted per session and per client address within a window
 * (config.badRecipients: SMTP_MAX_BAD_RCPT, SMTP_BAD_RCPT_DELAY_MS, SMTP_BAD_RCPT_WINDOW), so
 * reconnecting does not reset the count. As Postfix does with its soft and hard error limits:
 * from half of the limit on, each further refusal is answered only after a delay (tarpit);
 * past the limit the refusal becomes `421 4.7.0` and the connection is closed. A session
 * past the limit by its own refusals is always closed; one that is past it only by its client
 * address's count (a large shared sender) is closed only while it holds no accepted recipient,
 * so a transaction with valid recipients from a busy address is never dropped for one bad
 * address among them. Valid recipients are never refused by this. Counts are per process
 * (one listener task).
 */
import type { BadRecipientConfig } from '#core/config.ts';
import { clientKey } from '../auth-throttle.ts';

export interface BadRecipientVerdict {
  /** Wait this long before answering. */
  delayMs: number;
  /** This session is past the limit: answer 421 and close instead of the refusal. */
  close: boolean;
  /** The client address is past the limit (across sessions): close unless the transaction holds accepted recipients. */
  clientOver: boolean;
}

export interface BadRecipientGuard {
  /** Records one refused recipient; `inSession` counts this session's refusals, this one included. */
  refused(client: string, inSession: number): BadRecipientVerdict;
}

const MAX_KEYS = 100_000;

export function createBadRecipientGuard(config: BadRecipientConfig, now: () => number = Date.now): BadRecipientGuard {
  const windowMs = config.windowSeconds * 1000;
  const clients = new Map<string, number[]>();
  return {
    refused(client, inSession) {
      const key = clientKey(client);
      const since = now() - windowMs;
      const list = (clients.get(key) ?? []).filter((t) => t > since);
      list.push(now());
      clients.delete(key); // re-insert: least recently refused first
      clients.set(key, list.slice(-(Math.max(1, config.max) + 1))); // enough to tell "over the limit"
      if (clients.size > MAX_KEYS) clients.delete(clients.keys().next().value as string);
      if (config.max <= 0) return { delayMs: 0, close: false, clientOver: false };
      const n = Math.max(inSession, list.length);
      return { delayMs: n > Math.floor(config.max / 2) ? config.delayMs : 0, close: inSession > config.max, clientOver: list.length > config.max };
    },
  };
}
