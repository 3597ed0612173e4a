/**
 * Where mail clients and other servers reach this deployment: the host name and the ports as
 * seen from outside. What autoconfiguration (Thunderbird, Autodiscover, Apple profiles), the
 * MTA-STS policy and `mailctl domain show` publish.
 *
 * On AWS the load balancer maps the well-known ports onto the container's high ports
 * (infra/listeners.ts), so the public ports are the well-known ones whatever the container
 * binds; locally they are the ports the listeners bind.
 */
import type { MailConfig } from './config.ts';

export interface MailEndpoints {
  /** The server's name (MAIL_HOSTNAME): MX target, IMAP/POP3/submission/HTTPS host. */
  host: string;
  smtp: number;
  submission: number;
  submissions: number;
  imap: number;
  imaps: number;
  pop3: number;
  pop3s: number;
  https: number;
}

export type EndpointPort = Exclude<keyof MailEndpoints, 'host'>;

/** The well-known ports (RFC 5321, 6409, 8314, 9051, 1939, 2595, 9110). */
export const WELL_KNOWN_PORTS: Record<EndpointPort, number> = {
  smtp: 25,
  submission: 587,
  submissions: 465,
  imap: 143,
  imaps: 993,
  pop3: 110,
  pop3s: 995,
  https: 443,
};

/**
 * The public endpoints for `config`. `bound` (the local runtime) gives the ports the listeners
 * actually bound, when they differ from the configured ones (port 0 in tests).
 */
export function publicEndpoints(
  config: Pick<MailConfig, 'runtime' | 'hostname' | 'ports' | 'http'>,
  bound?: (name: EndpointPort) => number | undefined,
): MailEndpoints {
  const host = config.hostname.toLowerCase().replace(/\.$/, '');
  if (config.runtime === 'aws') return { host, ...WELL_KNOWN_PORTS };
  const configured: Record<EndpointPort, number> = { ...config.ports, https: config.http.httpsPort };
  const port = (name: EndpointPort) => bound?.(name) ?? configured[name];
  return {
    host,
    smtp: port('smtp'),
    submission: port('submission'),
    submissions: port('submissions'),
    imap: port('imap'),
    imaps: port('imaps'),
    pop3: port('pop3'),
    pop3s: port('pop3s'),
    https: port('https'),
  };
}
