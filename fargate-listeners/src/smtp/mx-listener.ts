/**
 * The MX listener (port 25; 2525 locally): mail from other servers to our users.
 * RFC 5321 with PIPELINING, 8BITMIME, SMTPUTF8 (RFC 6531), SIZE (RFC 1870),
 * ENHANCEDSTATUSCODES (RFC 2034/3463) and STARTTLS (RFC 3207). No AUTH here.
 *
 * Invariant 4 (no open relay): RCPT is accepted only for existing users of local domains,
 * decided at RCPT time so we never accept-then-bounce (no backscatter).
 */
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { domainOf, isValidAddress, normalizeAddress } from '../../../core/accounts/addresses.ts';
import type { ListenerDeps, RunningListener } from '../listener.ts';
import { acceptMessage } from './accept-message.ts';
import { smtpError } from './enhanced-codes.ts';
import { startSmtpServer } from './smtp-server-runner.ts';

export const MAX_RECIPIENTS = 100;

export async function checkLocalRecipient(deps: ListenerDeps, address: string): Promise<void> {
  const addr = normalizeAddress(address);
  if (!isValidAddress(addr)) throw smtpError(501, '5.1.3', 'Bad recipient address syntax');
  const domain = domainOf(addr);
  let isLocal: boolean;
  let exists: boolean;
  try {
    isLocal = (await deps.adapters.index.getDomain(domain)) !== null;
    exists = isLocal && (await deps.adapters.index.getUser(addr)) !== null;
  } catch (err) {
    deps.logger.error('recipient lookup failed', { err });
    throw smtpError(451, '4.3.0', 'Temporary lookup failure, try again later');
  }
  if (!isLocal) throw smtpError(550, '5.7.1', 'Relaying denied');
  if (!exists) throw smtpError(550, '5.1.1', 'No such user here');
}

export function mxServerOptions(deps: ListenerDeps): SMTPServerOptions {
  const { config } = deps;
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
    onMailFrom(address, _session, callback) {
      if (address.address && !isValidAddress(address.address)) return callback(smtpError(501, '5.1.7', 'Bad sender address syntax'));
      callback();
    },
    onRcptTo(address, session: SMTPServerSession, callback) {
      if (session.envelope.rcptTo.length >= MAX_RECIPIENTS) return callback(smtpError(452, '4.5.3', 'Too many recipients'));
      checkLocalRecipient(deps, address.address).then(() => callback(), callback);
    },
    onData(stream, session, callback) {
      acceptMessage(deps, session, stream, { source: 'mx' }).then(
        (accepted) => callback(null, `2.0.0 Ok: queued as ${accepted.queueId}`),
        (err) => callback(err),
      );
    },
  };
}

export async function startMxListener(deps: ListenerDeps, options: { port?: number } = {}): Promise<RunningListener> {
  const server = new SMTPServer(mxServerOptions(deps));
  return startSmtpServer('smtp-mx', server, options.port ?? deps.config.ports.smtp, deps);
}
