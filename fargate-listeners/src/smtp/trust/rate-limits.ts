/**
 * Rate limits for strangers at the MX (SMTP_CONNECTIONS_PER_MINUTE, SMTP_MESSAGES_PER_MINUTE):
 * connections and messages per client address — IPv6 per /64, one host's usual allocation —
 * in a sliding minute. Beyond the limit the client gets `421 4.7.0` (RFC 5321 §3.8: the
 * service is not available to it now; a real MTA retries later). Trusted networks are not
 * counted. Per process (one listener task on AWS: N tasks allow N times the limit).
 *
 * Memory: clients whose last event is older than the window are dropped every minute (not
 * only when the map reaches MAX_KEYS), so the map shrinks back after a burst of strangers.
 */
import { clientKey } from '../../auth-throttle.ts';

export interface RateLimiter {
  /** Counts one event for `client`; false when it is over the limit (the event still counts). */
  take(client: string): boolean;
  /** Clients remembered now. */
  readonly size: number;
  /** Stops the periodic clean-up. */
  close(): void;
}

const WINDOW_MS = 60_000;
const MAX_KEYS = 100_000;

export function createRateLimiter(perMinute: number, now: () => number = () => Date.now()): RateLimiter {
  const clients = new Map<string, number[]>();
  const sweep = () => {
    const since = now() - WINDOW_MS;
    // Least recently seen first (take() re-inserts): stop at the first one still in the window.
    for (const [key, list] of clients) {
      if (list[list.length - 1] > since) break;
      clients.delete(key);
    }
  };
  const timer = setInterval(sweep, WINDOW_MS);
  timer.unref();
  return {
    get size() {
      return clients.size;
    },
    close() {
      clearInterval(timer);
    },
    take(client) {
      if (perMinute <= 0) return true;
      const key = clientKey(client);
      const since = now() - WINDOW_MS;
      const list = (clients.get(key) ?? []).filter((t) => t > since);
      list.push(now());
      clients.delete(key); // re-insert: the least recently seen go first when the map is full
      clients.set(key, list.slice(-(perMinute + 1)));
      if (clients.size > MAX_KEYS) clients.delete(clients.keys().next().value as string);
      return list.length <= perMinute;
    },
  };
}
