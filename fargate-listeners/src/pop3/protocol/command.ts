/**
 * POP3 command parser: one command line (without its CRLF) → a typed request.
 * No I/O, no state: which commands are allowed in which state is the session's business.
 *
 * Grammar (RFC 1939 §3, RFC 2449 §3): a case-insensitive keyword of 3-4 characters, then
 * arguments separated by a single space. We accept runs of spaces between arguments
 * (robustness principle), except for PASS, whose argument is the rest of the line: RFC 1939
 * §7 lets a server treat spaces in the password as part of it, since PASS has one argument.
 */

export type Pop3Command =
  | { name: 'USER'; user: string }
  | { name: 'PASS'; password: string }
  | { name: 'AUTH'; mechanism: string | null; initialResponse: string | null }
  | { name: 'CAPA' }
  | { name: 'STLS' }
  | { name: 'STAT' }
  | { name: 'LIST'; msg: number | null }
  | { name: 'UIDL'; msg: number | null }
  | { name: 'RETR'; msg: number }
  | { name: 'TOP'; msg: number; lines: number }
  | { name: 'DELE'; msg: number }
  | { name: 'NOOP' }
  | { name: 'RSET' }
  | { name: 'QUIT' };

export type Pop3CommandName = Pop3Command['name'];

/** A line that is not a valid command; `message` is the text after `-ERR `. */
export class Pop3ParseError extends Error {
  /** The keyword when it was recognised (a syntax error in its arguments), else null. */
  readonly command: Pop3CommandName | null;
  constructor(message: string, command: Pop3CommandName | null = null) {
    super(message);
    this.name = 'Pop3ParseError';
    this.command = command;
  }
}

const KNOWN = new Set<string>(['USER', 'PASS', 'AUTH', 'CAPA', 'STLS', 'STAT', 'LIST', 'UIDL', 'RETR', 'TOP', 'DELE', 'NOOP', 'RSET', 'QUIT']);

/** Largest message number or TOP line count we parse; larger values are syntax errors. */
const MAX_NUMBER = 0x7fffffff;

function number(arg: string, what: string, command: Pop3CommandName, min: number): number {
  // RFC 1939 §3: message numbers are decimal, starting at 1; TOP's line count is non-negative.
  if (!/^[0-9]{1,10}$/.test(arg)) throw new Pop3ParseError(`${what} must be a decimal number`, command);
  const n = Number(arg);
  if (n < min || n > MAX_NUMBER) throw new Pop3ParseError(`${what} out of range`, command);
  return n;
}

function argCount(command: Pop3CommandName, args: string[], min: number, max: number): void {
  if (args.length < min) throw new Pop3ParseError(`${command} needs ${min === max ? min : `at least ${min}`} argument${min === 1 ? '' : 's'}`, command);
  if (args.length > max) throw new Pop3ParseError(max === 0 ? `${command} takes no arguments` : `too many arguments for ${command}`, command);
}

/**
 * Parses one line (the CRLF already removed). The line is decoded as UTF-8 by the caller;
 * any control character other than the separator space is rejected, except inside PASS,
 * where the argument is taken verbatim.
 */
export function parseCommand(line: string): Pop3Command {
  const sp = line.indexOf(' ');
  const keyword = (sp === -1 ? line : line.slice(0, sp)).toUpperCase();
  const rest = sp === -1 ? '' : line.slice(sp + 1);
  if (keyword.length === 0) throw new Pop3ParseError('empty command');
  if (!KNOWN.has(keyword)) throw new Pop3ParseError('unknown command');
  const name = keyword as Pop3CommandName;

  if (name === 'PASS') {
    if (rest.length === 0) throw new Pop3ParseError('PASS needs a password', name);
    return { name, password: rest };
  }
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(rest)) throw new Pop3ParseError('control characters in arguments', name);
  const args = rest.split(' ').filter((a) => a.length > 0);

  switch (name) {
    case 'USER':
      argCount(name, args, 1, 1);
      return { name, user: args[0] };
    case 'AUTH':
      // RFC 5034 §4: AUTH mechanism [initial-response]. A bare AUTH (the older RFC 1734
      // usage some clients probe with) asks for the list of mechanisms.
      argCount(name, args, 0, 2);
      return { name, mechanism: args[0]?.toUpperCase() ?? null, initialResponse: args[1] ?? null };
    case 'LIST':
    case 'UIDL':
      argCount(name, args, 0, 1);
      return { name, msg: args.length ? number(args[0], 'message number', name, 1) : null };
    case 'RETR':
    case 'DELE':
      argCount(name, args, 1, 1);
      return { name, msg: number(args[0], 'message number', name, 1) };
    case 'TOP':
      argCount(name, args, 2, 2);
      return { name, msg: number(args[0], 'message number', name, 1), lines: number(args[1], 'line count', name, 0) };
    case 'CAPA':
    case 'STLS':
    case 'STAT':
    case 'NOOP':
    case 'RSET':
    case 'QUIT':
      argCount(name, args, 0, 0);
      return { name };
  }
}
