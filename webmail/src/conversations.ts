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

/** The calls that add the threads of an Email/query's rows (call id `q`, its Email/get `g`). */
export function threadCalls(accountId: string): Invocation[] {
  return [
    ['Thread/get', { accountId, '#ids': { resultOf: 'g', name: 'Email/get', path: '/list/*/threadId' } }, 't'],
    [
      'Email/get',
      {
        accountId,
        '#ids': { resultOf: 't', name: 'Thread/get', path: '/list/*/emailIds' },
        properties: ['id', 'mailboxIds', 'keywords', 'from', 'receivedAt', 'preview'],
      },
      'm',
    ],
  ];
}

/** Each thread's members, oldest first, from the Thread/get and Email/get responses. */
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
