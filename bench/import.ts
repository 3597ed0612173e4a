/**
 * `mailctl import imap` from a local Dovecot (test/support/dovecot-server.ts): 5,000 corpus
 * messages (each made unique by an `X-Bench-Copy:` header) in INBOX, "Sent Items" and
 * "Work.Clients", imported by the real command (a child process, 4 connections) into a fresh
 * local store. Reports messages/s, MiB/s and the importing process's peak RSS, from the
 * command's own JSON summary. Needs Dovecot (scripts/setup.sh --test); without it, says so and
 * reports nothing.
 * Not part of the test suite; `npm run bench` runs it (bench/run.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createUser } from '#core/accounts/accounts.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { dovecotInstalled, startDovecot, writeMaildirMessage } from '../test/support/dovecot-server.ts';

const MESSAGES = 5_000;
const ROOT = path.resolve(import.meta.dirname, '..');
const CORPUS = process.env.MIME_CORPUS_DIR ?? path.resolve(ROOT, '../shared/corpus');

export async function benchImport(): Promise<Record<string, number>> {
  if (!dovecotInstalled()) {
    process.stderr.write('bench: import: SKIPPED — Dovecot is not installed (scripts/setup.sh --test installs dovecot-imapd)\n');
    return {};
  }
  if (!existsSync(CORPUS)) {
    process.stderr.write(`bench: import: SKIPPED — no message corpus at ${CORPUS}\n`);
    return {};
  }
  const corpus = readdirSync(CORPUS)
    .filter((f) => f.endsWith('.eml'))
    .sort()
    .map((f) => readFileSync(path.join(CORPUS, f)));
  const dovecot = await startDovecot([{ user: 'bench@src.test', password: 'bench' }], { 'Sent Items': '\\Sent' });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-import-'));
  try {
    const folders = ['', 'Sent Items', 'Work.Clients'];
    for (let i = 0; i < MESSAGES; i++) {
      const raw = Buffer.concat([Buffer.from(`X-Bench-Copy: ${i}\r\n`), corpus[i % corpus.length]]);
      writeMaildirMessage(dovecot.maildir('bench@src.test'), folders[i % 5 < 3 ? 0 : i % 5 === 3 ? 1 : 2], raw, {
        flags: i % 2 ? ['\\Seen'] : [],
        date: new Date(Date.UTC(2020, 0, 1) + i * 60_000),
      });
    }
    dovecot.fixOwnership();
    const adapters = await createLocalAdapters({ dataDir });
    await adapters.index.addDomain('example.test');
    await createUser(adapters.index, 'bench@example.test', 'pw');
    await adapters.close();
    const url = `imaps://bench%40src.test@127.0.0.1:${dovecot.imapsPort}`;
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'bin/mailctl.js'), 'import', 'imap', 'bench@example.test', url, '--insecure', '--json', '--connections', '4'],
      {
        env: { ...process.env, MAIL_DATA_DIR: dataDir, IMPORT_PASSWORD: 'bench' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    const summary = out
      .split('\n')
      .filter((l) => l.startsWith('{"event":"summary"'))
      .map(
        (l) => JSON.parse(l) as { copied: number; seconds: number; bytes: number; messagesPerSecond: number; bytesPerSecond: number; peakRssBytes: number },
      )[0];
    if (code !== 0 || !summary || summary.copied !== MESSAGES) throw new Error(`bench: import: mailctl import imap failed (exit ${code}): ${out.slice(-500)}`);
    const MiB = 1024 * 1024;
    return {
      import_imap_messages: summary.copied,
      import_imap_mib: Math.round((summary.bytes / MiB) * 10) / 10,
      import_imap_seconds: Math.round(summary.seconds * 10) / 10,
      import_imap_messages_per_s: Math.round(summary.messagesPerSecond),
      import_imap_mib_per_s: Math.round((summary.bytesPerSecond / MiB) * 100) / 100,
      import_imap_peak_rss_mib: Math.round(summary.peakRssBytes / MiB),
    };
  } finally {
    await dovecot.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
