/**
 * `npm run bench -- --compare`: the classic stack (Postfix 3.7 → LMTP → Dovecot 2.3,
 * bench/compare/classic-stack.ts) side by side with ours as `npm start` runs it
 * (bench/compare/our-stack.ts), one after the other on this machine, with the same loads
 * (bench/compare/loads.ts). Prints the table of issue 15 (figure | Postfix + Dovecot | ours |
 * ours/theirs | goal) and one JSON object as the last line. Without the Debian packages (not
 * root, or their install failed; bench/compare/packages.ts) it runs ours alone and says so.
 *
 * Sizes (environment; defaults are the issue's):
 *   BENCH_COMPARE_MESSAGES (5000), BENCH_COMPARE_SESSIONS (20), BENCH_COMPARE_SIZE (10240 bytes):
 *     the SMTP load; BENCH_COMPARE_STRESS_CLIENTS (20), BENCH_COMPARE_STRESS_SECONDS (30): the
 *     IMAP stress; BENCH_COMPARE_MAILBOX (10000): the big INBOX; BENCH_COMPARE_SELECTS (5),
 *     BENCH_COMPARE_FETCHES (3): its timed runs; BENCH_COMPARE_IDLE (1000): idle connections;
 *     BENCH_COMPARE_LATENCY (50): messages timed from 250 to EXISTS;
 *   BENCH_COMPARE_ONLY=ours: skip the classic stack; BENCH_COMPARE_SMTP_CLIENT=node: send with
 *   our own SMTP client (bench/smtp-ingest.ts) instead of smtp-source (the fallback without Postfix).
 */
import os from 'node:os';
import { bigMailbox, idleLatency, idleMemory, imapStress, smtpLoad } from './loads.ts';
import { ensureClassicStack } from './packages.ts';
import { startClassicStack } from './classic-stack.ts';
import { startOurStack } from './our-stack.ts';
import type { Stack } from './stack.ts';

function size(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

type Figures = Record<string, number | string>;

const log = (line: string) => process.stderr.write(`bench compare: ${line}\n`);

async function measure(stack: Stack, sizes: ReturnType<typeof readSizes>): Promise<Figures> {
  const figures: Figures = {};
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    log(`${stack.name}: ${what}...`);
    return fn();
  };
  const smtp = await step(`SMTP, ${sizes.messages} messages from ${sizes.sessions} sessions`, () =>
    smtpLoad(stack, sizes.messages, sizes.sessions, sizes.size),
  );
  figures.smtp_msgs_per_sec = smtp.smtpMsgsPerSec;
  figures.end_to_end_msgs_per_sec = smtp.endToEndMsgsPerSec;
  figures.smtp_client = smtp.client;
  const latency = await step(`SMTP 250 → IDLE EXISTS, ${sizes.latency} messages`, () => idleLatency(stack, sizes.latency));
  figures.latency_p50_ms = latency.p50Ms;
  figures.latency_p99_ms = latency.p99Ms;
  const big = await step(`SELECT and FETCH 1:* of ${sizes.mailbox} messages`, () => bigMailbox(stack, sizes.mailbox, sizes.selects, sizes.fetches));
  figures.select_ms = big.selectMs;
  figures.fetch_all_ms = big.fetchMs;
  const stress = await step(`IMAP stress, ${sizes.stressClients} clients for ${sizes.stressSeconds} s`, () =>
    imapStress(stack, sizes.stressClients, sizes.stressSeconds),
  );
  figures.stress_logins_per_sec = Math.round(stress.logins / stress.seconds);
  figures.stress_fetches_per_sec = Math.round(stress.fetches / stress.seconds);
  figures.stress_appends_per_sec = Math.round(stress.appends / stress.seconds);
  figures.stress_errors = stress.errors;
  if (stress.errorSamples.length > 0) log(`${stack.name}: stress errors, e.g. ${stress.errorSamples.join('; ')}`);
  const idle = await step(`${sizes.idle} idle connections`, () => idleMemory(stack, sizes.idle));
  figures.idle_pss_kib_per_connection = idle.pssKibPerConnection;
  figures.idle_pss_growth_kib_per_connection = idle.pssGrowthKibPerConnection;
  figures.idle_rss_growth_kib_per_connection = idle.rssGrowthKibPerConnection;
  figures.idle_processes = idle.processes;
  figures.idle_logins_seconds = idle.loginSeconds;
  return figures;
}

function readSizes() {
  return {
    messages: size('BENCH_COMPARE_MESSAGES', 5000),
    sessions: size('BENCH_COMPARE_SESSIONS', 20),
    size: size('BENCH_COMPARE_SIZE', 10 * 1024),
    stressClients: size('BENCH_COMPARE_STRESS_CLIENTS', 20),
    stressSeconds: size('BENCH_COMPARE_STRESS_SECONDS', 30),
    mailbox: size('BENCH_COMPARE_MAILBOX', 10_000),
    selects: size('BENCH_COMPARE_SELECTS', 5),
    fetches: size('BENCH_COMPARE_FETCHES', 3),
    idle: size('BENCH_COMPARE_IDLE', 1000),
    latency: size('BENCH_COMPARE_LATENCY', 50),
  };
}

async function run(start: () => Promise<Stack>, sizes: ReturnType<typeof readSizes>): Promise<Figures> {
  const stack = await start();
  try {
    return await measure(stack, sizes);
  } finally {
    await stack.stop();
  }
}

/** One table row: the label, how to read each side's figure, the goal (issue 15). */
interface Row {
  label: string;
  value: (f: Figures) => string;
  /** Ours / theirs, when one figure on each side. */
  ratio?: (ours: Figures, theirs: Figures) => string;
  goal: string;
}

const num = (x: number | string | undefined) => (typeof x === 'number' ? x.toLocaleString('en-US') : String(x ?? ''));
const times = (key: string) => (o: Figures, t: Figures) => {
  const a = Number(o[key]);
  const b = Number(t[key]);
  return b > 0 ? `${a / b >= 10 ? Math.round(a / b) : (a / b).toFixed(2)}×` : '';
};

function rows(sizes: ReturnType<typeof readSizes>): Row[] {
  const k = (n: number) => n.toLocaleString('en-US');
  return [
    {
      label: `SMTP acceptance, ${sizes.sessions} senders, ${k(Math.round(sizes.size / 1024))} KiB, ${k(sizes.messages)} messages (msgs/s)`,
      value: (f) => num(f.smtp_msgs_per_sec),
      ratio: times('smtp_msgs_per_sec'),
      goal: '≥ 1.5×',
    },
    {
      label: 'end to end into the INBOX (an IMAP client sees it) (msgs/s)',
      value: (f) => num(f.end_to_end_msgs_per_sec),
      ratio: times('end_to_end_msgs_per_sec'),
      goal: '≥ 1.5×',
    },
    {
      label: `IMAP stress, ${sizes.stressClients} clients for ${sizes.stressSeconds} s: logins / fetches / appends per s`,
      value: (f) => `${num(f.stress_logins_per_sec)} / ${num(f.stress_fetches_per_sec)} / ${num(f.stress_appends_per_sec)}`,
      ratio: (o, t) => [times('stress_logins_per_sec')(o, t), times('stress_fetches_per_sec')(o, t), times('stress_appends_per_sec')(o, t)].join(' / '),
      goal: '≥ 1.0× each',
    },
    { label: 'IMAP stress errors (NO, BAD, disconnect)', value: (f) => num(f.stress_errors), goal: '0' },
    {
      label: `SELECT of a ${k(sizes.mailbox)}-message INBOX (ms)`,
      value: (f) => num(f.select_ms),
      ratio: times('select_ms'),
      goal: '≤ 1.0×',
    },
    {
      label: 'FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE) on it (ms)',
      value: (f) => num(f.fetch_all_ms),
      ratio: times('fetch_all_ms'),
      goal: '≤ 1.0×',
    },
    {
      // The same measure for both: the stack's processes' PSS with the connections up, and its
      // growth while they came up, each divided by n. Ours is one process whose heap the earlier
      // parts grew, so its growth can be ~0 (the connections fit in that heap): bench/imap.ts
      // measures the per-connection cost in-process with garbage collection.
      label: `memory per idle connection, ${k(sizes.idle)} in IDLE on that INBOX (KiB: all the stack's processes' PSS / n; in brackets PSS growth / n)`,
      value: (f) => `${num(f.idle_pss_kib_per_connection)} (${num(f.idle_pss_growth_kib_per_connection)})`,
      ratio: times('idle_pss_kib_per_connection'),
      goal: '≤ 256 KiB each',
    },
    { label: `${k(sizes.idle)} logins took (s)`, value: (f) => num(f.idle_logins_seconds), ratio: times('idle_logins_seconds'), goal: '' },
    {
      label: `SMTP 250 → IDLE EXISTS, p50 / p99 over ${sizes.latency} (ms)`,
      value: (f) => `${num(f.latency_p50_ms)} / ${num(f.latency_p99_ms)}`,
      goal: 'ours ≤ 20 / ≤ 100',
    },
  ];
}

function printTable(sizes: ReturnType<typeof readSizes>, ours: Figures, theirs: Figures | null): void {
  const header = ['figure', 'Postfix + Dovecot', 'ours', 'ours/theirs', 'goal'];
  const body = rows(sizes).map((r) => [r.label, theirs ? r.value(theirs) : '—', r.value(ours), theirs && r.ratio ? r.ratio(ours, theirs) : '', r.goal]);
  console.log(`| ${header.join(' | ')} |`);
  console.log(`| ${header.map(() => '---').join(' | ')} |`);
  for (const cells of body) console.log(`| ${cells.join(' | ')} |`);
}

export async function runComparison(): Promise<void> {
  const sizes = readSizes();
  const loadBefore = os.loadavg();
  const skipped = process.env.BENCH_COMPARE_ONLY === 'ours' ? 'BENCH_COMPARE_ONLY=ours' : ensureClassicStack(log);
  let theirs: Figures | null = null;
  if (skipped) log(`the classic stack is NOT run (${skipped}): ours alone`);
  else
    theirs = {
      name: 'Postfix + Dovecot',
      ...(await run(() => startClassicStack({ bigMailbox: sizes.mailbox, stressUsers: sizes.stressClients, log }), sizes)),
    };
  const ours: Figures = { name: 'ours', ...(await run(() => startOurStack({ bigMailbox: sizes.mailbox, stressUsers: sizes.stressClients, log }), sizes)) };
  const loadAfter = os.loadavg();
  printTable(sizes, ours, theirs);
  if (skipped) console.log(`(ours alone: ${skipped})`);
  console.log(`(${os.cpus().length} cores; load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after: figures under load are noisy)`);
  console.log(
    JSON.stringify({
      node: process.version,
      date: new Date().toISOString(),
      sizes,
      loadavg: { before: loadBefore[0], after: loadAfter[0] },
      classic: skipped ? { skipped } : theirs,
      ours,
    }),
  );
}
