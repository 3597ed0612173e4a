/**
 * A bare IMAP client for precise protocol assertions: sends bytes, reads responses with their
 * literals, collects untagged responses until the tagged one.
 */
import { openSocket, SocketReader } from '../../support/socket-reader.ts';

export interface Reply {
  /** Untagged and continuation responses, literals inlined, CRLF removed from line ends. */
  untagged: string[];
  /** The tagged line. */
  tagged: string;
  /** Literal bodies in order (byte-exact). */
  literals: Buffer[];
}

export class RawImap extends SocketReader {
  private n = 0;

  static connect(port: number, options: { tls?: boolean; localAddress?: string } = {}): Promise<RawImap> {
    return openSocket(port, options).then((s) => new RawImap(s));
  }

  /** Connects, reads the greeting and logs in. */
  static async login(port: number, user: string, password: string): Promise<RawImap> {
    const c = await RawImap.connect(port);
    await c.line();
    const r = await c.command(`LOGIN ${quote(user)} ${quote(password)}`);
    if (!/ OK /.test(r.tagged)) throw new Error(`login failed: ${r.tagged}`);
    return c;
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
}

export function quote(s: string): string {
  return '"' + s.replace(/[\\"]/g, (m) => '\\' + m) + '"';
}
