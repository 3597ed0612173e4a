/**
 * STORE (RFC 9051 §6.4.6) with UNCHANGEDSINCE (RFC 7162 §3.1.3), COPY (§6.4.7), MOVE (RFC
 * 6851), UID EXPUNGE (RFC 4315 §2.1).
 */
import { ArgReader, ParseError } from '../reader.ts';
import type { CopyRequest, StoreRequest, UidExpungeRequest } from '../requests.ts';

export function parseStore(r: ArgReader, uid: boolean): StoreRequest {
  r.sp();
  const set = r.sequenceSet();
  r.sp();
  let unchangedSince: number | null = null;
  if (r.peek() === 0x28) {
    // store-modifiers = SP "(" store-modifier *(SP store-modifier) ")" (RFC 4466 §2.5).
    r.list(() => {
      const m = r.atom('STORE modifier').toUpperCase();
      if (m !== 'UNCHANGEDSINCE') throw new ParseError(`Unsupported STORE modifier ${m.slice(0, 40)}`);
      if (unchangedSince !== null) throw new ParseError('UNCHANGEDSINCE given twice');
      r.sp();
      unchangedSince = r.modseq(true, 'UNCHANGEDSINCE mod-sequence');
    }, false);
    r.sp();
  }
  let mode: StoreRequest['mode'] = 'set';
  if (r.maybe('+')) mode = 'add';
  else if (r.maybe('-')) mode = 'remove';
  if (!r.maybeKeyword('FLAGS')) throw new ParseError('Expected FLAGS');
  const silent = r.maybeKeyword('.SILENT');
  r.sp();
  const flags = r.flagList(true);
  r.end();
  return { name: 'STORE', uid, set, mode, silent, flags, unchangedSince };
}

export function parseCopy(r: ArgReader, name: 'COPY' | 'MOVE', uid: boolean): CopyRequest {
  r.sp();
  const set = r.sequenceSet();
  r.sp();
  const mailbox = r.astring();
  r.end();
  return { name, uid, set, mailbox };
}

export function parseUidExpunge(r: ArgReader): UidExpungeRequest {
  r.sp();
  const set = r.sequenceSet();
  r.end();
  return { name: 'UID EXPUNGE', set };
}
