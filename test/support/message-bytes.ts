/**
 * What tests expect of stored and served message bytes (issue 9): messages are stored with
 * CRLF line endings, and a final delivery begins with `Return-Path:` and our `Received:`.
 *
 * `toCrlf` is written here independently of core/mime/crlf.ts (a regular expression, not the
 * streaming state machine), so tests compare the system against a second implementation.
 */
import { expect } from 'vitest';

/** The CRLF form of `raw`: every bare LF and every bare CR becomes CRLF. */
export function toCrlf(raw: Buffer | string): Buffer {
  const text = typeof raw === 'string' ? raw : raw.toString('latin1');
  return Buffer.from(text.replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
}

/** True when `raw` has a CR not followed by LF or an LF not preceded by CR. */
export function hasBareNewline(raw: Buffer): boolean {
  return /\r(?!\n)|(?<!\r)\n/.test(raw.toString('latin1'));
}

const RETURN_PATH = /^Return-Path: <[^\r\n>]*>\r\n/;
const RECEIVED = /^Received: [^\r\n]*(\r\n\t[^\r\n]*)*\r\n/;

/** The envelope sender named by the stored message's first line (RFC 5321 §4.4). */
export function returnPathOf(raw: Buffer): string {
  const m = /^Return-Path: <([^\r\n>]*)>\r\n/.exec(raw.toString('latin1'));
  expect(m, 'the delivered message begins with Return-Path:').not.toBeNull();
  return m![1];
}

/**
 * The delivered bytes after our trace fields: `Return-Path:` (first line) and one
 * `Received:` field. Fails the test when either is missing.
 */
export function stripTrace(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  const rp = RETURN_PATH.exec(text);
  expect(rp, 'the delivered message begins with Return-Path:').not.toBeNull();
  const rest = text.slice(rp![0].length);
  const rcv = RECEIVED.exec(rest);
  expect(rcv, 'a Received: field follows the Return-Path:').not.toBeNull();
  return raw.subarray(Buffer.byteLength(rp![0] + rcv![0], 'latin1'));
}

/**
 * `raw` without Return-Path fields in its header section: what a final delivery keeps of a
 * message that arrived with one (the delivering server replaces them, RFC 5321 §4.4). Line
 * based, on the CRLF form: a field is its line and the continuation lines after it.
 */
export function withoutSendersReturnPath(crlf: Buffer): Buffer {
  const text = crlf.toString('latin1');
  const end = text.startsWith('\r\n') ? 0 : text.indexOf('\r\n\r\n');
  const headerEnd = end === -1 ? text.length : end + 2;
  const lines = text.slice(0, headerEnd).split(/(?<=\r\n)/);
  const kept: string[] = [];
  let dropping = false;
  for (const line of lines) {
    if (/^[ \t]/.test(line) && dropping) continue;
    dropping = /^return-path[ \t]*:/i.test(line);
    if (!dropping) kept.push(line);
  }
  return Buffer.from(kept.join('') + text.slice(headerEnd), 'latin1');
}
