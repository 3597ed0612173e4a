/**
 * A listener that cannot bind its port (taken by another program, privileged, or a MAIL_BIND
 * address this machine does not have) is a configuration problem the person starting the
 * system must fix: one line naming the setting to change, not a stack trace.
 */
import type { MailConfig } from '#core/config.ts';

const PORT_VARIABLES: [keyof MailConfig['ports'], string][] = [
  ['smtp', 'SMTP_PORT'],
  ['submission', 'SUBMISSION_PORT'],
  ['submissions', 'SUBMISSIONS_PORT'],
  ['imap', 'IMAP_PORT'],
  ['imaps', 'IMAPS_PORT'],
  ['pop3', 'POP3_PORT'],
  ['pop3s', 'POP3S_PORT'],
];

/** The one-line explanation of a failed listen(), or null when `err` is not one. */
export function describeListenError(
  err: unknown,
  config: Pick<MailConfig, 'ports' | 'bind'> & { http?: Pick<MailConfig['http'], 'httpsPort' | 'httpPort'> },
): string | null {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  if (!e || e.syscall !== 'listen' || typeof e.port !== 'number') return null;
  const variable =
    PORT_VARIABLES.find(([k]) => config.ports[k] === e.port)?.[1] ??
    (config.http?.httpsPort === e.port ? 'HTTPS_PORT' : config.http?.httpPort === e.port ? 'HTTP_PORT' : 'port');
  const where = e.address ?? config.bind;
  switch (e.code) {
    case 'EADDRINUSE':
      return `${variable} ${e.port} is already in use on ${where}: stop the program that holds it or set ${variable} to a free port`;
    case 'EACCES':
      return `${variable} ${e.port} needs privileges on this machine: run with the capability to bind it or set ${variable} to a port above 1023`;
    case 'EADDRNOTAVAIL':
      return `MAIL_BIND ${where} is not an address of this machine: set MAIL_BIND to one of its addresses`;
    default:
      return null;
  }
}
