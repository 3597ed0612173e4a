/**
 * SMTP DATA → committed in the INBOX, on the local runtime: 20 concurrent senders of 10 KiB
 * messages. Reports messages per second end to end (first MAIL FROM to last commit), accepted
 * messages per second (first MAIL FROM to last 250) and the latency from
 * each 250 reply to the message being visible in the index (p50/p99).
 *
 * With `verify`, the same load from a stranger (SMTP_TRUSTED_NETWORKS=none): every message is
 * DKIM-signed (rsa-sha256, 2048 bits) and checked for SPF, DKIM, ARC and DMARC against a DNS
 * server of the benchmark's own on loopback (answers cached as in production), and stored with
 * Authentication-Results: inbound verification on versus off, keys prefixed `smtp_verified_`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { NewMessage } from '#core/ports/mail-index.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { createUser } from '#core/accounts/accounts.ts';
import { loadConfig } from '#core/config.ts';
import { silentLogger } from '#core/log.ts';
import { createMailboxEvents } from '#core/mailbox/events.ts';
import { startMailSystem } from '#listeners/mail-system.ts';
import { dkimTxtRecord, generateDkimKey } from '#core/dkim/keys.ts';
import { dkimSignature } from '#core/dkim/sign.ts';
import { startDnsServer, type TestDnsServer } from '../test/support/dns-server.ts';
import { smtpReplies } from './line-reader.ts';

/** The p-th percentile (nearest rank) of ascending `sorted`. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** A minimal SMTP client: one connection, sequential transactions, returns the queue id per 250. */
export async function sender(port: number, count: number, message: string, onAccepted: (queueId: string) => void, rcpt = 'bench@example.test'): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  const reply = smtpReplies(socket);
  await reply();
  socket.write('EHLO client.bench.test\r\n');
  await reply();
  for (let i = 0; i < count; i++) {
    socket.write(`MAIL FROM:<bench@remote.test>\r\nRCPT TO:<${rcpt}>\r\nDATA\r\n`);
    await reply();
    await reply();
    await reply();
    socket.write(message + '.\r\n');
    const r = await reply();
    const m = /queued as (\S+)/.exec(r);
    if (!m) throw new Error(`not accepted: ${r}`);
    onAccepted(m[1]);
  }
  socket.end('QUIT\r\n');
}

export async function benchSmtpIngest(
  options: { senders?: number; perSender?: number; sizeBytes?: number; verify?: boolean; thread?: boolean } = {},
): Promise<Record<string, number>> {
  const senders = options.senders ?? 20;
  const perSender = options.perSender ?? 25;
  const size = options.sizeBytes ?? 10 * 1024;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mail-bench-'));
  const base = await createLocalAdapters({ dataDir });
  await base.index.addDomain('example.test');
  await createUser(base.index, 'bench@example.test', 'pw');

  const acceptedAt = new Map<string, number>();
  const committedAt = new Map<string, number>();
  const adapters: Adapters = {
    ...base,
    index: new Proxy(base.index, {
      get(target, prop) {
        // Deliveries append by mailbox name (appendMessageTo); other writers by id.
        if (prop === 'appendMessage' || prop === 'appendMessageTo') {
          return async (...args: [string, string, NewMessage]) => {
            const r = prop === 'appendMessage' ? await target.appendMessage(...args) : await target.appendMessageTo(...args);
            const key = args[2].deliveryKey;
            if (key) committedAt.set(key.split(':')[0], performance.now());
            return r;
          };
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }),
  };
  let dns: TestDnsServer | null = null;
  const key = generateDkimKey('remote.test', 'rsa', 'bench');
  if (options.verify) {
    dns = await startDnsServer({
      'remote.test': [{ type: 'TXT', text: 'v=spf1 ip4:127.0.0.1 -all' }],
      '_dmarc.remote.test': [{ type: 'TXT', text: 'v=DMARC1; p=reject' }],
      [dkimTxtRecord(key).name]: [{ type: 'TXT', text: dkimTxtRecord(key).value }],
    });
  }
  const config = loadConfig({
    ...(dns ? { DNS_SERVERS: dns.server, SMTP_TRUSTED_NETWORKS: 'none', SMTP_CONNECTIONS_PER_MINUTE: '0', SMTP_MESSAGES_PER_MINUTE: '0' } : {}),
    MAIL_RUNTIME: 'local',
    MAIL_DATA_DIR: dataDir,
    MAIL_HOSTNAME: 'bench.test',
    SMTP_PORT: '0',
    SUBMISSION_PORT: '0',
    SUBMISSIONS_PORT: '0',
    IMAP_PORT: '0',
    IMAPS_PORT: '0',
    POP3_PORT: '0',
    POP3S_PORT: '0',
    HTTPS_PORT: '0',
    HTTP_PORT: '0',
  });
  // With `thread`, ingest runs as `npm start` runs it, on its own thread (ingest-thread.ts): the
  // index wrapper above does not see its appends, so a commit is taken to be the delivery's
  // mailbox notification (sent after the commit), paired with the accepts in order.
  const events = createMailboxEvents();
  const notified: number[] = [];
  events.subscribe('bench@example.test', () => notified.push(performance.now()));
  const system = await startMailSystem({
    adapters,
    config,
    logger: silentLogger,
    workers: true,
    events,
    ...(options.thread ? { ingestThread: { dataDir } } : {}),
  });
  const port = system.port('smtp-mx');
  const header = 'From: bench@remote.test\r\nTo: bench@example.test\r\nSubject: bench\r\n\r\n';
  const line = 'x'.repeat(76) + '\r\n';
  const unsigned = header + line.repeat(Math.max(1, Math.floor((size - header.length) / line.length)));
  const message = options.verify ? (await dkimSignature(Buffer.from(unsigned), key)) + unsigned : unsigned;

  const total = senders * perSender;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: senders }, () => sender(port, perSender, message, (id) => acceptedAt.set(id, performance.now()))));
  const acceptElapsed = (performance.now() - t0) / 1000;
  const committed = () => (options.thread ? notified.length : committedAt.size);
  while (committed() < total) await new Promise((r) => setTimeout(r, 5));
  const elapsed = (performance.now() - t0) / 1000;
  const accepts = [...acceptedAt.values()].sort((a, b) => a - b);
  const latencies = (options.thread ? accepts.map((t, i) => notified[i] - t) : [...acceptedAt].map(([id, t]) => committedAt.get(id)! - t)).sort(
    (a, b) => a - b,
  );
  await system.stop(1000);
  await base.close();
  await dns?.close();
  rmSync(dataDir, { recursive: true, force: true });
  const prefix = (options.verify ? 'smtp_verified' : 'smtp') + (options.thread ? '_thread' : '');
  return {
    [`${prefix}_messages`]: total,
    [`${prefix}_msgs_per_sec`]: Math.round((total / elapsed) * 10) / 10,
    [`${prefix}_accepted_msgs_per_sec`]: Math.round((total / acceptElapsed) * 10) / 10,
    [`${prefix}_accept_to_visible_p50_ms`]: Math.round(percentile(latencies, 50) * 10) / 10,
    [`${prefix}_accept_to_visible_p99_ms`]: Math.round(percentile(latencies, 99) * 10) / 10,
  };
}

// `node bench/smtp-ingest.ts [messages per sender] [--verify] [--thread]`: this suite alone.
if (import.meta.main) {
  const perSender = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 25);
  console.log(JSON.stringify(await benchSmtpIngest({ perSender, verify: process.argv.includes('--verify'), thread: process.argv.includes('--thread') })));
}
