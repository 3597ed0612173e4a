/**
 * What SMTP DATA becomes before it is stored, as a stream (a message is never held whole):
 *  - canonical CRLF line endings (core/mime/crlf.ts): bare LF → CRLF, bare CR → CRLF. The
 *    DATA stream is already dot-unstuffed by smtp-server (RFC 5321 §4.5.2);
 *  - Return-Path fields of the received header section removed (core/delivery/return-path.ts:
 *    ours is added at the top when the message is stored).
 * The counters (`crlf.size`, `crlf.bareLf`, `crlf.bareCr`) let accept-message.ts apply the
 * size limit to the canonical octets and refuse bare newlines when configured to.
 *
 * Only the header section is held (at most MAX_HEADER_BYTES); a header section larger than
 * that passes through unchanged.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { withoutReturnPath } from '../../../core/delivery/return-path.ts';
import { CrlfCanonicalizer } from '../../../core/mime/crlf.ts';
import { MAX_HEADER_BYTES } from './submission-headers.ts';

export class CanonicalData extends Transform {
  readonly crlf = new CrlfCanonicalizer();
  /** The start of the message while its header section has not ended; null once released. */
  private held: Buffer | null = Buffer.alloc(0);
  private readonly maxHeaderBytes: number;

  constructor(maxHeaderBytes = MAX_HEADER_BYTES) {
    super();
    this.maxHeaderBytes = maxHeaderBytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.forward(this.crlf.write(chunk));
    done();
  }

  override _flush(done: TransformCallback): void {
    this.forward(this.crlf.end());
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
