/** GETQUOTA, GETQUOTAROOT and SETQUOTA (RFC 9208 §4.1, §7). */
import { ArgReader, ParseError, utf8 } from '../reader.ts';
import type { QuotaRequest } from '../requests.ts';

export function parseQuota(r: ArgReader, name: 'GETQUOTA' | 'GETQUOTAROOT' | 'SETQUOTA'): QuotaRequest {
  r.sp();
  if (name === 'GETQUOTAROOT') {
    const mailbox = r.astring();
    r.end();
    return { name, mailbox };
  }
  const root = utf8(r.astring(), 'quota root');
  if (name === 'GETQUOTA') {
    r.end();
    return { name, root };
  }
  // setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")"; resource-name SP number64.
  r.sp();
  r.expect('(');
  const limits: Array<[string, number]> = [];
  if (!r.maybe(')')) {
    for (;;) {
      const resource = r.atom('resource name').toUpperCase();
      r.sp();
      limits.push([resource, r.number64()]);
      if (limits.length > 16) throw new ParseError('Too many quota resources');
      if (r.maybe(')')) break;
      r.sp();
    }
  }
  r.end();
  return { name, root, limits };
}
