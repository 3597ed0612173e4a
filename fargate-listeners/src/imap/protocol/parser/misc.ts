/** ENABLE (RFC 5161, RFC 9051 §6.3.1), ID (RFC 2971) and COMPRESS (RFC 4978). */
import { ArgReader, ParseError, utf8 } from '../reader.ts';
import type { CompressRequest, EnableRequest, IdRequest } from '../requests.ts';

export function parseEnable(r: ArgReader): EnableRequest {
  const capabilities: string[] = [];
  while (!r.atEnd()) {
    r.sp();
    capabilities.push(r.atom('capability').toUpperCase());
  }
  if (capabilities.length === 0) throw new ParseError('ENABLE needs at least one capability');
  return { name: 'ENABLE', capabilities };
}

export function parseId(r: ArgReader): IdRequest {
  r.sp();
  if (r.maybeKeyword('NIL')) {
    r.end();
    return { name: 'ID', params: null };
  }
  const params: Array<[string, string | null]> = [];
  r.expect('(');
  if (!r.maybe(')')) {
    for (;;) {
      const key = utf8(r.string(), 'ID field');
      r.sp();
      const v = r.nstring();
      params.push([key, v === null ? null : v.toString('utf8')]);
      if (params.length > 30) throw new ParseError('Too many ID fields');
      if (r.maybe(')')) break;
      r.sp();
    }
  }
  r.end();
  return { name: 'ID', params };
}

/** `COMPRESS SP algorithm` (RFC 4978 §5). */
export function parseCompress(r: ArgReader): CompressRequest {
  r.sp();
  const mechanism = r.atom('compression mechanism').toUpperCase();
  r.end();
  return { name: 'COMPRESS', mechanism };
}
