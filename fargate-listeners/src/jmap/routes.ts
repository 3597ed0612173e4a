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
import { CONTACTS, CORE, MAIL, SUBMISSION, VACATION_RESPONSE } from './capabilities.ts';
import { RequestError } from './errors.ts';
import { readBody, sendJson, sendProblem, sendRequestError } from './http-io.ts';
import type { HttpRequestContext, HttpRoute } from '../http/routes.ts';
import { accountIdOf } from './ids.ts';
import { ConcurrencyGate, coreLimits } from './limits.ts';
import { coreMethods } from './methods/core.ts';
import { emailMethods } from './methods/email.ts';
import { mailboxMethods } from './methods/mailbox.ts';
import { AccountLocks, type JmapServices } from './services.ts';
import { API_PATH, DOWNLOAD_PATH, EVENTSOURCE_PATH, UPLOAD_PATH, sessionResource } from './session-resource.ts';
import { newUploadKey, readBlob, uploadBlobId } from './blob-routes.ts';
import { parseEventSourceQuery, serveEventSource } from './eventsource.ts';
import { importMethods } from './methods/import.ts';
import { sendingMethods } from './methods/sending.ts';
import { copyMethods } from './methods/email-copy.ts';
import { contactMethods } from './methods/contacts.ts';
import { JmapAuthenticator, TOKEN_PATH } from './tokens.ts';
import { passwordRoute } from './password-route.ts';

export interface JmapDeps {
  adapters: Adapters;
  config: MailConfig;
  logger: Logger;
  events: MailboxEvents;
  authThrottle: AuthThrottle;
}

/** Capabilities whose methods are all in place; only these are advertised and accepted in `using`. */
export const CAPABILITIES: ReadonlySet<string> = new Set([CORE, MAIL, SUBMISSION, VACATION_RESPONSE, CONTACTS]);

export function jmapRoutes(deps: JmapDeps): HttpRoute[] {
  const limits = coreLimits(deps.config.maxMessageSize);
  const log = deps.logger.child({ proto: 'jmap' });
  const writes = new MailboxWrites(deps.adapters, { events: deps.events, log });
  const svc: JmapServices = {
    index: deps.adapters.index,
    blobs: deps.adapters.blobs,
    contacts: deps.adapters.contacts,
    writes,
    events: deps.events,
    limits,
    locks: new AccountLocks(),
  };
  const basic = new BasicAuthenticator({
    index: deps.adapters.index,
    throttle: deps.authThrottle,
    allowPlaintextAuthOnLoopback: deps.config.allowPlaintextAuthOnLoopback,
    realm: deps.config.hostname,
  });
  // Basic or Bearer (tokens.ts) on every route.
  const auth = new JmapAuthenticator({
    index: deps.adapters.index,
    throttle: deps.authThrottle,
    allowPlaintextAuthOnLoopback: deps.config.allowPlaintextAuthOnLoopback,
    basic,
    realm: deps.config.hostname,
  });
  const all: Record<string, MethodDef> = { ...coreMethods, ...mailboxMethods(svc), ...emailMethods(svc), ...importMethods(svc), ...sendingMethods(svc, deps) };
  Object.assign(all, copyMethods(), contactMethods(svc));
  const methods = new Map(Object.entries(all).filter(([, m]) => CAPABILITIES.has(m.capability)));
  const gate = new ConcurrencyGate(limits.maxConcurrentRequests);
  const uploads = new ConcurrencyGate(limits.maxConcurrentUpload);

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
        const response = await processRequest(request, methods, { user, accountId: accountIdOf(user), log: ctx.log, clientAddress: ctx.remoteAddress }, state);
        sendJson(res, 200, response);
      } catch (err) {
        if (err instanceof RequestError) sendRequestError(res, err);
        else throw err;
      } finally {
        release();
      }
    },
  };

  const download: HttpRoute = {
    path: DOWNLOAD_PATH,
    prefix: true,
    methods: ['GET', 'HEAD'],
    async handle(req, res, ctx) {
      const user = await authenticated(req, res, ctx);
      if (!user) return;
      // {accountId}/{blobId}/{name}
      const parts = ctx.url.pathname.slice(DOWNLOAD_PATH.length).split('/');
      const accountId = accountIdOf(user);
      if (parts.length !== 3 || parts[0] !== accountId) {
        sendProblem(res, 404, 'about:blank', 'No such account or blob');
        return;
      }
      const data = await readBlob(svc, deps.adapters.index, user, accountId, parts[1]);
      if (!data) {
        sendProblem(res, 404, 'about:blank', 'No such blob');
        return;
      }
      let name = parts[2];
      try {
        name = decodeURIComponent(name);
      } catch {
        // as given
      }
      const accept = ctx.url.searchParams.get('accept');
      const type = accept && /^[\w.+-]+\/[\w.+-]+$/.test(accept) ? accept : 'application/octet-stream';
      res.writeHead(200, {
        'Content-Type': type,
        'Content-Length': String(data.length),
        'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(name)}`,
        'Cache-Control': 'private, immutable, max-age=31536000',
      });
      res.end(req.method === 'HEAD' ? undefined : data);
    },
  };

  const upload: HttpRoute = {
    path: UPLOAD_PATH,
    prefix: true,
    methods: ['POST'],
    // The handler enforces maxSizeUpload itself (a JMAP limit problem, RFC 8620 §6.1).
    maxBodyBytes: Number.MAX_SAFE_INTEGER,
    async handle(req, res, ctx) {
      const user = await authenticated(req, res, ctx);
      if (!user) return;
      const accountId = accountIdOf(user);
      const rest = ctx.url.pathname.slice(UPLOAD_PATH.length).replace(/\/$/, '');
      if (rest !== accountId) {
        sendProblem(res, 404, 'about:blank', 'No such account');
        return;
      }
      const release = uploads.enter(user);
      if (!release) {
        sendRequestError(
          res,
          new RequestError('limit', `At most ${limits.maxConcurrentUpload} uploads at once`, { limit: 'maxConcurrentUpload', status: 429 }),
        );
        return;
      }
      try {
        const body = await readBody(req, limits.maxSizeUpload, 'maxSizeUpload');
        const key = newUploadKey(accountId);
        await deps.adapters.blobs.put(key, body);
        const type = (req.headers['content-type'] ?? 'application/octet-stream').split(';')[0].trim() || 'application/octet-stream';
        sendJson(res, 201, { accountId, blobId: uploadBlobId(key), type, size: body.length });
      } catch (err) {
        if (err instanceof RequestError) sendRequestError(res, err);
        else throw err;
      } finally {
        release();
      }
    },
  };

  const eventSource: HttpRoute = {
    path: EVENTSOURCE_PATH,
    methods: ['GET'],
    async handle(req, res, ctx) {
      const user = await authenticated(req, res, ctx);
      if (!user) return;
      const options = parseEventSourceQuery(ctx.url);
      if (typeof options === 'string') {
        sendProblem(res, 400, 'about:blank', options);
        return;
      }
      await serveEventSource(svc, res, user, accountIdOf(user), options, ctx.log);
    },
  };

  // Bearer tokens for the web app (tokens.ts): POST with Basic issues one, DELETE with it revokes it.
  const token: HttpRoute = {
    path: TOKEN_PATH,
    methods: ['POST', 'DELETE'],
    async handle(req, res, ctx) {
      if (req.method === 'DELETE') {
        const result = await auth.revoke(req, ctx.remoteAddress, ctx.secure);
        if (!result.ok) sendProblem(res, result.status, 'about:blank', result.detail, result.headers);
        else {
          res.writeHead(204, { 'Cache-Control': 'no-store' });
          res.end();
        }
        return;
      }
      const result = await basic.check(req, ctx.remoteAddress, ctx.secure, { fresh: true });
      if (!result.ok) {
        sendProblem(res, result.status, 'about:blank', result.detail, result.headers);
        return;
      }
      sendJson(res, 200, await auth.issue(result.user));
    },
  };

  const password = passwordRoute({ index: deps.adapters.index, throttle: deps.authThrottle, auth, basic });

  return [session, api, download, upload, eventSource, token, password];
}
