/**
 * Mail client autoconfiguration on the HTTPS listener, for the domains we serve only (another
 * domain: 404), with this deployment's host name and ports (core/mail-endpoints.ts):
 *
 *  - Thunderbird autoconfig (https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat):
 *    `GET /mail/config-v1.1.xml?emailaddress=<address>` (what Thunderbird asks at
 *    `autoconfig.<domain>`) and `GET /.well-known/autoconfig/mail/config-v1.1.xml` (what it asks
 *    at `<domain>` itself). The domain is the address's, else the Host's without `autoconfig.`.
 *  - Microsoft Autodiscover POX ([MS-OXDSCLI], the "outlook" schemas):
 *    `POST /autodiscover/autodiscover.xml` (and the `/Autodiscover/Autodiscover.xml` spelling):
 *    the request's EMailAddress names the account; the answer lists IMAP, POP3 and SMTP.
 *
 * Implicit TLS is listed first (RFC 8314 §5.1), STARTTLS after it. User name: the address.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { domainOf, isValidAddress, normalizeAddress } from '#core/accounts/addresses.ts';
import type { MailEndpoints } from '#core/mail-endpoints.ts';
import { readBody, type HttpRequestContext, type HttpRoute } from './routes.ts';

export interface AutoconfigDeps {
  /** True when we serve `domain` (lower case). */
  servesDomain(domain: string): Promise<boolean>;
  /** The public endpoints (looked up per request: ports may be bound after the routes are made). */
  endpoints(): MailEndpoints;
}

/** Autodiscover requests are a few hundred octets; anything much larger is not one. */
const AUTODISCOVER_MAX_BODY = 16 * 1024;

export function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function notOurs(res: ServerResponse, what: string): void {
  send(res, 404, 'text/plain; charset=utf-8', `${what}\n`);
}

/** The Thunderbird config-v1.1 document for `domain`. */
export function thunderbirdConfig(domain: string, e: MailEndpoints): string {
  const server = (kind: 'incomingServer' | 'outgoingServer', type: string, port: number, socketType: 'SSL' | 'STARTTLS') =>
    [
      `    <${kind} type="${type}">`,
      `      <hostname>${xmlEscape(e.host)}</hostname>`,
      `      <port>${port}</port>`,
      `      <socketType>${socketType}</socketType>`,
      `      <authentication>password-cleartext</authentication>`,
      `      <username>%EMAILADDRESS%</username>`,
      `    </${kind}>`,
    ].join('\n');
  const d = xmlEscape(domain);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<clientConfig version="1.1">',
    `  <emailProvider id="${d}">`,
    `    <domain>${d}</domain>`,
    `    <displayName>${d} mail</displayName>`,
    `    <displayShortName>${d}</displayShortName>`,
    server('incomingServer', 'imap', e.imaps, 'SSL'),
    server('incomingServer', 'imap', e.imap, 'STARTTLS'),
    server('incomingServer', 'pop3', e.pop3s, 'SSL'),
    server('incomingServer', 'pop3', e.pop3, 'STARTTLS'),
    server('outgoingServer', 'smtp', e.submissions, 'SSL'),
    server('outgoingServer', 'smtp', e.submission, 'STARTTLS'),
    '  </emailProvider>',
    '</clientConfig>',
    '',
  ].join('\n');
}

/** The Autodiscover POX answer (outlook response schema 2006a) for `address`. */
export function autodiscoverResponse(address: string, e: MailEndpoints): string {
  const a = xmlEscape(address);
  const protocol = (type: string, port: number, tls: 'ssl' | 'starttls') =>
    [
      '      <Protocol>',
      `        <Type>${type}</Type>`,
      `        <Server>${xmlEscape(e.host)}</Server>`,
      `        <Port>${port}</Port>`,
      '        <DomainRequired>off</DomainRequired>',
      `        <LoginName>${a}</LoginName>`,
      '        <SPA>off</SPA>',
      tls === 'ssl' ? '        <SSL>on</SSL>' : '        <Encryption>TLS</Encryption>',
      '        <AuthRequired>on</AuthRequired>',
      ...(type === 'SMTP' ? ['        <UsePOPAuth>on</UsePOPAuth>'] : []),
      '      </Protocol>',
    ].join('\n');
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">',
    '  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">',
    '    <Account>',
    '      <AccountType>email</AccountType>',
    '      <Action>settings</Action>',
    protocol('IMAP', e.imaps, 'ssl'),
    protocol('POP3', e.pop3s, 'ssl'),
    protocol('SMTP', e.submissions, 'ssl'),
    '    </Account>',
    '  </Response>',
    '</Autodiscover>',
    '',
  ].join('\n');
}

/** The address in an Autodiscover request (`<EMailAddress>`), or null. No DTDs or entities are read. */
export function autodiscoverAddress(body: string): string | null {
  if (/<!DOCTYPE|<!ENTITY/i.test(body)) return null;
  const m = /<(?:[A-Za-z0-9_-]+:)?EMailAddress\s*>\s*([^<\s]+)\s*<\/(?:[A-Za-z0-9_-]+:)?EMailAddress\s*>/.exec(body);
  if (!m) return null;
  const address = normalizeAddress(m[1].replace(/&amp;/g, '&'));
  return isValidAddress(address) ? address : null;
}

/** The domain a Thunderbird request is about: `emailaddress=` if given, else the Host without `autoconfig.`. */
function thunderbirdDomain(ctx: HttpRequestContext): string | null {
  const address = ctx.url.searchParams.get('emailaddress');
  if (address !== null) {
    const a = normalizeAddress(address);
    return isValidAddress(a) ? domainOf(a) : null;
  }
  return ctx.url.hostname.toLowerCase().replace(/^autoconfig\./, '') || null;
}

export function autoconfigRoutes(deps: AutoconfigDeps): HttpRoute[] {
  const thunderbird = async (_req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext) => {
    const domain = thunderbirdDomain(ctx);
    if (!domain || !(await deps.servesDomain(domain))) return notOurs(res, 'no such mail domain here');
    send(res, 200, 'application/xml; charset=utf-8', thunderbirdConfig(domain, deps.endpoints()));
  };
  const autodiscover = async (req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext) => {
    const body = (await readBody(req, ctx, Math.min(ctx.maxBodyBytes ?? AUTODISCOVER_MAX_BODY, AUTODISCOVER_MAX_BODY))).toString('utf8');
    const address = autodiscoverAddress(body);
    if (!address) return send(res, 400, 'text/plain; charset=utf-8', 'expected an Autodiscover request with an EMailAddress\n');
    if (!(await deps.servesDomain(domainOf(address)))) return notOurs(res, 'no such mail domain here');
    ctx.log.debug('autodiscover', { domain: domainOf(address) });
    send(res, 200, 'application/xml; charset=utf-8', autodiscoverResponse(address, deps.endpoints()));
  };
  return [
    { path: '/mail/config-v1.1.xml', methods: ['GET'], handle: thunderbird },
    { path: '/.well-known/autoconfig/mail/config-v1.1.xml', methods: ['GET'], handle: thunderbird },
    { path: '/autodiscover/autodiscover.xml', methods: ['POST'], handle: autodiscover, maxBodyBytes: AUTODISCOVER_MAX_BODY },
    { path: '/Autodiscover/Autodiscover.xml', methods: ['POST'], handle: autodiscover, maxBodyBytes: AUTODISCOVER_MAX_BODY },
  ];
}
