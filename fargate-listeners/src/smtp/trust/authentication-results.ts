/**
 * Authentication-Results (RFC 8601): the field we add above our Received: field with what the
 * MX verified, and the removal of fields that claim to be ours.
 *
 * RFC 8601 §5: a border MTA "MUST" delete (or rename) any Authentication-Results field that
 * carries its own authserv-id before adding its own, or a sender could write our verdict
 * himself. Fields of other authserv-ids stay (they are some other host's claims, to be
 * trusted or not by whoever reads them); ARC-Authentication-Results fields are part of an
 * ARC chain and are never touched (RFC 8617 §4.1.1).
 */
import { parseHeaderFields } from '#core/mime/header.ts';

/** The authserv-id of an Authentication-Results field value (lower-cased), or null when unreadable. */
export function authservIdOf(value: string): string | null {
  // [CFWS] authserv-id [ CFWS authres-version ] ( no-result / 1*resinfo ) [CFWS]
  let s = value.replace(/\r?\n[ \t]/g, ' ');
  // Comments nest (RFC 5322 §3.2.2): remove innermost first.
  for (let i = 0; i < 20 && /\([^()]*\)/.test(s); i++) s = s.replace(/\((?:[^()\\]|\\.)*\)/g, ' ');
  s = s.trim();
  if (s.startsWith('"')) {
    const m = /^"((?:[^"\\]|\\.)*)"/.exec(s);
    return m ? m[1].replace(/\\(.)/g, '$1').toLowerCase() : null;
  }
  const m = /^[^\s;]+/.exec(s);
  return m ? m[0].toLowerCase() : null;
}

/**
 * `raw` without the Authentication-Results fields of its top-level header section whose
 * authserv-id is `authservId`; `raw` itself when it has none. Also how many were removed.
 */
export function withoutOurAuthResults(raw: Buffer, authservId: string): { message: Buffer; removed: number } {
  const ours = authservId.toLowerCase();
  const drop = parseHeaderFields(raw).filter((f) => f.key === 'authentication-results' && authservIdOf(raw.toString('latin1', f.valueStart, f.end)) === ours);
  if (drop.length === 0) return { message: raw, removed: 0 };
  const parts: Buffer[] = [];
  let from = 0;
  for (const f of drop) {
    parts.push(raw.subarray(from, f.start));
    from = f.end;
  }
  parts.push(raw.subarray(from));
  return { message: Buffer.concat(parts), removed: drop.length };
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
