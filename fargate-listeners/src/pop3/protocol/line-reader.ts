/**
 * Splits the client's byte stream into lines. Lines end with CRLF (RFC 1939 §3); a bare LF is
 * accepted as well. The limit is on the line including its CRLF: RFC 2449 §4 caps a command
 * at 255 octets; the listener allows some slack (512) and a larger limit for SASL responses
 * (RFC 5034 §4 lifts the 255-octet cap for them). A line over the limit is reported once as
 * `overflow`, after which the reader yields nothing more: the connection is to be closed.
 */

export type LineEvent = { line: Buffer } | { overflow: true };

export class LineReader {
  /** Maximum octets of one line including its CRLF; may change between lines. */
  limit: number;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private failed = false;

  constructor(limit: number) {
    this.limit = limit;
  }

  push(chunk: Buffer): LineEvent[] {
    if (this.failed) return [];
    const events: LineEvent[] = [];
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(0x0a, start);
      const end = lf === -1 ? chunk.length : lf + 1;
      if (this.pendingLength + (end - start) > this.limit) {
        this.failed = true;
        this.pending = [];
        this.pendingLength = 0;
        events.push({ overflow: true });
        return events;
      }
      if (lf === -1) {
        this.pending.push(chunk.subarray(start));
        this.pendingLength += chunk.length - start;
        break;
      }
      let line = this.pendingLength ? Buffer.concat([...this.pending, chunk.subarray(start, lf)]) : chunk.subarray(start, lf);
      this.pending = [];
      this.pendingLength = 0;
      if (line.length && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      events.push({ line });
      start = end;
    }
    return events;
  }

  /** Drops buffered partial input (after STLS, RFC 2595 §4: nothing sent before TLS may be used after). */
  discard(): void {
    this.pending = [];
    this.pendingLength = 0;
  }
}
