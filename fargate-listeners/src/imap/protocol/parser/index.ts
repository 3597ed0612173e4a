/**
 * Command dispatch of the parser: tag, command name, then the command's own parser. Turns
 * one received command (receiver.ts) into a typed request (requests.ts), or a ParseError that
 * the session answers with BAD (tagged when the tag could be read, else untagged).
 */
import { isTag, type CommandPart } from '../receiver.ts';
import { ArgReader, ParseError } from '../reader.ts';
import type { ImapRequest, SimpleCommand } from '../requests.ts';
import { parseAppend } from './append.ts';
import { parseAuthenticate, parseLogin } from './auth.ts';
import { parseFetch } from './fetch.ts';
import { parseList } from './list.ts';
import { parseCreate, parseMailboxOnly, parseRename, parseSelect, parseStatus } from './mailbox.ts';
import { parseCompress, parseEnable, parseId } from './misc.ts';
import { parseQuota } from './quota.ts';
import { parseSearch } from './search.ts';
import { parseCancelUpdate } from './search-return.ts';
import { parseSort, parseThread } from './sort.ts';
import { parseCopy, parseStore, parseUidExpunge } from './store-copy.ts';

export type ParseResult = { ok: true; tag: string; request: ImapRequest } | { ok: false; tag: string | null; command: string | null; error: ParseError };

const SIMPLE = new Set<SimpleCommand>([
  'CAPABILITY',
  'NOOP',
  'LOGOUT',
  'STARTTLS',
  'CHECK',
  'CLOSE',
  'UNSELECT',
  'EXPUNGE',
  'IDLE',
  'NAMESPACE',
  'UNAUTHENTICATE',
]);

function parseUid(r: ArgReader): ImapRequest {
  r.sp();
  const sub = r.atom('UID command').toUpperCase();
  switch (sub) {
    case 'FETCH':
      return parseFetch(r, true);
    case 'STORE':
      return parseStore(r, true);
    case 'SEARCH':
      return parseSearch(r, true);
    case 'SORT':
      return parseSort(r, true);
    case 'THREAD':
      return parseThread(r, true);
    case 'COPY':
    case 'MOVE':
      return parseCopy(r, sub, true);
    case 'EXPUNGE':
      return parseUidExpunge(r);
    default:
      throw new ParseError(`Unknown UID command ${sub.slice(0, 40)}`);
  }
}

function parseRequest(name: string, r: ArgReader): ImapRequest {
  if (SIMPLE.has(name as SimpleCommand)) {
    r.end();
    return { name: name as SimpleCommand };
  }
  switch (name) {
    case 'LOGIN':
      return parseLogin(r);
    case 'AUTHENTICATE':
      return parseAuthenticate(r);
    case 'ENABLE':
      return parseEnable(r);
    case 'ID':
      return parseId(r);
    case 'COMPRESS':
      return parseCompress(r);
    case 'GETQUOTA':
    case 'GETQUOTAROOT':
    case 'SETQUOTA':
      return parseQuota(r, name);
    case 'SELECT':
    case 'EXAMINE':
      return parseSelect(r, name);
    case 'CREATE':
      return parseCreate(r);
    case 'DELETE':
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE':
      return parseMailboxOnly(r, name);
    case 'RENAME':
      return parseRename(r);
    case 'LIST':
    case 'LSUB':
      return parseList(r, name);
    case 'STATUS':
      return parseStatus(r);
    case 'APPEND':
      return parseAppend(r);
    case 'SEARCH':
      return parseSearch(r, false);
    case 'SORT':
      return parseSort(r, false);
    case 'CANCELUPDATE':
      return parseCancelUpdate(r);
    case 'THREAD':
      return parseThread(r, false);
    case 'FETCH':
      return parseFetch(r, false);
    case 'STORE':
      return parseStore(r, false);
    case 'COPY':
    case 'MOVE':
      return parseCopy(r, name, false);
    case 'UID':
      return parseUid(r);
    default:
      throw new ParseError(`Unknown command ${name.slice(0, 40)}`);
  }
}

export function parseCommand(parts: CommandPart[]): ParseResult {
  let tag: string | null = null;
  let command: string | null = null;
  try {
    const r = new ArgReader(parts);
    const t = r.word();
    if (!isTag(t)) throw new ParseError('Invalid tag');
    tag = t;
    if (r.atEnd()) throw new ParseError('Missing command');
    r.sp();
    command = r.atom('command').toUpperCase();
    return { ok: true, tag, request: parseRequest(command, r) };
  } catch (err) {
    if (err instanceof ParseError) return { ok: false, tag, command, error: err };
    // Anything else is a bug in a parser; report it as a syntax error, never crash the session.
    return { ok: false, tag, command, error: new ParseError('Invalid command') };
  }
}
