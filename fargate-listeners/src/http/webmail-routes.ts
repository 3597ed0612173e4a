/**
 * The webmail's files (webmail/, built by webmail/build.ts) on the HTTPS listener: the page at
 * `/` and its assets under `/assets/`. The application talks only to the JMAP API on the same
 * origin (fargate-listeners/src/jmap/), so it is served only where JMAP is.
 *
 * The page is never cached (it names the current assets); the assets carry a hash of their
 * content in their names and are cached for a year, `immutable`. Files are read once, at start.
 *
 * The page's Content-Security-Policy: scripts and styles only from here, requests only to here,
 * no plugins, no <base>, not framed. A message's HTML is shown in a sandboxed `srcdoc` frame
 * without scripts, which inherits this policy and adds its own (webmail/src/message-frame.ts):
 * `img-src` must allow remote images here so that the frame's own policy can allow them when
 * the reader asks for them; the frame's policy blocks them until then.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { HttpRoute } from './routes.ts';

export const WEBMAIL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob: https: http:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-src 'self' blob: data:",
  "form-action 'self'",
  "base-uri 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join('; ');

const ASSET_NAME = /^app-[A-Za-z0-9_-]{12}\.(js|css)$/;
const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/** The routes for a built webmail in `dir`; throws when `dir` holds no build. */
export function webmailRoutes(dir: string): HttpRoute[] {
  const page = readFileSync(path.join(dir, 'index.html'));
  const assets = new Map<string, Buffer>();
  for (const name of readdirSync(path.join(dir, 'assets'))) if (ASSET_NAME.test(name)) assets.set(name, readFileSync(path.join(dir, 'assets', name)));

  const send = (res: import('node:http').ServerResponse, method: string, status: number, headers: Record<string, string | number>, body: Buffer) => {
    res.writeHead(status, { ...headers, 'content-length': body.length });
    res.end(method === 'HEAD' ? undefined : body);
  };
  return [
    {
      path: '/',
      methods: ['GET', 'HEAD'],
      contentSecurityPolicy: WEBMAIL_CSP,
      async handle(req, res) {
        send(res, req.method ?? 'GET', 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' }, page);
      },
    },
    {
      path: '/assets/',
      prefix: true,
      methods: ['GET', 'HEAD'],
      contentSecurityPolicy: WEBMAIL_CSP,
      async handle(req, res, ctx) {
        const name = ctx.url.pathname.slice('/assets/'.length);
        const body = ASSET_NAME.test(name) ? assets.get(name) : undefined;
        if (!body) {
          send(res, req.method ?? 'GET', 404, { 'content-type': 'text/plain; charset=utf-8' }, Buffer.from('not found\n'));
          return;
        }
        send(res, req.method ?? 'GET', 200, { 'content-type': TYPES[path.extname(name)], 'cache-control': 'public, max-age=31536000, immutable' }, body);
      },
    },
  ];
}
