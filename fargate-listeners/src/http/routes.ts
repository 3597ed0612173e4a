/**
 * What the HTTPS listener (http-listener.ts) serves: routes given by the caller
 * (mail-system.ts), each with its path, its methods and a handler that writes the whole
 * response. The listener does everything around them: PROXY protocol, TLS, limits and
 * timeouts, security headers, CORS, 404/405/413/431 and OPTIONS.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '#core/log.ts';

export interface HttpRequestContext {
  /** Client address (after PROXY protocol when enabled). */
  remoteAddress: string;
  /** True on the HTTPS listener (TLS), false on the plain development listener. */
  secure: boolean;
  /** The request URL, absolute (scheme and host from the listener and the Host header). */
  url: URL;
  log: Logger;
  /**
   * The body limit in force for this route (HTTP_MAX_BODY_BYTES unless the route sets its own);
   * readBody() applies it. Always set by the listener; optional so that callers building a
   * context themselves (tests) need not.
   */
  maxBodyBytes?: number;
}

export interface HttpRoute {
  /** Exact path, or a path prefix when `prefix` is true (e.g. '/jmap/' ). */
  path: string;
  prefix?: boolean;
  /** Methods served; others get 405 with Allow. OPTIONS (CORS preflight) is answered by the listener. */
  methods: string[];
  /** The handler reads the body itself (with its own limits) and writes the whole response. */
  handle(req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext): Promise<void>;
  /**
   * Largest body this route accepts (octets); a larger Content-Length gets 413 before the
   * handler runs. Default: HTTP_MAX_BODY_BYTES.
   */
  maxBodyBytes?: number;
  /** Headers added to the listener's answer to OPTIONS on this route (e.g. WebDAV's `DAV`, RFC 4918 §10.1). */
  optionsHeaders?: Record<string, string>;
  /** Content-Security-Policy of this route's answers; default `default-src 'none'; frame-ancestors 'none'` (API and XML answers). */
  contentSecurityPolicy?: string;
}

/** readBody()'s limit when neither the caller nor the context gives one (HTTP_MAX_BODY_BYTES's default). */
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Thrown by readBody() when the body passes its limit: the listener answers 413. */
export class BodyTooLargeError extends Error {
  readonly limit: number;
  constructor(limit: number) {
    super(`request body larger than ${limit} octets`);
    this.limit = limit;
  }
}

/**
 * Reads the whole request body, at most `limit` octets (default: the route's limit). Rejects
 * with BodyTooLargeError as soon as more arrives (the listener then answers 413 and closes).
 */
export function readBody(
  req: IncomingMessage,
  ctx: Pick<HttpRequestContext, 'maxBodyBytes'>,
  limit = ctx.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
    req.once('aborted', () => reject(new Error('request aborted')));
  });
}
