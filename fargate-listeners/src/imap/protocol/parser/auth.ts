/** LOGIN (RFC 9051 §6.2.3) and AUTHENTICATE (§6.2.2, SASL-IR RFC 4959). */
import { ArgReader, ParseError, utf8 } from '../reader.ts';
import type { AuthenticateRequest, LoginRequest } from '../requests.ts';

export function parseLogin(r: ArgReader): LoginRequest {
  r.sp();
  const user = utf8(r.astring(), 'user name');
  r.sp();
  const password = utf8(r.astring(), 'password');
  r.end();
  return { name: 'LOGIN', user, password };
}

export function parseAuthenticate(r: ArgReader): AuthenticateRequest {
  r.sp();
  const mechanism = r.atom('mechanism').toUpperCase();
  let initialResponse: string | null = null;
  if (r.maybeSp()) {
    // initial-response = base64 / "=" (RFC 4959 §7: "=" is an empty response).
    const word = r.atom('initial response');
    if (word !== '=' && !/^[A-Za-z0-9+/]*={0,2}$/.test(word)) throw new ParseError('Invalid base64 initial response');
    initialResponse = word === '=' ? '' : word;
  }
  r.end();
  return { name: 'AUTHENTICATE', mechanism, initialResponse };
}
