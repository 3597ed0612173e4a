/** What the server announces (RFC 9051 §6.1.1, §7.2.2), per connection state. */

export interface CapabilityState {
  authenticated: boolean;
  /** TLS is active (implicit or after STARTTLS). */
  secure: boolean;
  /** STARTTLS is offered on this listener (plain port, not yet upgraded). */
  startTlsAvailable: boolean;
  /** LOGIN/AUTHENTICATE allowed now (TLS, or loopback with allowPlaintextAuthOnLoopback). */
  authAllowed: boolean;
  appendLimit: number;
}

/** Extensions implemented once authenticated. */
const AUTHENTICATED_EXTENSIONS = [
  'LITERAL+',
  'ID',
  'ENABLE',
  'IDLE',
  'NAMESPACE',
  'UNSELECT',
  'UIDPLUS',
  'MOVE',
  'SPECIAL-USE',
  'CREATE-SPECIAL-USE',
  'CHILDREN',
  'LIST-EXTENDED',
  'LIST-STATUS',
  'ESEARCH',
  'SEARCHRES',
  'STATUS=SIZE',
  'BINARY',
  'SASL-IR',
  'UTF8=ACCEPT',
  'CONDSTORE',
  'QRESYNC',
  'SORT',
  'SORT=DISPLAY',
  'ESORT',
  'CONTEXT=SEARCH',
  'CONTEXT=SORT',
  'PARTIAL',
  'THREAD=ORDEREDSUBJECT',
  'THREAD=REFERENCES',
  'WITHIN',
  'OBJECTID',
  'COMPRESS=DEFLATE',
  'MULTIAPPEND',
  'CATENATE',
  'UNAUTHENTICATE',
  'PREVIEW',
  'SAVEDATE',
  'QUOTA',
  'QUOTA=RES-STORAGE',
  'QUOTA=RES-MESSAGE',
];

export function capabilities(st: CapabilityState): string[] {
  const caps = ['IMAP4rev1', 'IMAP4rev2'];
  if (st.authenticated) {
    caps.push(...AUTHENTICATED_EXTENSIONS, `APPENDLIMIT=${st.appendLimit}`);
    return caps;
  }
  caps.push('LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE');
  if (st.startTlsAvailable) caps.push('STARTTLS');
  if (st.authAllowed) caps.push('AUTH=PLAIN');
  else caps.push('LOGINDISABLED');
  return caps;
}
