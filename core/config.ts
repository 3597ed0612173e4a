/**
 * Runtime configuration from the environment, with the defaults of the local runtime
 * (README.md, "Configuration"). Every listener and job reads it from here.
 */
import os from 'node:os';
import path from 'node:path';

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
  /** SMTP SIZE limit in octets. */
  maxMessageSize: number;
  /** PEM files; when unset the local runtime makes a self-signed pair under dataDir/tls. */
  tlsCertFile: string | null;
  tlsKeyFile: string | null;
  /** Allow AUTH/LOGIN/USER without TLS on loopback connections (development only). */
  allowPlaintextAuthOnLoopback: boolean;
  /** Seconds a client may stay silent before the server closes the connection. */
  idleTimeoutSeconds: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
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
    dataDir: path.resolve(env.MAIL_DATA_DIR || './data'),
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
    maxMessageSize: int(env, 'MAX_MESSAGE_SIZE', 25 * 1024 * 1024),
    tlsCertFile: env.TLS_CERT_FILE || null,
    tlsKeyFile: env.TLS_KEY_FILE || null,
    allowPlaintextAuthOnLoopback: bool(env, 'MAIL_ALLOW_PLAINTEXT_LOOPBACK', runtime === 'local'),
    idleTimeoutSeconds: int(env, 'MAIL_IDLE_TIMEOUT', 300),
    logLevel: level === 'debug' || level === 'warn' || level === 'error' ? level : 'info',
  };
}
