/**
 * One POP3 client connection: socket I/O for a Pop3Session. Splits input into lines (with the
 * line-length limit), queues pipelined commands and feeds them to the session one at a time,
 * applies backpressure both ways, upgrades to TLS on STLS, enforces the idle timeout and
 * closes on shutdown. Bad input ends in a protocol error or a closed connection, never in an
 * exception that escapes (invariant 6).
 */
import type net from 'node:net';
import type { Readable } from 'node:stream';
import tls from 'node:tls';
import type { Logger } from '#core/log.ts';
import { isLoopback, type TlsMaterial } from '../tls.ts';
import { LineReader } from './protocol/line-reader.ts';
import { err } from './protocol/response.ts';
import type { Pop3Session, Pop3Transport } from './session.ts';

export interface ConnectionLimits {
  /** Octets of a command line including CRLF (RFC 2449 §4 says 255; we allow slack). */
  commandLineLimit: number;
  /** Octets of a SASL response line (RFC 5034 §4 lifts the 255 limit for these). */
  saslLineLimit: number;
  idleTimeoutMs: number;
  /** Pipelined lines buffered before we stop reading from the socket. */
  maxQueuedLines: number;
}

type Queued = Buffer | 'overflow';

export class Pop3Connection implements Pop3Transport {
  readonly remoteAddress: string;
  readonly loopback: boolean;
  secure: boolean;
  private socket: net.Socket;
  private readonly raw: net.Socket;
  private readonly tlsMaterial: TlsMaterial;
  private readonly limits: ConnectionLimits;
  private readonly log: Logger;
  private readonly reader: LineReader;
  private readonly queue: Queued[] = [];
  private session!: Pop3Session;
  private pumping = false;
  private paused = false;
  private gone = false;
  private shuttingDown = false;
  private saidGoodbye = false;
  private readonly onData = (chunk: Buffer) => this.data(chunk);
  private readonly onTimeout = () => void this.idle();
  private readonly onError = (e: Error) => this.log.debug('pop3 socket error', { err: e.message });
  readonly done: Promise<void>;

  /**
   * `raw` is the TCP socket as accepted (its remoteAddress is the real client's, PROXY header
   * applied); `socket` is what the session talks over: `raw` itself, or a TLS socket on it
   * (implicit TLS).
   */
  constructor(conn: { raw: net.Socket; socket: net.Socket; secure: boolean }, tlsMaterial: TlsMaterial, limits: ConnectionLimits, log: Logger) {
    this.raw = conn.raw;
    this.socket = conn.socket;
    this.secure = conn.secure;
    this.tlsMaterial = tlsMaterial;
    this.limits = limits;
    this.log = log;
    this.remoteAddress = conn.raw.remoteAddress ?? 'unknown';
    this.loopback = isLoopback(conn.raw.remoteAddress);
    this.reader = new LineReader(limits.commandLineLimit);
    this.done = new Promise((resolve) => conn.raw.once('close', () => resolve()));
  }

  /** Attaches the session, greets and starts reading. */
  start(session: Pop3Session): void {
    this.session = session;
    this.raw.once('close', () => {
      this.gone = true;
      void this.session.closed();
    });
    this.attach(this.socket);
    void this.write(session.greeting());
  }

  private attach(s: net.Socket): void {
    // Replies are written as whole lines/responses: send them at once (no Nagle delay,
    // which would otherwise meet the client's delayed ACK on every response).
    s.setNoDelay(true);
    s.on('data', this.onData);
    s.on('error', this.onError);
    s.setTimeout(this.limits.idleTimeoutMs, this.onTimeout);
  }

  private detach(s: net.Socket): void {
    s.removeListener('data', this.onData);
    s.setTimeout(0);
    s.removeListener('timeout', this.onTimeout);
  }

  private data(chunk: Buffer): void {
    if (this.gone || this.shuttingDown) return;
    this.reader.limit = this.session.expectingSaslResponse ? this.limits.saslLineLimit : this.limits.commandLineLimit;
    for (const ev of this.reader.push(chunk)) this.queue.push('line' in ev ? ev.line : 'overflow');
    if (this.queue.length >= this.limits.maxQueuedLines && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length && !this.gone && !this.session.isClosed && !this.shuttingDown) {
        const item = this.queue.shift() as Queued;
        if (item === 'overflow') {
          // RFC 2449 §4: lines are limited; past the limit we cannot find the next command.
          await this.write(err('line too long'));
          this.close();
          break;
        }
        await this.session.handleLine(item);
        if (this.paused && this.queue.length < this.limits.maxQueuedLines / 2) {
          this.paused = false;
          this.socket.resume();
        }
      }
    } catch (e) {
      this.log.error('pop3 connection failed', { err: e });
      this.destroy();
    } finally {
      this.pumping = false;
    }
    if (this.shuttingDown) await this.sayGoodbye();
  }

  private async idle(): Promise<void> {
    if (this.gone) return;
    // RFC 1939 §3 autologout: close without entering UPDATE (nothing is deleted).
    this.log.debug('pop3 idle timeout');
    await this.write(err('autologout: idle for too long'));
    this.close();
  }

  // --- Pop3Transport ---

  write(data: string | Buffer): Promise<void> {
    const s = this.socket;
    if (this.gone || s.destroyed || !s.writable) return Promise.resolve();
    if (s.write(data)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        s.removeListener('drain', done);
        s.removeListener('close', done);
        resolve();
      };
      s.once('drain', done);
      s.once('close', done);
    });
  }

  async send(stream: Readable): Promise<void> {
    try {
      for await (const chunk of stream) {
        if (this.gone) break;
        await this.write(chunk as Buffer);
      }
    } finally {
      stream.destroy();
    }
  }

  async startTls(reply: string): Promise<void> {
    const plain = this.socket;
    // RFC 2595 §4 (and CVE-2011-0411): nothing the client sent before the handshake may be
    // used after it. Stop reading plaintext before the +OK goes out.
    this.detach(plain);
    plain.pause();
    this.queue.length = 0;
    this.reader.discard();
    await this.write(reply);
    if (this.gone) return;
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext: this.tlsMaterial.context });
    secure.on('error', this.onError);
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), this.limits.idleTimeoutMs);
      secure.once('secure', () => {
        clearTimeout(timer);
        resolve(true);
      });
      secure.once('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
      secure.once('close', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (!ok) {
      this.log.debug('pop3 STLS handshake failed');
      secure.destroy();
      this.destroy();
      return;
    }
    this.socket = secure;
    this.secure = true;
    this.attach(secure);
  }

  close(): void {
    if (this.gone) return;
    this.socket.end();
    // A client that never closes its side is cut off.
    setTimeout(() => this.destroy(), 5_000).unref();
  }

  // --- lifecycle ---

  destroy(): void {
    this.socket.destroy();
    this.raw.destroy();
  }

  /** Server shutdown: after the command in progress, tell the client and close (no UPDATE). */
  async shutdown(): Promise<void> {
    if (this.gone || this.shuttingDown) return;
    this.shuttingDown = true;
    if (!this.pumping) await this.sayGoodbye();
  }

  private async sayGoodbye(): Promise<void> {
    if (this.gone || this.session.isClosed || this.saidGoodbye) return;
    this.saidGoodbye = true;
    await this.write(err('server shutting down; try again later', 'SYS/TEMP'));
    this.close();
  }
}
