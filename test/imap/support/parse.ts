/** Parsing a command given as text with inline literals `{n}\r\n…`, as the receiver would frame it. */
import { parseCommand, type ParseResult } from '#listeners/imap/protocol/parser/index.ts';
import { Receiver } from '#listeners/imap/protocol/receiver.ts';

export function parse(text: string | Buffer): ParseResult {
  const r = new Receiver();
  r.push(Buffer.isBuffer(text) ? Buffer.concat([text, Buffer.from('\r\n')]) : Buffer.from(text + '\r\n', 'utf8'));
  for (;;) {
    const ev = r.next();
    if (ev.type === 'literal') r.acceptLiteral();
    else if (ev.type === 'command') return parseCommand(ev.parts);
    else throw new Error(`unexpected ${ev.type}`);
  }
}

/** The request of a command that must parse. */
export function req(text: string): any {
  const r = parse(text);
  if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
  return r.request;
}

/** The error message of a command that must not parse. */
export function err(text: string): string {
  const r = parse(text);
  if (r.ok) throw new Error(`${text} parsed`);
  return r.error.message;
}
