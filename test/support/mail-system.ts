/**
 * A whole mail system for end-to-end tests, on free loopback ports, on either adapter set:
 * `local` (SQLite + files in a temp dir) or `aws` (S3/DynamoDB/SQS on the emulator, resources
 * created with a unique prefix from core/resources.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { createUser } from '#core/accounts/accounts.ts';
import { invalidateDirectory } from '#core/accounts/directory-cache.ts';
import { loadConfig, type MailConfig } from '#core/config.ts';
import { createLogger, silentLogger, type Logger } from '#core/log.ts';
import { startMailSystem, type MailSystem, type MailSystemOptions } from '#listeners/mail-system.ts';
import type { ChangeFeed } from '#core/ports/change-feed.ts';
import { emulatorClientConfig } from './emulator.ts';
import type { ProxyConfig } from '#listeners/proxy-protocol.ts';

export type AdapterKind = 'local' | 'aws';
export const ADAPTER_KINDS: AdapterKind[] = ['local', 'aws'];

/** Every listener on a port the system picks (0); override the one a test needs fixed. */
export const EPHEMERAL_PORTS = {
  SMTP_PORT: '0',
  SUBMISSION_PORT: '0',
  SUBMISSIONS_PORT: '0',
  IMAP_PORT: '0',
  IMAPS_PORT: '0',
  POP3_PORT: '0',
  POP3S_PORT: '0',
  HTTPS_PORT: '0',
  HTTP_PORT: '0',
} as const;

export interface TestSystem {
  kind: AdapterKind;
  system: MailSystem;
  adapters: Adapters;
  config: MailConfig;
  dataDir: string;
  port(name: string): number;
  addDomain(domain: string): Promise<void>;
  addUser(address: string, password: string): Promise<void>;
  stop(): Promise<void>;
  /**
   * Stops listeners and workers and starts them again on the same data (a server going down
   * and coming back), running `whileDown` in between. Listeners return on the same ports only
   * if the ports were fixed by env.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
}

export function uniquePrefix(): string {
  return `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

export async function makeAdapters(kind: AdapterKind, dataDir: string): Promise<{ adapters: Adapters; cleanup(): Promise<void> }> {
  if (kind === 'local') {
    const adapters = await createLocalAdapters({ dataDir });
    return { adapters, cleanup: () => adapters.close() };
  }
  const { provisionAwsResources, destroyAwsResources } = await import('#core/adapters/aws/provision.ts');
  const { createAwsAdapters } = await import('#core/adapters/aws/index.ts');
  const clientConfig = emulatorClientConfig(inject('awsEndpoint'));
  const refs = await provisionAwsResources(clientConfig, uniquePrefix());
  const adapters = await createAwsAdapters({ refs, clientConfig });
  return {
    adapters,
    cleanup: async () => {
      await adapters.close();
      await destroyAwsResources(clientConfig, refs).catch(() => {});
    },
  };
}

export interface TestSystemOptions {
  adapters?: AdapterKind;
  env?: Record<string, string>;
  /** Log to stdout (debugging). */
  verbose?: boolean;
  /** Log through this logger instead (tests that read the log). */
  logger?: Logger;
  workers?: boolean;
  /** Run the workers on their own thread, as `npm start` does (fargate-listeners/src/ingest-thread.ts); they open the data directory there, unwrapped. */
  ingestThread?: boolean;
  /** Wrap the adapters the listeners see (failure injection). */
  wrapAdapters?: (adapters: Adapters) => Adapters;
  proxy?: ProxyConfig;
  /** Outbound overrides: DNS resolver, SMTP transport (submission and outbound delivery). */
  outbound?: MailSystemOptions['outbound'];
  /** A change feed for each start of the system (core/ports/change-feed.ts); default none (in-process notifications only). */
  changeFeed?: (dataDir: string) => ChangeFeed;
}

export async function startTestSystem(options: TestSystemOptions = {}): Promise<TestSystem> {
  const kind = options.adapters ?? 'local';
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mail-e2e-'));
  const config = loadConfig({
    MAIL_RUNTIME: 'local',
    MAIL_DATA_DIR: dataDir,
    MAIL_HOSTNAME: 'mx.test',
    MAIL_BIND: '127.0.0.1',
    ...EPHEMERAL_PORTS,
    ...options.env,
  });
  const { adapters, cleanup } = await makeAdapters(kind, dataDir);
  const logger = options.logger ?? (options.verbose ? createLogger({ test: true }, 'debug') : silentLogger);
  const start = () =>
    startMailSystem({
      adapters: options.wrapAdapters ? options.wrapAdapters(adapters) : adapters,
      config,
      logger,
      workers: options.workers ?? true,
      ...(options.ingestThread ? { ingestThread: { dataDir } } : {}),
      proxy: options.proxy,
      outbound: options.outbound,
      changeFeed: options.changeFeed?.(dataDir),
    });
  const system = await start();
  const ts: TestSystem = {
    kind,
    system,
    adapters,
    config,
    dataDir,
    port: (name) => ts.system.port(name),
    restart: async (whileDown) => {
      await ts.system.stop(500);
      try {
        await whileDown?.();
      } finally {
        ts.system = await start();
      }
    },
    addDomain: async (domain) => {
      if (!(await adapters.index.getDomain(domain))) await adapters.index.addDomain(domain);
      invalidateDirectory(adapters.index); // as mailctl does in the same process
    },
    addUser: async (address, password) => {
      const domain = address.split('@')[1];
      if (!(await adapters.index.getDomain(domain))) await adapters.index.addDomain(domain);
      await createUser(adapters.index, address, password);
      invalidateDirectory(adapters.index); // as mailctl does in the same process
    },
    stop: async () => {
      await ts.system.stop(1000);
      await cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return ts;
}

/** Polls `check` until it returns a truthy value or the time runs out. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}

/** `target` with some methods replaced (failure injection); other methods stay bound to target. */
export function override<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(t, prop) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) return (overrides as any)[prop];
      const v = Reflect.get(t, prop, t);
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
}
