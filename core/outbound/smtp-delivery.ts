/**
 * One SMTP transaction to one host (nodemailer's SMTP client): EHLO, STARTTLS when offered
 * (opportunistic, RFC 3207 / RFC 7435 — certificates of MX hosts are not verified, as no
 * policy says they must be) or required (smart host), AUTH for a smart host, then MAIL/RCPT/
 * DATA with PIPELINING (RFC 2920), SIZE (RFC 1870), BODY=8BITMIME (RFC 6152) and SMTPUTF8
 * (RFC 6531) when the server offers them. The outcome is per recipient.
 */
import { isIP } from 'node:net';
import SMTPConnection from 'nodemailer/lib/smtp-connection';

export interface SmtpTarget {
  /** Address (or name) to connect to. */
  host: string;
  port: number;
  /** The host's DNS name: TLS SNI, logs and the DSN's Remote-MTA. */
  name: string;
  tls: 'opportunistic' | 'starttls' | 'implicit' | 'none';
  verifyCertificate: boolean;
  auth?: { user: string; pass: string };
}

export interface SmtpEnvelope {
  from: string;
  to: string[];
  size: number;
  eightBit: boolean;
  smtputf8: boolean;
}

export interface RecipientReply {
  recipient: string;
  code: number;
  reply: string;
}

export type SmtpAttempt =
  /** Could not get a usable session (refused, timeout, TLS failure, greeting 4xx, ...): try another host. */
  | { kind: 'unreachable'; reply: string; code?: number }
  /** The server refused the whole transaction (MAIL FROM, AUTH, DATA, or the message after DATA). */
  | { kind: 'refused'; code: number; reply: string }
  /** The transaction ran: each recipient's outcome (2xx delivered, 4xx later, 5xx never). */
  | { kind: 'done'; replies: RecipientReply[] };

export interface SmtpOptions {
  /** Our name in EHLO. */
  ehloName: string;
  connectTimeoutMs: number;
  /** Inactivity limit during the session (RFC 5321 §4.5.3.2 suggests minutes). */
  socketTimeoutMs?: number;
  /** Source address of the connection (sourceAddressFor); unset: the system chooses. */
  localAddress?: string;
}

/**
 * The source address for a connection to `destination` from a server configured to send from
 * `bind` (config.outbound.bindAddress): bind itself, except where it cannot work — an address
 * of the other family, or a loopback address towards a host that is not loopback.
 */
export function sourceAddressFor(bind: string | null, destination: string): string | undefined {
  if (!bind) return undefined;
  const loopback = (a: string) => a === '::1' || /^127\./.test(a.replace(/^::ffff:/, ''));
  const family = isIP(destination);
  if (family && family !== isIP(bind)) return undefined;
  if (loopback(bind) && !(family && loopback(destination))) return undefined;
  return bind;
}

function replyOf(err: any): { code?: number; reply: string } {
  const reply = typeof err?.response === 'string' ? err.response.replace(/\r?\n/g, ' ') : String(err?.message ?? err);
  return { code: typeof err?.responseCode === 'number' ? err.responseCode : undefined, reply };
}

export async function deliverSmtp(target: SmtpTarget, envelope: SmtpEnvelope, message: Buffer, options: SmtpOptions): Promise<SmtpAttempt> {
  // SNI carries host names only (RFC 6066 §3).
  const servername = isIP(target.name) ? undefined : target.name;
  const conn = new SMTPConnection({
    host: target.host,
    port: target.port,
    secure: target.tls === 'implicit',
    ignoreTLS: target.tls === 'none',
    requireTLS: target.tls === 'starttls',
    opportunisticTLS: target.tls === 'opportunistic',
    name: options.ehloName,
    servername,
    connectionTimeout: options.connectTimeoutMs,
    greetingTimeout: options.connectTimeoutMs,
    socketTimeout: options.socketTimeoutMs ?? 120_000,
    socketCloseTimeout: 0,
    tls: { rejectUnauthorized: target.verifyCertificate, servername, minVersion: 'TLSv1.2' },
    logger: false,
    allowInternalNetworkInterfaces: true,
    localAddress: options.localAddress,
  });
  // Connection errors arrive as 'error' events (not through the callbacks), and a server that
  // hangs up arrives as 'end': either ends whatever step is waiting.
  let lost: (err: unknown) => void = () => {};
  const connectionLost = new Promise<never>((_resolve, reject) => {
    lost = reject;
  });
  connectionLost.catch(() => {});
  conn.on('error', (err: unknown) => lost(err));
  conn.once('end', () => lost(new Error('connection closed by the server')));
  const step = <T>(run: (done: (err?: Error | null, value?: T) => void) => void): Promise<T> =>
    Promise.race([new Promise<T>((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value as T)))), connectionLost]);
  try {
    try {
      await step<void>((done) => conn.connect((err?: Error | null) => done(err)));
    } catch (err) {
      return { kind: 'unreachable', ...replyOf(err) };
    }
    if (target.auth) {
      try {
        await step<void>((done) => conn.login({ user: target.auth!.user, pass: target.auth!.pass }, (err?: Error | null) => done(err)));
      } catch (err) {
        // A refused login is our configuration's fault, not the message's: retry, never bounce.
        const r = replyOf(err);
        return { kind: 'unreachable', code: r.code, reply: `authentication failed: ${r.reply}` };
      }
    }
    const extensions: string[] = (conn as any)._supportedExtensions ?? [];
    if (envelope.smtputf8 && !extensions.includes('SMTPUTF8')) {
      // RFC 6531 §3.4: a message that needs SMTPUTF8 cannot go to a server without it.
      return { kind: 'refused', code: 553, reply: '553 5.6.7 The receiving server does not support SMTPUTF8 (RFC 6531)' };
    }
    return await Promise.race([
      connectionLost.catch((err: unknown): SmtpAttempt => ({ kind: 'unreachable', reply: replyOf(err).reply })),
      new Promise<SmtpAttempt>((resolve) => {
        conn.send({ from: envelope.from, to: envelope.to, size: envelope.size, use8BitMime: envelope.eightBit } as any, message, (err: any, info: any) => {
          if (!err) {
            const rejected = new Map<string, any>();
            for (const e of info.rejectedErrors ?? []) rejected.set(e.recipient, e);
            const final = String(info.response ?? '250 OK').replace(/\r?\n/g, ' ');
            const replies = envelope.to.map((r): RecipientReply => {
              const e = rejected.get(r);
              if (e) return { recipient: r, ...replyOrDefault(e) };
              return { recipient: r, code: Number(final.slice(0, 3)) || 250, reply: final };
            });
            return resolve({ kind: 'done', replies });
          }
          const r = replyOf(err);
          if (err.code === 'EENVELOPE' && err.command === 'RCPT TO' && Array.isArray(err.rejectedErrors)) {
            // Every recipient refused: each has its own reply.
            const rejected = new Map<string, any>(err.rejectedErrors.map((e: any) => [e.recipient, e]));
            return resolve({ kind: 'done', replies: envelope.to.map((rcpt) => ({ recipient: rcpt, ...replyOrDefault(rejected.get(rcpt) ?? err) })) });
          }
          if (r.code && r.code >= 400) {
            // MAIL FROM or DATA (or the final reply after the message) refused: for every recipient
            // the server had accepted; those it had refused at RCPT keep their own reply.
            const state = (conn as any)._envelope;
            const own = new Map<string, any>((state?.rejectedErrors ?? []).map((e: any) => [e.recipient, e]));
            if (own.size === 0 || err.command === 'MAIL FROM') return resolve({ kind: 'refused', code: r.code, reply: r.reply });
            return resolve({
              kind: 'done',
              replies: envelope.to.map((rcpt) => ({ recipient: rcpt, ...(own.has(rcpt) ? replyOrDefault(own.get(rcpt)) : { code: r.code!, reply: r.reply }) })),
            });
          }
          if (err.code === 'EMESSAGE' && /larger than allowed/.test(String(err.message))) {
            // RFC 1870: the server's SIZE limit is below our message.
            return resolve({ kind: 'refused', code: 552, reply: `552 5.3.4 ${err.message}` });
          }
          // Connection lost, timeout, protocol confusion: nothing is known to be delivered.
          return resolve({ kind: 'unreachable', reply: r.reply });
        });
      }),
    ]);
  } finally {
    try {
      conn.quit();
    } catch {
      // already closed
    }
    conn.close();
  }
}

function replyOrDefault(e: any): { code: number; reply: string } {
  const r = replyOf(e);
  return { code: r.code ?? 451, reply: r.reply };
}

/** The RFC 3463 status in a reply (`550 5.1.1 ...`), else one derived from the reply code. */
export function enhancedStatus(code: number, reply: string): string {
  const m = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply);
  if (m) return m[1];
  return code >= 500 ? '5.0.0' : code >= 400 ? '4.0.0' : '2.0.0';
}
