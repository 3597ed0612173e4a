/**
 * An imaptest-like IMAP load: `clients` connections in parallel for `seconds`, each looping
 * connect, LOGIN, SELECT INBOX, FETCH its newest few messages (FLAGS BODY.PEEK[]), APPEND one
 * message, LOGOUT. Counts logins, fetched messages and appends per second; any NO, BAD,
 * disconnect or timeout is an error (the client then starts its loop again on a new connection).
 * Each client has its own user (`users[i % users.length]`), whose INBOX `seedImapLoad` fills first
 * (so the first FETCH has something to read).
 */
import { sample } from '../imap.ts';
import { existsOf, ImapConnection, login } from './imap-client.ts';

export interface ImapLoadResult {
  logins: number;
  fetches: number;
  appends: number;
  errors: number;
  seconds: number;
  /** The first few errors' text. */
  errorSamples: string[];
}

const FETCH_PER_LOOP = 3;
const COMMAND_TIMEOUT_MS = 30_000;

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no reply in ${COMMAND_TIMEOUT_MS} ms`)), COMMAND_TIMEOUT_MS))),
  ]);
}

/** Appends `count` sample messages to each user's INBOX over IMAP (the same path on both stacks). */
export async function seedImapLoad(port: number, users: string[], password: string, count = FETCH_PER_LOOP): Promise<void> {
  await Promise.all(
    users.map(async (user, u) => {
      const c = await login(port, user, password);
      for (let i = 0; i < count; i++) await c.ok('APPEND INBOX (\\Seen)', { literal: sample(u * 1000 + i) });
      await c.ok('LOGOUT');
      c.close();
    }),
  );
}

export async function runImapLoad(port: number, users: string[], password: string, clients: number, seconds: number): Promise<ImapLoadResult> {
  const result: ImapLoadResult = { logins: 0, fetches: 0, appends: 0, errors: 0, seconds, errorSamples: [] };
  const until = performance.now() + seconds * 1000;
  const fail = (err: unknown) => {
    result.errors++;
    if (result.errorSamples.length < 5) result.errorSamples.push((err as Error).message);
  };
  const loop = async (i: number) => {
    const user = users[i % users.length];
    let n = 0;
    while (performance.now() < until) {
      let c: ImapConnection | null = null;
      try {
        c = await withTimeout(ImapConnection.connect(port, COMMAND_TIMEOUT_MS), 'greeting');
        const conn = c;
        const step = (text: string, options: Parameters<ImapConnection['ok']>[1] = {}) => withTimeout(conn.ok(text, options), text.split(' ')[0]);
        await step(`LOGIN "${user}" "${password}"`);
        result.logins++;
        const exists = existsOf((await step('SELECT INBOX', { keep: true })).untagged);
        if (exists > 0) {
          const fetched = await step(`FETCH ${Math.max(1, exists - FETCH_PER_LOOP + 1)}:${exists} (FLAGS BODY.PEEK[])`, { keep: true });
          result.fetches += fetched.untagged.filter((l) => /^\* \d+ FETCH /i.test(l)).length;
        }
        await step('APPEND INBOX (\\Seen)', { literal: sample(i * 1_000_000 + ++n) });
        result.appends++;
        await step('LOGOUT');
      } catch (err) {
        fail(err);
      } finally {
        c?.close();
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, (_, i) => loop(i)));
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}
