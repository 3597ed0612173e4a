/**
 * A small POP3 client for `mailctl import pop3` (RFC 1939; STLS RFC 2595 §4; RFC 8314 for
 * implicit TLS on 995): greeting, STLS when not on TLS yet, USER/PASS, UIDL, LIST, RETR with
 * the multi-line response's dot-unstuffing (RFC 1939 §3), QUIT. No DELE: an import never
 * removes anything at the source.
 */
import net from 'node:net';
import tls from 'node:tls';

export class Pop3Error extends Error {
  /** The server's response line (`-ERR [IN-USE] …`), when it answered. */
  readonly response: string | null;
  constructor(message: string, response: string | null = null) {
    super(message);
    this.response = response;
  }
}

export interface Pop3Options {
  host: string;
  port: number;
  /** Implicit TLS (pop3s); else STLS is required. */
  secure: boolean;
  insecure?: boolean;
  timeoutMs?: number;
}

export class Pop3Client {
  private socket: net.Socket | tls.TLSSocket | null = null;
  private buffer: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private closed: Error | null = null;
  private readonly o: Pop3Options;

  constructor(o: Pop3Options) {
    this.o = o;
  }

  async connect(): Promise<void> {
    const { host, port } = this.o;
    const servername = net.isIP(host) ? undefined : host;
    const s = this.o.secure ? tls.connect({ host, port, servername, rejectUnauthorized: !this.o.insecure }) : net.connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      s.once(this.o.secure ? 'secureConnect' : 'connect', () => resolve());
      s.once('error', reject);
    });
    this.attach(s);
    await this.status();
    if (!this.o.secure) {
      await this.command('STLS');
      s.removeAllListeners('data');
      const secured = tls.connect({ socket: s, servername, rejectUnauthorized: !this.o.insecure });
      await new Promise<void>((resolve, reject) => {
        secured.once('secureConnect', () => resolve());
        secured.once('error', reject);
      });
      this.buffer = Buffer.alloc(0);
      this.attach(secured);
    }
  }

  private attach(s: net.Socket | tls.TLSSocket): void {
    this.socket = s;
    s.setTimeout(this.o.timeoutMs ?? 120_000, () => s.destroy(new Error('POP3 server timed out')));
    s.on('data', (d: Buffer) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, d]) : d;
      this.wake();
    });
    const end = (err?: Error) => {
      this.closed ??= err ?? new Error('POP3 connection closed');
      this.wake();
    };
    s.on('error', end);
    s.on('close', () => end());
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private async line(): Promise<Buffer> {
    for (;;) {
      const nl = this.buffer.indexOf(0x0a);
      if (nl >= 0) {
        const line = this.buffer.subarray(0, nl + 1);
        this.buffer = this.buffer.subarray(nl + 1);
        return line;
      }
      if (this.closed) throw new Pop3Error(this.closed.message);
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  /** One status line: `+OK …` or throws with the `-ERR …` line. */
  private async status(): Promise<string> {
    const line = (await this.line()).toString('utf8').replace(/\r?\n$/, '');
    if (!line.startsWith('+OK')) throw new Pop3Error(`POP3 server: ${line}`, line);
    return line;
  }

  async command(cmd: string): Promise<string> {
    if (!this.socket) throw new Pop3Error('not connected');
    this.socket.write(cmd + '\r\n');
    return this.status();
  }

  /** A multi-line response's lines (dot-unstuffed; the terminating "." dropped). */
  private async multiline(): Promise<Buffer[]> {
    const lines: Buffer[] = [];
    for (;;) {
      const line = await this.line();
      if (line.length <= 3 && line[0] === 0x2e && (line.length === 1 || line[1] === 0x0d || line[1] === 0x0a)) return lines;
      lines.push(line[0] === 0x2e ? line.subarray(1) : line);
    }
  }

  async login(user: string, password: string): Promise<void> {
    await this.command(`USER ${user}`);
    await this.command(`PASS ${password}`);
  }

  /** Message number → unique id (RFC 1939 §7 UIDL). */
  async uidl(): Promise<Map<number, string>> {
    await this.command('UIDL');
    const out = new Map<number, string>();
    for (const l of await this.multiline()) {
      const m = /^(\d+)\s+(\S+)/.exec(l.toString('latin1'));
      if (m) out.set(Number(m[1]), m[2]);
    }
    return out;
  }

  /** Message number → size in octets (RFC 1939 §5 LIST). */
  async list(): Promise<Map<number, number>> {
    await this.command('LIST');
    const out = new Map<number, number>();
    for (const l of await this.multiline()) {
      const m = /^(\d+)\s+(\d+)/.exec(l.toString('latin1'));
      if (m) out.set(Number(m[1]), Number(m[2]));
    }
    return out;
  }

  /** The message's bytes as the server holds them (RETR; dot-unstuffed). */
  async retr(n: number): Promise<Buffer> {
    await this.command(`RETR ${n}`);
    return Buffer.concat(await this.multiline());
  }

  async quit(): Promise<void> {
    try {
      if (this.socket && !this.closed) await this.command('QUIT');
    } catch {
      // Leaving either way.
    }
    this.socket?.destroy();
  }
}
