/**
 * The MX listener (port 25; 2525 locally): mail from other servers to our users.
 * RFC 5321 with PIPELINING, 8BITMIME, SMTPUTF8 (RFC 6531), SIZE (RFC 1870),
 * ENHANCEDSTATUSCODES (RFC 2034/3463) and STARTTLS (RFC 3207). No AUTH here.
 *
 * Invariant 4 (no open relay): RCPT is accepted only for existing users of local domains,
 * decided at RCPT time so we never accept-then-bounce (no backscatter). Also accepted, as
 * RFC 5321 §4.5.1 requires: `postmaster` bare and at each local domain, delivered to the
 * domain's postmaster address (core/accounts/postmaster.ts). A quoted local part is unquoted
 * (RFC 5321 §4.1.2: `"alice"@example.test` is alice@example.test). The envelope then carries
 * the mailbox the mail is delivered to. Refused recipients are counted against directory
 * harvesting (bad-recipients.ts).
 *
 * Inbound trust (trust/inbound-trust.ts): rate limits, blocklists and reverse DNS at connect,
 * HELO checks at MAIL, SPF/DKIM/ARC/DMARC at the end of DATA before the 250, with our
 * Authentication-Results stored above the Received: field and the verdict (INBOX or Junk)
 * carried by the ingest job.
 */
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { quotaExceeded } from '#core/mailbox/quota.ts';
import type { User } from '#core/ports/mail-index.ts';
import { domainOf, isValidAddress, normalizeAddress, unquoteLocalPart } from '#core/accounts/addresses.ts';
import { directoryFor } from '#core/accounts/directory-cache.ts';
import { hostDomain, isPostmaster, resolvePostmaster } from '#core/accounts/postmaster.ts';
import type { ListenerDeps, RunningListener } from '../listener.ts';
import { acceptMessage, MemoryBudget } from './accept-message.ts';
import { createBadRecipientGuard, type BadRecipientGuard } from './bad-recipients.ts';
import { smtpError } from './enhanced-codes.ts';
import { sessionAddressFromProxy, startSmtpServer } from './smtp-server-runner.ts';
import { createInboundTrust, type InboundTrust } from './trust/inbound-trust.ts';

export const MAX_RECIPIENTS = 100;

/**
 * Where mail for `postmaster` (bare or at a domain) goes: null when `address` is not a
 * postmaster address of ours (a foreign domain's postmaster is an ordinary remote address).
 * Throws 550 5.1.1 when it is ours but nothing can take it (no user in that domain, none set).
 */
export async function postmasterTarget(deps: Pick<ListenerDeps, 'adapters' | 'config' | 'logger'>, address: string): Promise<string | null> {
  const pm = isPostmaster(address);
  if (!pm) return null;
  const { index } = deps.adapters;
  const domain = pm.domain ?? (await hostDomain(index, deps.config.hostname));
  if (domain === null || (await directoryFor(index, deps.config.directoryCacheSeconds).domain(domain)) === null) return null;
  const target = await resolvePostmaster(index, domain, deps.config.postmasterAddress);
  if (target) return target;
  deps.logger.warn('postmaster mail refused: no postmaster mailbox', { domain, hint: `mailctl domain postmaster ${domain} <address>, or POSTMASTER_ADDRESS` });
  throw smtpError(550, '5.1.1', 'No postmaster mailbox here');
}

/** The local mailbox an RCPT address is delivered to; throws the SMTP refusal otherwise. */
export async function resolveLocalRecipient(deps: ListenerDeps, address: string, declaredSize = 0): Promise<string> {
  const addr = normalizeAddress(unquoteLocalPart(address));
  let target: string | null;
  try {
    target = await postmasterTarget(deps, addr);
  } catch (err) {
    if (err && typeof (err as { responseCode?: unknown }).responseCode === 'number') throw err;
    deps.logger.error('recipient lookup failed', { err });
    throw smtpError(451, '4.3.0', 'Temporary lookup failure, try again later');
  }
  if (target) return target;
  if (!isValidAddress(addr)) throw smtpError(501, '5.1.3', 'Bad recipient address syntax');
  const domain = domainOf(addr);
  let isLocal: boolean;
  let exists: boolean;
  let user: User | null;
  try {
    const directory = directoryFor(deps.adapters.index, deps.config.directoryCacheSeconds);
    isLocal = (await directory.domain(domain)) !== null;
    user = isLocal ? await directory.user(addr) : null;
    exists = user !== null;
  } catch (err) {
    deps.logger.error('recipient lookup failed', { err });
    throw smtpError(451, '4.3.0', 'Temporary lookup failure, try again later');
  }
  if (!isLocal) throw smtpError(550, '5.7.1', 'Relaying denied');
  if (!exists) throw smtpError(550, '5.1.1', 'No such user here');
  // RFC 3463 §3.3 X.2.2 "mailbox full", temporary (RFC 5321 §4.2.2: 452): the sender retries,
  // and the user may make room meanwhile. The size is what MAIL FROM declared (SIZE=, RFC 1870).
  let over;
  try {
    over = await quotaExceeded(deps.adapters.index, addr, { storage: Math.max(1, declaredSize), messages: 1 }, user);
  } catch (err) {
    deps.logger.error('quota lookup failed', { err });
    throw smtpError(451, '4.3.0', 'Temporary lookup failure, try again later');
  }
  if (over) throw smtpError(452, '4.2.2', 'Mailbox full, try again later');
  return addr;
}

/** SIZE= of MAIL FROM (RFC 1870 §6), or 0. */
function declaredSize(session: SMTPServerSession): number {
  const args = session.envelope.mailFrom ? session.envelope.mailFrom.args : false;
  const size = args && typeof args === 'object' ? Number((args as Record<string, unknown>).SIZE) : 0;
  return Number.isSafeInteger(size) && size > 0 ? size : 0;
}

/** Refused RCPTs in this session (kept across RSET: smtp-server reuses the session object). */
const refusedInSession = new WeakMap<SMTPServerSession, number>();

export function mxServerOptions(
  deps: ListenerDeps,
  guard: BadRecipientGuard = createBadRecipientGuard(deps.config.badRecipients),
  trust: InboundTrust = createInboundTrust(deps),
): SMTPServerOptions {
  const { config } = deps;
  // One budget per listener for the messages held in memory while they are verified.
  const memory = new MemoryBudget(config.inbound.verifyMemoryBytes, config.inbound.verifyMemoryPerClientBytes);
  const failed = (what: string, session: SMTPServerSession, callback: (err?: Error | null) => void) => (err: Error & { responseCode?: number }) => {
    if (typeof err.responseCode === 'number') return callback(err);
    deps.logger.error(`${what} failed`, { client: session.remoteAddress, err });
    callback(smtpError(451, '4.3.0', 'Temporary local problem, try again later'));
  };
  return {
    name: config.hostname,
    // smtp-server writes `220 <name> ESMTP <banner>` itself (RFC 5321 §4.3.1 greeting).
    banner: 'ready',
    key: deps.tls.key,
    cert: deps.tls.cert,
    secure: false,
    disabledCommands: ['AUTH'],
    authOptional: true,
    size: config.maxMessageSize,
    hideENHANCEDSTATUSCODES: false,
    hideSTARTTLS: false,
    disableReverseLookup: true,
    maxClients: config.maxConnections,
    socketTimeout: config.idleTimeoutSeconds * 1000,
    logger: false,
    onConnect(this: SMTPServer, session, callback) {
      trust.onConnect(session, sessionAddressFromProxy(this, session)).then(() => callback(), failed('connect checks', session, callback));
    },
    onMailFrom(address, session, callback) {
      if (address.address) address.address = unquoteLocalPart(address.address);
      if (address.address && !isValidAddress(address.address)) return callback(smtpError(501, '5.1.7', 'Bad sender address syntax'));
      trust.onMailFrom(session).then(() => callback(), failed('MAIL checks', session, callback));
    },
    onRcptTo(address, session: SMTPServerSession, callback) {
      if (session.envelope.rcptTo.length >= MAX_RECIPIENTS) return callback(smtpError(452, '4.5.3', 'Too many recipients'));
      resolveLocalRecipient(deps, address.address, declaredSize(session)).then(
        (mailbox) => {
          address.address = mailbox;
          callback();
        },
        (err: Error & { responseCode?: number }) => {
          // Only refusals count (not 4xx lookup failures).
          if (!(typeof err.responseCode === 'number' && err.responseCode >= 500)) return callback(err);
          const n = (refusedInSession.get(session) ?? 0) + 1;
          refusedInSession.set(session, n);
          const verdict = guard.refused(session.remoteAddress, n);
          setTimeout(() => {
            const close = verdict.close || (verdict.clientOver && session.envelope.rcptTo.length === 0);
            if (!close) return callback(err);
            deps.logger.warn('too many refused recipients; closing', { client: session.remoteAddress, refusedInSession: n });
            callback(smtpError(421, '4.7.0', 'Too many invalid recipients; closing connection'));
          }, verdict.delayMs);
        },
      );
    },
    onData(stream, session, callback) {
      acceptMessage(deps, session, stream, { source: 'mx', inspect: (message, queueId) => trust.inspect(session, message, queueId), memory }).then(
        (accepted) => callback(null, `2.0.0 Ok: queued as ${accepted.queueId}`),
        (err) => callback(err),
      );
    },
  };
}

export async function startMxListener(deps: ListenerDeps, options: { port?: number } = {}): Promise<RunningListener> {
  const trust = createInboundTrust(deps);
  const server = new SMTPServer(mxServerOptions(deps, undefined, trust));
  let running: RunningListener;
  try {
    running = await startSmtpServer('smtp-mx', server, options.port ?? deps.config.ports.smtp, deps);
  } catch (err) {
    trust.close();
    throw err;
  }
  return {
    ...running,
    async close(graceMs) {
      await running.close(graceMs);
      trust.close();
    },
  };
}
