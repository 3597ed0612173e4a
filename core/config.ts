/**
 * Runtime configuration from the environment, with the defaults of the local runtime
 * (README.md, "Configuration"). Every listener and job reads it from here.
 */
import { DEFAULT_JUNK_THRESHOLD } from './junk/classifier.ts';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isValidAddress, normalizeAddress } from './accounts/addresses.ts';
import { DEFAULT_DIRECTORY_CACHE_SECONDS } from './accounts/directory-cache.ts';
import { DEFAULT_AUTH_CACHE_SECONDS } from './accounts/verified-credentials.ts';

export interface MailConfig {
  runtime: 'local' | 'aws';
  hostname: string;
  dataDir: string;
  bind: string;
  ports: {
    smtp: number;
    submission: number;
    submissions: number;
    imap: number;
    imaps: number;
    pop3: number;
    pop3s: number;
  };
  /** SMTP SIZE limit in octets (of the message with CRLF line endings, as stored). */
  maxMessageSize: number;
  /**
   * Refuse SMTP DATA with a bare LF or bare CR (550 5.5.2) instead of storing it with CRLF
   * line endings; like Postfix 3.9's smtpd_forbid_bare_newline. Default false: repair.
   */
  smtpForbidBareNewline: boolean;
  /** PEM files; when unset the local runtime makes a self-signed pair under dataDir/tls. */
  tlsCertFile: string | null;
  tlsKeyFile: string | null;
  /** Allow AUTH/LOGIN/USER without TLS on loopback connections (development only). */
  allowPlaintextAuthOnLoopback: boolean;
  /** Seconds a client may stay silent before the server closes the connection. */
  idleTimeoutSeconds: number;
  /** Seconds domains and users are cached by the MX listener and ingest (core/accounts/directory-cache.ts); 0 = off. */
  directoryCacheSeconds: number;
  /**
   * Seconds between the IMAP IDLE watcher's safety-net checks of each watched mailbox
   * (fargate-listeners/src/imap/session/commands/idle.ts); changes normally arrive at once
   * through the change feed. At least 1.
   */
  idlePollSeconds: number;
  /** Open connections each listener accepts at most (more are refused: file handles are finite). */
  maxConnections: number;
  /** The HTTPS listener and its development twin (fargate-listeners/src/http/). */
  http: HttpConfig;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Run the queue workers in this process (local runtime; MAIL_WORKERS=0 for listeners only). */
  workers: boolean;
  /** Authentication failure throttling (one per process: IMAP, POP3, submission). */
  authThrottle: AuthThrottleConfig;
  /** Seconds a verified password is remembered (core/accounts/verified-credentials.ts); 0 = off. */
  authCacheSeconds: number;
  /** Refused recipients on the MX listener (directory harvesting, fargate-listeners/src/smtp/bad-recipients.ts). */
  badRecipients: BadRecipientConfig;
  /** Default destination of postmaster mail for domains without their own (core/accounts/postmaster.ts). */
  postmasterAddress: string | null;
  /** The DNS resolver used for MX lookups (core/dns). */
  dns: DnsConfig;
  /** Outbound delivery (core/outbound). */
  outbound: OutboundConfig;
  /** When set, all outbound mail goes to this relay instead of the recipients' MX hosts. */
  smartHost: SmartHostConfig | null;
  /** Secrets Manager secret holding DKIM keys (AWS); null: keys live in the blob store under keys/dkim/. */
  dkimKeysSecretArn: string | null;
  /** Inbound trust at the MX: SPF, DKIM, DMARC, ARC, reverse DNS, blocklists, rate limits (fargate-listeners/src/smtp/trust/). */
  inbound: InboundTrustConfig;
}

export interface InboundTrustConfig {
  /** RFC 8601 authserv-id of our Authentication-Results fields (AUTHSERV_ID, default MAIL_HOSTNAME). */
  authservId: string;
  /**
   * Clients whose mail is neither verified nor rate-limited nor checked against blocklists
   * (SMTP_TRUSTED_NETWORKS, CIDR list; default loopback, like OpenDMARC's IgnoreHosts).
   */
  trustedNetworks: string[];
  /** What mail judged spam (GTUBE) gets: delivered to Junk, or refused with 550 5.7.1. */
  spamAction: 'junk' | 'reject';
  /** What a DMARC p=reject failure gets: refused with 550 5.7.1, or delivered to Junk. */
  dmarcRejectAction: 'reject' | 'junk';
  /** ARC sealers (d= domains) whose chain may override a DMARC failure (RFC 8617 §7.2.1). */
  arcTrustedSealers: string[];
  /** Longest time any DNS answer of the verification is cached, seconds (core/dns/auth-resolver.ts); 0 = off. */
  dnsCacheSeconds: number;
  /** DNS blocklist zones asked at connect (RFC 5782); a listed client gets 554 5.7.1. */
  dnsblZones: string[];
  /** Refuse clients without forward-confirmed reverse DNS (550 5.7.25, RFC 7372); false: recorded as iprev only. */
  requireFcrdns: boolean;
  /** Refuse a HELO that claims to be this server, one of our domains, or another IP address than the client's. */
  heloChecks: boolean;
  /**
   * Octets of memory all messages being verified may hold together (SMTP_VERIFY_MEMORY_MB),
   * counting VERIFY_COPIES_PER_MESSAGE copies of each; more wait (451 4.3.1). At least enough
   * for one message of maxMessageSize.
   */
  verifyMemoryBytes: number;
  /** The most of verifyMemoryBytes one client (address, IPv6 /64) may hold: a quarter, or one largest message if more. */
  verifyMemoryPerClientBytes: number;
  /** New connections per client address (IPv6: per /64) per minute; 0 = no limit. */
  connectionsPerMinute: number;
  /** Messages (accepted DATA) per client address (IPv6: per /64) per minute; 0 = no limit. */
  messagesPerMinute: number;
  /** Junk score (core/junk/) from which MX mail goes to Junk (JUNK_THRESHOLD, above 0.5, default 0.9). */
  junkThreshold: number;
  /** rspamd's scan API asked about every message at the MX (RSPAMD_URL; fargate-listeners/src/smtp/trust/rspamd.ts); null: not used. */
  rspamd: RspamdConfig | null;
}

export interface RspamdConfig {
  /** The normal worker's base URL (http or https), e.g. http://127.0.0.1:11333; /checkv2 is asked. */
  url: string;
  /** The longest a scan may take, waiting for a free request included (RSPAMD_TIMEOUT_MS). */
  timeoutMs: number;
  /** Scans in flight at once per listener (RSPAMD_MAX_REQUESTS); more wait for a free one. */
  maxRequests: number;
  /** rspamd unreachable, timing out or answering garbage: deliver as without it ('open'), or 451 4.3.0 ('tempfail'). */
  fail: 'open' | 'tempfail';
  /** Sent as Settings-ID (RSPAMD_SETTINGS_ID): which of rspamd's settings apply; null: rspamd's rules decide. */
  settingsId: string | null;
}

export interface AuthThrottleConfig {
  /** Failed logins from one client address within the window before further attempts are refused. */
  maxFailuresPerClient: number;
  /** Failed logins for one account (from any address) within the window before it is refused. */
  maxFailuresPerAccount: number;
  windowSeconds: number;
}

export interface BadRecipientConfig {
  /** Refused RCPTs per session, and per client address within the window, before 421 and disconnect; 0 = no limit. */
  max: number;
  /** Wait before answering each refused RCPT once half of `max` is reached (tarpit). */
  delayMs: number;
  windowSeconds: number;
}

export interface DnsConfig {
  /** `host` or `host:port` (IPv6: `[addr]:port`); empty = the system's resolvers. */
  servers: string[];
  timeoutMs: number;
  tries: number;
}

export interface OutboundConfig {
  /** TCP port of remote MX hosts (25; tests point it at a test server's port). */
  smtpPort: number;
  /** First retry delay after a temporary failure; doubles per attempt up to retryMaxSeconds. */
  retryBaseSeconds: number;
  retryMaxSeconds: number;
  /** Give up (and bounce) a message not delivered after this many seconds (RFC 5321 §4.5.4.1: 4-5 days). */
  maxAgeSeconds: number;
  /** More Received: headers than this → bounce as a mail loop (RFC 5321 §6.3). */
  maxReceivedHeaders: number;
  /** TCP connect + greeting timeout per host. */
  connectTimeoutSeconds: number;
  /**
   * Source address of outbound connections (so SPF sees the address the server is known by):
   * OUTBOUND_BIND, else MAIL_BIND when it is set to one address; null lets the system choose.
   */
  bindAddress: string | null;
}

export interface SmartHostConfig {
  host: string;
  port: number;
  /** 'starttls' (required), 'implicit' (TLS from the first byte, port 465) or 'none'. */
  tls: 'starttls' | 'implicit' | 'none';
  user: string | null;
  password: string | null;
  /** AWS: a Secrets Manager secret {"user","password"} with the credentials (when user is unset). */
  secretArn: string | null;
  /** Verify the relay's certificate (default true). */
  verifyCertificate: boolean;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const n = int(env, name, fallback);
  if (n === 0) throw new Error(`${name} must be at least 1, got 0`);
  return n;
}

function between(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const n = int(env, name, fallback);
  if (n < min || n > max) throw new Error(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  return /^(1|true|yes|on)$/i.test(v);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): MailConfig {
  const runtime = env.MAIL_RUNTIME === 'aws' ? 'aws' : 'local';
  const level = env.LOG_LEVEL;
  return {
    runtime,
    hostname: env.MAIL_HOSTNAME || os.hostname() || 'localhost',
    dataDir: path.resolve(env.MAIL_DATA_DIR || (runtime === 'local' ? defaultLocalDataDir() : './data')),
    bind: env.MAIL_BIND || (runtime === 'aws' ? '0.0.0.0' : '127.0.0.1'),
    ports: {
      smtp: int(env, 'SMTP_PORT', runtime === 'aws' ? 25 : 2525),
      submission: int(env, 'SUBMISSION_PORT', runtime === 'aws' ? 587 : 2587),
      submissions: int(env, 'SUBMISSIONS_PORT', runtime === 'aws' ? 465 : 2465),
      imap: int(env, 'IMAP_PORT', runtime === 'aws' ? 143 : 1143),
      imaps: int(env, 'IMAPS_PORT', runtime === 'aws' ? 993 : 1993),
      pop3: int(env, 'POP3_PORT', runtime === 'aws' ? 110 : 1110),
      pop3s: int(env, 'POP3S_PORT', runtime === 'aws' ? 995 : 1995),
    },
    maxMessageSize: int(env, 'MAX_MESSAGE_SIZE', DEFAULT_MAX_MESSAGE_SIZE),
    smtpForbidBareNewline: bool(env, 'SMTP_FORBID_BARE_NEWLINE', false),
    tlsCertFile: env.TLS_CERT_FILE || null,
    tlsKeyFile: env.TLS_KEY_FILE || null,
    allowPlaintextAuthOnLoopback: bool(env, 'MAIL_ALLOW_PLAINTEXT_LOOPBACK', runtime === 'local'),
    idleTimeoutSeconds: int(env, 'MAIL_IDLE_TIMEOUT', 300),
    directoryCacheSeconds: int(env, 'DIRECTORY_CACHE_SECONDS', DEFAULT_DIRECTORY_CACHE_SECONDS),
    // At most a day: a timer longer than 2^31 ms would fire at once (Node clamps it to 1 ms).
    idlePollSeconds: between(env, 'IDLE_POLL_SECONDS', 60, 1, 86_400),
    maxConnections: int(env, 'MAIL_MAX_CONNECTIONS', 5000),
    http: httpConfig(env, runtime),
    workers: bool(env, 'MAIL_WORKERS', runtime === 'local'),
    authCacheSeconds: int(env, 'AUTH_CACHE_SECONDS', DEFAULT_AUTH_CACHE_SECONDS),
    authThrottle: {
      maxFailuresPerClient: int(env, 'AUTH_MAX_FAILURES_PER_CLIENT', 10),
      maxFailuresPerAccount: int(env, 'AUTH_MAX_FAILURES_PER_ACCOUNT', 20),
      windowSeconds: int(env, 'AUTH_FAILURE_WINDOW', 900),
    },
    badRecipients: {
      max: int(env, 'SMTP_MAX_BAD_RCPT', 20),
      delayMs: int(env, 'SMTP_BAD_RCPT_DELAY_MS', 1000),
      windowSeconds: int(env, 'SMTP_BAD_RCPT_WINDOW', 900),
    },
    postmasterAddress: postmasterAddress(env),
    dns: {
      servers: (env.DNS_SERVERS || '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      timeoutMs: int(env, 'DNS_TIMEOUT_MS', 5000),
      tries: int(env, 'DNS_TRIES', 2),
    },
    outbound: {
      smtpPort: int(env, 'OUTBOUND_SMTP_PORT', 25),
      retryBaseSeconds: int(env, 'OUTBOUND_RETRY_BASE', 300),
      retryMaxSeconds: int(env, 'OUTBOUND_RETRY_MAX', 4 * 3600),
      maxAgeSeconds: int(env, 'OUTBOUND_MAX_AGE', 5 * 24 * 3600),
      maxReceivedHeaders: int(env, 'OUTBOUND_MAX_RECEIVED', 50),
      connectTimeoutSeconds: int(env, 'OUTBOUND_CONNECT_TIMEOUT', 30),
      bindAddress: outboundBind(env),
    },
    smartHost: smartHost(env),
    dkimKeysSecretArn: env.DKIM_KEYS_SECRET_ARN || null,
    inbound: inboundTrust(env),
    logLevel: level === 'debug' || level === 'warn' || level === 'error' ? level : 'info',
  };
}

/** A comma-separated list; `none` (or empty) is the empty list. */
function list(env: NodeJS.ProcessEnv, name: string, fallback: string[]): string[] {
  const v = env[name];
  if (v === undefined) return fallback;
  const items = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return items.length === 1 && items[0].toLowerCase() === 'none' ? [] : items;
}

/**
 * Copies of a message the MX holds at once while it verifies and stores it
 * (fargate-listeners/src/smtp/accept-message.ts): the gathered message; while mailauth
 * verifies it, about one more (measured: a 20 MiB message raised the heap and buffers by
 * about 21 MiB during authenticate()), or the copy without forged Authentication-Results;
 * then the stored blob's body (trace fields and message, concatenated for one put).
 */
export const VERIFY_COPIES_PER_MESSAGE = 3;

const DEFAULT_MAX_MESSAGE_SIZE = 25 * 1024 * 1024;

function verifyMemory(env: NodeJS.ProcessEnv, maxMessageSize: number): { total: number; perClient: number } {
  const mb = int(env, 'SMTP_VERIFY_MEMORY_MB', 128);
  const total = mb * 1024 * 1024;
  const one = VERIFY_COPIES_PER_MESSAGE * maxMessageSize;
  if (total < one)
    throw new Error(
      `SMTP_VERIFY_MEMORY_MB must be at least ${Math.ceil(one / 1024 / 1024)} (${VERIFY_COPIES_PER_MESSAGE} copies of a MAX_MESSAGE_SIZE message are held while it is checked), got ${JSON.stringify(env.SMTP_VERIFY_MEMORY_MB)}`,
    );
  return { total, perClient: Math.max(Math.floor(total / 4), one) };
}

function inboundTrust(env: NodeJS.ProcessEnv): InboundTrustConfig {
  const trustedNetworks = list(env, 'SMTP_TRUSTED_NETWORKS', ['127.0.0.0/8', '::1/128']);
  for (const n of trustedNetworks) {
    const [addr, bits] = n.split('/');
    const family = net.isIP(addr);
    const max = family === 6 ? 128 : 32;
    if (!family || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max)))
      throw new Error(`SMTP_TRUSTED_NETWORKS must list addresses or CIDR networks (127.0.0.0/8, ::1/128) or be none, got ${JSON.stringify(n)}`);
  }
  const action = (env.DMARC_REJECT_ACTION || 'reject').toLowerCase();
  if (action !== 'reject' && action !== 'junk') throw new Error(`DMARC_REJECT_ACTION must be reject or junk, got ${JSON.stringify(action)}`);
  const spam = (env.SPAM_ACTION || 'junk').toLowerCase();
  const memory = verifyMemory(env, int(env, 'MAX_MESSAGE_SIZE', DEFAULT_MAX_MESSAGE_SIZE));
  if (spam !== 'reject' && spam !== 'junk') throw new Error(`SPAM_ACTION must be junk or reject, got ${JSON.stringify(spam)}`);
  return {
    authservId: env.AUTHSERV_ID || env.MAIL_HOSTNAME || os.hostname() || 'localhost',
    trustedNetworks,
    dmarcRejectAction: action,
    spamAction: spam,
    arcTrustedSealers: list(env, 'ARC_TRUSTED_SEALERS', []).map((d) => d.toLowerCase().replace(/\.$/, '')),
    dnsCacheSeconds: int(env, 'DNS_CACHE_SECONDS', 300),
    dnsblZones: list(env, 'DNSBL_ZONES', []).map((z) => z.toLowerCase().replace(/\.$/, '')),
    requireFcrdns: bool(env, 'SMTP_REQUIRE_FCRDNS', false),
    heloChecks: bool(env, 'SMTP_HELO_CHECKS', true),
    verifyMemoryBytes: memory.total,
    verifyMemoryPerClientBytes: memory.perClient,
    connectionsPerMinute: int(env, 'SMTP_CONNECTIONS_PER_MINUTE', 60),
    messagesPerMinute: int(env, 'SMTP_MESSAGES_PER_MINUTE', 120),
    junkThreshold: junkThreshold(env),
    rspamd: rspamdConfig(env),
  };
}

function rspamdConfig(env: NodeJS.ProcessEnv): RspamdConfig | null {
  const raw = env.RSPAMD_URL?.trim();
  if (!raw) return null;
  let url: URL | null;
  try {
    url = new URL(raw);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname || url.search || url.hash || url.username)
    throw new Error(`RSPAMD_URL must be an http(s) URL of rspamd's normal worker (e.g. http://127.0.0.1:11333), got ${JSON.stringify(raw)}`);
  const fail = (env.RSPAMD_FAIL || 'open').toLowerCase();
  if (fail !== 'open' && fail !== 'tempfail') throw new Error(`RSPAMD_FAIL must be open or tempfail, got ${JSON.stringify(env.RSPAMD_FAIL)}`);
  const settingsId = env.RSPAMD_SETTINGS_ID?.trim() || null;
  if (settingsId && !/^[\x21-\x7e]+$/.test(settingsId))
    throw new Error(`RSPAMD_SETTINGS_ID must be a printable ASCII token, got ${JSON.stringify(settingsId)}`);
  return {
    url: url.href,
    timeoutMs: positive(env, 'RSPAMD_TIMEOUT_MS', 5000),
    maxRequests: positive(env, 'RSPAMD_MAX_REQUESTS', 16),
    fail,
    settingsId,
  };
}

/** JUNK_THRESHOLD: a number above 0.5 (a neutral score never junk) and at most 1. */
function junkThreshold(env: NodeJS.ProcessEnv): number {
  const v = env.JUNK_THRESHOLD;
  if (v === undefined || v === '') return DEFAULT_JUNK_THRESHOLD;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0.5 || n > 1) throw new Error(`JUNK_THRESHOLD must be a number above 0.5 and at most 1, got ${JSON.stringify(v)}`);
  return n;
}

function postmasterAddress(env: NodeJS.ProcessEnv): string | null {
  if (!env.POSTMASTER_ADDRESS) return null;
  const address = normalizeAddress(env.POSTMASTER_ADDRESS);
  if (!isValidAddress(address)) throw new Error(`POSTMASTER_ADDRESS must be an address (user@domain), got ${JSON.stringify(env.POSTMASTER_ADDRESS)}`);
  return address;
}

/**
 * The project's own data directory (<project>/data): the same for `npm start` and for mailctl
 * run from any directory, so an administrator never works on a second, empty store.
 */
export function defaultLocalDataDir(): string {
  return path.resolve(import.meta.dirname, '..', 'data');
}

function outboundBind(env: NodeJS.ProcessEnv): string | null {
  const explicit = env.OUTBOUND_BIND?.trim();
  if (explicit) {
    if (!net.isIP(explicit)) throw new Error(`OUTBOUND_BIND must be an IP address of this machine, got ${JSON.stringify(explicit)}`);
    return explicit;
  }
  const bind = env.MAIL_BIND?.trim();
  // A wildcard or a host name says nothing about which address to send from.
  if (!bind || !net.isIP(bind) || bind === '0.0.0.0' || bind === '::') return null;
  return bind;
}

function smartHost(env: NodeJS.ProcessEnv): SmartHostConfig | null {
  const host = env.SMART_HOST;
  if (!host) return null;
  const tls = (env.SMART_HOST_TLS || 'starttls').toLowerCase();
  if (tls !== 'starttls' && tls !== 'implicit' && tls !== 'none')
    throw new Error(`SMART_HOST_TLS must be starttls, implicit or none, got ${JSON.stringify(tls)}`);
  return {
    host,
    port: int(env, 'SMART_HOST_PORT', tls === 'implicit' ? 465 : 587),
    tls,
    user: env.SMART_HOST_USER || null,
    password: env.SMART_HOST_PASSWORD || null,
    secretArn: env.SMART_HOST_SECRET_ARN || null,
    verifyCertificate: bool(env, 'SMART_HOST_VERIFY_CERT', true),
  };
}

export interface HttpConfig {
  /** HTTPS (TLS with the mail certificate): 8443 locally, 443 on AWS (the stack sets 8443 behind the NLB). */
  httpsPort: number;
  /** Plain HTTP for development (8080; off by default on AWS); `null` (HTTP_PORT=off) turns it off. */
  httpPort: number | null;
  /** Where the plain HTTP listener binds: loopback unless HTTP_BIND says otherwise. */
  httpBind: string;
  /** Origins (scheme://host[:port]) allowed cross-origin requests (CORS); empty: none. */
  corsOrigins: string[];
  /** Largest request header section in octets (larger: 431). */
  maxHeaderBytes: number;
  /** Largest request body the listener lets a route read, in octets (larger: 413). */
  maxBodyBytes: number;
  /** Milliseconds a client may take to send the request headers / the whole request (slowloris). */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** MTA-STS policy (RFC 8461 §3.2): mode and max_age; mx lines are the host names in `mtaStsMx`. */
  mtaStsMode: 'enforce' | 'testing' | 'none';
  mtaStsMaxAge: number;
  /** MX host names for the policy; empty: MAIL_HOSTNAME. */
  mtaStsMx: string[];
  /**
   * JMAP (fargate-listeners/src/jmap/, docs/jmap.md) and the webmail on it; on unless
   * JMAP_ENABLED=false (for a server that should offer only SMTP, IMAP and POP3).
   */
  jmapEnabled: boolean;
  /**
   * The built webmail (webmail/build.ts) served at `/` with JMAP: WEBMAIL_DIR, by default
   * dist/webmail of the checkout locally (`npm start` builds it) and none on AWS unless set (the
   * container image sets /app/webmail). `null` (WEBMAIL_DIR=off): no webmail.
   */
  webmailDir: string | null;
}

function commaList(env: NodeJS.ProcessEnv, name: string): string[] {
  return (env[name] || '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function httpConfig(env: NodeJS.ProcessEnv, runtime: 'local' | 'aws'): HttpConfig {
  const mode = (env.MTA_STS_MODE || 'enforce').toLowerCase();
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none')
    throw new Error(`MTA_STS_MODE must be enforce, testing or none, got ${JSON.stringify(mode)}`);
  const corsOrigins = commaList(env, 'HTTP_CORS_ORIGINS').map((o) => {
    let url: URL;
    try {
      url = new URL(o);
    } catch {
      throw new Error(`HTTP_CORS_ORIGINS: not an origin: ${JSON.stringify(o)}`);
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== o.replace(/\/$/, ''))
      throw new Error(`HTTP_CORS_ORIGINS: not an origin (scheme://host[:port]): ${JSON.stringify(o)}`);
    return url.origin;
  });
  const off = /^(off|none|false)$/i.test(env.HTTP_PORT ?? '');
  const headersTimeout = positive(env, 'HTTP_HEADERS_TIMEOUT', 20);
  const requestTimeout = positive(env, 'HTTP_REQUEST_TIMEOUT', 120);
  if (headersTimeout > requestTimeout) throw new Error(`HTTP_HEADERS_TIMEOUT (${headersTimeout}) must not exceed HTTP_REQUEST_TIMEOUT (${requestTimeout})`);
  return {
    httpsPort: int(env, 'HTTPS_PORT', runtime === 'aws' ? 443 : 8443),
    // The development listener: off on AWS unless asked for (nothing there reaches its loopback address).
    httpPort: off || (runtime === 'aws' && !env.HTTP_PORT) ? null : int(env, 'HTTP_PORT', 8080),
    httpBind: env.HTTP_BIND || '127.0.0.1',
    corsOrigins,
    maxHeaderBytes: positive(env, 'HTTP_MAX_HEADER_BYTES', 16 * 1024),
    maxBodyBytes: positive(env, 'HTTP_MAX_BODY_BYTES', 10 * 1024 * 1024),
    headersTimeoutMs: headersTimeout * 1000,
    requestTimeoutMs: requestTimeout * 1000,
    mtaStsMode: mode,
    mtaStsMaxAge: positive(env, 'MTA_STS_MAX_AGE', 604800),
    jmapEnabled: bool(env, 'JMAP_ENABLED', true),
    webmailDir: /^(off|none|false)$/i.test(env.WEBMAIL_DIR ?? '')
      ? null
      : env.WEBMAIL_DIR
        ? path.resolve(env.WEBMAIL_DIR)
        : runtime === 'local'
          ? path.resolve(import.meta.dirname, '../dist/webmail')
          : null,
    mtaStsMx: commaList(env, 'MTA_STS_MX').map((h) => h.toLowerCase().replace(/\.$/, '')),
  };
}
