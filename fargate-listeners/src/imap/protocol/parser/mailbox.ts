/**
 * Mailbox commands: SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS
 * (RFC 9051 §6.3), CREATE with USE (RFC 6154 §3).
 */
import { ArgReader, ParseError } from '../reader.ts';
import type { CreateRequest, MailboxRequest, RenameRequest, SelectRequest, StatusItem, StatusRequest } from '../requests.ts';

export function parseSelect(r: ArgReader, name: 'SELECT' | 'EXAMINE'): SelectRequest {
  r.sp();
  const mailbox = r.astring();
  if (r.maybeSp()) {
    // select-params (CONDSTORE, QRESYNC…): none supported.
    const params = r.list(() => r.atom('select parameter'));
    if (params.length > 0) throw new ParseError(`Unsupported ${name} parameter ${params[0]}`);
  }
  r.end();
  return { name, mailbox };
}

export function parseCreate(r: ArgReader): CreateRequest {
  r.sp();
  const mailbox = r.astring();
  const specialUse: string[] = [];
  if (r.maybeSp()) {
    r.expect('(');
    if (!r.maybeKeyword('USE')) throw new ParseError('Unknown CREATE parameter');
    r.sp();
    specialUse.push(...r.list(() => r.flag(), false));
    r.expect(')');
  }
  r.end();
  return { name: 'CREATE', mailbox, specialUse };
}

export function parseMailboxOnly(r: ArgReader, name: MailboxRequest['name']): MailboxRequest {
  r.sp();
  const mailbox = r.astring();
  r.end();
  return { name, mailbox };
}

export function parseRename(r: ArgReader): RenameRequest {
  r.sp();
  const from = r.astring();
  r.sp();
  const to = r.astring();
  r.end();
  return { name: 'RENAME', from, to };
}

const STATUS_ITEMS = new Set<StatusItem>(['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'SIZE', 'DELETED']);

export function parseStatusItems(r: ArgReader): StatusItem[] {
  return r.list(() => {
    const a = r.atom('status item').toUpperCase() as StatusItem;
    if (!STATUS_ITEMS.has(a)) throw new ParseError(`Unknown STATUS item ${a}`);
    return a;
  }, false);
}

export function parseStatus(r: ArgReader): StatusRequest {
  r.sp();
  const mailbox = r.astring();
  r.sp();
  const items = parseStatusItems(r);
  r.end();
  return { name: 'STATUS', mailbox, items };
}
