/**
 * `npm start`, ./mailctl and bin/mailctl.js with an old `node` first on PATH (the machine's
 * /usr/bin/node; Node 20 here): they run on Node 24 from .tools/node (bin/node-launcher.js),
 * and where none can be had they say what to do instead of ERR_UNKNOWN_FILE_EXTENSION ".ts".
 */
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../support/clients.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SYSTEM_NODE = '/usr/bin/node';
const systemNodeVersion = (await run(SYSTEM_NODE, ['-p', 'process.versions.node'])).stdout.trim();
/** True on this machine (Node 20): the cases below then take the relaunch path. */
const [major, minor] = systemNodeVersion.split('.').map(Number);
const systemNodeIsOld = major < 22 || (major === 22 && minor < 18);
const OLD_PATH = `/usr/bin:/bin`;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'launcher-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('running with the machine node on PATH', () => {
  it('has a machine node to try (Node 20 on this machine)', () => {
    expect(systemNodeVersion).toMatch(/^\d+\.\d+\.\d+$/);
  });

  const PORTS = Object.fromEntries(
    ['SMTP_PORT', 'SUBMISSION_PORT', 'SUBMISSIONS_PORT', 'IMAP_PORT', 'IMAPS_PORT', 'POP3_PORT', 'POP3S_PORT', 'HTTPS_PORT', 'HTTP_PORT'].map((v) => [v, '0']),
  );
  /** Starts `command`, resolves once the mail system logged that it started. */
  async function startSystem(command: string, args: string[], dataDir: string) {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, PATH: OLD_PATH, MAIL_DATA_DIR: dataDir, MAIL_HOSTNAME: 'mx.test', ...PORTS },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const state = { out: '', err: '' };
    child.stderr.on('data', (d) => (state.err += d));
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        state.out += d;
        if (state.out.includes('mail system started')) resolve();
      });
      void closed.then((r) => reject(new Error(`exited ${r.code}: ${state.out}${state.err}`)));
    });
    return { child, state, closed };
  }

  it('npm start runs the mail system; Ctrl-C (SIGINT to the process group) stops it gracefully', async () => {
    const { child, state, closed } = await startSystem('npm', ['start', '--silent'], path.join(tmp, 'npm-data'));
    expect(state.err).not.toContain('ERR_UNKNOWN_FILE_EXTENSION');
    process.kill(-child.pid!, 'SIGINT'); // what a terminal does on Ctrl-C
    await closed; // npm itself ends by re-raising the SIGINT; the mail system ended gracefully:
    expect(state.out).toContain('"msg":"stopped"');
  }, 60_000);

  it('the launcher passes SIGTERM on to the Node 24 process and exits with its code (0)', async () => {
    const { child, state, closed } = await startSystem(SYSTEM_NODE, ['bin/start.js'], path.join(tmp, 'launcher-data'));
    child.kill('SIGTERM'); // the launcher only, as a service manager does
    expect(await closed).toEqual({ code: 0, signal: null });
    expect(state.out).toContain('"msg":"stopped"');
  }, 60_000);

  it('./mailctl and bin/mailctl.js run from another directory', async () => {
    const env = { ...process.env, PATH: OLD_PATH, MAIL_DATA_DIR: path.join(tmp, 'ctl-data') };
    for (const [cmd, args] of [
      [path.join(ROOT, 'mailctl'), ['--help']],
      [SYSTEM_NODE, [path.join(ROOT, 'bin/mailctl.js'), '--help']],
    ] as const) {
      const r = await run(cmd, [...args], { env, cwd: tmp });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^usage: mailctl/);
    }
  });

  it('without Node 24 and without npm to install it, says what to do and exits 1', async () => {
    // A copy of the launcher without .tools, on a PATH that has the old node but no npm.
    const project = path.join(tmp, 'project');
    mkdirSync(path.join(project, 'scripts'), { recursive: true });
    cpSync(path.join(ROOT, 'bin'), path.join(project, 'bin'), { recursive: true });
    copyFileSync(path.join(ROOT, 'scripts/bootstrap-node.sh'), path.join(project, 'scripts/bootstrap-node.sh'));
    const binDir = path.join(tmp, 'no-npm-bin');
    mkdirSync(binDir);
    for (const tool of ['bash', 'dirname', 'mkdir']) symlinkSync(`/usr/bin/${tool}`, path.join(binDir, tool));
    symlinkSync(SYSTEM_NODE, path.join(binDir, 'node'));
    const r = await run(SYSTEM_NODE, [path.join(project, 'bin/start.js')], { env: { PATH: binDir, MAIL_DATA_DIR: path.join(tmp, 'unused') }, cwd: tmp });
    if (systemNodeIsOld) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`needs Node.js >= 22.18; the node on PATH is ${systemNodeVersion}`);
      expect(r.stderr).toContain('bash scripts/start.sh');
      expect(r.stderr).not.toContain('ERR_UNKNOWN_FILE_EXTENSION');
      expect(existsSync(path.join(project, '.tools/node/node_modules'))).toBe(false);
    } else {
      // A machine whose own node runs TypeScript: no relaunch, the entry point itself runs
      // (and fails here only because this copy has no sources).
      expect(r.stderr).toContain('local-main.ts');
    }
  });
});
