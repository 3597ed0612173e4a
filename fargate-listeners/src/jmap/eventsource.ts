/**
 * Push over EventSource (RFC 8620 §7.3): `GET eventSourceUrl?types=…&closeafter=state|no&ping=N`
 * answers `text/event-stream` and sends a `state` event with a StateChange object whenever
 * the state of a watched type (Mailbox, Email, Thread, AddressBook, ContactCard) changes, and a `ping` event every N
 * seconds when asked.
 *
 * Woken by the same mechanism as IMAP IDLE: MailboxEvents.subscribe(user) (writes in this
 * process, and other processes' through the change feed) and subscribeAny (feeds that only
 * say "something changed"). On a wake-up the states are recomputed after a short delay that
 * gathers a burst of writes into one event, and sent only when they differ from the last
 * ones sent. A slow safety-net re-check (as IDLE's poll) catches a lost notification.
 */
import type { ServerResponse } from 'node:http';
import type { JmapServices } from './services.ts';
import { emailState } from './methods/email.ts';
import { mailboxState } from './methods/mailbox.ts';
import { contactStates } from './methods/contacts.ts';

export const TYPES = ['Mailbox', 'Email', 'Thread', 'AddressBook', 'ContactCard'] as const;
/** Pings closer together than this are raised to it (RFC 8620 §7.3: the server MAY choose a minimum). */
export const MIN_PING_SECONDS = 5;
export const MAX_PING_SECONDS = 3600;
const COALESCE_MS = 100;
const SAFETY_POLL_MS = 60_000;

export interface EventSourceOptions {
  types: Set<string>;
  closeAfterState: boolean;
  /** Seconds; 0 = no pings. */
  ping: number;
}

/** Parses the query; a string is the error for a 400. */
export function parseEventSourceQuery(url: URL): EventSourceOptions | string {
  const typesParam = url.searchParams.get('types') ?? '*';
  const types = new Set(typesParam === '*' ? TYPES : typesParam.split(',').filter((t) => t !== ''));
  for (const t of types) if (!(TYPES as readonly string[]).includes(t)) types.delete(t); // unknown types: nothing to report
  const closeafter = url.searchParams.get('closeafter') ?? 'no';
  if (closeafter !== 'state' && closeafter !== 'no') return 'closeafter must be state or no';
  const pingText = url.searchParams.get('ping') ?? '0';
  if (!/^[0-9]{1,10}$/.test(pingText)) return 'ping must be a non-negative integer';
  const n = Number(pingText);
  const ping = n === 0 ? 0 : Math.min(MAX_PING_SECONDS, Math.max(MIN_PING_SECONDS, n));
  return { types, closeAfterState: closeafter === 'state', ping };
}

export async function currentStates(svc: JmapServices, user: string): Promise<Record<string, string>> {
  const [mailbox, mailboxes, contacts] = await Promise.all([mailboxState(svc, user), svc.index.listMailboxes(user), contactStates(svc, user)]);
  const email = emailState(mailboxes);
  return { Mailbox: mailbox, Email: email, Thread: email, ...contacts };
}

/** Streams StateChange events to `res` until the client goes away (or the first one, with closeafter=state). */
export async function serveEventSource(
  svc: JmapServices,
  res: ServerResponse,
  user: string,
  accountId: string,
  options: EventSourceOptions,
  log: { warn(msg: string, f?: Record<string, unknown>): void },
): Promise<void> {
  let closed = false;
  let last: Record<string, string> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let checking = false;
  let again = false;
  const check = async () => {
    if (checking) {
      again = true;
      return;
    }
    checking = true;
    try {
      do {
        again = false;
        if (!last) return; // the baseline is being read; it includes this change
        const now = await currentStates(svc, user);
        const changed: Record<string, string> = {};
        for (const t of options.types) if (now[t] !== last[t]) changed[t] = now[t];
        last = now;
        if (Object.keys(changed).length > 0 && !closed) {
          const event = { '@type': 'StateChange', changed: { [accountId]: changed } };
          res.write(`event: state\nid: ${Date.now()}\ndata: ${JSON.stringify(event)}\n\n`);
          if (options.closeAfterState) finish();
        }
      } while (again && !closed);
    } catch (err) {
      log.warn('event source state check failed; the next change retries', { err: err as Error });
    } finally {
      checking = false;
    }
  };
  const wake = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = null;
      void check();
    }, COALESCE_MS);
  };
  // Subscribed before the baseline is read and before the client sees the answer start, so no
  // change after the client connected is missed.
  const unsubscribe = svc.events.subscribe(user, wake);
  const unsubscribeAny = svc.events.subscribeAny(wake);
  try {
    last = await currentStates(svc, user);
  } catch (err) {
    unsubscribe();
    unsubscribeAny();
    throw err;
  }
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-store', 'X-Accel-Buffering': 'no' });
  res.flushHeaders();
  const poll = setInterval(wake, SAFETY_POLL_MS);
  const ping =
    options.ping > 0 ? setInterval(() => res.write(`event: ping\ndata: ${JSON.stringify({ interval: options.ping })}\n\n`), options.ping * 1000) : null;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  function finish() {
    if (closed) return;
    closed = true;
    unsubscribe();
    unsubscribeAny();
    clearInterval(poll);
    if (ping) clearInterval(ping);
    if (timer) clearTimeout(timer);
    res.end();
    resolveDone();
  }
  res.on('close', finish);
  await done;
}
