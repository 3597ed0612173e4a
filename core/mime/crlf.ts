/**
 * Canonical line endings for stored messages (RFC 5322 §2.1, RFC 5321 §2.3.8: lines end
 * with CRLF; a bare CR or bare LF is not allowed in a message).
 *
 * Every message we receive (SMTP DATA on the MX and submission listeners, IMAP APPEND) is
 * stored in this form: each LF not preceded by CR becomes CRLF, and each CR not followed by
 * LF becomes CRLF. CRLF stays as it is. Stored bytes are therefore the bytes every reader
 * sees: IMAP BODY[] and RFC822.SIZE, the index's MIME offsets and line counts (computed from
 * the stored bytes), POP3 sizes and `mailctl message show` all agree, and no hop that reads
 * a bare CR or LF as a line end (SMTP smuggling, CVE-2023-51764/51765/51766) can disagree
 * with us on where a line, or the data, ends.
 *
 * `CrlfCanonicalizer` is incremental (a CR at the end of one chunk is decided by the next
 * one), so a message can be converted while it streams into the blob store.
 */

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');

export class CrlfCanonicalizer {
  /** The previous chunk ended with a CR whose meaning depends on the next byte. */
  private pendingCr = false;
  /** LFs that had no CR before them (each became CRLF). */
  bareLf = 0;
  /** CRs that had no LF after them (each became CRLF). */
  bareCr = 0;
  /** Octets emitted so far: the canonical size. */
  size = 0;

  /** The canonical form of `chunk` (given the chunks before it). May hold back a final CR. */
  write(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const parts: Buffer[] = [];
    let from = 0;
    let i = 0;
    if (this.pendingCr) {
      this.pendingCr = false;
      parts.push(CRLF);
      if (chunk[0] === LF) {
        from = i = 1;
      } else {
        this.bareCr++;
      }
    }
    const n = chunk.length;
    for (; i < n; i++) {
      const b = chunk[i];
      if (b === LF) {
        // LF here is never preceded by a CR of this loop (those are consumed below).
        parts.push(chunk.subarray(from, i), CRLF);
        this.bareLf++;
        from = i + 1;
      } else if (b === CR) {
        if (i + 1 === n) {
          parts.push(chunk.subarray(from, i));
          this.pendingCr = true;
          from = n;
        } else if (chunk[i + 1] === LF) {
          i++; // CRLF: kept as it is
        } else {
          parts.push(chunk.subarray(from, i), CRLF);
          this.bareCr++;
          from = i + 1;
        }
      }
    }
    let out: Buffer;
    if (parts.length === 0) out = chunk;
    else {
      if (from < n) parts.push(chunk.subarray(from));
      out = Buffer.concat(parts);
    }
    this.size += out.length;
    return out;
  }

  /** What follows the last chunk: CRLF for a CR that ended the input, else nothing. */
  end(): Buffer {
    if (!this.pendingCr) return Buffer.alloc(0);
    this.pendingCr = false;
    this.bareCr++;
    this.size += 2;
    return CRLF;
  }
}

/** The canonical form of a whole message (the input itself when it is canonical already). */
export function toCanonicalCrlf(raw: Buffer): Buffer {
  const c = new CrlfCanonicalizer();
  const body = c.write(raw);
  const tail = c.end();
  return tail.length ? Buffer.concat([body, tail]) : body;
}

/** True when `raw` has no bare CR and no bare LF. */
export function isCanonicalCrlf(raw: Buffer): boolean {
  for (let i = raw.indexOf(LF); i !== -1; i = raw.indexOf(LF, i + 1)) if (i === 0 || raw[i - 1] !== CR) return false;
  for (let i = raw.indexOf(CR); i !== -1; i = raw.indexOf(CR, i + 1)) if (raw[i + 1] !== LF) return false;
  return true;
}
