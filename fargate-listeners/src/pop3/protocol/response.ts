/**
 * POP3 responses on the wire (RFC 1939 §3): status lines `+OK …` / `-ERR …`, multi-line
 * responses ending with `.` CRLF, SASL continuations `+ …` (RFC 5034 §4), and the errors that
 * carry the reply they become.
 */

/**
 * Extended response codes (RFC 2449 §8, RFC 3206): `[IN-USE]` maildrop locked by another
 * session, `[AUTH]` credentials (or policy) refused the login, `[SYS/TEMP]` a temporary
 * server-side failure (storage), `[SYS/PERM]` a permanent one.
 */
export type RespCode = 'IN-USE' | 'AUTH' | 'SYS/TEMP' | 'SYS/PERM' | 'LOGIN-DELAY';

/** An error that becomes `-ERR [code] text`, raised where the failure is known. */
export class Pop3Error extends Error {
  readonly code: RespCode | null;
  /** Close the connection after sending the reply. */
  readonly close: boolean;
  constructor(text: string, code: RespCode | null = null, options: { close?: boolean; cause?: unknown } = {}) {
    super(text, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'Pop3Error';
    this.code = code;
    this.close = options.close ?? false;
  }
  reply(): string {
    return err(this.message, this.code);
  }
}

/** Response text must stay on one line. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

export function ok(text = ''): string {
  return text ? `+OK ${oneLine(text)}\r\n` : '+OK\r\n';
}

export function err(text: string, code: RespCode | null = null): string {
  return `-ERR ${code ? `[${code}] ` : ''}${oneLine(text)}\r\n`;
}

/** RFC 5034 §4: a server challenge; PLAIN's is empty (`+ ` followed by CRLF). */
export function continuation(base64 = ''): string {
  return `+ ${base64}\r\n`;
}

/** The line that ends every multi-line response (RFC 1939 §3). */
export const TERMINATOR = '.\r\n';

/**
 * A multi-line response made of short text lines (CAPA, LIST, UIDL): the status line, each
 * line byte-stuffed (a leading '.' doubled, RFC 1939 §3), then the terminator.
 */
export function multiline(status: string, lines: readonly string[]): string {
  let out = ok(status);
  for (const line of lines) out += (line.startsWith('.') ? '.' : '') + oneLine(line) + '\r\n';
  return out + TERMINATOR;
}
