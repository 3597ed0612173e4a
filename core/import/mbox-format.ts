/**
 * The mbox family (RFC 4155; "mboxrd" and "mboxo" as qmail's mbox(5) names them): messages one
 * after another, each opened by a `From ` line (`From <sender> <asctime date>`), each followed by
 * one empty line. Body lines that would look like a separator are escaped:
 *  - mboxrd: every line matching `>*From ` gets one more `>`; reading takes one away — exact;
 *  - mboxo: only `From ` becomes `>From `; reading turns `>From ` back into `From ` (a body line
 *    that was `>From ` in the first place cannot be told apart: mboxo is lossy, mboxrd is not).
 * What we write is mboxrd. A separator is any line starting with `From ` (every body line that
 * could be one is escaped in both forms).
 *
 * Flags travel in headers (as mutt, Thunderbird and Dovecot's mbox write them): `Status:` (R
 * \Seen, O not \Recent), `X-Status:` (A \Answered, F \Flagged, T \Draft, D \Deleted) and
 * `X-Keywords:` (keywords, separated by spaces or commas). `mailctl export mbox` writes these
 * three right after the `From ` line. Reading: when such lines come first (where we write them)
 * the flags are theirs and the lines are taken off, so an export imported again is the same
 * bytes (a message's own Status: line further down stays, and does not count); otherwise
 * the flags come from those lines wherever they are in the header, and the bytes stay.
 *
 * INTERNALDATE is the date of the `From ` line (asctime, UTC when written by us).
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** `From sender Tue Dec  1 14:00:29 2026` (asctime, UTC). */
export function fromLine(sender: string, date: number): string {
  const d = new Date(date);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const day = String(d.getUTCDate()).padStart(2, ' ');
  return `From ${sender || 'MAILER-DAEMON'} ${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${day} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${d.getUTCFullYear()}\n`;
}

/** The date of a `From ` line (asctime, taken as UTC), or null. */
export function fromLineDate(line: string): number | null {
  const m = /\s(?:[A-Z][a-z]{2}\s+)?([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d{1,2}):(\d\d)(?::(\d\d))?\s+(?:[A-Z]{3,5}\s+|[+-]\d{4}\s+)?(\d{4})\s*$/.exec(
    line.replace(/\r?\n$/, ''),
  );
  if (!m) return null;
  const month = MONTHS.indexOf(m[1]);
  if (month < 0) return null;
  const t = Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5] ?? 0));
  return Number.isFinite(t) ? t : null;
}

const STATUS_FLAGS: Record<string, string> = { R: '\\Seen' };
const X_STATUS_FLAGS: Record<string, string> = { A: '\\Answered', F: '\\Flagged', T: '\\Draft', D: '\\Deleted' };

/** The Status/X-Status/X-Keywords lines for flags ('' when none apply). */
export function statusHeaders(flags: readonly string[]): string {
  const lower = new Set(flags.map((f) => f.toLowerCase()));
  let status = lower.has('\\seen') ? 'RO' : 'O';
  if (!lower.has('\\seen') && lower.has('\\recent')) status = '';
  const x = Object.entries(X_STATUS_FLAGS)
    .filter(([, f]) => lower.has(f.toLowerCase()))
    .map(([c]) => c)
    .join('');
  const keywords = flags.filter((f) => !f.startsWith('\\'));
  return `Status: ${status}\nX-Status: ${x}\nX-Keywords: ${keywords.join(' ')}\n`;
}

export interface MboxMessage {
  raw: Buffer;
  flags: string[];
  internalDate: number | null;
  /** Byte offset of the `From ` line in the file: the message's identity for resuming. */
  offset: number;
}

/**
 * Flags from Status/X-Status/X-Keywords. When such lines open the header (where
 * `mailctl export mbox` writes them), the flags are theirs alone and the bytes are returned
 * without them; else the flags come from those lines wherever they are, and the bytes stay.
 */
export function readStatus(raw: Buffer): { flags: string[]; raw: Buffer } {
  const leadingFlags: string[] = [];
  const laterFlags: string[] = [];
  let pos = 0;
  let leading = true;
  let stripTo = 0;
  while (pos < raw.length) {
    const nl = raw.indexOf(0x0a, pos);
    const end = nl < 0 ? raw.length : nl + 1;
    const line = raw.toString('latin1', pos, end).replace(/\r?\n$/, '');
    if (line === '') break;
    const m = /^(Status|X-Status|X-Keywords):[ \t]*(.*)$/i.exec(line);
    if (m) {
      const flags = leading ? leadingFlags : laterFlags;
      const name = m[1].toLowerCase();
      const value = m[2].trim();
      const table = name === 'status' ? STATUS_FLAGS : name === 'x-status' ? X_STATUS_FLAGS : null;
      if (table) {
        for (const c of value) if (table[c]) flags.push(table[c]);
      } else flags.push(...value.split(/[\s,]+/).filter(Boolean));
      if (leading) stripTo = end;
    } else leading = false;
    pos = end;
  }
  if (stripTo > 0) return { flags: [...new Set(leadingFlags)], raw: raw.subarray(stripTo) };
  return { flags: [...new Set(laterFlags)], raw };
}

/** mboxrd escaping of a message body for writing: `>*From ` lines get one more `>`. */
export function escapeFromLines(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let pos = 0;
  let start = 0;
  while (pos < raw.length) {
    let i = pos;
    while (i < raw.length && raw[i] === 0x3e) i++;
    if (raw.toString('latin1', i, i + 5) === 'From ') {
      parts.push(raw.subarray(start, pos), Buffer.from('>'));
      start = pos;
    }
    const nl = raw.indexOf(0x0a, pos);
    if (nl < 0) break;
    pos = nl + 1;
  }
  parts.push(raw.subarray(start));
  return Buffer.concat(parts);
}

/**
 * Reads an mbox stream message by message (one message in memory at a time): the `From ` line
 * taken off, escaping undone, the one line break that separates messages taken off.
 */
export async function* readMbox(input: AsyncIterable<Buffer>, format: 'mboxrd' | 'mboxo' = 'mboxrd'): AsyncGenerator<MboxMessage> {
  let lines: Buffer[] = [];
  let current: { offset: number; date: number | null } | null = null;
  let offset = 0;
  let carry: Buffer = Buffer.alloc(0);
  const finish = (): MboxMessage | null => {
    if (!current) return null;
    let raw = Buffer.concat(lines);
    // The separating empty line: one LF (CRLF messages end "\r\n" + "\n").
    if (raw.length > 0 && raw[raw.length - 1] === 0x0a) raw = raw.subarray(0, raw.length - 1);
    const status = readStatus(raw);
    return { raw: status.raw, flags: status.flags, internalDate: current.date, offset: current.offset };
  };
  const onLine = (line: Buffer, at: number): MboxMessage | null => {
    if (line.length >= 5 && line.toString('latin1', 0, 5) === 'From ') {
      const done = finish();
      current = { offset: at, date: fromLineDate(line.toString('latin1')) };
      lines = [];
      return done;
    }
    if (!current) return null; // text before the first separator: not a message
    let i = 0;
    while (i < line.length && line[i] === 0x3e) i++;
    if (i > 0 && line.toString('latin1', i, i + 5) === 'From ' && (format === 'mboxrd' || i === 1)) line = line.subarray(1);
    lines.push(line);
    return null;
  };
  for await (const chunk of input) {
    const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, pos);
      if (nl < 0) break;
      const msg = onLine(Buffer.from(buf.subarray(pos, nl + 1)), offset + pos);
      if (msg) yield msg;
      pos = nl + 1;
    }
    offset += pos;
    carry = Buffer.from(buf.subarray(pos));
  }
  if (carry.length) {
    const msg = onLine(carry, offset);
    if (msg) yield msg;
  }
  const last = finish();
  if (last) yield last;
}
