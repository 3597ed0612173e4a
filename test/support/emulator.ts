/**
 * The AWS emulator for tests. When AWS_ENDPOINT_URL is set (LocalStack, Floci, MiniStack,
 * or a moto server already running) it is used as is; otherwise a moto server from the
 * project's virtual environment (.tools/venv, made by scripts/test.sh) is started on a free
 * loopback port and stopped after the run.
 *
 * Every test file creates its own resources with a unique prefix (createAwsResources), from
 * the same definitions the CDK stack uses (core/resources.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const EMULATOR_ENV = 'AWS_ENDPOINT_URL';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`emulator did not answer at ${url}: ${String(lastError)}`);
}

export function motoBinary(): string {
  const fromEnv = process.env.MOTO_SERVER_BIN;
  if (fromEnv) return fromEnv;
  const local = path.resolve(import.meta.dirname, '../../.tools/venv/bin/moto_server');
  if (existsSync(local)) return local;
  return 'moto_server';
}

/**
 * moto_server through test/support/moto-serialized.py when the venv's python is next to the
 * binary: moto does not isolate concurrent DynamoDB transactions, the wrapper serializes
 * DynamoDB writes as DynamoDB does (see the wrapper). Otherwise the binary itself.
 */
function motoCommand(): [string, string[]] {
  const bin = motoBinary();
  const python = path.join(path.dirname(bin), 'python');
  const wrapper = path.resolve(import.meta.dirname, 'moto-serialized.py');
  return existsSync(python) && existsSync(wrapper) ? [python, [wrapper]] : [bin, []];
}

export interface RunningEmulator {
  endpoint: string;
  stop(): Promise<void>;
}

/** Starts moto on a free loopback port, or returns the configured endpoint. */
export async function startEmulator(): Promise<RunningEmulator> {
  const configured = process.env[EMULATOR_ENV];
  if (configured) return { endpoint: configured, stop: async () => {} };
  const port = await freePort();
  const [command, preArgs] = motoCommand();
  const child: ChildProcess = spawn(command, [...preArgs, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env },
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await Promise.race([
      waitForHttp(`${endpoint}/moto-api/`, 60_000),
      exited.then(() => {
        throw new Error(`moto_server exited: ${stderr}`);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    endpoint,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** Dummy credentials and region for the emulator (never real AWS). */
export function emulatorClientConfig(endpoint: string) {
  return {
    endpoint,
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'test',
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
    },
    forcePathStyle: true,
  };
}

/** The environment a process (a Lambda handler, a listener) needs to reach the emulator in place of AWS. */
export function emulatorEnv(clientConfig: ReturnType<typeof emulatorClientConfig>): Record<string, string> {
  return { AWS_ENDPOINT_URL: clientConfig.endpoint, AWS_REGION: clientConfig.region, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };
}
