/**
 * A bare IMAP client for precise protocol assertions: sends bytes, reads responses with their
 * literals, collects untagged responses until the tagged one.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface Reply {
  /** Untagged and continuation responses, literals inlined, CRLF removed from line ends. */
  untagged: string[];
  /** The tagged line. */
  tagged: string;
  /** Literal bodies in order (byte-exact). */
  literals: Buffer[];
}

export class RawImap {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private closed = false;
  private n = 0;
  socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  private attach(socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, options: { tls?: boolean } = {}): Promise<RawImap> {
    return new Promise((resolve, reject) => {
      const s = options.tls ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => resolve(new RawImap(s))) : net.connect(port, '127.0.0.1', () => resolve(new RawImap(s)));
      s.once('error', reject);
    });
  }

  /** Connects, reads the greeting and logs in. */
  static async login(port: number, user: string, password: string): Promise<RawImap> {
    const c = await RawImap.connect(port);
    await c.line();
    const r = await c.command(`LOGIN ${quote(user)} ${quote(password)}`);
    if (!/ OK /.test(r.tagged)) throw new Error(`login failed: ${r.tagged}`);
    return c;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  private async waitData(deadline: number): Promise<void> {
    if (this.closed) throw new Error(`connection closed; pending ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`);
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timeout; pending ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`);
    await new Promise<void>((r) => {
      const t = setTimeout(r, left);
      this.waiters.push(() => {
        clearTimeout(t);
        r();
      });
    });
  }

  /** One line without CRLF (raw, latin1). */
  async line(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buf.subarray(0, i).toString('latin1');
        this.buf = this.buf.subarray(i + 2);
        return l;
      }
      await this.waitData(deadline);
    }
  }

  async bytes(n: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < n) await this.waitData(deadline);
    const b = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return Buffer.from(b);
  }

  /** One response: a line plus any literals it announces. */
  async response(timeoutMs = 5000, literals: Buffer[] = []): Promise<string> {
    let text = '';
    for (;;) {
      const l = await this.line(timeoutMs);
      const m = /~?\{(\d+)\}$/.exec(l);
      if (!m) return text + l;
      const lit = await this.bytes(Number(m[1]), timeoutMs);
      literals.push(lit);
      text += l + lit.toString('latin1');
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  nextTag(): string {
    return `T${++this.n}`;
  }

  /** Sends `tag command` and collects responses until the tagged one. */
  async command(cmd: string, timeoutMs = 5000): Promise<Reply> {
    const tag = this.nextTag();
    this.write(`${tag} ${cmd}\r\n`);
    return this.until(tag, timeoutMs);
  }

  async until(tag: string, timeoutMs = 5000): Promise<Reply> {
    const untagged: string[] = [];
    const literals: Buffer[] = [];
    for (;;) {
      const r = await this.response(timeoutMs, literals);
      if (r.startsWith(tag + ' ')) return { untagged, tagged: r, literals };
      untagged.push(r);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export function quote(s: string): string {
  return '"' + s.replace(/[\\"]/g, (m) => '\\' + m) + '"';
}
