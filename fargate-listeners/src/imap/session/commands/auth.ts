/**
 * LOGIN (RFC 9051 §6.2.3) and AUTHENTICATE PLAIN (§6.2.2, RFC 4616) with SASL-IR (RFC 4959).
 * Both are refused before TLS (LOGINDISABLED, NO [PRIVACYREQUIRED]) unless the connection is
 * loopback and config.allowPlaintextAuthOnLoopback is set. Failed attempts slow down and,
 * after limits.maxAuthFailures, end the connection. UNAUTHENTICATE (RFC 8437) goes back.
 */
import { authenticate } from '#core/accounts/accounts.ts';
import { normalizeAddress } from '#core/accounts/addresses.ts';
import type { AuthenticateRequest, LoginRequest } from '#listeners/imap/protocol/requests.ts';
import { bad, no, type Tagged } from '../errors.ts';
import type { ImapSession } from '../session.ts';

async function verify(s: ImapSession, typed: string, password: string): Promise<Tagged> {
  const client = s.remoteAddress ?? '';
  // The identity authentication resolves, computed once: the throttle counts exactly that.
  const user = normalizeAddress(typed);
  // Too many recent failures from this address or for this account (in any protocol of this
  // process): refused unchecked. Checks in progress elsewhere may make this one wait.
  const attempt = await s.ctx.throttle.begin(client, user);
  if (!attempt) {
    s.authFailures++;
    s.log.warn('authentication throttled', { client, user });
    if (s.authFailures >= s.ctx.limits.maxAuthFailures) s.bye('Too many authentication failures');
    throw no('Too many failed attempts, try again later', 'UNAVAILABLE');
  }
  let account;
  try {
    account = await authenticate(s.deps.adapters.index, user, password);
  } catch (err) {
    attempt.release();
    throw err;
  }
  if (!account) {
    attempt.fail();
    s.authFailures++;
    s.log.info('authentication failed', { client, user, failures: s.authFailures });
    await new Promise((r) => setTimeout(r, Math.min(200 * s.authFailures, 2000)));
    if (s.authFailures >= s.ctx.limits.maxAuthFailures) s.bye('Too many authentication failures');
    throw no('Invalid credentials', 'AUTHENTICATIONFAILED');
  }
  attempt.release();
  s.setAuthenticated(account.address);
  s.log.info('authenticated');
  return { status: 'OK', code: `CAPABILITY ${s.capabilityList().join(' ')}`, text: 'Logged in' };
}

export async function login(s: ImapSession, req: LoginRequest): Promise<Tagged> {
  if (!s.authAllowed) throw no('Use STARTTLS first', 'PRIVACYREQUIRED');
  return verify(s, req.user, req.password);
}

export async function authenticateCommand(s: ImapSession, req: AuthenticateRequest): Promise<Tagged> {
  if (req.mechanism !== 'PLAIN') throw no(`Unsupported authentication mechanism ${req.mechanism}`, 'CANNOT');
  if (!s.authAllowed) throw no('Use STARTTLS first', 'PRIVACYREQUIRED');
  let response = req.initialResponse;
  if (response === null) {
    await s.continuation('');
    const line = await s.readLine();
    if (line === null) throw bad('Connection closed');
    response = line.toString('latin1').trim();
    // RFC 9051 §6.2.2: "*" cancels the exchange, answered with BAD.
    if (response === '*') throw bad('Authentication cancelled');
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(response)) throw bad('Invalid base64');
  const decoded = Buffer.from(response, 'base64').toString('utf8');
  const parts = decoded.split('\0');
  if (parts.length !== 3) throw bad('Invalid PLAIN response');
  const [authzid, authcid, password] = parts;
  // We do not support acting as another user: authzid must be empty or the same identity.
  if (authzid !== '' && normalizeAddress(authzid) !== normalizeAddress(authcid)) throw no('Authorization identity not allowed', 'AUTHORIZATIONFAILED');
  return verify(s, authcid, password);
}

/** RFC 8437 §3: valid once authenticated; the connection may then LOGIN/AUTHENTICATE anew. */
export async function unauthenticate(s: ImapSession): Promise<Tagged> {
  s.log.info('unauthenticated');
  s.unauthenticate();
  return { status: 'OK', code: null, text: 'Unauthenticated; you may log in again' };
}
