/**
 * What the session fuzz tests share (mox's FuzzServer, over a real loopback socket): a raw
 * connection that records every byte the server sends and whether the server closed it, and
 * the mutations applied to well-formed command streams.
 */
import net from 'node:net';
import type { Prng } from './prng.ts';

/** A client socket that keeps all output; `wait` polls a condition over it. */
export class RecordingSocket {
  readonly socket: net.Socket;
  private chunks: Buffer[] = [];
  private written: Buffer[] = [];
  private joined: Buffer | null = null;
  closed = false;
  private waiters = new Set<() => void>();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.joined = null;
      this.poke();
    });
    socket.on('close', () => {
      this.closed = true;
      this.poke();
    });
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<RecordingSocket> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new RecordingSocket(s)));
      s.once('error', reject);
    });
  }

  private poke(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Everything received so far. */
  get received(): Buffer {
    this.joined ??= Buffer.concat(this.chunks);
    return this.joined;
  }

  /** Everything written so far (setup, stream and probes). */
  get sent(): Buffer {
    return Buffer.concat(this.written);
  }

  write(bytes: Buffer | string): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    this.written.push(Buffer.from(bytes as Buffer));
    this.socket.write(bytes);
  }

  /** Resolves true as soon as `done()` holds (checked on every arrival), false after `ms`. */
  wait(done: () => boolean, ms: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (done()) finish(true);
      };
      const finish = (v: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(v);
      };
      const timer = setTimeout(() => finish(done()), ms);
      this.waiters.add(check);
    });
  }

  /** Writes `bytes` in random pieces (a client's segments are not its commands). */
  async writeChunked(bytes: Buffer, rnd: Prng): Promise<void> {
    let pos = 0;
    while (pos < bytes.length) {
      const n = 1 + rnd.int(rnd.chance(0.5) ? 16 : 512);
      this.write(bytes.subarray(pos, pos + n));
      pos += n;
      if (rnd.chance(0.2)) await new Promise((r) => setImmediate(r));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Bytes that mean something to a line/literal protocol tokenizer. */
const SPECIALS = [
  0x28, 0x29, 0x5b, 0x5d, 0x7b, 0x7d, 0x22, 0x5c, 0x20, 0x0d, 0x0a, 0x2a, 0x25, 0x3c, 0x3e, 0x2e, 0x30, 0x39, 0x2b, 0x7e, 0x00, 0xff, 0x3a, 0x2c,
];
const SNIPPETS = ['\r\n', '\n', '{5}\r\n', '{0}\r\n', '{3+}\r\n', '{99999999}\r\n', '"', '\\', ' NIL', ' ()', '*', '1:*', '$', 'DONE\r\n', '\x00', '\xff\xfe'];

/** 1–4 byte-level edits: insert/replace/delete a byte, insert a snippet, cut, or repeat a slice. */
export function mutateBytes(input: Buffer, rnd: Prng): Buffer {
  let b = Buffer.from(input);
  const n = 1 + rnd.int(4);
  for (let i = 0; i < n; i++) {
    const pos = rnd.int(b.length + 1);
    const byte = rnd.chance(0.6) ? rnd.pick(SPECIALS) : rnd.int(256);
    switch (rnd.int(6)) {
      case 0:
        b = Buffer.concat([b.subarray(0, pos), Buffer.from([byte]), b.subarray(pos)]);
        break;
      case 1:
        if (pos < b.length) b[pos] = byte;
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, pos), b.subarray(pos + 1 + rnd.int(8))]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, pos), Buffer.from(rnd.pick(SNIPPETS), 'latin1'), b.subarray(pos)]);
        break;
      case 4:
        b = b.subarray(0, pos);
        break;
      default:
        b = Buffer.concat([b.subarray(0, pos), b.subarray(pos, pos + rnd.int(64)), b.subarray(pos)]);
    }
  }
  return b;
}
