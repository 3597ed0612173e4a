/**
 * The Fargate container's entry point: SMTP (MX and submission), IMAP and POP3 listeners on
 * the aws adapters (S3, DynamoDB, SQS from the stack's environment). No workers here: the
 * ingest and outbound jobs run in Lambda. Connections come through the NLB with PROXY protocol
 * v2 (PROXY_PROTOCOL, PROXY_TRUSTED_CIDRS). The TLS certificate and key are read from Secrets
 * Manager (TLS_SECRET_ARN, JSON {"cert","key"}) at start; an empty secret falls back to a
 * self-signed pair with a warning.
 * SIGTERM (ECS stop, deployments): stop accepting, let sessions finish, exit 0.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createAwsAdapters } from '#core/adapters/aws/index.ts';
import { awsResourceRefsFromEnv } from '#core/adapters/aws/provision.ts';
import { createAwsChangeFeed, ecsTaskId } from '#core/adapters/aws/sns-change-feed.ts';
import { loadConfig, type MailConfig } from '#core/config.ts';
import { createLogger } from '#core/log.ts';
import { readJsonSecret } from '#core/ports/secrets.ts';
import { startMailSystem } from './mail-system.ts';
import { proxyConfigFromEnv } from './proxy-protocol.ts';

const config: MailConfig = loadConfig({ ...process.env, MAIL_RUNTIME: 'aws' });
const logger = createLogger({ service: 'listeners' }, config.logLevel);
const adapters = await createAwsAdapters({ refs: awsResourceRefsFromEnv(process.env) });

if (process.env.TLS_SECRET_ARN && !config.tlsCertFile) {
  const secret = await readJsonSecret<{ cert?: string; key?: string }>(adapters.secrets, process.env.TLS_SECRET_ARN);
  if (secret.cert && secret.key) {
    const dir = path.join(config.dataDir, 'tls-secret');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    config.tlsCertFile = path.join(dir, 'cert.pem');
    config.tlsKeyFile = path.join(dir, 'key.pem');
    writeFileSync(config.tlsCertFile, secret.cert);
    writeFileSync(config.tlsKeyFile, secret.key, { mode: 0o600 });
  } else {
    logger.warn('TLS secret is empty: using a self-signed certificate; put the real one into the secret (docs/deploy.md)');
  }
}

// Push between listener tasks: this task's SQS queue on the stack's SNS topic (docs/deploy.md).
const changeFeed = createAwsChangeFeed({ log: logger.child({ component: 'change-feed' }), taskId: (await ecsTaskId()) ?? undefined });
if (!changeFeed) logger.warn('PUSH_TOPIC_ARN is not set: IDLE sessions see changes made by other tasks and the ingest function only at the slow poll');
const system = await startMailSystem({ adapters, config, logger, workers: false, proxy: proxyConfigFromEnv(process.env), changeFeed: changeFeed ?? undefined });
logger.info('listeners started', { listeners: Object.fromEntries(system.listeners.map((l) => [l.name, l.port])) });

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info('shutting down', { signal });
  // The task definition's stopTimeout is 120 s (infra/listeners.ts) between SIGTERM and SIGKILL.
  await system.stop(100_000);
  await adapters.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
