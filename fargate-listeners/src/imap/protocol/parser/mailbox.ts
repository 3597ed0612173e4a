/**
 * Mailbox commands: SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS
 * (RFC 9051 §6.3), CREATE with USE (RFC 6154 §3), the CONDSTORE and QRESYNC select
 * parameters and STATUS HIGHESTMODSEQ (RFC 7162 §3.1.7, §3.1.8, §3.2.5).
 */
import { ArgReader, ParseError } from '../reader.ts';
import type { CreateRequest, MailboxRequest, QresyncParams, RenameRequest, SelectRequest, StatusItem, StatusRequest } from '../requests.ts';
import type { SequenceSet } from '../sequence-set.ts';

/** Numbers a QRESYNC sequence match may pair up: the client's sample, never the whole mailbox. */
export const MAX_SEQ_MATCH = 100_000;

/** A set of UIDs or sequence numbers a client sends from its cache: no `*`, no `$`. */
function knownSet(r: ArgReader, what: string): SequenceSet & { saved: false } {
  const set = r.sequenceSet();
  if (set.saved || set.ranges.some(([a, b]) => a === 0 || b === 0)) throw new ParseError(`QRESYNC ${what} must not contain * or $`);
  return set;
}

function countOf(set: SequenceSet & { saved: false }): number {
  return set.ranges.reduce((n, [a, b]) => n + Math.abs(b - a) + 1, 0);
}

/** seq-match-data = "(" known-sequence-set SP known-uid-set ")" (RFC 7162 §3.2.5.2). */
function parseSeqMatch(r: ArgReader): NonNullable<QresyncParams['seqMatch']> {
  r.expect('(');
  const seqs = knownSet(r, 'known sequence set');
  r.sp();
  const uids = knownSet(r, 'known UID set');
  r.expect(')');
  const n = countOf(seqs);
  if (n !== countOf(uids)) throw new ParseError('QRESYNC sequence match data needs as many UIDs as sequence numbers');
  if (n > MAX_SEQ_MATCH) throw new ParseError(`QRESYNC sequence match data longer than ${MAX_SEQ_MATCH}`);
  return { seqs, uids };
}

/** "QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")" (RFC 7162 §7). */
function parseQresync(r: ArgReader): QresyncParams {
  r.expect('(');
  const uidValidity = r.nzNumber();
  r.sp();
  const modseq = r.modseq(false, 'QRESYNC mod-sequence');
  let knownUids: SequenceSet | null = null;
  let seqMatch: QresyncParams['seqMatch'] = null;
  if (r.maybeSp()) {
    if (r.peek() === 0x28) seqMatch = parseSeqMatch(r);
    else {
      knownUids = knownSet(r, 'known UIDs');
      if (r.maybeSp()) seqMatch = parseSeqMatch(r);
    }
  }
  r.expect(')');
  return { uidValidity, modseq, knownUids, seqMatch };
}

export function parseSelect(r: ArgReader, name: 'SELECT' | 'EXAMINE'): SelectRequest {
  r.sp();
  const mailbox = r.astring();
  let condstore = false;
  let qresync: QresyncParams | null = null;
  if (r.maybeSp()) {
    // select-params (RFC 4466 §2.1): CONDSTORE (RFC 7162 §3.1.8), QRESYNC (§3.2.5).
    r.list(() => {
      const p = r.atom('select parameter').toUpperCase();
      if (p === 'CONDSTORE' && !condstore) condstore = true;
      else if (p === 'QRESYNC' && !qresync) {
        r.sp();
        qresync = parseQresync(r);
      } else if (p === 'CONDSTORE' || p === 'QRESYNC') throw new ParseError(`${p} given twice`);
      else throw new ParseError(`Unsupported ${name} parameter ${p.slice(0, 40)}`);
    }, false);
  }
  r.end();
  return { name, mailbox, condstore, qresync };
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

const STATUS_ITEMS = new Set<StatusItem>([
  'MESSAGES',
  'RECENT',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'SIZE',
  'DELETED',
  'HIGHESTMODSEQ',
  'MAILBOXID',
  'DELETED-STORAGE',
]);

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
