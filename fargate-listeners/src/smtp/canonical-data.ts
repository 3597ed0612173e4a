/**
 * What SMTP DATA becomes before it is stored, as a stream (a message is never held whole):
 *  - canonical CRLF line endings (core/mime/crlf.ts): bare LF → CRLF, bare CR → CRLF. The
 *    DATA stream is already dot-unstuffed by smtp-server (RFC 5321 §4.5.2);
 *  - Return-Path fields of the received header section removed (core/delivery/return-path.ts:
 *    ours is added at the top when the message is stored);
 *  - DATA that ends with a bare LF and then CRLF ends with one line end, not two: a client
 *    that sends a file whose lines end in LF adds CRLF before the final dot because it does
 *    not see the LF as a line end (Python's smtplib: "if the data does not end with CRLF");
 *    the file's last line ended with its LF, so the message is the CRLF form of the file,
 *    not that plus an empty line.
 * The counters (`crlf.size`, `crlf.bareLf`, `crlf.bareCr`) let accept-message.ts apply the
 * size limit to the canonical octets and refuse bare newlines when configured to.
 *
 * Only the header section is held (at most MAX_HEADER_BYTES); a header section larger than
 * that passes through unchanged.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { withoutReturnPath } from '#core/delivery/return-path.ts';
import { CrlfCanonicalizer } from '#core/mime/crlf.ts';
import { MAX_HEADER_BYTES } from './submission-headers.ts';

export class CanonicalData extends Transform {
  readonly crlf = new CrlfCanonicalizer();
  /** The start of the message while its header section has not ended; null once released. */
  private held: Buffer | null = Buffer.alloc(0);
  private readonly maxHeaderBytes: number;
  /** The last two canonical octets, held until more follow or the data ends. */
  private tail: Buffer = Buffer.alloc(0);
  /** The last (at most 4) octets received, to see how the data ended. */
  private lastIn: Buffer = Buffer.alloc(0);

  constructor(maxHeaderBytes = MAX_HEADER_BYTES) {
    super();
    this.maxHeaderBytes = maxHeaderBytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (chunk.length === 0) return done();
    this.lastIn = Buffer.concat([this.lastIn, chunk.subarray(-4)]).subarray(-4);
    const out = this.crlf.write(chunk);
    if (out.length > 0) {
      const all = this.tail.length ? Buffer.concat([this.tail, out]) : out;
      this.tail = all.subarray(all.length - Math.min(2, all.length));
      this.forward(all.subarray(0, all.length - this.tail.length));
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    let last = Buffer.concat([this.tail, this.crlf.end()]);
    const l = this.lastIn;
    const n = l.length;
    // ... <not CR> LF CR LF: the client's CRLF after a line that its bare LF had ended.
    if (n >= 3 && l[n - 3] === 0x0a && l[n - 2] === 0x0d && l[n - 1] === 0x0a && (n === 3 || l[n - 4] !== 0x0d)) last = last.subarray(0, last.length - 2);
    this.forward(last);
    // No blank line: the whole message is header (RFC 5322 §3.5 allows no body).
    if (this.held !== null) this.release(this.held.length);
    done();
  }

  private forward(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.held === null) {
      this.push(bytes);
      return;
    }
    const scanFrom = Math.max(0, this.held.length - 3);
    const all = this.held.length ? Buffer.concat([this.held, bytes]) : bytes;
    this.held = all;
    // The header section ends at the first empty line (canonical bytes: CRLF CRLF, or CRLF
    // as the very first line).
    let end = -1;
    if (all.length >= 2 && all[0] === 0x0d && all[1] === 0x0a) end = 2;
    else {
      const i = all.indexOf('\r\n\r\n', scanFrom);
      if (i !== -1) end = i + 4;
    }
    if (end !== -1 && end <= this.maxHeaderBytes) this.release(end);
    else if (all.length > this.maxHeaderBytes) {
      this.held = null;
      this.push(all);
    }
  }

  private release(headerEnd: number): void {
    const all = this.held!;
    this.held = null;
    const header = withoutReturnPath(all.subarray(0, headerEnd));
    if (header.length) this.push(header);
    if (headerEnd < all.length) this.push(all.subarray(headerEnd));
  }
}
