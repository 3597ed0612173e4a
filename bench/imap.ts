/**
 * IMAP on the local adapters (SQLite index, file blobs):
 *  - SELECT of a 10,000-message INBOX;
 *  - FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE) on it — index only, no blob reads;
 *  - SORT (ARRIVAL), (DATE), (FROM), (SUBJECT) and THREAD=REFERENCES on it (RFC 5256; index
 *    only; the sample messages' In-Reply-To make one reply chain 10,000 deep), and a first page
 *    of 50 by SORT and by UID SEARCH with RETURN (PARTIAL …) (RFC 9394);
 *  - memory per idle connection: 1,000 connections logged in, INBOX (50 messages) selected,
 *    in IDLE; the server process's RSS and heap growth divided by 1,000. The clients run in a
 *    child process so their sockets do not count. The same again with a bigger INBOX selected
 *    on every connection (BENCH_IMAP_IDLE_SIZES, default `1000,10000`: one user per size, all
 *    its connections on the same INBOX, as one person's devices or a shared mailbox), with the
 *    time the 1,000 logins and SELECTs took;
 *  - the same with COMPRESS=DEFLATE (RFC 4978) active on every connection: the zlib state of
 *    both directions is what a compressed connection adds.
 * SELECT and FETCH are timed as wall time and as the process's CPU time; the first SELECT (the
 * process's first look at the mailbox: a listing, later ones start from its snapshot) is reported
 * alone too, BENCH_SELECT_RUNS (default 5) sets how many.
 * Not part of the test suite; `npm run bench` runs it (bench/run.ts). BENCH_IMAP_MESSAGES (default
 * 10,000) sets the big INBOX's size; BENCH_IMAP_IDLE=0 leaves out the idle-connection part;
 * BENCH_IMAP_IDLE_CONNECTIONS (default 1,000) sets how many idle connections it opens.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ensureDefaultMailboxes } from '#core/accounts/accounts.ts';
import { hashPassword } from '#core/accounts/password.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { loadConfig } from '#core/config.ts';
import { silentLogger } from '#core/log.ts';
import { createMailboxEvents } from '#core/mailbox/events.ts';
import { indexMessage } from '#core/mime/index-message.ts';
import { createAuthThrottle } from '#listeners/auth-throttle.ts';
import { startImapListeners } from '#listeners/imap/imap-listener.ts';
import { PROXY_DISABLED } from '#listeners/proxy-protocol.ts';
import { loadTls } from '#listeners/tls.ts';
import { onLines } from './line-reader.ts';

const MESSAGES = Number(process.env.BENCH_IMAP_MESSAGES ?? 10_000);
const IDLE_CONNECTIONS = Number(process.env.BENCH_IMAP_IDLE_CONNECTIONS ?? 1_000);
/** INBOX sizes of the idle-memory runs beyond the 50-message one ('' for none). */
const IDLE_SIZES = (process.env.BENCH_IMAP_IDLE_SIZES ?? '1000,10000')
  .split(',')
  .filter((x) => x.trim() !== '')
  .map(Number);
/** SORT and THREAD as a webmail client sends them (Roundcube: one per list view). */
export const SORT_COMMANDS = [
  ['sort_arrival', 'SORT (ARRIVAL) UTF-8 ALL'],
  ['sort_date', 'SORT (REVERSE DATE) UTF-8 ALL'],
  ['sort_from', 'SORT (FROM) UTF-8 ALL'],
  ['sort_subject', 'SORT (SUBJECT) UTF-8 ALL'],
  ['thread_references', 'THREAD REFERENCES UTF-8 ALL'],
] as const;
export type SortBenchName = (typeof SORT_COMMANDS)[number][0];
/** Paged results (RFC 9394 PARTIAL): a webmail list's first page, sorted and newest-first. */
const PARTIAL_COMMANDS = [
  ['sort_date_partial_1_50', 'SORT RETURN (PARTIAL 1:50) (REVERSE DATE) UTF-8 ALL'],
  ['search_partial_last_50', 'UID SEARCH RETURN (PARTIAL -1:-50) ALL'],
] as const;
const PASSWORD = 'bench password';

function gcFunction(): () => void {
  v8.setFlagsFromString('--expose_gc');
  return vm.runInNewContext('gc') as () => void;
}

/** The benchmark's sample message number `i` (headers vary with i; In-Reply-To chains them). */
export function sample(i: number): Buffer {
  return Buffer.from(
    `From: Sender ${i % 97} <sender${i % 97}@example.test>\r\nTo: Bench User <bench@example.test>, other${i % 13}@example.org\r\n` +
      `Cc: list${i % 7}@lists.example.test\r\nSubject: Benchmark message number ${i} about topic ${i % 31}\r\n` +
      `Date: Mon, ${1 + (i % 28)} Feb 2021 10:${String(i % 60).padStart(2, '0')}:00 +0000\r\nMessage-ID: <bench-${i}@example.test>\r\n` +
      `In-Reply-To: <bench-${i - 1}@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n` +
      `Body of message ${i}.\r\n`.repeat(20),
  );
}

/** Appends `count` sample messages to the mailbox through the index (one shared blob; FETCH of list properties reads only the index). */
export async function fill(adapters: Adapters, user: string, mailbox: string, count: number): Promise<void> {
  const mb = (await adapters.index.getMailbox(user, mailbox))!;
  // One stored blob shared by all records: the FETCH measured here reads only the index.
  const raw = sample(0);
  const blobKey = `messages/bench/${mailbox}`;
  await adapters.blobs.put(blobKey, raw);
  for (let i = 0; i < count; i++) {
    const r = sample(i);
    await adapters.index.appendMessage(user, mb.id, {
      blobKey,
      size: r.length,
      internalDate: Date.now(),
      flags: i % 3 === 0 ? ['\\Seen'] : [],
      meta: indexMessage(r),
    });
  }
}

/**
 * A minimal client: sends a command and resolves at its tagged response. Responses are scanned
 * as they arrive and dropped, so reading a large FETCH costs the client little.
 */
class Client {
  private lines: string[] = [];
  private waiter: (() => void) | null = null;
  private readonly socket: net.Socket;
  private n = 0;
  constructor(socket: net.Socket) {
    this.socket = socket;
    onLines(socket, (lines) => {
      // Only lines that could be tagged or greeting lines matter.
      for (const line of lines) if (/^(\* OK|b\d+ )/.test(line)) this.lines.push(line);
      this.waiter?.();
    });
  }
  static connect(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }
  private async waitFor(prefix: string): Promise<string> {
    for (;;) {
      const i = this.lines.findIndex((l) => l.startsWith(prefix));
      if (i >= 0) {
        const line = this.lines[i];
        this.lines = this.lines.slice(i + 1);
        return line;
      }
      await new Promise<void>((r) => (this.waiter = r));
    }
  }
  async greeting(): Promise<void> {
    await this.waitFor('* OK');
  }
  async command(cmd: string): Promise<void> {
    const tag = `b${++this.n}`;
    this.socket.write(`${tag} ${cmd}\r\n`);
    const line = await this.waitFor(`${tag} `);
    if (!line.startsWith(`${tag} OK`)) throw new Error(`${cmd}: ${line}`);
  }
  close(): void {
    this.socket.destroy();
  }
}

const CHILD = `
import net from 'node:net';
import zlib from 'node:zlib';
const [port, n, user, pass, mode] = process.argv.slice(1);
let ready = 0;
const sockets = [];
async function one() {
  const s = net.connect(Number(port), '127.0.0.1');
  sockets.push(s);
  let buf = '';
  // A refusal (NO/BAD) ends the run with the server's words instead of waiting forever.
  const want = (re) => new Promise((resolve) => { const check = () => { if (/^[abc] (NO|BAD) .*$/m.test(buf)) { process.stderr.write('idle client refused: ' + buf.match(/^[abc] (NO|BAD) .*$/m)[0] + '\\n'); process.exit(1); } if (re.test(buf)) { s.off('data', on); resolve(); } }; const on = (d) => { buf += d; check(); }; s.on('data', on); check(); });
  await want(/\\* OK/);
  s.write('a LOGIN "' + user + '" "' + pass + '"\\r\\n'); await want(/a OK/);
  s.write('b SELECT INBOX\\r\\n'); await want(/b OK/);
  if (mode === 'compress') {
    s.write('d COMPRESS DEFLATE\\r\\n'); await want(/d OK/);
    // From here on both directions are raw deflate; the IDLE continuation is read inflated.
    const inflate = zlib.createInflateRaw(); const deflate = zlib.createDeflateRaw();
    s.removeAllListeners('data'); s.on('data', (d) => inflate.write(d)); deflate.on('data', (d) => s.write(d));
    sockets.push(inflate, deflate);
    let text = '';
    const idling = new Promise((resolve) => inflate.on('data', (d) => { text += d; if (/\\+ idling/.test(text)) resolve(); }));
    deflate.write('c IDLE\\r\\n'); deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    await idling;
  } else {
    s.write('c IDLE\\r\\n'); await want(/\\+ idling/);
  }
  ready++;
}
const total = Number(n);
const t0 = performance.now();
let started = 0;
await Promise.all(Array.from({ length: 50 }, async () => { while (started < total) { started++; await one(); } }));
process.stdout.write('ready ' + ready + ' ' + Math.round(performance.now() - t0) + '\\n');
process.stdin.on('data', () => {});
process.stdin.on('end', () => { for (const s of sockets) s.destroy(); process.exit(0); });
`;

/** A child process holding `count` connections logged in, INBOX selected, in IDLE (its sockets do not count in our memory). */
export interface IdleClients {
  /** How long the logins (50 at a time) took, ms. */
  loginMs: number;
  close(): Promise<void>;
}

export async function openIdleClients(port: number, count: number, user: string, password: string, mode: 'plain' | 'compress' = 'plain'): Promise<IdleClients> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, String(port), String(count), user, password, mode], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const loginMs = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /ready \d+ (\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`client process exited ${code}`)));
  });
  return {
    loginMs,
    async close() {
      child.stdin.end();
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}

async function idleMemory(
  port: number,
  user: string,
  mode: 'plain' | 'compress' = 'plain',
  /** A change to the selected mailbox made once all are idle (every session is told of it); heapAfterChange is measured after it. */
  change?: () => Promise<void>,
): Promise<{ rss: number; heap: number; setupMs: number; heapAfterChange: number }> {
  const gc = gcFunction();
  gc();
  await new Promise((r) => setTimeout(r, 100));
  gc();
  const before = process.memoryUsage();
  const t0 = performance.now();
  const clients = await openIdleClients(port, IDLE_CONNECTIONS, user, PASSWORD, mode);
  const setupMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 500));
  gc();
  await new Promise((r) => setTimeout(r, 100));
  gc();
  const after = process.memoryUsage();
  let heapAfterChange = NaN;
  if (change) {
    await change();
    await new Promise((r) => setTimeout(r, 2000));
    gc();
    await new Promise((r) => setTimeout(r, 100));
    gc();
    heapAfterChange = (process.memoryUsage().heapUsed - before.heapUsed) / IDLE_CONNECTIONS;
  }
  await clients.close();
  return { rss: (after.rss - before.rss) / IDLE_CONNECTIONS, heap: (after.heapUsed - before.heapUsed) / IDLE_CONNECTIONS, setupMs, heapAfterChange };
}

export async function benchImap(): Promise<Record<string, number>> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-imap-'));
  const config = loadConfig({ MAIL_RUNTIME: 'local', MAIL_DATA_DIR: dataDir, MAIL_HOSTNAME: 'bench.test', IMAP_PORT: '0', IMAPS_PORT: '0' });
  const adapters = await createLocalAdapters({ dataDir });
  const big = 'bench@example.test';
  const small = 'idle@example.test';
  try {
    await adapters.index.addDomain('example.test');
    // A cheap hash: the benchmark measures IMAP, not 1,000 scrypt verifications.
    const passwordHash = await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 });
    const idle = process.env.BENCH_IMAP_IDLE !== '0';
    const sized = idle ? IDLE_SIZES.map((n) => ({ n, user: `idle-${n}@example.test` })) : [];
    for (const u of [big, small, ...sized.map((x) => x.user)]) {
      await adapters.index.addUser({ address: u, passwordHash });
      await ensureDefaultMailboxes(adapters.index, u);
    }
    // BENCH_IMAP_ONLY=compress measures only the compressed idle connections.
    const onlyCompress = process.env.BENCH_IMAP_ONLY === 'compress';
    if (!onlyCompress) await fill(adapters, big, 'INBOX', MESSAGES);
    await fill(adapters, small, 'INBOX', 50);
    for (const x of sized) await fill(adapters, x.user, 'INBOX', x.n);
    const tls = await loadTls(config);
    const events = createMailboxEvents();
    const listeners = await startImapListeners(
      {
        adapters,
        config,
        tls,
        logger: silentLogger,
        events,
        proxy: PROXY_DISABLED,
        authThrottle: createAuthThrottle(config.authThrottle),
      },
      { port: 0, tlsPort: 0, limits: { commandsPerSecond: 100_000 } },
    );
    const port = listeners[0].port;
    try {
      const c = await Client.connect(port);
      await c.greeting();
      await c.command(`LOGIN "${big}" "${PASSWORD}"`);
      const selects: number[] = [];
      const fetches: number[] = [];
      // CPU time of the whole process (server and this client) per command: steadier than the
      // wall time on a machine other work shares.
      const selectsCpu: number[] = [];
      const fetchesCpu: number[] = [];
      const cpuMs = (since: NodeJS.CpuUsage) => {
        const d = process.cpuUsage(since);
        return (d.user + d.system) / 1000;
      };
      let firstSelect = NaN;
      for (let i = 0; i < (onlyCompress ? 0 : Number(process.env.BENCH_SELECT_RUNS ?? 5)); i++) {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        await c.command('SELECT INBOX');
        selectsCpu.push(cpuMs(c0));
        selects.push(performance.now() - t0);
        // The first SELECT in the process lists the mailbox (mailbox-views.ts); later ones start from its snapshot.
        if (i === 0) firstSelect = selects[0];
      }
      for (let i = 0; i < (onlyCompress ? 0 : Number(process.env.BENCH_FETCH_RUNS ?? 3)); i++) {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        await c.command('FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE)');
        fetchesCpu.push(cpuMs(c0));
        fetches.push(performance.now() - t0);
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const sorts: Record<string, number> = {};
      for (const [name, cmd] of onlyCompress ? [] : [...SORT_COMMANDS, ...PARTIAL_COMMANDS]) {
        const times: number[] = [];
        for (let i = 0; i < Number(process.env.BENCH_SORT_RUNS ?? 3); i++) {
          const t0 = performance.now();
          await c.command(cmd);
          times.push(performance.now() - t0);
        }
        sorts[`imap.${name}_10k_ms`] = Math.round(median(times) * 10) / 10;
      }
      c.close();
      const mem = onlyCompress || !idle ? null : await idleMemory(port, small);
      const zmem = idle ? await idleMemory(port, small, 'compress') : null;
      const sizedMem: Record<string, number> = {};
      for (const x of onlyCompress ? [] : sized) {
        // One new message while all are idle: every session hears EXISTS (and its view changes).
        const m = await idleMemory(port, x.user, 'plain', async () => {
          await fill(adapters, x.user, 'INBOX', 1);
          events.notify(x.user, (await adapters.index.getMailbox(x.user, 'INBOX'))!.id);
        });
        sizedMem[`imap.idle_connection_${x.n}_msgs_rss_kib`] = Math.round(m.rss / 102.4) / 10;
        sizedMem[`imap.idle_connection_${x.n}_msgs_heap_kib`] = Math.round(m.heap / 102.4) / 10;
        sizedMem[`imap.idle_connection_${x.n}_msgs_heap_after_new_message_kib`] = Math.round(m.heapAfterChange / 102.4) / 10;
        sizedMem[`imap.idle_connections_${x.n}_msgs_setup_ms`] = Math.round(m.setupMs);
      }
      return {
        'imap.select_10k_ms': Math.round(median(selects) * 10) / 10,
        'imap.select_10k_first_in_process_ms': Math.round(firstSelect * 10) / 10,
        'imap.select_10k_cpu_ms': Math.round(median(selectsCpu) * 10) / 10,
        'imap.fetch_10k_uid_flags_envelope_size_ms': Math.round(median(fetches) * 10) / 10,
        'imap.fetch_10k_uid_flags_envelope_size_cpu_ms': Math.round(median(fetchesCpu) * 10) / 10,
        ...sorts,
        ...(mem
          ? { 'imap.idle_connection_rss_kib': Math.round(mem.rss / 102.4) / 10, 'imap.idle_connection_heap_kib': Math.round(mem.heap / 102.4) / 10 }
          : {}),
        ...(zmem
          ? {
              'imap.idle_compressed_connection_rss_kib': Math.round(zmem.rss / 102.4) / 10,
              'imap.idle_compressed_connection_heap_kib': Math.round(zmem.heap / 102.4) / 10,
            }
          : {}),
        ...sizedMem,
      };
    } finally {
      await Promise.all(listeners.map((l) => l.close(1000)));
    }
  } finally {
    await adapters.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  console.log(await benchImap());
}
