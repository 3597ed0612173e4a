/**
 * SASL PLAIN (RFC 4616) as carried by POP3 AUTH (RFC 5034): the client's response is
 * base64 of `authzid NUL authcid NUL passwd`.
 */

export interface PlainCredentials {
  authzid: string;
  authcid: string;
  password: string;
}

/** Strict base64 (RFC 4648 §4, padding required), as RFC 5034 §4 asks of AUTH responses. */
function decodeBase64(text: string): Buffer | null {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  return Buffer.from(text, 'base64');
}

/**
 * Decodes a PLAIN response. `=` stands for an empty response (RFC 5034 §4). Returns null when
 * the response is not valid base64 or not a valid PLAIN message (RFC 4616 §2: exactly two NULs,
 * non-empty authcid and passwd, UTF-8).
 */
export function decodePlain(response: string): PlainCredentials | null {
  const bytes = response === '=' ? Buffer.alloc(0) : decodeBase64(response);
  if (!bytes) return null;
  const fields: Buffer[] = [];
  let start = 0;
  for (let i = bytes.indexOf(0); i !== -1; i = bytes.indexOf(0, start)) {
    fields.push(bytes.subarray(start, i));
    start = i + 1;
  }
  fields.push(bytes.subarray(start));
  if (fields.length !== 3) return null;
  const dec = new TextDecoder('utf-8', { fatal: true });
  try {
    const [authzid, authcid, password] = fields.map((f) => dec.decode(f));
    if (!authcid || !password) return null;
    return { authzid, authcid, password };
  } catch {
    return null;
  }
}

export function encodePlain(authcid: string, password: string, authzid = ''): string {
  return Buffer.from(`${authzid}\0${authcid}\0${password}`, 'utf8').toString('base64');
}
