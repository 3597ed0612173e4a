/**
 * Writing to the client with backpressure: responses are queued as chunks and flushed in
 * batches; when the socket's buffer is full the session waits for 'drain' before producing
 * more (a slow or stalled reader costs its own session time, never the process's memory
 * or other sessions).
 */
import type { Socket } from 'node:net';
import zlib from 'node:zlib';
import type { Chunk } from '../protocol/encode.ts';

const FLUSH_AT = 64 * 1024;

export class Output {
  private socket: Socket;
  private queue: Buffer[] = [];
  private queued = 0;
  /** Octets written since the session started (for logs). */
  written = 0;

  constructor(socket: Socket) {
    this.socket = socket;
  }

  /** COMPRESS=DEFLATE (RFC 4978): everything flushed from now on goes through this. */
  private deflate: zlib.DeflateRaw | null = null;

  setSocket(socket: Socket): void {
    this.socket = socket;
  }

  /**
   * Starts compressing the output (after the tagged OK of COMPRESS went out uncompressed,
   * RFC 4978 §3). Each flush() ends with a Z_SYNC_FLUSH so the client can decompress every
   * response completely as soon as it arrives (§4).
   */
  startCompression(deflate: zlib.DeflateRaw): void {
    this.deflate = deflate;
    deflate.on('data', (c: Buffer) => {
      if (!this.closed) this.socket.write(c);
    });
  }

  get closed(): boolean {
    return this.socket.destroyed || !this.socket.writable;
  }

  /** Text queued after the last Buffer (joined lazily: one Buffer per run of strings). */
  private text = '';

  private takeText(): void {
    if (this.text.length === 0) return;
    const b = Buffer.from(this.text, 'utf8');
    this.text = '';
    this.queue.push(b);
  }

  /** Queues chunks; strings are UTF-8 (ASCII in practice), Buffers go as they are. */
  push(chunks: Chunk[] | Chunk): void {
    if (typeof chunks === 'string' || Buffer.isBuffer(chunks)) chunks = [chunks];
    for (const c of chunks) {
      if (typeof c === 'string') {
        this.text += c;
        this.queued += c.length;
      } else {
        this.takeText();
        this.queue.push(c);
        this.queued += c.length;
      }
    }
  }

  /**
   * Queues and flushes when enough is pending; the promise (only then) resolves when the
   * socket can take more. Nothing to wait for most of the time, so a FETCH of many messages
   * does not pay a microtask per message.
   */
  write(chunks: Chunk[] | Chunk): Promise<void> | undefined {
    this.push(chunks);
    if (this.queued >= FLUSH_AT) return this.flush();
    return undefined;
  }

  /** write() of `prefix`, the chunks and `suffix`, without joining them into a new array. */
  writeLine(prefix: string, chunks: Chunk[], suffix: string): Promise<void> | undefined {
    this.push(prefix);
    this.push(chunks);
    return this.write(suffix);
  }

  /** Sends everything queued; resolves once the socket can take more (or is gone). */
  async flush(): Promise<void> {
    this.takeText();
    if (this.queue.length === 0) return;
    const data = this.queue.length === 1 ? this.queue[0] : Buffer.concat(this.queue);
    this.queue = [];
    this.queued = 0;
    if (this.closed) return;
    this.written += data.length;
    const deflate = this.deflate;
    if (deflate) {
      if (deflate.destroyed) return;
      deflate.write(data);
      await new Promise<void>((resolve) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
      if (this.socket.writableNeedDrain) await this.drain();
      return;
    }
    const ok = this.socket.write(data);
    if (!ok) await this.drain();
  }

  private drain(): Promise<void> {
    const socket = this.socket;
    return new Promise((resolve) => {
      if (socket.destroyed || !socket.writableNeedDrain) return resolve();
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }
}
