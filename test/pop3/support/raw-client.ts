/** A bare POP3 client for precise protocol assertions: lines, multi-line responses, STLS. */
import net from 'node:net';
import tls from 'node:tls';

export class RawPop3Client {
  private socket: net.Socket;
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.listen(socket);
  }

  private listen(s: net.Socket) {
    s.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.wake();
    });
    s.on('close', () => {
      this.closed = true;
      this.wake();
    });
    s.on('error', () => {});
  }

  static connect(port: number, options: { tls?: boolean } = {}): Promise<RawPop3Client> {
    return new Promise((resolve, reject) => {
      const s = options.tls ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => resolve(new RawPop3Client(s))) : net.connect(port, '127.0.0.1', () => resolve(new RawPop3Client(s)));
      s.once('error', reject);
    });
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  private async waitFor(timeoutMs: number): Promise<void> {
    await new Promise<void>((r) => {
      const t = setTimeout(r, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        r();
      });
    });
  }

  /** Next line without CRLF. */
  async line(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buffer.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buffer.subarray(0, i).toString('latin1');
        this.buffer = this.buffer.subarray(i + 2);
        return l;
      }
      if (this.closed) throw new Error(`closed; pending ${JSON.stringify(this.buffer.toString('latin1'))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout; pending ${JSON.stringify(this.buffer.toString('latin1'))}`);
      await this.waitFor(left);
    }
  }

  /** Lines of a multi-line body up to (not including) the terminating '.'; still stuffed. */
  async body(timeoutMs = 5000): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const l = await this.line(timeoutMs);
      if (l === '.') return lines;
      lines.push(l);
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async cmd(command: string): Promise<string> {
    this.write(command + '\r\n');
    return this.line();
  }

  /** Nothing more arrives within `ms`. */
  async silentFor(ms: number): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms));
    return this.buffer.length === 0;
  }

  /** After `+OK` to STLS: TLS handshake on the same connection. */
  async startTls(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    this.buffer = Buffer.alloc(0);
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.listen(secure);
  }

  async closedByServer(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await this.waitFor(deadline - Date.now());
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}
