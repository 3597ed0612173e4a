/**
 * What the comparison needs of a running mail stack, whichever it is: its SMTP and IMAP ports on
 * loopback, the processes whose memory counts, and how to stop it. Both stacks are filled with
 * the same users and the same messages before they start (bench/compare/users.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface Stack {
  name: string;
  smtpPort: number;
  imapPort: number;
  /** The processes that make up the server now (all of Dovecot's; our one). */
  pids(): number[];
  stop(): Promise<void>;
}

/** The accounts both stacks have: one per load. */
export const USERS = {
  /** The SMTP loads' recipient (parts 1, 2 and 6). */
  sink: 'sink@example.test',
  /** The big INBOX (SELECT, FETCH 1:*, idle connections). */
  big: 'big@example.test',
  /** One per IMAP stress client. */
  stress: (i: number) => `stress${i}@example.test`,
};
export const PASSWORD = 'bench-compare-secret';

/** Pss and Rss of a process in KiB (/proc/<pid>/smaps_rollup); zeros if it is gone. */
export function processMemory(pid: number): { pssKib: number; rssKib: number } {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return { pssKib: field('Pss'), rssKib: field('Rss') };
  } catch {
    return { pssKib: 0, rssKib: 0 };
  }
}

/** The sum over processes. */
export function totalMemory(pids: number[]): { pssKib: number; rssKib: number; processes: number } {
  let pssKib = 0;
  let rssKib = 0;
  for (const pid of pids) {
    const m = processMemory(pid);
    pssKib += m.pssKib;
    rssKib += m.rssKib;
  }
  return { pssKib, rssKib, processes: pids.length };
}

/** `root` and all its descendants (from /proc/<pid>/stat). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // The process ended while being read.
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** Resolves when something accepts TCP connections on the port, or throws after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, alive: () => string | null): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = alive();
    if (dead) throw new Error(dead);
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
