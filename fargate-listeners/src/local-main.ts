/**
 * `npm start`: the whole mail system on one machine — every listener plus the job workers
 * (on a thread of their own) — on the local adapters (SQLite + files under MAIL_DATA_DIR). No AWS account needed.
 * SIGINT/SIGTERM: stop accepting, let in-flight transactions finish (or answer 421), exit 0.
 */
import path from 'node:path';
import { removeCrashLeftovers } from '#core/adapters/local/crash-leftovers.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { SqliteChangeFeed } from '#core/adapters/local/sqlite-change-feed.ts';
import { loadConfig } from '#core/config.ts';
import { createLogger } from '#core/log.ts';
import { ensureWebmailBuilt } from '../../webmail/build.ts';
import { describeListenError } from './listen-error.ts';
import { startMailSystem, type MailSystem } from './mail-system.ts';

/** A setting the person starting the system must fix: one line on stderr, exit 1. */
function fatal(message: string): never {
  process.stderr.write(`mail: ${message}\n`);
  process.exit(1);
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig({ ...process.env, MAIL_RUNTIME: 'local' });
} catch (err) {
  fatal((err as Error).message);
}
const logger = createLogger({ service: 'mail' }, config.logLevel);
const adapters = await createLocalAdapters({ dataDir: config.dataDir });
// What a kill -9 left behind: temporary blob files and blobs nothing refers to (reported).
try {
  const left = await removeCrashLeftovers(config.dataDir);
  const removed = [...left.tempFiles, ...left.orphanedBlobs];
  if (removed.length > 0) {
    logger.info('crash leftovers removed', {
      tempFiles: left.tempFiles.length,
      orphanedBlobs: left.orphanedBlobs.length,
      bytes: removed.reduce((n, f) => n + f.size, 0),
      files: removed.slice(0, 100).map((f) => path.relative(config.dataDir, f.path)),
    });
  }
  if (left.orphanCheckSkipped) logger.warn('orphaned blob check skipped', { reason: left.orphanCheckSkipped });
} catch (err) {
  logger.warn('crash leftover cleanup failed', { err });
}
// The webmail (served with JMAP): built from webmail/src when missing or older than its sources.
if (config.http.jmapEnabled && config.http.webmailDir) {
  try {
    await ensureWebmailBuilt(config.http.webmailDir);
  } catch (err) {
    logger.warn('webmail not built; / is not served', { err });
  }
}
let system: MailSystem;
try {
  // Another process's writes to the same data directory (mailctl, a second `npm start`) wake
  // IDLE sessions through the index file itself (sqlite-change-feed.ts).
  const changeFeed = new SqliteChangeFeed({ file: path.join(config.dataDir, 'index.sqlite'), log: logger.child({ component: 'change-feed' }) });
  // The job workers run on a thread of their own (ingest-thread.ts), off the listeners' event loop.
  system = await startMailSystem({ adapters, config, logger, workers: config.workers, ingestThread: { dataDir: config.dataDir }, changeFeed });
} catch (err) {
  const line = describeListenError(err, config);
  if (!line) throw err;
  await adapters.close();
  fatal(line);
}
// Before the "started" line: whoever waits for that line may signal at once.
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
logger.info('mail system started', {
  dataDir: config.dataDir,
  hostname: config.hostname,
  listeners: Object.fromEntries(system.listeners.map((l) => [l.name, l.port])),
});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info('shutting down', { signal });
  const hardStop = setTimeout(() => {
    logger.error('shutdown took too long; exiting');
    process.exit(1);
  }, 20_000);
  hardStop.unref();
  await system.stop(5_000);
  await adapters.close();
  logger.info('stopped');
  process.exit(0);
}
