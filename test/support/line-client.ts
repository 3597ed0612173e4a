/** A bare line-oriented TCP client for precise protocol assertions (replies, garbage input). */
import net from 'node:net';

export class LineClient {
  private buffer = '';
  private waiters: Array<() => void> = [];
  private closed = false;
  readonly socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffer += d;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /** `localAddress` picks the source address (e.g. 127.0.0.2, to look like another client). */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, localAddress }, () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Next CRLF-terminated line (without CRLF). Rejects on timeout or close. */
  async line(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buffer.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 2);
        return l;
      }
      if (this.closed) throw new Error(`connection closed; pending: ${JSON.stringify(this.buffer)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for a line; pending: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** An SMTP reply: lines until one whose 4th char is a space. Returns all lines joined by \n. */
  async smtpReply(timeoutMs = 5000): Promise<string> {
    const lines: string[] = [];
    for (;;) {
      const l = await this.line(timeoutMs);
      lines.push(l);
      if (l.length < 4 || l[3] !== '-') return lines.join('\n');
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async send(command: string): Promise<string> {
    this.write(command + '\r\n');
    return this.smtpReply();
  }

  /** Waits until the server closes the connection. */
  async closedByServer(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}
