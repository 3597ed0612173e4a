/**
 * Any-state and connection commands: CAPABILITY, NOOP, LOGOUT (RFC 9051 §6.1), STARTTLS
 * (§6.2.1), ID (RFC 2971), ENABLE (RFC 5161, §6.3.1; CONDSTORE and QRESYNC, RFC 7162),
 * NAMESPACE (RFC 2342, §6.3.10), CHECK (RFC 3501 §6.4.1, a NOOP in rev2).
 */
import type { EnableRequest, IdRequest } from '#listeners/imap/protocol/requests.ts';
import { SERVER_NAME, SERVER_VERSION } from '#core/server-info.ts';
import { quote } from '#listeners/imap/protocol/encode.ts';
import { bad, ok, type Tagged } from '../errors.ts';
import type { ImapSession } from '../session.ts';

export async function capability(s: ImapSession): Promise<Tagged> {
  s.untagged(`CAPABILITY ${s.capabilityList().join(' ')}`);
  return ok('CAPABILITY completed');
}

/** NOOP/CHECK: the session's refresh before every command already told the changes. */
export async function noop(): Promise<Tagged> {
  return ok('NOOP completed');
}

export async function check(): Promise<Tagged> {
  return ok('CHECK completed');
}

export async function logout(s: ImapSession): Promise<Tagged> {
  s.untagged('BYE Logging out');
  s.state = 'logout';
  return ok('LOGOUT completed');
}

export async function starttls(s: ImapSession, _req: unknown, tag: string): Promise<Tagged> {
  if (s.secure) throw bad('TLS is already active');
  // After COMPRESS and UNAUTHENTICATE (RFC 8437): TLS cannot start under the compression layer.
  if (s.compression) throw bad('STARTTLS not available once COMPRESS is active');
  if (!s.capabilityList().includes('STARTTLS')) throw bad('STARTTLS not available');
  // The tagged OK must go out in plaintext before the handshake; the session loop will not
  // write it again (state stays, we write it here and return a marker that prints nothing).
  s.out.push(`${tag} OK Begin TLS negotiation now\r\n`);
  await s.startTls();
  return { status: 'OK', code: null, text: '', silent: true };
}

/** RFC 2971 §3.1: the server's own fields, whatever the client sent (which is logged). */
export async function id(s: ImapSession, req: IdRequest): Promise<Tagged> {
  if (req.params) s.log.debug('client ID', { id: Object.fromEntries(req.params.slice(0, 30)) });
  const fields = ['name', SERVER_NAME, 'version', SERVER_VERSION, 'vendor', SERVER_NAME].map(quote).join(' ');
  s.untagged(`ID (${fields} ${quote('support-url')} NIL)`);
  return ok('ID completed');
}

const ENABLEABLE = new Set(['IMAP4REV2', 'UTF8=ACCEPT', 'CONDSTORE', 'QRESYNC']);

export async function enable(s: ImapSession, req: EnableRequest): Promise<Tagged> {
  const enabled: string[] = [];
  for (const cap of req.capabilities) {
    if (!ENABLEABLE.has(cap)) continue; // RFC 5161 §3.1: unknown capabilities are ignored.
    if (cap === 'IMAP4REV2' && !s.rev2) {
      s.rev2 = true;
      enabled.push('IMAP4rev2');
    }
    if (cap === 'UTF8=ACCEPT' && !s.utf8Accept) {
      // RFC 6855 §3: mailbox names and quoted strings in UTF-8 from now on.
      s.utf8Accept = true;
      enabled.push('UTF8=ACCEPT');
    }
    // RFC 7162 §3.1, §3.2.3: QRESYNC implies CONDSTORE; each is listed once, when it is new.
    if (cap === 'CONDSTORE' && !s.condstore) {
      s.enableCondstore();
      enabled.push('CONDSTORE');
    }
    if (cap === 'QRESYNC' && !s.qresync) {
      s.enableCondstore();
      s.qresync = true;
      enabled.push('QRESYNC');
    }
  }
  s.untagged(`ENABLED${enabled.map((c) => ' ' + c).join('')}`);
  return ok('ENABLE completed');
}

export async function namespace(s: ImapSession): Promise<Tagged> {
  // One personal namespace with '/' as separator, no other users' or shared namespaces.
  s.untagged('NAMESPACE (("" "/")) NIL NIL');
  return ok('NAMESPACE completed');
}
