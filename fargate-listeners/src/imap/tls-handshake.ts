/**
 * The server side of a TLS handshake on an accepted TCP socket, with a deadline: implicit TLS
 * (RFC 8314) on the IMAPS port and STARTTLS (RFC 9051 §6.2.1) both use it. Without one, a
 * client that connects (or says STARTTLS) and then sends nothing holds the connection for
 * ever: neither a tls.Server fed sockets by hand nor a fresh TLSSocket has a timer of its own.
 */
import type { Socket } from 'node:net';
import tls from 'node:tls';

/**
 * Resolves with the TLS socket once the handshake is done; on failure or when `timeoutMs`
 * passes first, destroys both sockets and rejects.
 */
export function serverHandshake(raw: Socket, secureContext: tls.SecureContext, timeoutMs: number): Promise<tls.TLSSocket> {
  const secure = new tls.TLSSocket(raw, { isServer: true, secureContext });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('TLS handshake timed out')), timeoutMs);
    timer.unref();
    const done = () => {
      clearTimeout(timer);
      secure.off('error', fail);
      raw.off('close', closed);
    };
    const fail = (err: Error) => {
      done();
      secure.destroy();
      raw.destroy();
      reject(err);
    };
    const closed = () => fail(new Error('connection closed during the TLS handshake'));
    secure.once('secure', () => {
      done();
      resolve(secure);
    });
    secure.once('error', fail);
    raw.once('close', closed);
  });
}
