/**
 * The comparison's loads, each run the same way against either stack (bench/compare/stack.ts):
 * SMTP acceptance and end-to-end delivery, SELECT and FETCH 1:* of the big INBOX, the IMAP
 * stress load, idle connections' memory, and SMTP 250 → IDLE EXISTS latency.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { openIdleClients } from '../imap.ts';
import { percentile, sender } from '../smtp-ingest.ts';
import { ImapConnection, existsOf, login } from './imap-client.ts';
import { runImapLoad, seedImapLoad, type ImapLoadResult } from './imap-load.ts';
import { BINARIES } from './packages.ts';
import { PASSWORD, totalMemory, USERS, type Stack } from './stack.ts';

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function inboxCount(c: ImapConnection): Promise<number> {
  const r = await c.ok('STATUS INBOX (MESSAGES)', { keep: true });
  const m = /MESSAGES (\d+)/i.exec(r.untagged.join(' '));
  if (!m) throw new Error(`STATUS without MESSAGES: ${r.untagged.join(' | ')}`);
  return Number(m[1]);
}

/** A 10 KiB-ish message like smtp-source's: a few headers and 76-character lines. */
function smtpMessage(size: number): string {
  const header = `From: bench@remote.test\r\nTo: ${USERS.sink}\r\nSubject: bench\r\n\r\n`;
  const line = 'x'.repeat(76) + '\r\n';
  return header + line.repeat(Math.max(1, Math.ceil(size / line.length)));
}

async function smtpSource(port: number, messages: number, sessions: number, size: number): Promise<void> {
  const args = ['-d', '-s', String(sessions), '-l', String(size), '-m', String(messages)];
  args.push('-f', 'bench@remote.test', '-t', USERS.sink, '-M', 'client.bench.test', '-S', 'bench', `127.0.0.1:${port}`);
  const child = spawn(BINARIES.smtpSource, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`smtp-source exited ${code}: ${stderr.trim()}`);
}

export interface SmtpFigures {
  smtpMsgsPerSec: number;
  endToEndMsgsPerSec: number;
  /** Who sent: Postfix's smtp-source, or our own SMTP client when it is not installed. */
  client: 'smtp-source' | 'node';
}

/**
 * Parts 1 and 2: `messages` messages of `size` bytes in `sessions` parallel sessions (each
 * sending its share on one connection) to sink@; acceptance ends when the last 250 came, end
 * to end when an IMAP client polling STATUS sees all of them in the INBOX.
 */
export async function smtpLoad(stack: Stack, messages: number, sessions: number, size: number): Promise<SmtpFigures> {
  const poller = await login(stack.imapPort, USERS.sink, PASSWORD);
  try {
    const before = await inboxCount(poller);
    // BENCH_COMPARE_SMTP_CLIENT=node: our own client even where smtp-source is installed.
    const useSmtpSource = process.env.BENCH_COMPARE_SMTP_CLIENT !== 'node' && existsSync(BINARIES.smtpSource);
    const t0 = performance.now();
    if (useSmtpSource) await smtpSource(stack.smtpPort, messages, sessions, size);
    else {
      const message = smtpMessage(size);
      await Promise.all(
        Array.from({ length: sessions }, (_, i) =>
          sender(stack.smtpPort, Math.floor(messages / sessions) + (i < messages % sessions ? 1 : 0), message, () => {}, USERS.sink),
        ),
      );
    }
    const accepted = performance.now();
    const deadline = accepted + Math.max(120_000, messages * 100);
    while ((await inboxCount(poller)) < before + messages) {
      if (performance.now() > deadline) throw new Error(`${stack.name}: not all ${messages} messages in the INBOX after ${round((deadline - t0) / 1000)} s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const delivered = performance.now();
    return {
      smtpMsgsPerSec: round(messages / ((accepted - t0) / 1000)),
      endToEndMsgsPerSec: round(messages / ((delivered - t0) / 1000)),
      client: useSmtpSource ? 'smtp-source' : 'node',
    };
  } finally {
    poller.close();
  }
}

/** Part 6: one message at a time; from its 250 to `* n EXISTS` in an IDLE on sink@'s INBOX (RFC 2177). */
export async function idleLatency(stack: Stack, count: number): Promise<{ p50Ms: number; p99Ms: number }> {
  const c = await login(stack.imapPort, USERS.sink, PASSWORD);
  try {
    let exists = existsOf((await c.ok('SELECT INBOX', { keep: true })).untagged);
    let seen: ((at: number) => void) | null = null;
    c.onUntagged = (line) => {
      const m = /^\* (\d+) EXISTS/i.exec(line);
      if (m && Number(m[1]) > exists) {
        exists = Number(m[1]);
        seen?.(performance.now());
      }
    };
    let idle: Promise<unknown> = Promise.resolve();
    await new Promise<void>((resolve) => {
      idle = c.command('IDLE', { whenContinued: resolve });
      idle.catch(() => {});
    });
    const message = smtpMessage(2048);
    const latencies: number[] = [];
    for (let i = 0; i < count; i++) {
      let acceptedAt = 0;
      const arrived = new Promise<number>((resolve, reject) => {
        seen = resolve;
        setTimeout(() => reject(new Error(`${stack.name}: no EXISTS 10 s after message ${i + 1}'s 250`)), 10_000).unref();
      });
      await sender(stack.smtpPort, 1, message, () => (acceptedAt = performance.now()), USERS.sink);
      latencies.push((await arrived) - acceptedAt);
    }
    c.write('DONE\r\n');
    await idle;
    latencies.sort((a, b) => a - b);
    return { p50Ms: round(percentile(latencies, 50)), p99Ms: round(percentile(latencies, 99)) };
  } finally {
    c.close();
  }
}

/**
 * Part 4: SELECT of big@'s INBOX (median of `selects`) and FETCH 1:* (UID FLAGS ENVELOPE
 * RFC822.SIZE) on it (median of `fetches`), after one of each not counted (Dovecot builds its
 * index and cache on first sight of a Maildir filled behind its back).
 */
export async function bigMailbox(stack: Stack, size: number, selects: number, fetches: number): Promise<{ selectMs: number; fetchMs: number }> {
  const c = await login(stack.imapPort, USERS.big, PASSWORD);
  try {
    const exists = existsOf((await c.ok('SELECT INBOX', { keep: true })).untagged);
    if (exists !== size) throw new Error(`${stack.name}: big INBOX has ${exists} messages, not ${size}`);
    await c.ok('FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE)');
    const selectTimes: number[] = [];
    for (let i = 0; i < selects; i++) {
      const t0 = performance.now();
      await c.ok('SELECT INBOX');
      selectTimes.push(performance.now() - t0);
    }
    const fetchTimes: number[] = [];
    for (let i = 0; i < fetches; i++) {
      const t0 = performance.now();
      const r = await c.ok('FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE)');
      fetchTimes.push(performance.now() - t0);
      if (r.count < size) throw new Error(`${stack.name}: FETCH 1:* returned ${r.count} lines for ${size} messages`);
    }
    await c.ok('LOGOUT');
    return { selectMs: round(median(selectTimes), 2), fetchMs: round(median(fetchTimes)) };
  } finally {
    c.close();
  }
}

/** Part 3: the imaptest-like load (bench/compare/imap-load.ts) on stress0…stress<clients-1>. */
export async function imapStress(stack: Stack, clients: number, seconds: number): Promise<ImapLoadResult> {
  const users = Array.from({ length: clients }, (_, i) => USERS.stress(i));
  await seedImapLoad(stack.imapPort, users, PASSWORD);
  return runImapLoad(stack.imapPort, users, PASSWORD, clients, seconds);
}

export interface IdleFigures {
  /** The stack's processes' Pss after the connections were up, divided by their number. */
  pssKibPerConnection: number;
  /** Growth of the processes' Pss and Rss while the connections came up, divided by their number. */
  pssGrowthKibPerConnection: number;
  rssGrowthKibPerConnection: number;
  /** Processes of the stack with the connections up. */
  processes: number;
  loginSeconds: number;
}

/** Part 5: `count` connections of big@ (from a child process), INBOX selected, in IDLE. */
export async function idleMemory(stack: Stack, count: number): Promise<IdleFigures> {
  await new Promise((r) => setTimeout(r, 1000));
  const before = totalMemory(stack.pids());
  const clients = await openIdleClients(stack.imapPort, count, USERS.big, PASSWORD);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const after = totalMemory(stack.pids());
    return {
      pssKibPerConnection: round(after.pssKib / count),
      pssGrowthKibPerConnection: round((after.pssKib - before.pssKib) / count),
      rssGrowthKibPerConnection: round((after.rssKib - before.rssKib) / count),
      processes: after.processes,
      loginSeconds: round(clients.loginMs / 1000, 2),
    };
  } finally {
    await clients.close();
  }
}
