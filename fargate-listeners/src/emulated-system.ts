/**
 * The cloud form on one machine (`npm run start:emulated`, emulated-main.ts): the listeners on
 * the aws adapter set (S3, DynamoDB, SQS) against an emulator on loopback, and the ingest and
 * outbound Lambda handlers (functions/ingest.ts, functions/outbound.ts) driven from the queues
 * as the Lambda SQS event source drives them (functions/local-event-source.ts) with the
 * stack's settings (infra/pipeline.ts CONSUMERS: batch size, concurrency, function timeout).
 *
 * The emulator is moto from the project's venv (.tools/venv, scripts/setup.sh --emulator),
 * started on a free loopback port as the tests start it (test/support/emulator.ts), or the
 * one AWS_ENDPOINT_URL names. Resources are created as the stack declares them
 * (core/resources.ts via provision.ts) under `prefix`; the handlers find them through the
 * same environment variables the stack sets on the functions. Only dummy credentials are set:
 * this never talks to AWS.
 */
import { awsResourceEnv, createAwsAdapters, provisionAwsResources, type AwsResourceRefs } from '#core/adapters/aws/index.ts';
import { createAwsClients } from '#core/adapters/aws/clients.ts';
import { createAwsChangeFeed, provisionPushTopic } from '#core/adapters/aws/sns-change-feed.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import type { MailConfig } from '#core/config.ts';
import type { Logger } from '#core/log.ts';
import type { QueueName } from '#core/ports/work-queue.ts';
import { QUEUES } from '#core/resources.ts';
import { startSqsEventSource, type EventSourceOptions, type RunningEventSource } from '#functions/local-event-source.ts';
import { CONSUMERS, functionTimeoutSeconds } from '#infra/pipeline.ts';
import { emulatorClientConfig, startEmulator, type RunningEmulator } from '../../test/support/emulator.ts';
import { startMailSystem, type MailSystem } from './mail-system.ts';

export interface EmulatedSystemOptions {
  /** Listener settings (ports, host name, TLS); the runtime's workers are never started. */
  config: MailConfig;
  logger: Logger;
  /** Resource name prefix (core/resources.ts resourceNames). */
  prefix: string;
  /** Passed to both event sources (bench/aws-cost.ts measures Lambda duration with it). */
  onInvoke?: (queue: QueueName, info: Parameters<NonNullable<EventSourceOptions['onInvoke']>>[0]) => void;
}

export interface EmulatedSystem {
  endpoint: string;
  refs: AwsResourceRefs;
  /** PUSH_TOPIC_ARN and PUSH_QUEUE_PREFIX of the push topic (core/adapters/aws/sns-change-feed.ts). */
  pushEnv: Record<string, string>;
  /** The listeners' adapters. */
  adapters: Adapters;
  system: MailSystem;
  /** Starts (again) the event source of one queue, by default with the stack's settings; stopEventSource ends it. */
  startEventSource(queue: QueueName, overrides?: { maxConcurrency?: number }): void;
  stopEventSource(queue: QueueName): Promise<void>;
  /** Resolves when no handler invocation is running. */
  idle(): Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

const QUEUE_NAMES = Object.keys(QUEUES) as QueueName[];

export async function startEmulatedSystem(options: EmulatedSystemOptions): Promise<EmulatedSystem> {
  const { config, logger } = options;
  // The handlers (and the SDK clients they build) read process.env.
  const env = process.env;
  let emulator: RunningEmulator | undefined;
  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    emulator = await startEmulator();
    cleanups.push(() => emulator?.stop());
    const clientConfig = emulatorClientConfig(emulator.endpoint);
    const refs = await provisionAwsResources(clientConfig, options.prefix);
    const pushEnv = await provisionPushTopic(clientConfig, options.prefix);
    // What the stack sets on the functions, with the emulator in place of AWS.
    Object.assign(env, awsResourceEnv(refs), pushEnv, {
      AWS_ENDPOINT_URL: emulator.endpoint,
      AWS_REGION: clientConfig.region,
      AWS_ACCESS_KEY_ID: clientConfig.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: clientConfig.credentials.secretAccessKey,
    });
    delete env.AWS_SESSION_TOKEN;
    delete env.AWS_PROFILE;
    const adapters = await createAwsAdapters({ refs, clientConfig });
    cleanups.push(() => adapters.close());
    // The listeners' own push queue, subscribed to the topic the handlers publish to.
    const changeFeed = createAwsChangeFeed({ clientConfig, log: logger.child({ component: 'change-feed' }) }) ?? undefined;
    const system = await startMailSystem({ adapters, config: { ...config, workers: false }, logger, workers: false, changeFeed });
    let systemStopped = false;
    const stopSystem = async (graceMs: number) => {
      if (systemStopped) return;
      systemStopped = true;
      await system.stop(graceMs);
    };
    cleanups.push(() => stopSystem(1000));

    // The handlers read their environment when first imported: after it is set.
    const handlers: Record<QueueName, EventSourceOptions['handler']> = {
      ingest: (await import('#functions/ingest.ts')).handler,
      outbound: (await import('#functions/outbound.ts')).handler,
    };
    const clients = createAwsClients(clientConfig);
    cleanups.push(() => clients.destroy());
    const sources = new Map<QueueName, RunningEventSource>();
    const startEventSource = (queue: QueueName, overrides: { maxConcurrency?: number } = {}) => {
      if (sources.has(queue)) return;
      const consumer = CONSUMERS[queue];
      sources.set(
        queue,
        startSqsEventSource({
          sqs: clients.sqs,
          queueUrl: refs.queueUrls[queue],
          handler: handlers[queue],
          batchSize: consumer.batchSize,
          maxConcurrency: overrides.maxConcurrency ?? consumer.maxConcurrency,
          functionTimeoutSeconds: functionTimeoutSeconds(QUEUES[queue]),
          logger: logger.child({ eventSource: queue }),
          onInvoke: options.onInvoke ? (info) => options.onInvoke?.(queue, info) : undefined,
        }),
      );
    };
    const stopEventSource = async (queue: QueueName) => {
      const s = sources.get(queue);
      sources.delete(queue);
      await s?.stop();
    };
    cleanups.push(() => Promise.all(QUEUE_NAMES.map(stopEventSource)).then(() => undefined));
    for (const q of QUEUE_NAMES) startEventSource(q);
    return {
      endpoint: emulator.endpoint,
      refs,
      pushEnv,
      adapters,
      system,
      startEventSource,
      stopEventSource,
      idle: async () => {
        await Promise.all([...sources.values()].map((s) => s.idle()));
      },
      stop: async (graceMs = 5000) => {
        // Listeners first (sessions finish), then the event sources, the adapters, the emulator.
        await stopSystem(graceMs);
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }
}
