/**
 * The byte plumbing every bare protocol test client needs: connect (plain or TLS), buffer what
 * arrives, read CRLF lines or exact byte counts with a timeout, notice the server closing, and
 * upgrade in place (STARTTLS/STLS). SMTP, IMAP and POP3 test clients add their reply grammar.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface ConnectOptions {
  tls?: boolean;
  host?: string;
  /** Source address for plain connections (e.g. 127.0.0.2, to look like another client). */
  localAddress?: string;
}

/** A connected socket (plain, or TLS accepting any certificate: the test servers' are self-signed). */
export function openSocket(port: number, options: ConnectOptions = {}): Promise<net.Socket> {
  const host = options.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const s: net.Socket = options.tls
      ? tls.connect({ port, host, rejectUnauthorized: false }, () => resolve(s))
      : net.connect({ port, host, localAddress: options.localAddress }, () => resolve(s));
    s.once('error', reject);
  });
}

export class SocketReader {
  socket: net.Socket;
  protected buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  constructor(socket: net.Socket) {
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

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves when data arrives, the socket closes, or `ms` pass. */
  protected waitFor(ms: number): Promise<void> {
    return new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        r();
      });
    });
  }

  private async waitData(deadline: number): Promise<void> {
    const pending = JSON.stringify(this.buf.toString('latin1').slice(0, 200));
    if (this.closed) throw new Error(`connection closed; pending ${pending}`);
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timeout; pending ${pending}`);
    await this.waitFor(left);
  }

  /** Next CRLF-terminated line, without the CRLF (latin1). */
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

  /** Exactly `n` bytes. */
  async bytes(n: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < n) await this.waitData(deadline);
    const b = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return Buffer.from(b);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Nothing more arrives within `ms`. */
  async silentFor(ms: number): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms));
    return this.buf.length === 0;
  }

  /** Waits until the server closes the connection. */
  async closedByServer(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await this.waitFor(deadline - Date.now());
    return this.closed;
  }

  /** After the server's go-ahead for STARTTLS/STLS: the TLS handshake on the same connection. */
  async startTls(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    this.buf = Buffer.alloc(0);
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  close(): void {
    this.socket.destroy();
  }
}
