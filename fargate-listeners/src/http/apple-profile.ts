/**
 * An Apple configuration profile (`.mobileconfig`, payload type com.apple.mail.managed) for a
 * signed-in user: `GET /profile/mail.mobileconfig` with HTTP Basic (RFC 7617) over TLS. Opening
 * it on iOS/macOS adds the IMAP account (implicit TLS, port 993) and SMTP submission (465) with
 * this deployment's host name; the password is not in the profile (the device asks for it).
 *
 * The profile is unsigned: devices show it as "Unverified" before installing. Signing would
 * need a CMS signature with the server's key; it changes nothing in what is configured.
 *
 * Logins go through the process's one throttle (auth-throttle.ts), shared with IMAP, POP3 and
 * submission: a refused client or account gets 429 without a password check. On the plain
 * development listener Basic is accepted only from loopback when MAIL_ALLOW_PLAINTEXT_LOOPBACK
 * allows it (as for the mail protocols); elsewhere 403.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { authenticate } from '#core/accounts/accounts.ts';
import { normalizeAddress } from '#core/accounts/addresses.ts';
import type { MailEndpoints } from '#core/mail-endpoints.ts';
import type { MailIndex } from '#core/ports/mail-index.ts';
import type { AuthThrottle } from '../auth-throttle.ts';
import { isLoopback } from '../tls.ts';
import { xmlEscape } from './autoconfig.ts';
import type { HttpRoute } from './routes.ts';

export interface AppleProfileDeps {
  index: MailIndex;
  throttle: AuthThrottle;
  endpoints(): MailEndpoints;
  allowPlaintextAuthOnLoopback: boolean;
}

export const APPLE_PROFILE_PATH = '/profile/mail.mobileconfig';

/** Credentials of an `Authorization: Basic` header (RFC 7617 §2, UTF-8), or null. */
export function basicCredentials(header: string | undefined): { user: string; password: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** A UUID made from `seed`: the same account gets the same profile, so installing it again replaces it. */
function uuidFrom(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`.toUpperCase();
}

export function appleMailProfile(address: string, e: MailEndpoints): string {
  const a = xmlEscape(address);
  const host = xmlEscape(e.host);
  const id = `${e.host.split('.').reverse().join('.')}.mail`;
  const key = (k: string, v: string) => `      <key>${k}</key>\n      ${v}`;
  const str = (s: string) => `<string>${s}</string>`;
  const account = [
    key('EmailAccountDescription', str(a)),
    key('EmailAccountType', str('EmailTypeIMAP')),
    key('EmailAddress', str(a)),
    key('IncomingMailServerAuthentication', str('EmailAuthPassword')),
    key('IncomingMailServerHostName', str(host)),
    key('IncomingMailServerPortNumber', `<integer>${e.imaps}</integer>`),
    key('IncomingMailServerUseSSL', '<true/>'),
    key('IncomingMailServerUsername', str(a)),
    key('OutgoingMailServerAuthentication', str('EmailAuthPassword')),
    key('OutgoingMailServerHostName', str(host)),
    key('OutgoingMailServerPortNumber', `<integer>${e.submissions}</integer>`),
    key('OutgoingMailServerUseSSL', '<true/>'),
    key('OutgoingMailServerUsername', str(a)),
    key('OutgoingPasswordSameAsIncomingPassword', '<true/>'),
    key('PayloadDisplayName', str(`Mail: ${a}`)),
    key('PayloadIdentifier', str(xmlEscape(`${id}.account.${uuidFrom(`account:${address}`)}`))),
    key('PayloadType', str('com.apple.mail.managed')),
    key('PayloadUUID', str(uuidFrom(`account:${e.host}:${address}`))),
    key('PayloadVersion', '<integer>1</integer>'),
  ].join('\n');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '<dict>',
    '  <key>PayloadContent</key>',
    '  <array>',
    '    <dict>',
    account,
    '    </dict>',
    '  </array>',
    '  <key>PayloadDescription</key>',
    `  <string>Mail account ${a} on ${host} (IMAP and SMTP with TLS)</string>`,
    '  <key>PayloadDisplayName</key>',
    `  <string>${a}</string>`,
    '  <key>PayloadIdentifier</key>',
    `  <string>${xmlEscape(`${id}.${uuidFrom(`profile:${address}`)}`)}</string>`,
    '  <key>PayloadRemovalDisallowed</key>',
    '  <false/>',
    '  <key>PayloadType</key>',
    '  <string>Configuration</string>',
    '  <key>PayloadUUID</key>',
    `  <string>${uuidFrom(`profile:${e.host}:${address}`)}</string>`,
    '  <key>PayloadVersion</key>',
    '  <integer>1</integer>',
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}

function challenge(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...extra });
  res.end(`${text}\n`);
}

const WWW_AUTHENTICATE = 'Basic realm="mail account", charset="UTF-8"';

export function appleProfileRoutes(deps: AppleProfileDeps): HttpRoute[] {
  return [
    {
      path: APPLE_PROFILE_PATH,
      methods: ['GET'],
      async handle(req, res, ctx) {
        if (!ctx.secure && !(deps.allowPlaintextAuthOnLoopback && isLoopback(ctx.remoteAddress))) return challenge(res, 403, 'sign in over HTTPS');
        const creds = basicCredentials(req.headers.authorization);
        if (!creds) return challenge(res, 401, 'sign in with your mail address and password', { 'www-authenticate': WWW_AUTHENTICATE });
        const attempt = await deps.throttle.begin(ctx.remoteAddress, creds.user);
        if (!attempt) return challenge(res, 429, 'too many failed logins; try again later', { 'retry-after': '900' });
        let user;
        try {
          user = await authenticate(deps.index, creds.user, creds.password);
        } catch (err) {
          attempt.release();
          throw err;
        }
        if (!user) {
          attempt.fail();
          ctx.log.info('profile login failed', { user: normalizeAddress(creds.user) });
          return challenge(res, 401, 'wrong address or password', { 'www-authenticate': WWW_AUTHENTICATE });
        }
        attempt.release();
        const body = appleMailProfile(user.address, deps.endpoints());
        res.writeHead(200, {
          'content-type': 'application/x-apple-aspen-config',
          'content-disposition': 'attachment; filename="mail.mobileconfig"',
          'cache-control': 'no-store',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      },
    },
  ];
}
