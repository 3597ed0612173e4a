/**
 * The comparison's IMAP client: one connection, one command at a time, literal-aware (a FETCH
 * of BODY.PEEK[] or an APPEND is read and written by its byte count, RFC 9051 §4.3), so it can
 * tell any tagged reply and untagged line apart whatever the messages contain. Untagged lines are
 * kept (literals replaced by their size) only when asked, so a FETCH 1:* of 10,000 messages costs
 * the client little.
 */
import net from 'node:net';

export interface Reply {
  status: 'OK' | 'NO' | 'BAD';
  text: string;
  /** Untagged lines of this command, when `keep` was set. */
  untagged: string[];
  /** Untagged lines seen, kept or not. */
  count: number;
}

interface Pending {
  tag: string;
  keep: boolean;
  untagged: string[];
  count: number;
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
}

export class ImapConnection {
  private buffer = '';
  private line = '';
  private literalLeft = 0;
  private n = 0;
  private pending: Pending | null = null;
  private continuation: (() => void) | null = null;
  private greeted: (() => void) | null = null;
  private closedError: Error | null = null;
  /** Called with every untagged line (e.g. `* 5 EXISTS` during IDLE). */
  onUntagged: ((line: string) => void) | null = null;

  private readonly socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.setNoDelay(true);
    socket.on('data', (d: string) => this.receive(d));
    const fail = (err: Error) => {
      this.closedError ??= err;
      this.pending?.reject(this.closedError);
      this.pending = null;
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('disconnected')));
  }

  /** Connects and waits for the greeting (`* OK`). */
  static connect(port: number, timeoutMs = 60_000): Promise<ImapConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      const c = new ImapConnection(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('no greeting'));
      }, timeoutMs);
      c.greeted = () => {
        clearTimeout(timer);
        resolve(c);
      };
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('close', () => {
        clearTimeout(timer);
        reject(new Error('closed before the greeting'));
      });
    });
  }

  private receive(data: string): void {
    this.buffer += data;
    for (;;) {
      if (this.literalLeft > 0) {
        const take = Math.min(this.literalLeft, this.buffer.length);
        this.literalLeft -= take;
        this.buffer = this.buffer.slice(take);
        if (this.literalLeft > 0) return;
      }
      const end = this.buffer.indexOf('\r\n');
      if (end < 0) return;
      const part = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const literal = /\{(\d+)\+?\}$/.exec(part);
      if (literal) {
        this.line += part.slice(0, literal.index) + `{${literal[1]}}`;
        this.literalLeft = Number(literal[1]);
        continue;
      }
      const line = this.line + part;
      this.line = '';
      this.dispatch(line);
    }
  }

  private dispatch(line: string): void {
    if (this.greeted) {
      const done = this.greeted;
      this.greeted = null;
      if (line.startsWith('* OK')) done();
      else this.socket.destroy(new Error(`greeting: ${line}`));
      return;
    }
    if (line.startsWith('+')) {
      const c = this.continuation;
      this.continuation = null;
      c?.();
      return;
    }
    const p = this.pending;
    if (p && line.startsWith(`${p.tag} `)) {
      this.pending = null;
      this.continuation = null;
      const m = /^\S+ (OK|NO|BAD)\b ?(.*)$/.exec(line);
      p.resolve({ status: (m?.[1] ?? 'BAD') as Reply['status'], text: m?.[2] ?? line, untagged: p.untagged, count: p.count });
      return;
    }
    if (p) {
      p.count++;
      if (p.keep) p.untagged.push(line);
    }
    this.onUntagged?.(line);
  }

  /**
   * Sends a command and resolves at its tagged reply (NO and BAD resolve too: the caller decides).
   * `literal`: sent as a synchronizing literal after the server's continuation (APPEND).
   * `whenContinued`: called at the server's continuation instead (IDLE; RFC 2177).
   */
  command(text: string, options: { keep?: boolean; literal?: Buffer; whenContinued?: () => void } = {}): Promise<Reply> {
    if (this.closedError) return Promise.reject(this.closedError);
    const tag = `c${++this.n}`;
    const reply = new Promise<Reply>((resolve, reject) => {
      this.pending = { tag, keep: options.keep ?? false, untagged: [], count: 0, resolve, reject };
    });
    if (options.literal) {
      const literal = options.literal;
      this.continuation = () => this.socket.write(Buffer.concat([literal, Buffer.from('\r\n')]));
      this.socket.write(`${tag} ${text} {${literal.length}}\r\n`);
    } else {
      if (options.whenContinued) this.continuation = options.whenContinued;
      this.socket.write(`${tag} ${text}\r\n`);
    }
    return reply;
  }

  /** Like command, but a NO or BAD is thrown. */
  async ok(text: string, options: { keep?: boolean; literal?: Buffer } = {}): Promise<Reply> {
    const r = await this.command(text, options);
    if (r.status !== 'OK') throw new Error(`${text.split(' ')[0]}: ${r.status} ${r.text}`);
    return r;
  }

  /** Writes raw text (IDLE's DONE). */
  write(text: string): void {
    this.socket.write(text);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The EXISTS count among a SELECT's untagged lines. */
export function existsOf(untagged: string[]): number {
  for (const l of untagged) {
    const m = /^\* (\d+) EXISTS/i.exec(l);
    if (m) return Number(m[1]);
  }
  throw new Error('no EXISTS in the SELECT response');
}

/** Logs in with a fresh connection. */
export async function login(port: number, user: string, password: string): Promise<ImapConnection> {
  const c = await ImapConnection.connect(port);
  await c.ok(`LOGIN "${user}" "${password}"`);
  return c;
}
