/**
 * The JMAP routes for the HTTPS listener (fargate-listeners/src/http/): the session resource,
 * the API endpoint, and (with their methods) blob download/upload and the event source.
 * Protocol engine only: storage through the ports, writes through MailboxWrites, so IMAP and
 * JMAP see one mailbox and wake each other (docs/jmap.md).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Adapters } from '#core/adapters/adapters.ts';
import type { MailConfig } from '#core/config.ts';
import type { Logger } from '#core/log.ts';
import type { MailboxEvents } from '#core/mailbox/events.ts';
import { MailboxWrites } from '#core/mailbox/writes.ts';
import type { AuthThrottle } from '../auth-throttle.ts';
import { parseRequest, processRequest, type MethodDef } from './api.ts';
import { BasicAuthenticator } from './auth.ts';
import { CORE, MAIL } from './capabilities.ts';
import { RequestError } from './errors.ts';
import { readBody, sendJson, sendProblem, sendRequestError } from './http-io.ts';
import type { HttpRequestContext, HttpRoute } from '../http/routes.ts';
import { accountIdOf } from './ids.ts';
import { ConcurrencyGate, coreLimits } from './limits.ts';
import { coreMethods } from './methods/core.ts';
import { emailMethods } from './methods/email.ts';
import { mailboxMethods } from './methods/mailbox.ts';
import type { JmapServices } from './services.ts';
import { API_PATH, sessionResource } from './session-resource.ts';

export interface JmapDeps {
  adapters: Adapters;
  config: MailConfig;
  logger: Logger;
  events: MailboxEvents;
  authThrottle: AuthThrottle;
}

/** Capabilities whose methods are all in place; only these are advertised and accepted in `using`. */
export const CAPABILITIES: ReadonlySet<string> = new Set([CORE, MAIL]);

export function jmapRoutes(deps: JmapDeps): HttpRoute[] {
  const limits = coreLimits(deps.config.maxMessageSize);
  const log = deps.logger.child({ proto: 'jmap' });
  const writes = new MailboxWrites(deps.adapters, { events: deps.events, log });
  const svc: JmapServices = { index: deps.adapters.index, blobs: deps.adapters.blobs, writes, events: deps.events, limits };
  const auth = new BasicAuthenticator({
    index: deps.adapters.index,
    throttle: deps.authThrottle,
    allowPlaintextAuthOnLoopback: deps.config.allowPlaintextAuthOnLoopback,
    realm: deps.config.hostname,
  });
  const all: Record<string, MethodDef> = { ...coreMethods, ...mailboxMethods(svc), ...emailMethods(svc) };
  const methods = new Map(Object.entries(all).filter(([, m]) => CAPABILITIES.has(m.capability)));
  const gate = new ConcurrencyGate(limits.maxConcurrentRequests);

  /** The authenticated user, or null after writing the refusal. */
  async function authenticated(req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext): Promise<string | null> {
    const result = await auth.check(req, ctx.remoteAddress, ctx.secure);
    if (result.ok) return result.user;
    sendProblem(res, result.status, 'about:blank', result.detail, result.headers);
    return null;
  }

  const session: HttpRoute = {
    path: '/.well-known/jmap',
    methods: ['GET'],
    async handle(req, res, ctx) {
      const user = await authenticated(req, res, ctx);
      if (!user) return;
      sendJson(res, 200, sessionResource(user, ctx.url.origin, limits, CAPABILITIES));
    },
  };

  const api: HttpRoute = {
    path: API_PATH,
    methods: ['POST'],
    // The handler enforces maxSizeRequest itself, so a too large request gets the JMAP limit error (RFC 8620 §3.6.1).
    maxBodyBytes: Number.MAX_SAFE_INTEGER,
    async handle(req, res, ctx) {
      const user = await authenticated(req, res, ctx);
      if (!user) return;
      const release = gate.enter(user);
      if (!release) {
        sendRequestError(res, new RequestError('limit', `At most ${limits.maxConcurrentRequests} requests at once`, { limit: 'maxConcurrentRequests' }));
        return;
      }
      try {
        const body = await readBody(req, limits.maxSizeRequest, 'maxSizeRequest');
        const request = parseRequest(body, limits, CAPABILITIES);
        const state = sessionResource(user, ctx.url.origin, limits, CAPABILITIES).state as string;
        const response = await processRequest(request, methods, { user, accountId: accountIdOf(user), log: ctx.log }, state);
        sendJson(res, 200, response);
      } catch (err) {
        if (err instanceof RequestError) sendRequestError(res, err);
        else throw err;
      } finally {
        release();
      }
    },
  };

  return [session, api];
}
