/**
 * Builds the webmail (webmail/src, Preact + TypeScript) with esbuild into one directory the
 * HTTPS listener serves (fargate-listeners/src/http/webmail-routes.ts):
 *
 *   index.html                  the page; not cached (it names the current assets)
 *   assets/app-<hash>.js        the application, minified, one file
 *   assets/app-<hash>.css       its styles
 *
 * Asset names carry a hash of their content, so they are served `immutable` for a year. Nothing
 * is fetched from elsewhere at run time: DOMPurify and Preact are bundled in.
 *
 * Used by `npm start` (built when missing or older than its sources), by the container image
 * (fargate-listeners/Dockerfile) and by the browser tests.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

export const WEBMAIL_SOURCE_DIR = path.resolve(import.meta.dirname, 'src');

export interface WebmailBuild {
  dir: string;
  /** Sizes of the JavaScript bundle, raw and gzipped (the budget: ≤ 150 KiB gzipped). */
  jsBytes: number;
  jsGzipBytes: number;
}

function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds into `outDir` (replacing what is there). */
export async function buildWebmail(outDir: string): Promise<WebmailBuild> {
  const result = await build({
    entryPoints: { app: path.join(WEBMAIL_SOURCE_DIR, 'main.tsx') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome120', 'firefox120', 'safari17'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    write: false,
    outdir: 'assets',
    entryNames: '[name]',
    legalComments: 'none',
    logLevel: 'silent',
    tsconfig: path.join(WEBMAIL_SOURCE_DIR, '..', 'tsconfig.json'),
  });
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(path.join(tmp, 'assets'), { recursive: true });
  const names: Record<string, string> = {};
  let jsBytes = 0;
  let jsGzipBytes = 0;
  for (const file of result.outputFiles) {
    const ext = path.extname(file.path);
    const hash = createHash('sha256').update(file.contents).digest('base64url').slice(0, 12);
    const name = `app-${hash}${ext}`;
    names[ext] = name;
    writeFileSync(path.join(tmp, 'assets', name), file.contents);
    if (ext === '.js') {
      jsBytes = file.contents.length;
      jsGzipBytes = gzipSync(file.contents, { level: 9 }).length;
    }
  }
  if (!names['.js'] || !names['.css']) throw new Error('webmail build: expected one .js and one .css output');
  writeFileSync(path.join(tmp, 'index.html'), indexHtml(names['.js'], names['.css']));
  writeFileSync(path.join(tmp, 'build.json'), JSON.stringify({ sourceMtime: newestSourceMtime(WEBMAIL_SOURCE_DIR), jsBytes, jsGzipBytes }));
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(path.dirname(outDir), { recursive: true });
  // Whole directory at once: a listener reading it never sees half a build.
  renameSync(tmp, outDir);
  return { dir: outDir, jsBytes, jsGzipBytes };
}

/** Builds unless `outDir` holds a build of the current sources. */
export async function ensureWebmailBuilt(outDir: string): Promise<void> {
  const stamp = path.join(outDir, 'build.json');
  if (existsSync(stamp) && existsSync(WEBMAIL_SOURCE_DIR)) {
    const built = JSON.parse(readFileSync(stamp, 'utf8')) as { sourceMtime: number };
    if (built.sourceMtime >= newestSourceMtime(WEBMAIL_SOURCE_DIR)) return;
  }
  await buildWebmail(outDir);
}

function indexHtml(js: string, css: string): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>Mail</title>',
    `<link rel="stylesheet" href="/assets/${css}">`,
    `<script type="module" src="/assets/${js}"></script>`,
    '</head>',
    '<body><div id="app"></div></body>',
    '</html>',
    '',
  ].join('\n');
}
