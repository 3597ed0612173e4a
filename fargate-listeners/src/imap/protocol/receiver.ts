/**
 * Incremental, byte-exact IMAP command receiver (the framing half of the tokenizer).
 *
 * Input bytes are cut into commands: a command is one or more CRLF-terminated lines, every
 * line but the last ending in a literal announcement `{n}` (synchronising, RFC 3501 §4.3 /
 * RFC 9051 §4.3), `{n+}` (non-synchronising, RFC 7888 LITERAL+), `{n-}` is not valid syntax
 * but LITERAL- clients use `{n+}` below 4096 octets) or `~{n}` (literal8, RFC 3516). Literal
 * bytes are taken verbatim, never scanned for CRLF.
 *
 * The receiver does no I/O and knows nothing about sessions: the session pushes bytes, pulls
 * events, and decides on each announced literal (accept → for a synchronising literal the
 * session sends `+ ` and the receiver collects the bytes; reject → the session answers and,
 * for a synchronising literal, the client sends nothing more of the command, RFC 3501 §7.5).
 * The literal is refused *before* any of its bytes are read, which is how a 1 GB announcement
 * costs nothing.
 *
 * Limits: a line longer than maxLineLength is discarded up to its LF (an error event is
 * emitted once); a command whose text and literals exceed maxCommandSize, or with more than
 * maxLiterals literals, is refused at the literal announcement.
 *
 * Literal memory per command: the receiver counts the octets of the literals it accepted in the
 * current command and reports them with each announcement (`literalBytes`, and apart from them
 * `largeBytes`: the octets of the large literals — APPEND's messages — already taken), so the
 * session can bound the *sums*, not just each literal: otherwise 64 literals of the APPEND limit
 * each would be buffered.
 */

export interface ReceiverLimits {
  /** Octets of one line (text between literals), CRLF excluded. */
  maxLineLength: number;
  /** Octets of text parts of one command (literals are limited by the session's decision). */
  maxCommandText: number;
  /** Number of literals in one command. */
  maxLiterals: number;
}

export const DEFAULT_RECEIVER_LIMITS: ReceiverLimits = {
  maxLineLength: 64 * 1024,
  maxCommandText: 256 * 1024,
  maxLiterals: 64,
};

export type CommandPart = { kind: 'text'; bytes: Buffer } | { kind: 'literal'; bytes: Buffer; binary: boolean };

export type ReceiveEvent =
  | { type: 'need-more' }
  /** A complete command: text, literal, text, …, text (always starts and ends with text). */
  | { type: 'command'; parts: CommandPart[] }
  /** A literal was announced; call acceptLiteral() or rejectLiteral() before next(). */
  | {
      type: 'literal';
      size: number;
      sync: boolean;
      binary: boolean;
      tag: string | null;
      command: string | null;
      /** How many literals of this command were accepted before this one. */
      index: number;
      /** Octets of this command's accepted literals, the large ones excepted (see acceptLiteral). */
      literalBytes: number;
      /** Octets of this command's literals accepted with { large: true }. */
      largeBytes: number;
      /** The first line has arguments after the command name before its literal (APPEND: the mailbox). */
      argsBefore: boolean;
    }
  /** A line that cannot be processed (too long, too large a command); tag when known. */
  | { type: 'error'; tag: string | null; message: string; fatal: boolean }
  /** A bare line (lineMode only: AUTHENTICATE continuation, IDLE's DONE). */
  | { type: 'line'; bytes: Buffer };

const LF = 0x0a;
const CR = 0x0d;

export class Receiver {
  private readonly limits: ReceiverLimits;
  /** Unconsumed line-mode bytes. */
  private pending: Buffer = Buffer.alloc(0);
  /** pending[0, scanned) has no LF. */
  private scanned = 0;
  /**
   * Chunks after `pending` that hold no LF, not yet copied into it: a client trickling a long
   * line in tiny pieces costs one copy at the end, not one per piece.
   */
  private tail: Buffer[] = [];
  private tailLength = 0;
  private parts: CommandPart[] = [];
  private textSize = 0;
  private literalCount = 0;
  /** Octets of accepted literals of this command, the large ones excepted. */
  private literalBytes = 0;
  /** Octets of accepted large literals of this command. */
  private largeBytes = 0;
  private state: 'line' | 'decide' | 'literal' | 'discard-line' = 'line';
  private literal: { size: number; binary: boolean; chunks: Buffer[]; got: number } | null = null;
  private announced: { size: number; sync: boolean; binary: boolean } | null = null;

  constructor(limits: Partial<ReceiverLimits> = {}) {
    this.limits = { ...DEFAULT_RECEIVER_LIMITS, ...limits };
  }

  /** Octets held in line mode (for flow control: pause the socket above a threshold). */
  get bufferedBytes(): number {
    return this.pending.length + this.tailLength;
  }

  /** True while in the middle of a command (some of its lines or literals received). */
  get inCommand(): boolean {
    return this.parts.length > 0 || this.state !== 'line';
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.state === 'literal' && this.pending.length === 0 && this.tailLength === 0) {
      chunk = this.feedLiteral(chunk);
      if (chunk.length === 0) return;
    }
    if (chunk.indexOf(LF) < 0) {
      this.tail.push(chunk);
      this.tailLength += chunk.length;
      return;
    }
    this.consolidate(chunk);
  }

  /** Moves the tail (and an optional new chunk) into `pending`. */
  private consolidate(extra?: Buffer): void {
    if (this.tailLength === 0 && !extra) return;
    const parts = [this.pending, ...this.tail];
    if (extra) parts.push(extra);
    this.pending = parts.length === 2 && this.pending.length === 0 ? parts[1] : Buffer.concat(parts);
    this.tail = [];
    this.tailLength = 0;
  }

  /** Drops everything buffered (after STARTTLS: no plaintext may survive into TLS, RFC 3501 §6.2.1). */
  reset(): void {
    this.pending = Buffer.alloc(0);
    this.scanned = 0;
    this.tail = [];
    this.tailLength = 0;
    this.resetCommand();
  }

  /**
   * Takes the octets received but not yet read, between commands: after COMPRESS (RFC 4978
   * §3) they are compressed input and go to the inflater instead.
   */
  takeUnread(): Buffer {
    this.consolidate();
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    this.scanned = 0;
    return rest;
  }

  private resetCommand(): void {
    this.parts = [];
    this.textSize = 0;
    this.literalCount = 0;
    this.literalBytes = 0;
    this.largeBytes = 0;
    this.state = 'line';
    this.literal = null;
    this.announced = null;
  }

  /** Moves bytes into the literal being collected; returns what is left. */
  private feedLiteral(chunk: Buffer): Buffer {
    const lit = this.literal!;
    const take = Math.min(lit.size - lit.got, chunk.length);
    if (take > 0) {
      lit.chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
      lit.got += take;
    }
    if (lit.got === lit.size) {
      const bytes = lit.chunks.length === 1 ? lit.chunks[0] : Buffer.concat(lit.chunks, lit.size);
      this.parts.push({ kind: 'literal', bytes: Buffer.from(bytes), binary: lit.binary });
      this.literal = null;
      this.state = 'line';
    }
    return chunk.subarray(take);
  }

  /**
   * Accepts the announced literal. `large` marks a literal the session allows a larger limit
   * for (APPEND's messages); its octets are counted in largeBytes, not in literalBytes.
   */
  acceptLiteral(options: { large?: boolean } = {}): void {
    if (this.state !== 'decide' || !this.announced) throw new Error('no literal to accept');
    if (options.large) {
      this.largeBytes += this.announced.size;
    } else {
      this.literalBytes += this.announced.size;
    }
    this.literal = { size: this.announced.size, binary: this.announced.binary, chunks: [], got: 0 };
    this.announced = null;
    this.literalCount++;
    this.state = 'literal';
    if (this.literal.size === 0) {
      this.parts.push({ kind: 'literal', bytes: Buffer.alloc(0), binary: this.literal.binary });
      this.literal = null;
      this.state = 'line';
    }
  }

  /**
   * Abandons the command. For a synchronising literal the client sends nothing more of it.
   * (A refused non-synchronising literal cannot be skipped safely; the session closes.)
   */
  rejectLiteral(): void {
    if (this.state !== 'decide') throw new Error('no literal to reject');
    this.resetCommand();
  }

  /** The next line, null when incomplete, or { tooLong } with the line's first bytes. */
  private takeLine(): Buffer | null | { tooLong: Buffer; consumed: boolean } {
    const idx = this.pending.indexOf(LF, this.scanned);
    if (idx < 0) {
      this.scanned = this.pending.length;
      // The tail holds no LF either; only its size matters until an LF arrives.
      if (this.pending.length + this.tailLength > this.limits.maxLineLength) {
        this.consolidate();
        return { tooLong: Buffer.from(this.pending.subarray(0, 300)), consumed: false };
      }
      return null;
    }
    let end = idx;
    if (end > 0 && this.pending[end - 1] === CR) end--;
    const line = this.pending.subarray(0, end);
    this.pending = this.pending.subarray(idx + 1);
    this.scanned = 0;
    // Already consumed up to its LF: nothing left to discard.
    if (line.length > this.limits.maxLineLength) return { tooLong: Buffer.from(line.subarray(0, 300)), consumed: true };
    return line;
  }

  next(options: { lineMode?: boolean } = {}): ReceiveEvent {
    for (;;) {
      if (this.state === 'decide') throw new Error('literal decision pending');
      if (this.state !== 'line') this.consolidate();
      if (this.state === 'literal') {
        if (this.pending.length === 0) return { type: 'need-more' };
        const rest = this.feedLiteral(this.pending);
        this.pending = rest;
        this.scanned = 0;
        if (this.state === 'literal') return { type: 'need-more' };
        continue;
      }
      if (this.state === 'discard-line') {
        const idx = this.pending.indexOf(LF);
        if (idx < 0) {
          this.pending = Buffer.alloc(0);
          this.scanned = 0;
          return { type: 'need-more' };
        }
        this.pending = this.pending.subarray(idx + 1);
        this.scanned = 0;
        this.resetCommand();
        continue;
      }
      const line = this.takeLine();
      if (line === null) return { type: 'need-more' };
      if (!Buffer.isBuffer(line)) {
        const tag = this.parts.length > 0 ? this.tagOf() : tagIn(line.tooLong);
        this.resetCommand();
        if (!line.consumed) this.state = 'discard-line';
        return { type: 'error', tag, message: 'Line too long', fatal: false };
      }
      if (options.lineMode && this.parts.length === 0) return { type: 'line', bytes: Buffer.from(line) };
      // RFC 3501 has no empty command; tolerate stray CRLFs between commands.
      if (line.length === 0 && this.parts.length === 0) continue;
      const lit = literalAtEnd(line);
      const text = lit ? line.subarray(0, lit.start) : line;
      this.textSize += text.length;
      this.parts.push({ kind: 'text', bytes: Buffer.from(text) });
      if (this.textSize > this.limits.maxCommandText) {
        const tag = this.tagOf();
        this.resetCommand();
        // After a non-synchronising literal announcement its bytes follow: no way to resync.
        return { type: 'error', tag, message: 'Command too long', fatal: !!lit && !lit.sync };
      }
      if (!lit) {
        const parts = this.parts;
        this.resetCommand();
        return { type: 'command', parts };
      }
      if (this.literalCount >= this.limits.maxLiterals) {
        const tag = this.tagOf();
        this.resetCommand();
        return { type: 'error', tag, message: 'Too many literals', fatal: !lit.sync };
      }
      this.state = 'decide';
      this.announced = { size: lit.size, sync: lit.sync, binary: lit.binary };
      const { tag, command } = this.headOf();
      return {
        type: 'literal',
        size: lit.size,
        sync: lit.sync,
        binary: lit.binary,
        tag,
        command,
        index: this.literalCount,
        literalBytes: this.literalBytes,
        largeBytes: this.largeBytes,
        argsBefore: this.argsBefore(),
      };
    }
  }

  /** Whether the first line has words after the tag and command name (before its literal). */
  private argsBefore(): boolean {
    const first = this.parts[0];
    if (!first || first.kind !== 'text') return false;
    const words = first.bytes
      .subarray(0, 300)
      .toString('latin1')
      .split(' ')
      .filter((w) => w.length > 0);
    const head = words[1]?.toUpperCase() === 'UID' ? 3 : 2;
    return words.length > head;
  }

  private tagOf(): string | null {
    return this.headOf().tag;
  }

  /** Best-effort tag and command name of the command being received (for literal decisions). */
  private headOf(): { tag: string | null; command: string | null } {
    const first = this.parts[0];
    if (!first || first.kind !== 'text') return { tag: null, command: null };
    return headIn(first.bytes);
  }
}

function headIn(bytes: Buffer): { tag: string | null; command: string | null } {
  const words = bytes.subarray(0, 200).toString('latin1').split(' ');
  const tag = isTag(words[0] ?? '') ? words[0] : null;
  let command = words[1] ? words[1].toUpperCase() : null;
  if (command === 'UID' && words[2]) command = `UID ${words[2].toUpperCase()}`;
  return { tag, command };
}

function tagIn(bytes: Buffer): string | null {
  return headIn(bytes).tag;
}

/** tag = 1*<any ASTRING-CHAR except "+"> (RFC 9051 §9). */
export function isTag(s: string): boolean {
  return /^[\x21-\x7e]+$/.test(s) && !/[(){%*"\\+]/.test(s) && s.length <= 256;
}

/** `{123}`, `{123+}`, `~{123}` at the very end of a line; size Infinity when absurdly long. */
export function literalAtEnd(line: Buffer): { start: number; size: number; sync: boolean; binary: boolean } | null {
  let i = line.length - 1;
  if (i < 2 || line[i] !== 0x7d /* } */) return null;
  i--;
  let sync = true;
  if (line[i] === 0x2b /* + */) {
    sync = false;
    i--;
  }
  const digitsEnd = i + 1;
  while (i >= 0 && line[i] >= 0x30 && line[i] <= 0x39) i--;
  const digitsStart = i + 1;
  if (digitsStart === digitsEnd || i < 0 || line[i] !== 0x7b /* { */) return null;
  const digits = line.toString('latin1', digitsStart, digitsEnd);
  const size = digits.length > 15 ? Infinity : Number(digits);
  let start = i;
  let binary = false;
  if (start > 0 && line[start - 1] === 0x7e /* ~ */) {
    binary = true;
    start--;
  }
  return { start, size, sync, binary };
}
