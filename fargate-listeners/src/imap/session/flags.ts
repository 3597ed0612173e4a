/** Flags from clients (RFC 9051 §2.3.2): system flags in canonical case, keywords as given. */
import { bad } from './errors.ts';
import { SYSTEM_FLAGS } from './selected-mailbox.ts';

const CANONICAL = new Map(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));

/** Max distinct keywords a message may carry; more is refused (keeps FLAGS lists sane). */
export const MAX_KEYWORDS = 64;

/**
 * A client's flag list checked and made canonical, as STORE and APPEND take it: system flags
 * in their canonical case, de-duplicated, keywords limited. (The index adapters' own
 * normalizeFlags in core/mailbox/flags.ts only drops case-insensitive duplicates and
 * checks nothing.) \Recent is dropped (a session property clients cannot set, RFC 3501
 * §2.3.2); other unknown system flags are BAD.
 */
export function canonicalClientFlags(flags: string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of flags) {
    let flag = f;
    if (f.startsWith('\\')) {
      const lower = f.toLowerCase();
      if (lower === '\\recent') continue;
      const c = CANONICAL.get(lower);
      if (!c) throw bad(`Invalid system flag ${f.slice(0, 40)}`);
      flag = c;
    } else if (f.length > 100) throw bad('Keyword too long');
    if (seen.has(flag)) continue;
    seen.add(flag);
    out.push(flag);
  }
  if (out.length - out.filter((f) => f.startsWith('\\')).length > MAX_KEYWORDS) throw bad('Too many keywords');
  return out;
}
