/**
 * The route interface of the HTTPS listener (fargate-listeners/src/http/routes.ts, being built
 * on another branch). This copy is identical; once the listener is merged, import it from there
 * and delete this file.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '#core/log.ts';

export interface HttpRequestContext {
  remoteAddress: string;
  secure: boolean;
  url: URL;
  log: Logger;
}
export interface HttpRoute {
  path: string;
  prefix?: boolean;
  methods: string[];
  /** The handler reads the body itself (with its own limits) and writes the whole response. */
  handle(req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext): Promise<void>;
}
