/** Address normalisation shared by SMTP, IMAP, POP3 and mailctl. */

/**
 * The account identity of an address as typed: surrounding white space removed, Unicode
 * composed (NFC, as RFC 6532 §3.1 asks of internationalized addresses) and lower-cased (we
 * treat local parts case-insensitively). Authentication looks users up by it and the login
 * throttle keys accounts by it, so no spelling of a name reaches an account under another key.
 * Compatibility forms (NFKC: full-width letters, ligatures) are not folded: they name
 * another address.
 */
export function normalizeAddress(address: string): string {
  return address.trim().toLowerCase().normalize('NFC');
}

export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}

/** A plausible `local@domain` with no spaces or control characters. */
export function isValidAddress(address: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must be refused
  return /^[^\s@<>()[\]\\,;:"\x00-\x1f]+@[A-Za-z0-9\u0080-\uffff]([A-Za-z0-9\u0080-\uffff-]*[A-Za-z0-9\u0080-\uffff])?(\.[A-Za-z0-9\u0080-\uffff]([A-Za-z0-9\u0080-\uffff-]*[A-Za-z0-9\u0080-\uffff])?)*$/.test(
    address,
  );
}

/**
 * The mailbox of an SMTP path as we look it up: a quoted local part (RFC 5321 §4.1.2
 * Quoted-string, quoted-pairs `\x` standing for x) is unquoted, so `"alice"@example.test` is
 * alice@example.test. Anything else is returned as given.
 */
export function unquoteLocalPart(address: string): string {
  const m = /^"((?:[^"\\]|\\[\x20-\x7e])*)"@([^@"]+)$/.exec(address);
  return m ? `${m[1].replace(/\\(.)/g, '$1')}@${m[2]}` : address;
}
