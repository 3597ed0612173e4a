/**
 * rspamd at the MX (RSPAMD_URL): every message is posted to the normal worker's scan API,
 * `POST /checkv2` (rspamd protocol, https://rspamd.com/doc/developers/protocol.html), with the
 * envelope in request headers (IP, Helo, Hostname, From, Rcpt, Queue-Id, optionally
 * Settings-ID), and rspamd's action is applied before our 250:
 *
 *   reject                        → 550 5.7.1 at the end of DATA, nothing stored;
 *   soft reject, greylist         → 451 4.7.1 (the sender retries; rspamd's greylisting
 *                                   module, with Redis, lets the retry through);
 *   add header, rewrite subject,
 *   quarantine, discard           → delivered to Junk (the subject is never rewritten: the
 *                                   folder says it; nothing accepted is dropped);
 *   no action                     → as without rspamd.
 *
 * Every message rspamd judged gets X-Rspamd-Action, X-Rspamd-Score ("<score> / <reject
 * threshold>") and X-Rspamd-Symbols (the symbols that scored), plus X-Spam-Flag: YES when it
 * goes to Junk for rspamd; the sender's own X-Spam-*, X-Rspamd-* and X-Spamd-* fields are
 * removed first, so a sender cannot forge rspamd's verdict.
 *
 * rspamd unreachable, slower than RSPAMD_TIMEOUT_MS (waiting for one of RSPAMD_MAX_REQUESTS
 * request slots counts) or answering something that is not a scan result: with RSPAMD_FAIL=open
 * (the default) the message is judged as without rspamd and a warning is logged; with
 * RSPAMD_FAIL=tempfail it gets 451 4.3.0. Open is the default because rspamd is an extra layer:
 * SPF/DKIM/DMARC, GTUBE and the Junk rules still run without it, and deferring all mail during
 * an rspamd outage would delay every sender (and, after the senders' retry limits, bounce).
 */
import http from 'node:http';
import https from 'node:https';
import type { RspamdConfig } from '#core/config.ts';
import type { Logger } from '#core/log.ts';
import { withoutHeaderFields } from '#core/mime/header.ts';
import { smtpError } from '../enhanced-codes.ts';

/** rspamd's actions (rspamd's metric actions, plus the custom ones it ships). */
export type RspamdAction = 'reject' | 'soft reject' | 'greylist' | 'add header' | 'rewrite subject' | 'no action' | 'quarantine' | 'discard';
const ACTIONS = new Set<string>(['reject', 'soft reject', 'greylist', 'add header', 'rewrite subject', 'no action', 'quarantine', 'discard']);
const JUNK_ACTIONS = new Set<RspamdAction>(['add header', 'rewrite subject', 'quarantine', 'discard']);

export interface RspamdVerdict {
  action: RspamdAction;
  score: number;
  /** The reject threshold (required_score). */
  requiredScore: number;
  /** Symbols with a non-zero score, highest first, and GTUBE-like symbols that decide alone. */
  symbols: Array<{ name: string; score: number }>;
  /** rspamd's text for the SMTP reply (messages.smtp_message), printable ASCII; null: none. */
  smtpMessage: string | null;
}

/** What the MX knows about the message, sent as request headers. */
export interface ScanFacts {
  clientAddress: string;
  helo?: string;
  /** The client's forward-confirmed reverse DNS name, when it has one. */
  hostname?: string;
  mailFrom: string;
  rcptTo: string[];
  queueId?: string;
}

/** The response body read at most (a scan result is a few KiB; more is not rspamd). */
const MAX_RESPONSE = 1024 * 1024;

const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, '').trim();
/**
 * A header value as its UTF-8 octets (node writes a string's characters as latin1 octets and
 * refuses others): SMTPUTF8 addresses reach rspamd as UTF-8; control characters are dropped.
 */
// eslint-disable-next-line no-control-regex -- control characters are what must not pass
const octets = (s: string) => Buffer.from(s.replace(/[\x00-\x1f\x7f]/g, ''), 'utf8').toString('latin1');

/** A /checkv2 JSON answer as a verdict; throws when it is not one. */
export function parseCheckV2(body: string): RspamdVerdict {
  const json = JSON.parse(body) as Record<string, unknown>;
  const action = json.action;
  const score = json.score;
  if (typeof action !== 'string' || !ACTIONS.has(action) || typeof score !== 'number' || !Number.isFinite(score))
    throw new Error(`not a scan result: action ${JSON.stringify(action)}, score ${JSON.stringify(score)}`);
  const required = typeof json.required_score === 'number' && Number.isFinite(json.required_score) ? json.required_score : NaN;
  const symbols: RspamdVerdict['symbols'] = [];
  if (json.symbols && typeof json.symbols === 'object') {
    for (const [key, value] of Object.entries(json.symbols as Record<string, { score?: unknown }>)) {
      const s = typeof value?.score === 'number' && Number.isFinite(value.score) ? value.score : 0;
      const name = key.replace(/[^A-Za-z0-9_.-]/g, '');
      if (name && (s !== 0 || name === 'GTUBE')) symbols.push({ name, score: s });
    }
  }
  symbols.sort((a, b) => b.score - a.score || a.name.localeCompare(b.name));
  const messages = json.messages as Record<string, unknown> | undefined;
  const smtp = messages && typeof messages.smtp_message === 'string' ? printable(messages.smtp_message).slice(0, 200) : '';
  return { action: action as RspamdAction, score, requiredScore: required, symbols, smtpMessage: smtp || null };
}

/** The header fields (CRLF-terminated) recording rspamd's verdict in the stored message. */
export function rspamdFields(v: RspamdVerdict): string {
  const junk = JUNK_ACTIONS.has(v.action);
  let out = `X-Rspamd-Action: ${v.action}\r\n`;
  out += `X-Rspamd-Score: ${v.score.toFixed(2)} / ${Number.isNaN(v.requiredScore) ? '-' : v.requiredScore.toFixed(2)}\r\n`;
  const items = v.symbols.slice(0, 60).map((s) => `${s.name}(${s.score.toFixed(2)})`);
  if (items.length > 0) {
    // Folded at commas (RFC 5322 §2.2.3), lines of at most 78 characters where symbols allow.
    let line = 'X-Rspamd-Symbols:';
    const lines: string[] = [];
    for (const [i, item] of items.entries()) {
      const piece = ` ${item}${i < items.length - 1 ? ',' : ''}`;
      if (line.length + piece.length > 78 && line.trim().endsWith(',')) {
        lines.push(line);
        line = '\t' + piece.trimStart();
      } else line += piece;
    }
    lines.push(line);
    out += lines.join('\r\n') + '\r\n';
  }
  if (junk) out += 'X-Spam-Flag: YES\r\n';
  return out;
}

const SPAM_FIELD = /^x-(spam-|rspamd-|spamd-)/;

/** The message without the sender's X-Spam-*, X-Rspamd-* and X-Spamd-* fields (only ours are kept). */
export function withoutSpamFields(raw: Buffer): { message: Buffer; removed: number } {
  return withoutHeaderFields(raw, (f) => SPAM_FIELD.test(f.key));
}

/** What the MX does with a message after asking rspamd (refusals are thrown as smtpError). */
export interface RspamdOutcome {
  /** Header fields to store (rspamd's verdict); empty when rspamd did not answer (fail open). */
  fields: string;
  /** Why the message goes to Junk (e.g. "rspamd: add header (7.30)"), or null. */
  junk: string | null;
  verdict: RspamdVerdict | null;
}

export interface RspamdClient {
  /** Asks rspamd; resolves to a verdict or rejects with the reason it could not. */
  scan(message: Buffer, facts: ScanFacts): Promise<RspamdVerdict>;
  /** Asks rspamd and applies its action and RSPAMD_FAIL: throws 550 5.7.1 / 451 4.7.1 / 451 4.3.0. */
  judge(message: Buffer, facts: ScanFacts): Promise<RspamdOutcome>;
}

export function createRspamdClient(config: RspamdConfig, log: Logger): RspamdClient {
  const endpoint = new URL('checkv2', config.url.endsWith('/') ? config.url : config.url + '/');
  const transport = endpoint.protocol === 'https:' ? https : http;
  let active = 0;
  const waiting: Array<() => void> = [];

  const acquire = (signal: AbortSignal): Promise<void> => {
    if (active < config.maxRequests) {
      active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const start = () => {
        signal.removeEventListener('abort', onAbort);
        active++;
        resolve();
      };
      const onAbort = () => {
        const i = waiting.indexOf(start);
        if (i >= 0) waiting.splice(i, 1);
        reject(new Error(`no free request slot within ${config.timeoutMs} ms (RSPAMD_MAX_REQUESTS=${config.maxRequests})`));
      };
      waiting.push(start);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  };
  const release = () => {
    active--;
    waiting.shift()?.();
  };

  const post = (message: Buffer, facts: ScanFacts, signal: AbortSignal): Promise<string> =>
    new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {
        'Content-Type': 'message/rfc822',
        'Content-Length': message.length,
        IP: facts.clientAddress,
        // The null reverse-path (bounces) as rspamd reads it.
        From: facts.mailFrom ? octets(facts.mailFrom) : '<>',
        // One Rcpt header per recipient (the protocol's way; node sends an array as separate lines).
        Rcpt: facts.rcptTo.map(octets),
      };
      if (facts.helo) headers.Helo = octets(facts.helo);
      if (facts.hostname) headers.Hostname = octets(facts.hostname);
      if (facts.queueId) headers['Queue-Id'] = facts.queueId;
      if (config.settingsId) headers['Settings-ID'] = config.settingsId;
      const req = transport.request(endpoint, { method: 'POST', headers, signal }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE) req.destroy(new Error(`answer longer than ${MAX_RESPONSE} octets`));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${printable(body).slice(0, 200)}`));
          else resolve(body);
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(message);
    });

  const client: RspamdClient = {
    async scan(message, facts) {
      const signal = AbortSignal.timeout(config.timeoutMs);
      await acquire(signal);
      try {
        return parseCheckV2(await post(message, facts, signal));
      } catch (err) {
        if (signal.aborted) throw new Error(`no answer within ${config.timeoutMs} ms (RSPAMD_TIMEOUT_MS)`, { cause: err });
        throw err;
      } finally {
        release();
      }
    },

    async judge(message, facts) {
      let v: RspamdVerdict;
      try {
        v = await client.scan(message, facts);
      } catch (err) {
        const why = (err as Error).message;
        if (config.fail === 'tempfail') {
          log.warn('rspamd unavailable: message deferred (RSPAMD_FAIL=tempfail)', { client: facts.clientAddress, queueId: facts.queueId, why });
          throw smtpError(451, '4.3.0', 'Temporary failure while checking the message for spam; try again later');
        }
        log.warn('rspamd unavailable: message judged without it (RSPAMD_FAIL=open)', { client: facts.clientAddress, queueId: facts.queueId, why });
        return { fields: '', junk: null, verdict: null };
      }
      const summary = {
        client: facts.clientAddress,
        queueId: facts.queueId,
        action: v.action,
        score: v.score,
        symbols: v.symbols.slice(0, 10).map((s) => s.name),
      };
      if (v.action === 'reject') {
        log.info('rspamd: message refused', summary);
        throw smtpError(550, '5.7.1', `Message refused as spam${v.smtpMessage ? ` (${v.smtpMessage})` : ''}`);
      }
      if (v.action === 'soft reject' || v.action === 'greylist') {
        log.info('rspamd: message deferred', summary);
        throw smtpError(
          451,
          '4.7.1',
          `${v.action === 'greylist' ? 'Greylisted' : 'Message deferred'}${v.smtpMessage ? ` (${v.smtpMessage})` : ''}; try again later`,
        );
      }
      log.info('rspamd verdict', summary);
      return { fields: rspamdFields(v), junk: JUNK_ACTIONS.has(v.action) ? `rspamd: ${v.action} (${v.score.toFixed(2)})` : null, verdict: v };
    },
  };
  return client;
}
