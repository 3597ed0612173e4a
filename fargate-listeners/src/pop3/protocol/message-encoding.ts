/**
 * How a stored message travels in a POP3 multi-line response (RETR, TOP).
 *
 * 1. Line endings: POP3 lines end with CRLF (RFC 1939 §3). Messages are stored with CRLF line
 *    endings (core/mime/crlf.ts), for which this step changes nothing; messages stored before
 *    that may still have bare LF, and stored bytes never change (invariant 5). So on the wire
 *    every LF not preceded by CR becomes CRLF. A bare CR (not followed by LF) is data and is
 *    sent as is.
 * 2. Final line: the terminating `.` must start a line, so a message that does not end with
 *    CRLF gets one (a trailing bare CR is completed with LF).
 * 3. Byte-stuffing: a line that starts with '.' gets one more '.' (RFC 1939 §3).
 *
 * The "POP3 form" of a message is the result of steps 1 and 2: what a client holds after it
 * removes the byte-stuffing and the terminator. Its length is the size STAT, LIST and the RETR
 * status line report (RFC 1939 §5 LIST: "the exact size of the message in octets"; §11: a
 * server that stores other line endings must count the CRLF it sends).
 *
 * The encoder is a streaming state machine, so a large message is never held twice in memory.
 */
import { Transform, type TransformCallback } from 'node:stream';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

export class Pop3Encoder {
  private readonly stuff: boolean;
  /** The last byte emitted was a CR (a following LF completes it; anything else leaves it bare). */
  private afterCr = false;
  /** The next byte starts a line. */
  private lineStart = true;
  /** Anything emitted yet (an empty message stays empty). */
  private any = false;
  /** Octets emitted, byte-stuffing excluded: the POP3 size. */
  size = 0;

  /** `dotStuff: false` gives the POP3 form itself (size counting, TOP extraction). */
  constructor(options: { dotStuff: boolean }) {
    this.stuff = options.dotStuff;
  }

  write(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    this.any = true;
    // Worst case each byte doubles (LF → CRLF, '.' at line start → '..').
    const out = Buffer.allocUnsafe(chunk.length * 2);
    let o = 0;
    let stuffed = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === LF) {
        if (!this.afterCr) out[o++] = CR;
        out[o++] = LF;
        this.afterCr = false;
        this.lineStart = true;
        continue;
      }
      if (this.lineStart && b === DOT && this.stuff) {
        out[o++] = DOT;
        stuffed++;
      }
      out[o++] = b;
      this.afterCr = b === CR;
      this.lineStart = false;
    }
    this.size += o - stuffed;
    return out.subarray(0, o);
  }

  /** What must follow the last chunk so that the message ends with CRLF (step 2). */
  end(): Buffer {
    let tail: Buffer;
    if (!this.any || this.lineStart) tail = Buffer.alloc(0);
    else if (this.afterCr) tail = Buffer.from('\n');
    else tail = Buffer.from('\r\n');
    this.size += tail.length;
    if (tail.length) this.lineStart = true;
    this.afterCr = false;
    return tail;
  }
}

/** The POP3 form of a whole message (steps 1-2), e.g. for tests and size accounting. */
export function pop3Form(raw: Buffer): Buffer {
  const enc = new Pop3Encoder({ dotStuff: false });
  return Buffer.concat([enc.write(raw), enc.end()]);
}

/** The size of the POP3 form, without building it. */
export function pop3Size(raw: Buffer): number {
  let bareLf = 0;
  for (let i = raw.indexOf(LF); i !== -1; i = raw.indexOf(LF, i + 1)) if (i === 0 || raw[i - 1] !== CR) bareLf++;
  let size = raw.length + bareLf;
  if (raw.length > 0 && raw[raw.length - 1] !== LF) size += raw[raw.length - 1] === CR ? 1 : 2;
  return size;
}

/** Counts the POP3 size of a stream of stored bytes. */
export class Pop3SizeCounter {
  private bareLf = 0;
  private total = 0;
  private last = -1;
  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) {
      const prev = i === 0 ? this.last : chunk[i - 1];
      if (prev !== CR) this.bareLf++;
    }
    this.total += chunk.length;
    this.last = chunk[chunk.length - 1];
  }
  get size(): number {
    let size = this.total + this.bareLf;
    if (this.total > 0 && this.last !== LF) size += this.last === CR ? 1 : 2;
    return size;
  }
}

/** A stream transform from stored bytes to the body of a multi-line response (steps 1-3). */
export class Pop3EncodeStream extends Transform {
  readonly encoder = new Pop3Encoder({ dotStuff: true });
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const out = this.encoder.write(chunk);
    if (out.length) this.push(out);
    done();
  }
  override _flush(done: TransformCallback): void {
    const tail = this.encoder.end();
    if (tail.length) this.push(tail);
    done();
  }
}

/** Byte-stuffs a buffer already in POP3 form (CRLF lines, ending with CRLF). */
export function dotStuff(pop3FormBytes: Buffer): Buffer {
  const enc = new Pop3Encoder({ dotStuff: true });
  return Buffer.concat([enc.write(pop3FormBytes), enc.end()]);
}

/**
 * Collects the answer to TOP msg n (RFC 1939 §7): the header, the blank line that ends it,
 * then at most n lines of the body, from chunks of the POP3 form (CRLF lines). `push` returns
 * true once enough has been seen, so the caller can stop reading the blob early.
 * A message without a blank line is all header; it is returned whole.
 */
export class TopCollector {
  private readonly bodyLines: number;
  private readonly parts: Buffer[] = [];
  private length = 0;
  /** Offset just after the header's blank line, once found. */
  private bodyStart = -1;
  /** Where to resume searching for line ends. */
  private scan = 0;
  private linesSeen = 0;
  private cut = -1;

  constructor(bodyLines: number) {
    this.bodyLines = bodyLines;
  }

  private joined(): Buffer {
    if (this.parts.length > 1) {
      const all = Buffer.concat(this.parts);
      this.parts.length = 0;
      this.parts.push(all);
    }
    return this.parts[0] ?? Buffer.alloc(0);
  }

  push(chunk: Buffer): boolean {
    if (this.cut !== -1) return true;
    this.parts.push(chunk);
    this.length += chunk.length;
    const all = this.joined();
    if (this.bodyStart === -1) {
      // The header ends at the first empty line: CRLF at the very start, or CRLF CRLF.
      if (all.length >= 2 && all[0] === CR && all[1] === LF) this.bodyStart = 2;
      else {
        const i = all.indexOf('\r\n\r\n', Math.max(0, this.scan - 3));
        if (i === -1) {
          this.scan = all.length;
          return false;
        }
        this.bodyStart = i + 4;
      }
      this.scan = this.bodyStart;
    }
    while (this.linesSeen < this.bodyLines) {
      const i = all.indexOf('\r\n', this.scan);
      if (i === -1) return false;
      this.linesSeen++;
      this.scan = i + 2;
    }
    this.cut = this.scan;
    return true;
  }

  /** The collected POP3 form (ending with CRLF), to be byte-stuffed before sending. */
  result(): Buffer {
    const all = this.joined();
    return this.cut === -1 ? all : all.subarray(0, this.cut);
  }
}
