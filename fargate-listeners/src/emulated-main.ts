/**
 * `npm run start:emulated`: the cloud form on one machine — listeners on the aws adapters,
 * the ingest and outbound Lambda handlers driven from SQS as Lambda drives them, all against
 * moto on loopback (emulated-system.ts). Ports, host name and TLS as for `npm start`
 * (README "Configuration"); MAIL_EMULATED_PREFIX names the resources (default `cloudmail`).
 * The resources' environment (for `./mailctl --aws`) is written to MAIL_DATA_DIR/emulated.env.
 * The emulator keeps everything in memory: its data is gone when this stops, unless
 * AWS_ENDPOINT_URL points at an emulator that outlives it.
 * SIGINT/SIGTERM: stop accepting, let sessions and handler invocations finish, exit 0.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { awsResourceEnv } from '#core/adapters/aws/index.ts';
import { loadConfig } from '#core/config.ts';
import { createLogger } from '#core/log.ts';
import { startEmulatedSystem } from './emulated-system.ts';

const config = loadConfig({ ...process.env, MAIL_RUNTIME: 'local' });
const logger = createLogger({ service: 'mail', form: 'emulated' }, config.logLevel);
const emulated = await startEmulatedSystem({ config, logger, prefix: process.env.MAIL_EMULATED_PREFIX || 'cloudmail' });
logger.info('mail system started', {
  emulator: emulated.endpoint,
  table: emulated.refs.table,
  bucket: emulated.refs.bucket,
  hostname: config.hostname,
  listeners: Object.fromEntries(emulated.system.listeners.map((l) => [l.name, l.port])),
});

// For `./mailctl --aws` in another shell: `. data/emulated.env` first (README "The cloud form on one machine").
const envFile = path.join(config.dataDir, 'emulated.env');
const vars = {
  ...awsResourceEnv(emulated.refs),
  ...emulated.pushEnv,
  AWS_ENDPOINT_URL: emulated.endpoint,
  AWS_REGION: process.env.AWS_REGION,
  AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
};
mkdirSync(config.dataDir, { recursive: true });
writeFileSync(
  envFile,
  Object.entries(vars)
    .map(([k, v]) => `export ${k}='${v ?? ''}'\n`)
    .join(''),
);
logger.info('emulator environment written', { file: envFile });

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info('shutting down', { signal });
  const hardStop = setTimeout(() => {
    logger.error('shutdown took too long; exiting');
    process.exit(1);
  }, 30_000);
  hardStop.unref();
  await emulated.stop(5_000);
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
