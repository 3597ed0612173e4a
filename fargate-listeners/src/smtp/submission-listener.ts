/**
 * Message submission for our users' mail clients (RFC 6409), on two listeners:
 *  - `submission` (587; 2587 locally): plaintext greeting, STARTTLS (RFC 3207) required
 *    before AUTH — except from loopback when MAIL_ALLOW_PLAINTEXT_LOOPBACK is on;
 *  - `submissions` (465; 2465 locally): implicit TLS (RFC 8314 §3.3).
 * AUTH PLAIN (RFC 4616) and LOGIN against the accounts (RFC 4954); MAIL, RCPT and DATA
 * need a successful AUTH (530 5.7.0). Failed logins are throttled per client address and per
 * account (auth-throttle.ts; 454 4.7.0 while blocked).
 *
 * Invariant 4 (no open relay, no cross-user access): the envelope sender and every From:
 * (and Sender:) address must be the authenticated user's own address — 553 5.7.1 otherwise.
 * The From: check runs on the header section, held while the message streams to the blob
 * store (submission-headers.ts), after the bytes are stored and before the job is queued.
 *
 * The message then takes the MX listener's path (accept-message.ts: blob → ingest job → 250)
 * with source 'submission'; ingest delivers local recipients and routes the rest outbound.
 */
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { authenticate } from '#core/accounts/accounts.ts';
import { domainOf, isValidAddress, normalizeAddress, unquoteLocalPart } from '#core/accounts/addresses.ts';
import type { AuthThrottle } from '../auth-throttle.ts';
import type { ListenerDeps, RunningListener } from '../listener.ts';
import { isLoopback } from '../tls.ts';
import { acceptMessage } from './accept-message.ts';
import { smtpError } from './enhanced-codes.ts';
import { MAX_RECIPIENTS, postmasterTarget } from './mx-listener.ts';
import { startSmtpServer } from './smtp-server-runner.ts';
import { checkSenderHeaders, SubmissionHeaderFixup } from './submission-headers.ts';

/**
 * smtp-server decides "AUTH needs TLS" per server (allowInsecureAuth); we decide per
 * connection (loopback may be exempt). A session flagged `authNeedsTls` gets RFC 3207 §4's
 * "530 5.7.0 Must issue a STARTTLS command first" before any credentials are read. Applied
 * once at import; affects only sessions that carry the flag.
 */
const proto = (SMTPConnection as any).prototype;
if (!proto.__authNeedsTlsPatch) {
  const original = proto.handler_AUTH;
  proto.handler_AUTH = function handler_AUTH(this: any, command: unknown, callback: () => void) {
    if (this.session?.authNeedsTls && !this.secure) {
      this.send(530, '5.7.0 Must issue a STARTTLS command first');
      return callback();
    }
    return original.call(this, command, callback);
  };
  // RFC 4954 §4 / RFC 3207 §4: don't advertise AUTH where it would be refused — a client that
  // sees AUTH before STARTTLS may send its password in clear before learning it is refused.
  const originalEhlo = proto.handler_EHLO;
  const originalIsSupported = proto._isSupported;
  proto._isSupported = function _isSupported(this: any, command: string) {
    if (command === 'AUTH' && this.__inEhlo && this.session?.authNeedsTls && !this.secure) return false;
    return originalIsSupported.call(this, command);
  };
  proto.handler_EHLO = function handler_EHLO(this: any, command: unknown, callback: () => void) {
    this.__inEhlo = true;
    try {
      return originalEhlo.call(this, command, callback);
    } finally {
      this.__inEhlo = false;
    }
  };
  proto.__authNeedsTlsPatch = true;
}

/** The addresses a user may send as. One address per account today (no aliases yet). */
export function ownAddresses(user: string): string[] {
  return [normalizeAddress(user)];
}

/**
 * Where an authenticated submission's recipient goes: the local mailbox (postmaster resolved,
 * RFC 5321 §4.5.1), or a remote address as given (its local part is the remote site's to
 * interpret, RFC 5321 §2.4). Throws the SMTP refusal (an smtpError: 501 5.1.3 bad syntax,
 * 550 5.1.1 no such user of ours); other errors are lookup failures (temporary).
 * Shared by SMTP RCPT and JMAP EmailSubmission (submit-message.ts).
 */
export async function submissionRecipient(deps: Pick<ListenerDeps, 'adapters' | 'config' | 'logger'>, address: string): Promise<string> {
  // RFC 5321 §4.1.2: a quoted local part is the same mailbox unquoted.
  const rcpt = normalizeAddress(unquoteLocalPart(address));
  const pm = await postmasterTarget(deps, rcpt);
  if (pm) return pm;
  if (!isValidAddress(rcpt)) throw smtpError(501, '5.1.3', 'Bad recipient address syntax');
  // Authenticated: any domain may be a destination. Our own domains' users are checked now,
  // so a typo is refused here instead of bouncing later.
  if ((await deps.adapters.index.getDomain(domainOf(rcpt))) === null) return address;
  if (!(await deps.adapters.index.getUser(rcpt))) throw smtpError(550, '5.1.1', 'No such user here');
  return rcpt;
}

function sessionUser(session: SMTPServerSession): string | null {
  return typeof session.user === 'string' && session.user ? session.user : null;
}

export function submissionServerOptions(deps: ListenerDeps, options: { implicitTls: boolean; throttle: AuthThrottle }): SMTPServerOptions {
  const { config, adapters, logger } = deps;
  const { throttle } = options;
  return {
    name: config.hostname,
    banner: 'submission ready',
    key: deps.tls.key,
    cert: deps.tls.cert,
    secure: options.implicitTls,
    authMethods: ['PLAIN', 'LOGIN'],
    // Decided per connection by the patch above.
    allowInsecureAuth: true,
    authOptional: false,
    authRequiredMessage: '5.7.0 Authentication required',
    size: config.maxMessageSize,
    hideENHANCEDSTATUSCODES: false,
    hideSTARTTLS: options.implicitTls,
    disableReverseLookup: true,
    maxClients: config.maxConnections,
    socketTimeout: config.idleTimeoutSeconds * 1000,
    logger: false,
    onConnect(session, callback) {
      (session as any).authNeedsTls = !(config.allowPlaintextAuthOnLoopback && isLoopback(session.remoteAddress));
      callback();
    },
    onAuth(auth, session, callback) {
      const client = session.remoteAddress || 'unknown';
      const a = auth as typeof auth & { authzid?: string; authcid?: string };
      const username = normalizeAddress(String(a.username ?? ''));
      // Counted as a failure from here until the password proves right (checks in progress on
      // parallel connections count against the limit too; begin() may wait for one to end).
      const check = async (): Promise<{ user: string } | Error> => {
        const attempt = await throttle.begin(client, username);
        if (!attempt) {
          logger.warn('auth throttled', { client, user: username });
          return smtpError(454, '4.7.0', 'Too many failed authentication attempts; try again later');
        }
        // RFC 4616 §2: an authorization identity different from the authentication identity
        // asks to act as someone else; we do not allow that (a failure: the attempt stays counted).
        if (a.method === 'PLAIN' && a.authzid && a.authcid && normalizeAddress(a.authzid) !== normalizeAddress(a.authcid)) {
          attempt.fail();
          logger.info('auth failed', { client, user: username, why: 'authorization identity not permitted' });
          return smtpError(535, '5.7.8', 'Authentication credentials invalid');
        }
        let user;
        try {
          user = await authenticate(adapters.index, username, String(a.password ?? ''));
        } catch (err) {
          attempt.release();
          logger.error('auth lookup failed', { err });
          return smtpError(454, '4.7.0', 'Temporary authentication failure');
        }
        if (!user) {
          attempt.fail();
          logger.info('auth failed', { client, user: username });
          return smtpError(535, '5.7.8', 'Authentication credentials invalid');
        }
        attempt.release();
        return { user: user.address };
      };
      check().then((r) => (r instanceof Error ? callback(r) : callback(null, r)));
    },
    onMailFrom(address, session, callback) {
      const user = sessionUser(session);
      if (!user) return callback(smtpError(530, '5.7.0', 'Authentication required'));
      const from = normalizeAddress(unquoteLocalPart(address.address || ''));
      if (!ownAddresses(user).includes(from)) return callback(smtpError(553, '5.7.1', `Sender address <${from.slice(0, 200)}> is not yours`));
      callback();
    },
    onRcptTo(address, session, callback) {
      if (!sessionUser(session)) return callback(smtpError(530, '5.7.0', 'Authentication required'));
      if (session.envelope.rcptTo.length >= MAX_RECIPIENTS) return callback(smtpError(452, '4.5.3', 'Too many recipients'));
      submissionRecipient(deps, address.address).then(
        (mailbox) => {
          address.address = mailbox;
          callback();
        },
        (err) => {
          if (err && typeof err.responseCode === 'number') return callback(err);
          logger.error('recipient lookup failed', { err });
          callback(smtpError(451, '4.3.0', 'Temporary lookup failure, try again later'));
        },
      );
    },
    onData(stream, session, callback) {
      const user = sessionUser(session);
      if (!user) {
        stream.resume();
        return stream.once('end', () => callback(smtpError(530, '5.7.0', 'Authentication required')));
      }
      const fix = new SubmissionHeaderFixup(domainOf(user) || config.hostname);
      acceptMessage(deps, session, stream, {
        source: 'submission',
        authUser: user,
        transform: (s) => s.pipe(fix),
        beforeQueue: () => checkSenderHeaders(fix, ownAddresses(user)),
      }).then(
        (accepted) => callback(null, `2.0.0 Ok: queued as ${accepted.queueId}`),
        (err) => callback(err),
      );
    },
  };
}

/** Starts `submission` (STARTTLS) and `submissions` (implicit TLS), with the process's one throttle. */
export async function startSubmissionListeners(deps: ListenerDeps, options: { port?: number; tlsPort?: number } = {}): Promise<RunningListener[]> {
  const throttle = deps.authThrottle;
  const plain = await startSmtpServer(
    'submission',
    new SMTPServer(submissionServerOptions(deps, { implicitTls: false, throttle })),
    options.port ?? deps.config.ports.submission,
    deps,
  );
  try {
    const tls = await startSmtpServer(
      'submissions',
      new SMTPServer(submissionServerOptions(deps, { implicitTls: true, throttle })),
      options.tlsPort ?? deps.config.ports.submissions,
      deps,
    );
    return [plain, tls];
  } catch (err) {
    await plain.close(0);
    throw err;
  }
}
