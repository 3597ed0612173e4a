/**
 * Directory harvesting defence on the MX listener: refused recipients (no such user, relaying
 * denied, bad syntax) are counted per session and per client address within a window
 * (config.badRecipients: SMTP_MAX_BAD_RCPT, SMTP_BAD_RCPT_DELAY_MS, SMTP_BAD_RCPT_WINDOW), so
 * reconnecting does not reset the count. As Postfix does with its soft and hard error limits:
 * from half of the limit on, each further refusal is answered only after a delay (tarpit);
 * past the limit the refusal becomes `421 4.7.0` and the connection is closed. Valid
 * recipients are never refused by this. Counts are per process (one listener task).
 */
import type { BadRecipientConfig } from '#core/config.ts';
import { clientKey } from '../auth-throttle.ts';

export interface BadRecipientVerdict {
  /** Wait this long before answering. */
  delayMs: number;
  /** Answer 421 and close instead of the refusal. */
  close: boolean;
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
      clients.set(key, list.slice(-10 * Math.max(1, config.max)));
      if (clients.size > MAX_KEYS) clients.delete(clients.keys().next().value as string);
      if (config.max <= 0) return { delayMs: 0, close: false };
      const n = Math.max(inSession, list.length);
      return { delayMs: n > Math.floor(config.max / 2) ? config.delayMs : 0, close: n > config.max };
    },
  };
}
