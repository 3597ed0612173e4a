/** A bare SMTP client for precise protocol assertions (replies, garbage input). */
import { openSocket, SocketReader } from './socket-reader.ts';

export class LineClient extends SocketReader {
  /** `localAddress` picks the source address (e.g. 127.0.0.2, to look like another client). */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<LineClient> {
    return openSocket(port, { host, localAddress }).then((s) => new LineClient(s));
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

  async send(command: string): Promise<string> {
    this.write(command + '\r\n');
    return this.smtpReply();
  }
}
