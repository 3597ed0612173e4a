/**
 * Authentication-Results (RFC 8601): the field we add above our Received: field with what the
 * MX verified, and the removal of fields that claim to be ours.
 *
 * RFC 8601 §5: a border MTA "MUST" delete (or rename) any Authentication-Results field that
 * carries its own authserv-id before adding its own, or a sender could write our verdict
 * himself. A field whose authserv-id cannot be read cleanly is removed too (it fails closed:
 * a reader more lenient than we are might see our id in it). Fields of other authserv-ids
 * stay (they are some other host's claims, to be trusted or not by whoever reads them);
 * ARC-Authentication-Results fields are part of an ARC chain and are never touched (RFC 8617
 * §4.1.1).
 */
import { withoutHeaderFields } from '#core/mime/header.ts';

/** RFC 2045 §5.1 token characters: printable US-ASCII except SP and tspecials. */
const TOKEN_CHAR = /[!#-'*+\-.0-9A-Z^-~]/;

/**
 * The authserv-id of an Authentication-Results field value (lower-cased, one trailing dot
 * removed: `mx.test.` names the host `mx.test`), or null when it cannot be read cleanly
 * (RFC 8601 §2.2: `[CFWS] authserv-id [CFWS authres-version] ";"`, the id a token or a
 * quoted-string, comments nested to any depth, RFC 5322 §3.2.2). Null for an unterminated
 * comment or quoted-string, an empty id, or anything but a version or `;` after the id: the
 * caller treats such a field as possibly ours.
 */
export function authservIdOf(value: string): string | null {
  const s = value;
  let p = 0;
  /** Skips CFWS; false when a comment is not terminated. */
  const skipCfws = (): boolean => {
    for (;;) {
      while (p < s.length && (s[p] === ' ' || s[p] === '\t' || s[p] === '\r' || s[p] === '\n')) p++;
      if (s[p] !== '(') return true;
      let depth = 0;
      for (; p < s.length; p++) {
        const c = s[p];
        if (c === '\\') p++;
        else if (c === '(') depth++;
        else if (c === ')' && --depth === 0) break;
      }
      if (p >= s.length) return false;
      p++;
    }
  };
  if (!skipCfws()) return null;
  let id = '';
  if (s[p] === '"') {
    for (p++; p < s.length && s[p] !== '"'; p++) {
      if (s[p] === '\\') p++;
      if (p < s.length) id += s[p];
    }
    if (p >= s.length) return null;
    p++;
  } else {
    while (p < s.length && TOKEN_CHAR.test(s[p])) id += s[p++];
  }
  id = id.replace(/[\r\n]+[ \t]*/g, '').trim();
  if (!id) return null;
  // What must follow: [CFWS authres-version] [CFWS] ";".
  if (!skipCfws()) return null;
  if (/[0-9]/.test(s[p] ?? '')) {
    while (/[0-9]/.test(s[p] ?? '')) p++;
    if (!skipCfws()) return null;
  }
  if (s[p] !== ';') return null;
  return id.toLowerCase().replace(/\.$/, '');
}

/**
 * `raw` without the Authentication-Results fields of its top-level header section that may
 * carry our verdict: those whose authserv-id is `authservId`, and those whose authserv-id
 * cannot be read cleanly (RFC 8601 §5: a field that claims to be ours must go; one that a
 * reader might take for ours — a deeply nested comment, an unterminated quote — fails
 * closed). `raw` itself when there is none. Also how many were removed.
 */
export function withoutOurAuthResults(raw: Buffer, authservId: string): { message: Buffer; removed: number } {
  const ours = authservId.toLowerCase().replace(/\.$/, '');
  return withoutHeaderFields(raw, (f) => {
    if (f.key !== 'authentication-results') return false;
    const id = authservIdOf(raw.toString('latin1', f.valueStart, f.end));
    return id === null || id === ours;
  });
}

/** An authserv-id as RFC 8601 §2.2 writes it: a token, else a quoted-string. */
function formatAuthservId(id: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what must not pass
  const clean = id.replace(/[\x00-\x1f\x7f]/g, '');
  return /^[!#-'*+\-.0-9A-Z^-~]+$/.test(clean) ? clean : `"${clean.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * The field, CRLF-terminated: `Authentication-Results: <authserv-id>;` and one resinfo per
 * folded line (`resinfos` as mailauth formats them, e.g. `spf=pass (...) smtp.mailfrom=a@b`).
 */
export function authenticationResultsField(authservId: string, resinfos: string[]): string {
  const id = formatAuthservId(authservId);
  if (resinfos.length === 0) return `Authentication-Results: ${id}; none\r\n`;
  // eslint-disable-next-line no-control-regex -- resinfo text comes from DNS and the message
  const rows = resinfos.map((r) => r.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, ' ').trim());
  return `Authentication-Results: ${id};\r\n\t${rows.join(';\r\n\t')}\r\n`;
}
