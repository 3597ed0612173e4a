/**
 * The command table: which states allow each command (RFC 9051 §3, §6) and the function
 * that runs it. One module per command group.
 */
import type { ImapRequest } from '#listeners/imap/protocol/requests.ts';
import type { Tagged } from '../errors.ts';
import type { ImapSession } from '../session.ts';
import { append } from './append.ts';
import { authenticateCommand, login, unauthenticate } from './auth.ts';
import { compress } from './compress.ts';
import { cancelUpdate } from './cancel-update.ts';
import { capability, check, enable, id, logout, namespace, noop, starttls } from './connection.ts';
import { copyOrMove } from './copy-move.ts';
import { expunge, uidExpunge } from './expunge.ts';
import { fetch } from './fetch.ts';
import { idle } from './idle.ts';
import { list } from './list.ts';
import { quotaCommand } from './quota.ts';
import { create, deleteMailbox, rename, subscribe } from './mailboxes.ts';
import { search } from './search.ts';
import { close, select, unselect } from './select.ts';
import { sort } from './sort.ts';
import { status } from './status.ts';
import { store } from './store.ts';
import { thread } from './thread.ts';

export type SessionState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

export type CommandName = ImapRequest['name'];

/** The request a command's parser produces: SELECT and EXAMINE both get a SelectRequest. */
export type RequestOf<N extends CommandName> = ImapRequest extends infer R ? (R extends { name: infer M } ? (N extends M ? R : never) : never) : never;

export interface CommandSpec<R extends ImapRequest = ImapRequest> {
  states: SessionState[];
  run: (s: ImapSession, req: R, tag: string) => Promise<Tagged>;
}

type RequestMap = { [N in CommandName]: RequestOf<N> };

/** One entry per command, each run with its own request type. */
export type CommandTable = { [N in CommandName]: CommandSpec<RequestMap[N]> };

const ANY: SessionState[] = ['not-authenticated', 'authenticated', 'selected'];
const NOT_AUTH: SessionState[] = ['not-authenticated'];
const AUTH: SessionState[] = ['authenticated', 'selected'];
const SELECTED: SessionState[] = ['selected'];

export const COMMANDS: CommandTable = {
  CAPABILITY: { states: ANY, run: capability },
  NOOP: { states: ANY, run: noop },
  LOGOUT: { states: ANY, run: logout },
  ID: { states: ANY, run: id },
  STARTTLS: { states: NOT_AUTH, run: starttls },
  LOGIN: { states: NOT_AUTH, run: login },
  AUTHENTICATE: { states: NOT_AUTH, run: authenticateCommand },
  // RFC 5161 §3.1: ENABLE only in the authenticated state, before any SELECT.
  ENABLE: { states: ['authenticated'], run: enable },
  NAMESPACE: { states: AUTH, run: namespace },
  SELECT: { states: AUTH, run: select },
  EXAMINE: { states: AUTH, run: select },
  CREATE: { states: AUTH, run: create },
  DELETE: { states: AUTH, run: deleteMailbox },
  RENAME: { states: AUTH, run: rename },
  SUBSCRIBE: { states: AUTH, run: subscribe },
  UNSUBSCRIBE: { states: AUTH, run: subscribe },
  LIST: { states: AUTH, run: list },
  LSUB: { states: AUTH, run: list },
  STATUS: { states: AUTH, run: status },
  APPEND: { states: AUTH, run: append },
  IDLE: { states: AUTH, run: idle },
  COMPRESS: { states: AUTH, run: compress },
  UNAUTHENTICATE: { states: AUTH, run: unauthenticate },
  GETQUOTA: { states: AUTH, run: quotaCommand },
  GETQUOTAROOT: { states: AUTH, run: quotaCommand },
  SETQUOTA: { states: AUTH, run: quotaCommand },
  CHECK: { states: SELECTED, run: check },
  CLOSE: { states: SELECTED, run: close },
  UNSELECT: { states: SELECTED, run: unselect },
  EXPUNGE: { states: SELECTED, run: expunge },
  'UID EXPUNGE': { states: SELECTED, run: uidExpunge },
  SEARCH: { states: SELECTED, run: search },
  SORT: { states: SELECTED, run: sort },
  CANCELUPDATE: { states: SELECTED, run: cancelUpdate },
  THREAD: { states: SELECTED, run: thread },
  FETCH: { states: SELECTED, run: fetch },
  STORE: { states: SELECTED, run: store },
  COPY: { states: SELECTED, run: copyOrMove },
  MOVE: { states: SELECTED, run: copyOrMove },
};

/**
 * Runs a parsed request with its own command's handler. Generic over the name so that the
 * table entry and the request are known to belong together (no cast).
 */
export function runCommand<N extends CommandName>(s: ImapSession, request: RequestMap[N] & { name: N }, tag: string): Promise<Tagged> {
  const spec: CommandSpec<RequestMap[N]> = COMMANDS[request.name];
  return spec.run(s, request, tag);
}
