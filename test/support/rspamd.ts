/**
 * Debian's rspamd for the tests of RSPAMD_URL (fargate-listeners/src/smtp/trust/rspamd.ts):
 * started as a foreground process with the stock configuration (/etc/rspamd/rspamd.conf) and a
 * local configuration directory of its own in a temp dir (LOCAL_CONFDIR, and RUNDIR, DBDIR,
 * LOGDIR there too): only the normal worker, on a free loopback port; no controller, proxy or
 * fuzzy worker and no Redis (GTUBE needs none). Run as root (as here), rspamd drops to
 * nobody:nogroup (-u/-g); it refuses to run as root itself. For a fast start (seconds instead of
 * a minute) the public-suffix list is a short one and hyperscan is off; rspamd's DNS goes to a
 * closed loopback port so that no lookup leaves the machine (they fail at once).
 * Test patterns are on (enable_test_patterns): XJS*…GTUBE… gives "reject", YJS*… "add header",
 * ZJS*… "rewrite subject". `extraLocal` adds files to local.d (e.g. settings.conf).
 *
 * When rspamd is not installed the suites are skipped with the reason in their name; with CI
 * set that is a failure instead (like describeWithDovecot). Installed but not starting is always
 * a failure, with rspamd's own output as the reason.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'vitest';
import { freePort } from './emulator.ts';

export const RSPAMD_BIN = '/usr/bin/rspamd';
const STOCK_CONFIG = '/etc/rspamd/rspamd.conf';

export function rspamdInstalled(): boolean {
  return existsSync(RSPAMD_BIN) && existsSync(STOCK_CONFIG);
}

export function describeWithRspamd(name: string, fn: () => void): void {
  if (rspamdInstalled()) describe(name, fn);
  else if (process.env.CI)
    describe(name, () => {
      it('needs rspamd', () => {
        throw new Error(`rspamd is not installed (${RSPAMD_BIN}, ${STOCK_CONFIG}): scripts/setup.sh --test installs it`);
      });
    });
  else describe.skip(`${name} (skipped: rspamd is not installed at ${RSPAMD_BIN}; scripts/setup.sh --test installs it; with CI set this fails)`, fn);
}

export interface Rspamd {
  /** The normal worker's base URL, for RSPAMD_URL. */
  url: string;
  port: number;
  /** rspamd's console log so far. */
  log(): string;
  /** Stops rspamd (the port then refuses connections); `remove` also deletes its directory. */
  stop(remove?: boolean): Promise<void>;
}

const ping = (port: number) =>
  new Promise<boolean>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/ping', timeout: 1000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(res.statusCode === 200 && body.includes('pong')));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });

export async function startRspamd(options: { extraLocal?: Record<string, string>; startTimeoutMs?: number } = {}): Promise<Rspamd> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rspamd-'));
  const local = path.join(dir, 'local');
  for (const d of ['local/local.d', 'local/override.d', 'run', 'db', 'log']) mkdirSync(path.join(dir, d), { recursive: true });
  const port = await freePort();
  const files: Record<string, string> = {
    'override.d/worker-normal.inc': `bind_socket = "127.0.0.1:${port}";\ncount = 1;\n`,
    'override.d/worker-controller.inc': 'enabled = false;\ncount = -1;\n',
    'override.d/worker-proxy.inc': 'enabled = false;\ncount = -1;\n',
    'override.d/worker-fuzzy.inc': 'enabled = false;\ncount = -1;\n',
    'override.d/logging.inc': 'type = "console";\nlevel = "info";\n',
    'override.d/options.inc': [
      `url_tld = "${path.join(dir, 'tld.dat')}";`,
      'disable_hyperscan = true;',
      'enable_test_patterns = true;',
      'dns { nameserver = ["127.0.0.1:1"]; timeout = 0.2s; retransmits = 1; }',
      '',
    ].join('\n'),
    ...Object.fromEntries(Object.entries(options.extraLocal ?? {}).map(([name, text]) => [`local.d/${name}`, text])),
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(local, name), text);
  writeFileSync(path.join(dir, 'tld.dat'), ['com', 'net', 'org', 'test', 'example'].join('\n') + '\n');
  const root = process.getuid?.() === 0;
  // As root rspamd runs as nobody: its directories must be open to it (a test temp dir only).
  if (root) for (const d of ['', 'local', 'local/local.d', 'local/override.d', 'run', 'db', 'log']) chmodSync(path.join(dir, d), 0o777);
  const args = ['-f', '-c', STOCK_CONFIG, ...(root ? ['-u', 'nobody', '-g', 'nogroup'] : [])];
  for (const [name, value] of Object.entries({
    LOCAL_CONFDIR: local,
    RUNDIR: path.join(dir, 'run'),
    DBDIR: path.join(dir, 'db'),
    LOGDIR: path.join(dir, 'log'),
  }))
    args.push('--var', `${name}=${value}`);
  const child: ChildProcess = spawn(RSPAMD_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-200_000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-200_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (remove = true) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    if (remove) rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (options.startTimeoutMs ?? 120_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`rspamd exited (${child.exitCode ?? child.signalCode}) before it answered /ping:\n${output.slice(-4000)}`);
    }
    if (await ping(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`rspamd did not answer /ping on 127.0.0.1:${port} within ${options.startTimeoutMs ?? 120_000} ms:\n${output.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url: `http://127.0.0.1:${port}`, port, log: () => output, stop };
}
