/** LIST with LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE (RFC 6154); LSUB. */
import { ArgReader, ParseError } from '../reader.ts';
import type { ListRequest } from '../requests.ts';
import { parseStatusItems } from './mailbox.ts';

/** Most patterns in one LIST (RFC 5258 §3 allows a list; each costs a pass over all names). */
export const MAX_LIST_PATTERNS = 16;

const SELECTION = new Set(['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE']);

export function parseList(r: ArgReader, name: 'LIST' | 'LSUB'): ListRequest {
  r.sp();
  let selection: string[] = [];
  if (name === 'LIST' && r.peek() === 0x28) {
    selection = r.list(() => {
      const o = r.atom('selection option').toUpperCase();
      // RFC 5258 §3: unknown selection options are an error.
      if (!SELECTION.has(o)) throw new ParseError(`Unknown LIST selection option ${o}`);
      return o;
    });
    // RFC 5258 §3.1: RECURSIVEMATCH alone is meaningless, and is a syntax error.
    if (selection.includes('RECURSIVEMATCH') && !selection.some((o) => o === 'SUBSCRIBED' || o === 'SPECIAL-USE')) {
      throw new ParseError('RECURSIVEMATCH needs another selection option');
    }
    r.sp();
  }
  const reference = r.astring();
  r.sp();
  let patterns: Buffer[];
  if (name === 'LIST' && r.peek() === 0x28) patterns = r.list(() => r.listMailbox(), false);
  else patterns = [r.listMailbox()];
  if (patterns.length > MAX_LIST_PATTERNS) throw new ParseError(`At most ${MAX_LIST_PATTERNS} LIST patterns`);
  let returnOptions: ListRequest['returnOptions'] = null;
  if (name === 'LIST' && r.maybeSp()) {
    if (!r.maybeKeyword('RETURN')) throw new ParseError('Expected RETURN');
    r.sp();
    returnOptions = { subscribed: false, children: false, specialUse: false, status: null };
    const ro = returnOptions;
    r.list(() => {
      const o = r.atom('return option').toUpperCase();
      if (o === 'SUBSCRIBED') ro.subscribed = true;
      else if (o === 'CHILDREN') ro.children = true;
      else if (o === 'SPECIAL-USE') ro.specialUse = true;
      else if (o === 'STATUS') {
        r.sp();
        ro.status = parseStatusItems(r);
      } else throw new ParseError(`Unknown LIST return option ${o}`);
      return o;
    });
  }
  r.end();
  return { name, selection, reference, patterns, returnOptions };
}
