/** Address normalisation shared by SMTP, IMAP, POP3 and mailctl. */

/** Lower-cases the domain and the local part (we treat local parts case-insensitively). */
export function normalizeAddress(address: string): string {
  return address.trim().toLowerCase();
}

export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}

/** A plausible `local@domain` with no spaces or control characters. */
export function isValidAddress(address: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must be refused
  return /^[^\s@<>()[\]\\,;:"\x00-\x1f]+@[A-Za-z0-9\u0080-\uffff]([A-Za-z0-9\u0080-\uffff-]*[A-Za-z0-9\u0080-\uffff])?(\.[A-Za-z0-9\u0080-\uffff]([A-Za-z0-9\u0080-\uffff-]*[A-Za-z0-9\u0080-\uffff])?)*$/.test(address);
}
