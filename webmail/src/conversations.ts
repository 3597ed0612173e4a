/**
 * Conversations: the message list shows one row per thread (JMAP Email/query with
 * `collapseThreads`, RFC 8621 §4.4.3), the newest message of the thread in this mailbox
 * standing for it, with what the thread holds in every mailbox (Thread/get, §3.1): how many
 * messages, who wrote them, whether one is unread or flagged. Actions on a row apply to the
 * thread: keywords to all its messages, moves to those in the mailbox one is looking at (a
 * reply in Sent stays in Sent).
 */
import type { EmailAddress, EmailSummary } from './emails.ts';
import type { Invocation } from './jmap.ts';

/** One message of a thread, as the row and the thread view need it. */
export interface Member {
  id: string;
  mailboxIds: Record<string, boolean>;
  keywords: Record<string, boolean>;
  from: EmailAddress[] | null;
  receivedAt: string;
  preview: string;
}

/** The call that adds the threads of an Email/query's rows (its Email/get has call id `g`). */
export function threadCall(accountId: string): Invocation {
  return ['Thread/get', { accountId, '#ids': { resultOf: 'g', name: 'Email/get', path: '/list/*/threadId' } }, 't'];
}

export const MEMBER_PROPERTIES = ['id', 'mailboxIds', 'keywords', 'from', 'receivedAt', 'preview'];
/** Members loaded at most per list (under the server's maxObjectsInGet) and per thread. */
const MAX_MEMBERS = 900;
const MAX_PER_THREAD = 20;

/**
 * The members to load for the rows: each thread's newest ones (a thread of thousands, such as
 * a notification feed, loads a few), always the row's own email.
 */
export function memberIds(threads: Record<string, unknown>, rows: EmailSummary[]): string[] {
  const list = threads.list as Array<{ id: string; emailIds: string[] }>;
  const per = Math.max(1, Math.min(MAX_PER_THREAD, Math.floor(MAX_MEMBERS / Math.max(1, list.length))));
  const ids = new Set<string>(rows.map((r) => r.id));
  for (const t of list) for (const id of t.emailIds.slice(-per)) ids.add(id);
  return [...ids];
}

/** How many messages each thread has. */
export function threadSizes(threads: Record<string, unknown>): Map<string, number> {
  return new Map((threads.list as Array<{ id: string; emailIds: string[] }>).map((t) => [t.id, t.emailIds.length]));
}

/** Each thread's loaded members, oldest first, from the Thread/get and Email/get responses. */
export function membersByThread(threads: Record<string, unknown>, members: Record<string, unknown>): Map<string, Member[]> {
  const byId = new Map((members.list as Member[]).map((m) => [m.id, m]));
  const out = new Map<string, Member[]>();
  for (const t of threads.list as Array<{ id: string; emailIds: string[] }>)
    out.set(
      t.id,
      t.emailIds.map((id) => byId.get(id)).filter((m): m is Member => Boolean(m)),
    );
  return out;
}

/** The row's thread, or the row alone when it has none (conversations off, or not loaded). */
export function membersOf(row: EmailSummary, threads: Map<string, Member[]>): Member[] {
  const list = threads.get(row.threadId);
  return list && list.some((m) => m.id === row.id) ? list : [row];
}

/** The names of a thread's senders, oldest first, each once: "Bob, me, Carol". */
export function senderNames(members: Member[], me: string): string {
  const names: string[] = [];
  for (const m of members) {
    const f = m.from?.[0];
    if (!f) continue;
    const name = f.email.toLowerCase() === me.toLowerCase() ? 'me' : f.name || f.email;
    if (!names.includes(name)) names.push(name);
  }
  return names.join(', ') || '(unknown sender)';
}
