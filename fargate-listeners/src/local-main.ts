/**
 * `npm start`: the whole mail system on one machine — every listener plus the in-process
 * workers — on the local adapters (SQLite + files under MAIL_DATA_DIR). No AWS account needed.
 * SIGINT/SIGTERM: stop accepting, let in-flight transactions finish (or answer 421), exit 0.
 */
import { createLocalAdapters } from '../../core/adapters/local/index.ts';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { startMailSystem } from './mail-system.ts';

const config = loadConfig({ ...process.env, MAIL_RUNTIME: 'local' });
const logger = createLogger({ service: 'mail' }, config.logLevel);
const adapters = await createLocalAdapters({ dataDir: config.dataDir });
const system = await startMailSystem({ adapters, config, logger, workers: config.workers });
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
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
