/** Address fields as people type them: `Name <a@b>, c@d; "Last, First" <e@f>`. */
import type { EmailAddress } from './emails.ts';

export function parseAddresses(field: string): EmailAddress[] {
  const out: EmailAddress[] = [];
  // Split on , or ; outside quotes and angle brackets.
  let cur = '';
  let quoted = false;
  let angle = false;
  const parts: string[] = [];
  for (const ch of field) {
    if (ch === '"') quoted = !quoted;
    else if (ch === '<' && !quoted) angle = true;
    else if (ch === '>' && !quoted) angle = false;
    if ((ch === ',' || ch === ';') && !quoted && !angle) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts) {
    const p = raw.trim();
    if (!p) continue;
    const m = /^(.*?)\s*<([^<>\s]+@[^<>\s]+)>$/.exec(p);
    if (m) out.push({ name: m[1].replace(/^"|"$/g, '').trim() || null, email: m[2] });
    else out.push({ name: null, email: p });
  }
  return out;
}
