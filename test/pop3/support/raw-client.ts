/** A bare POP3 client for precise protocol assertions: lines, multi-line responses, STLS. */
import { openSocket, SocketReader } from '../../support/socket-reader.ts';

export class RawPop3Client extends SocketReader {
  static connect(port: number, options: { tls?: boolean; localAddress?: string } = {}): Promise<RawPop3Client> {
    return openSocket(port, options).then((s) => new RawPop3Client(s));
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

  async cmd(command: string): Promise<string> {
    this.write(command + '\r\n');
    return this.line();
  }
}
