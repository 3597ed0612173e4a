/**
 * `POST /jmap/auth/password`: a signed-in user changes their own password (the webmail's
 * Settings; JMAP defines no method for it, so it sits beside the token route, tokens.ts).
 *
 * The request is authenticated as any JMAP request (Bearer or Basic) and carries
 * `{"currentPassword": "...", "newPassword": "..."}` as JSON. The current password is checked
 * again under the shared failed-login throttle (a stolen token alone cannot change the
 * password, and guessing through this route counts as guessing at IMAP LOGIN). A new password
 * is 8 to 1,024 characters. On success every bearer token of the user ends (they are bound to
 * the password hash), remembered Basic successes of this process are forgotten, and the answer
 * is a fresh token for the caller, in the shape of the token route's (RFC 6749 §5.1), so the
 * web app stays signed in. IMAP, POP3 and SMTP sessions already logged in are not cut (as on
 * any server); their next login needs the new password.
 */
import { authenticate, changePassword } from '#core/accounts/accounts.ts';
import type { MailIndex } from '#core/ports/mail-index.ts';
import type { AuthThrottle } from '../auth-throttle.ts';
import type { HttpRoute } from '../http/routes.ts';
import type { AuthResult, BasicAuthenticator } from './auth.ts';
import { RequestError } from './errors.ts';
import { readBody, sendJson, sendProblem, sendRequestError } from './http-io.ts';
import type { JmapAuthenticator } from './tokens.ts';

export const PASSWORD_PATH = '/jmap/auth/password';
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;
const MAX_BODY = 8 * 1024;

export interface PasswordRouteDeps {
  index: MailIndex;
  throttle: AuthThrottle;
  auth: JmapAuthenticator;
  basic: BasicAuthenticator;
}

/** The two passwords of the request body, or the reason it is not one. */
export function parsePasswordChange(body: Buffer): { currentPassword: string; newPassword: string } | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return 'The body is not JSON';
  }
  const { currentPassword, newPassword } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof currentPassword !== 'string' || typeof newPassword !== 'string') return 'currentPassword and newPassword are required strings';
  const length = [...newPassword].length;
  if (length < MIN_PASSWORD_LENGTH) return `The new password needs at least ${MIN_PASSWORD_LENGTH} characters`;
  if (length > MAX_PASSWORD_LENGTH) return `The new password has more than ${MAX_PASSWORD_LENGTH} characters`;
  return { currentPassword, newPassword };
}

export function passwordRoute(deps: PasswordRouteDeps): HttpRoute {
  const refuse = (res: Parameters<HttpRoute['handle']>[1], r: Extract<AuthResult, { ok: false }>) =>
    sendProblem(res, r.status, 'about:blank', r.detail, r.headers);
  return {
    path: PASSWORD_PATH,
    methods: ['POST'],
    maxBodyBytes: MAX_BODY,
    async handle(req, res, ctx) {
      const who = await deps.auth.check(req, ctx.remoteAddress, ctx.secure);
      if (!who.ok) return refuse(res, who);
      let change;
      try {
        change = parsePasswordChange(await readBody(req, MAX_BODY, 'maxSizeRequest'));
      } catch (err) {
        if (err instanceof RequestError) return sendRequestError(res, err);
        throw err;
      }
      if (typeof change === 'string') return sendProblem(res, 400, 'about:blank', change);

      const attempt = await deps.throttle.begin(ctx.remoteAddress, who.user);
      if (!attempt) return sendProblem(res, 429, 'about:blank', 'Too many failed logins; try again later', { 'Retry-After': '60' });
      let ok;
      try {
        ok = (await authenticate(deps.index, who.user, change.currentPassword)) !== null;
      } catch (err) {
        attempt.release();
        throw err;
      }
      if (!ok) {
        attempt.fail();
        return sendProblem(res, 403, 'about:blank', 'The current password is wrong');
      }
      attempt.release();
      await changePassword(deps.index, who.user, change.newPassword);
      deps.basic.forget(who.user);
      ctx.log.info('password changed', { user: who.user });
      sendJson(res, 200, await deps.auth.issue(who.user));
    },
  };
}
