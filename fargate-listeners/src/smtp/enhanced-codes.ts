/**
 * smtp-server derives the enhanced status code (RFC 3463) from the reply code alone, so every
 * 550 would read 5.1.1 — wrong for "relaying denied" (5.7.1). When a reply text we produce
 * already starts with an enhanced code, this tells smtp-server not to add another. Applied
 * once at import; affects only replies whose text begins with `d.d.d `.
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

const EXPLICIT = /^[245]\.\d{1,3}\.\d{1,3} /;
const proto = (SMTPConnection as any).prototype;
if (!proto.__explicitEnhancedCodes) {
  const original = proto.send;
  proto.send = function send(this: unknown, code: number, data: unknown, context?: unknown) {
    if (typeof data === 'string' && EXPLICIT.test(data)) return original.call(this, code, data, false);
    return original.call(this, code, data, context);
  };
  proto.__explicitEnhancedCodes = true;
}

/** An error that smtp-server turns into the given reply, e.g. smtpError(550, '5.7.1', 'Relaying denied'). */
export function smtpError(code: number, enhanced: string, text: string): Error & { responseCode: number } {
  const err = new Error(`${enhanced} ${text}`) as Error & { responseCode: number };
  err.responseCode = code;
  return err;
}
