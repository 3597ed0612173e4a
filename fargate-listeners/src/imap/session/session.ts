/**
 * One IMAP connection: the state machine of RFC 9051 §3 (not authenticated → authenticated
 * → selected → logout) and the loop that reads commands, runs them and answers.
 *
 * Implementation notes — the rules every command follows:
 *
 * 1. One command at a time. The loop pulls one complete command from the receiver, runs it
 *    to its tagged response, then pulls the next. Pipelined input waits in the receiver; the
 *    socket is paused when that buffer grows, so a client can never make us hold more than
 *    ~1 MiB of unparsed input (plus the command's accepted literals: APPEND messages of at most
 *    maxAppendSize together, and at most maxLiteral of all other literals together — decideLiteral).
 * 2. Literals are decided before they are read: the receiver reports `{n}`, the session
 *    checks the size against the limit for that command and state, and only then sends
 *    `+ ` (or refuses with NO [TOOBIG]/BAD, reading nothing).
 * 3. The index is the truth; the session holds only a view (selected-mailbox.ts). Before a
 *    command runs in the selected state the view is refreshed (one mailboxState read; when it
 *    moved, what changed since the last known modseq from the index's change log — never a
 *    listing of the whole mailbox unless the log no longer reaches back) and changes are told
 *    within the limits of rule 4 (EXPUNGE, or VANISHED once QRESYNC is enabled).
 *    Commands never trust the view for existence: data is read from the index by UID and a
 *    message that vanished meanwhile is answered with NO [EXPUNGEISSUED] (RFC 5530), not
 *    with a guess.
 * 4. EXPUNGE responses are never sent while a FETCH, STORE or SEARCH runs (RFC 3501 §7.4.1,
 *    RFC 9051 §7.5.1), nor before any command whose arguments are sequence numbers (COPY,
 *    MOVE, SEARCH) — the client chose those numbers before hearing of the expunge. UID
 *    commands may hear them first; then their FETCH responses already use the new numbers.
 * 5. Every write that changes what a mailbox holds (APPEND, COPY/MOVE, EXPUNGE, DELETE,
 *    RENAME of INBOX) goes through MailboxWrites (core/mailbox/writes.ts, `s.writes`): it
 *    commits to the index first, then deletes the blobs that commit orphaned (failures are
 *    logged, never answered), then calls events.notify(user, mailboxId) so IDLE sessions in
 *    this process hear at once; other processes find out by polling (commands/idle.ts).
 *    Flag changes (STORE, FETCH's implicit \Seen) orphan nothing: they commit and notify.
 * 6. Output goes through Output with backpressure; a client that stops reading stalls only
 *    its own session, and the inactivity timer eventually closes it.
 * 7. Nothing a client sends may crash the process: parse errors become BAD, storage errors
 *    NO [UNAVAILABLE], anything unexpected NO [SERVERBUG] with a log line; too many BADs in a
 *    row → BYE.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { AuthThrottle } from '#listeners/auth-throttle.ts';
import type { ListenerDeps } from '#listeners/listener.ts';
import { isLoopback } from '#listeners/tls.ts';
import { IndexError } from '#core/ports/mail-index.ts';
import type { Logger } from '#core/log.ts';
import { MailboxWrites } from '#core/mailbox/writes.ts';
import type { Chunk } from '../protocol/encode.ts';
import { parseCommand } from '../protocol/parser/index.ts';
import { Receiver, type CommandPart, type ReceiveEvent } from '../protocol/receiver.ts';
import type { ImapRequest } from '../protocol/requests.ts';
import { SequenceError } from '../protocol/sequence-set.ts';
import { capabilities } from './capabilities.ts';
import { COMMANDS, runCommand, type SessionState } from './commands/index.ts';
import { flushWithContexts } from './contexts.ts';
import { closeDeflateLayer, createDeflateLayer, type DeflateLayer } from './compression.ts';
import { usesModseq } from './commands/search.ts';
import type { MailboxWatcher } from './commands/idle.ts';
import { ImapError, type Tagged } from './errors.ts';
import { MailboxNameError } from './mailbox-names.ts';
import { Output } from './output.ts';
import { serverHandshake } from '../tls-handshake.ts';
import type { RecentTracker } from './recent.ts';
import type { MailboxViews } from './mailbox-views.ts';
import type { SelectedMailbox } from './selected-mailbox.ts';

export interface ImapLimits {
  maxLineLength: number;
  maxCommandText: number;
  /** Largest literal outside APPEND once authenticated. */
  maxLiteral: number;
  /** Largest literal before authentication (LOGIN arguments). */
  maxPreAuthLiteral: number;
  /** Largest APPEND message (APPENDLIMIT, RFC 7889). */
  maxAppendSize: number;
  /** Consecutive BAD responses before BYE. */
  maxBadCommands: number;
  /** Failed LOGIN/AUTHENTICATE attempts before BYE. */
  maxAuthFailures: number;
  /** Commands per second per session; beyond, the session slows down (not an error). */
  commandsPerSecond: number;
  /** Inactivity timeout before authentication. */
  preAuthTimeoutMs: number;
  /** Inactivity timeout after authentication (RFC 9051 §5.4: at least 30 minutes). */
  authTimeoutMs: number;
  /** How often IDLE sessions poll the index for changes from other processes. */
  idlePollMs: number;
}

export interface ImapContext {
  deps: ListenerDeps;
  limits: ImapLimits;
  recent: RecentTracker;
  /** The process's packed mailbox views, shared by its sessions (mailbox-views.ts). */
  views: MailboxViews;
  watcher: MailboxWatcher;
  /** Failed-login throttle shared by the process's listeners (../../auth-throttle.ts). */
  throttle: AuthThrottle;
}

/** Input buffered beyond this pauses the socket (rule 1). */
const INPUT_HIGH_WATER = 1024 * 1024;

export class ImapSession {
  readonly ctx: ImapContext;
  readonly id = randomUUID().slice(0, 8);
  socket: Socket;
  secure: boolean;
  /** STARTTLS may be offered (plain listener, not yet upgraded). */
  private readonly plainListener: boolean;
  readonly remoteAddress: string | undefined;
  readonly receiver: Receiver;
  readonly out: Output;
  log: Logger;
  /** The session's logger before authentication (UNAUTHENTICATE returns to it). */
  private readonly preAuthLog: Logger;
  state: SessionState = 'not-authenticated';
  user: string | null = null;
  selected: SelectedMailbox | null = null;
  /** IMAP4rev2 enabled (RFC 9051 §6.3.1): UTF-8 names, ESEARCH, no \Recent. */
  rev2 = false;
  /** UTF8=ACCEPT enabled (RFC 6855): UTF-8 mailbox names and quoted strings. */
  utf8Accept = false;
  /**
   * CONDSTORE enabled (RFC 7162 §3.1): by ENABLE or any "CONDSTORE enabling command"; from
   * then on every untagged FETCH of a flag change carries UID and MODSEQ.
   */
  condstore = false;
  /** QRESYNC enabled (RFC 7162 §3.2.3, implies CONDSTORE): VANISHED instead of EXPUNGE. */
  qresync = false;
  /** COMPRESS=DEFLATE active (RFC 4978); stays for the rest of the connection. */
  compression: DeflateLayer | null = null;
  authFailures = 0;
  private badInARow = 0;
  private dataWaiter: ((more: boolean) => void) | null = null;
  private ended = false;
  private inputEnded = false;
  private byeSent = false;
  private closing = false;
  /** Waiting for input between commands or inside IDLE (safe to say BYE and close). */
  waitingForInput = true;
  private rateWindow = { start: 0, count: 0 };
  private readonly closed: Promise<void>;
  private resolveClosed!: () => void;

  constructor(ctx: ImapContext, socket: Socket, secure: boolean) {
    this.ctx = ctx;
    this.socket = socket;
    this.secure = secure;
    this.plainListener = !secure;
    this.remoteAddress = socket.remoteAddress;
    this.receiver = new Receiver({
      maxLineLength: ctx.limits.maxLineLength,
      maxCommandText: ctx.limits.maxCommandText,
    });
    this.out = new Output(socket);
    this.log = ctx.deps.logger.child({ proto: 'imap', session: this.id });
    this.preAuthLog = this.log;
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.attach(socket);
    socket.setTimeout(ctx.limits.preAuthTimeoutMs);
    socket.setNoDelay(true);
  }

  get deps(): ListenerDeps {
    return this.ctx.deps;
  }

  /** Mailbox names and quoted strings in UTF-8 (IMAP4rev2 or UTF8=ACCEPT enabled). */
  get utf8(): boolean {
    return this.rev2 || this.utf8Accept;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Resolves when the connection is closed. */
  whenClosed(): Promise<void> {
    return this.closed;
  }

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onInputEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
    socket.on('timeout', this.onTimeout);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('end', this.onInputEnd);
    socket.off('close', this.onClose);
    socket.off('error', this.onError);
    socket.off('timeout', this.onTimeout);
  }

  private readonly onData = (chunk: Buffer) => {
    if (this.compression) {
      this.compression.inflate.write(chunk);
      return;
    }
    this.receive(chunk);
  };

  /** IMAP bytes (inflated when COMPRESS is active) into the receiver; rule 1's high water. */
  private receive(chunk: Buffer): void {
    this.receiver.push(chunk);
    if (this.receiver.bufferedBytes > INPUT_HIGH_WATER) {
      this.socket.pause();
      // A few compressed bytes can inflate to a lot: the inflater stops too.
      this.compression?.inflate.pause();
    }
    this.wake(true);
  }

  /**
   * RFC 4978 §3: from the octet after the tagged OK of COMPRESS on, both directions are raw
   * deflate. Input already received after the command (a client must not pipeline past it,
   * but may) is taken as compressed.
   */
  async startCompression(tag: string): Promise<void> {
    this.out.push(`${tag} OK DEFLATE active\r\n`);
    await this.out.flush();
    const layer = createDeflateLayer();
    this.compression = layer;
    layer.inflate.on('data', (c: Buffer) => this.receive(c));
    layer.inflate.on('error', (err: Error) => {
      // Not a deflate stream: nothing more can be understood, and no BYE can be read either.
      this.log.info('COMPRESS: bad deflate input', { err: err.message });
      this.destroy();
    });
    layer.deflate.on('error', (err: Error) => {
      this.log.info('COMPRESS: deflate failed', { err: err.message });
      this.destroy();
    });
    this.out.startCompression(layer.deflate);
    const pending = this.receiver.takeUnread();
    if (pending.length > 0) layer.inflate.write(pending);
  }

  /** The client sent FIN: commands already received still run; no more input comes. */
  private readonly onInputEnd = () => {
    this.inputEnded = true;
    this.wake(false);
  };

  private readonly onClose = () => {
    if (this.compression) closeDeflateLayer(this.compression);
    this.ended = true;
    this.wake(false);
    this.resolveClosed();
  };

  private readonly onError = (err: Error) => {
    this.log.debug('socket error', { err: err.message });
  };

  private readonly onTimeout = () => {
    this.log.info('inactivity timeout');
    this.bye('Autologout; idle for too long');
  };

  private wake(more: boolean): void {
    const w = this.dataWaiter;
    this.dataWaiter = null;
    w?.(more);
  }

  private waitForData(): Promise<boolean> {
    if (this.ended || this.inputEnded) return Promise.resolve(false);
    if (this.socket.isPaused()) this.socket.resume();
    if (this.compression?.inflate.isPaused()) this.compression.inflate.resume();
    return new Promise((resolve) => {
      this.dataWaiter = resolve;
    });
  }

  /** Whether LOGIN/AUTHENTICATE may be used now (RFC 9051 §6.2.3 LOGINDISABLED, RFC 8314). */
  get authAllowed(): boolean {
    return this.secure || (this.ctx.deps.config.allowPlaintextAuthOnLoopback && isLoopback(this.remoteAddress));
  }

  capabilityList(): string[] {
    return capabilities({
      authenticated: this.state === 'authenticated' || this.state === 'selected',
      secure: this.secure,
      startTlsAvailable: this.plainListener && !this.secure,
      authAllowed: this.authAllowed,
      appendLimit: this.ctx.limits.maxAppendSize,
    });
  }

  // --- output helpers for commands ---

  /** Queues an untagged response: `* ` + chunks + CRLF. */
  untagged(chunks: Chunk[] | string): void {
    if (typeof chunks === 'string') this.out.push(`* ${chunks}\r\n`);
    else this.out.push(['* ', ...chunks, '\r\n']);
  }

  /** Like untagged(), but waits for the socket when a lot is queued (FETCH of many messages). */
  async untaggedAsync(chunks: Chunk[]): Promise<void> {
    await this.out.writeLine('* ', chunks, '\r\n');
  }

  /** untaggedAsync() that returns a promise only when there is something to wait for. */
  untaggedQueued(chunks: Chunk[]): Promise<void> | undefined {
    return this.out.writeLine('* ', chunks, '\r\n');
  }

  async continuation(text: string): Promise<void> {
    this.out.push(`+ ${text}\r\n`);
    await this.out.flush();
  }

  /** Raw lines (already terminated), e.g. from SelectedMailbox.flushUpdates(). */
  pushLines(lines: string[]): void {
    for (const l of lines) this.out.push(l);
  }

  /** Reads one line outside the command grammar (AUTHENTICATE responses, IDLE's DONE); null on EOF. */
  async readLine(): Promise<Buffer | null> {
    for (;;) {
      if (this.ended) return null;
      const ev = this.receiver.next({ lineMode: true });
      if (ev.type === 'line') return ev.bytes;
      if (ev.type === 'error') return Buffer.alloc(0);
      if (ev.type === 'need-more') {
        if (!(await this.waitForData())) return null;
        continue;
      }
      return Buffer.alloc(0);
    }
  }

  /** The mailbox write path (core/mailbox/writes.ts), logging with this session's fields. */
  get writes(): MailboxWrites {
    return new MailboxWrites(this.deps.adapters, { events: this.deps.events, log: this.log });
  }

  /** Turns CONDSTORE on (RFC 7162 §3.1: ENABLE, or a CONDSTORE enabling command). */
  enableCondstore(): void {
    this.condstore = true;
  }

  /** Deselects (CLOSE, UNSELECT, SELECT of another mailbox). */
  deselect(): void {
    this.selected = null;
    if (this.state === 'selected') this.state = 'authenticated';
  }

  setAuthenticated(user: string): void {
    this.user = user;
    this.state = 'authenticated';
    this.socket.setTimeout(Math.max(this.ctx.limits.authTimeoutMs, 30 * 60_000));
    this.log = this.log.child({ user });
  }

  /**
   * UNAUTHENTICATE (RFC 8437 §3): back to the not-authenticated state. The selected mailbox is
   * left without expunging, what ENABLE turned on is off again; TLS and COMPRESS stay.
   */
  unauthenticate(): void {
    this.selected = null;
    this.user = null;
    this.state = 'not-authenticated';
    this.rev2 = false;
    this.utf8Accept = false;
    this.condstore = false;
    this.qresync = false;
    this.socket.setTimeout(this.ctx.limits.preAuthTimeoutMs);
    this.log = this.preAuthLog;
  }

  /** Replaces the socket with a TLS one after `OK Begin TLS` (RFC 9051 §6.2.1). */
  async startTls(): Promise<void> {
    await this.out.flush();
    const raw = this.socket;
    raw.pause();
    this.detach(raw);
    // No plaintext received after STARTTLS may be acted upon inside TLS (command injection).
    this.receiver.reset();
    raw.on('error', this.onError);
    // detach() took the inactivity timer's handler away: the handshake has its own deadline.
    let secure: TLSSocket;
    try {
      secure = await serverHandshake(raw, this.ctx.deps.tls.context, this.ctx.limits.preAuthTimeoutMs);
    } catch (err) {
      this.log.info('TLS handshake failed', { err: (err as Error).message });
      this.ended = true;
      this.resolveClosed();
      return;
    }
    if (this.ended) {
      secure.destroy();
      this.resolveClosed();
      return;
    }
    this.socket = secure;
    this.secure = true;
    this.out.setSocket(secure);
    this.attach(secure);
    secure.setTimeout(this.ctx.limits.preAuthTimeoutMs);
  }

  /** `* BYE` and close; nothing more is read or answered. */
  bye(text: string): void {
    if (this.socket.destroyed || this.byeSent) return;
    this.byeSent = true;
    this.ended = true;
    this.wake(false);
    this.out.push(`* BYE ${text}\r\n`);
    void this.out
      .flush()
      .catch(() => {})
      .finally(() => this.end());
  }

  end(): void {
    this.ended = true;
    this.wake(false);
    if (!this.socket.destroyed) {
      this.socket.end();
      const s = this.socket;
      setTimeout(() => s.destroy(), 2000).unref();
    }
  }

  /** Listener shutdown: BYE now when waiting for input, else after the running command. */
  shutdown(): void {
    this.closing = true;
    if (this.waitingForInput) this.bye('Server shutting down');
  }

  destroy(): void {
    this.ended = true;
    this.socket.destroy();
    this.wake(false);
  }

  // --- the loop ---

  async run(): Promise<void> {
    try {
      this.out.push(`* OK [CAPABILITY ${this.capabilityList().join(' ')}] ${this.ctx.deps.config.hostname} IMAP4rev2 server ready\r\n`);
      await this.out.flush();
      while (!this.ended) {
        const ev = this.receiver.next();
        if (ev.type === 'need-more') {
          this.waitingForInput = true;
          if (this.closing) {
            this.bye('Server shutting down');
            break;
          }
          const more = await this.waitForData();
          if (!more) break;
          continue;
        }
        this.waitingForInput = false;
        if (ev.type === 'literal') {
          await this.decideLiteral(ev);
          continue;
        }
        if (ev.type === 'error') {
          await this.respondBad(ev.tag, ev.message);
          if (ev.fatal) this.bye('Cannot resynchronise; closing');
          continue;
        }
        if (ev.type === 'command') await this.handleCommand(ev.parts);
      }
    } catch (err) {
      this.log.error('session failed', { err: err as Error });
      this.destroy();
    } finally {
      // Ends gracefully (queued output is flushed first); 'close' resolves whenClosed().
      if (this.socket.destroyed) this.resolveClosed();
      else if (!this.ended) this.end();
    }
  }

  /**
   * Rule 2: a literal's fate is decided from its announcement. The limits bound the *sum* of a
   * command's literals (the receiver counts what it accepted): APPEND's message literals may be
   * up to maxAppendSize together — every literal but a mailbox name given as the first one
   * (RFC 9051 §6.3.12 `APPEND mailbox [flags] [date-time] literal`, RFC 3502 repeating the
   * part after the mailbox) — and every other literal byte of any command counts against
   * maxLiteral (maxPreAuthLiteral before authentication) in total.
   */
  private async decideLiteral(ev: Extract<ReceiveEvent, { type: 'literal' }>): Promise<void> {
    const { limits } = this.ctx;
    const authed = this.state !== 'not-authenticated';
    const isMessage = authed && ev.command === 'APPEND' && (ev.index > 0 || ev.argsBefore);
    // MULTIAPPEND (RFC 3502): each message up to APPENDLIMIT, and all of them together too, so
    // one command never holds more than one APPEND message's worth (rule 1).
    const limit = isMessage ? limits.maxAppendSize - ev.largeBytes : (authed ? limits.maxLiteral : limits.maxPreAuthLiteral) - ev.literalBytes;
    if (ev.size <= limit) {
      this.receiver.acceptLiteral({ large: isMessage });
      if (ev.sync) await this.continuation('Ready for literal data');
      return;
    }
    this.receiver.rejectLiteral();
    const tag = ev.tag ?? '*';
    // RFC 7889 §4: an APPEND over the limit fails with NO [TOOBIG], the literal unread.
    const line = isMessage
      ? ev.size > limits.maxAppendSize
        ? `${tag} NO [TOOBIG] Message larger than APPENDLIMIT ${limits.maxAppendSize}\r\n`
        : `${tag} NO [TOOBIG] Messages of one APPEND larger than ${limits.maxAppendSize} octets together; append them separately\r\n`
      : `${tag} BAD [TOOBIG] ${ev.literalBytes > 0 ? 'Literals of this command too large' : 'Literal too large'}\r\n`;
    this.out.push(line);
    if (!ev.sync) {
      // RFC 7888 §4: the client already sends the bytes of a non-synchronising literal;
      // there is no way to skip an unbounded amount safely, so the connection ends.
      this.bye('Literal too large for a non-synchronizing literal');
      return;
    }
    await this.out.flush();
    if (!isMessage) this.countBad();
  }

  private async respondBad(tag: string | null, text: string, code: string | null = null): Promise<void> {
    this.out.push(`${tag ?? '*'} BAD ${code ? `[${code}] ` : ''}${text}\r\n`);
    await this.out.flush();
    this.countBad();
  }

  private countBad(): void {
    this.badInARow++;
    if (this.badInARow >= this.ctx.limits.maxBadCommands) this.bye('Too many invalid commands');
  }

  private async throttle(): Promise<void> {
    const now = Date.now();
    const w = this.rateWindow;
    if (now - w.start >= 1000) {
      w.start = now;
      w.count = 0;
    }
    w.count++;
    if (w.count > this.ctx.limits.commandsPerSecond) {
      await new Promise((r) => setTimeout(r, 1000 - (now - w.start)));
      w.start = Date.now();
      w.count = 0;
    }
  }

  private async handleCommand(parts: CommandPart[]): Promise<void> {
    const parsed = parseCommand(parts);
    if (!parsed.ok) {
      await this.respondBad(parsed.tag, parsed.error.message, parsed.error.code);
      return;
    }
    await this.throttle();
    const { tag, request } = parsed;
    const spec = COMMANDS[request.name];
    if (!spec.states.includes(this.state)) {
      await this.respondBad(tag, stateError(request.name, this.state, spec.states));
      return;
    }
    const result = await this.execute(tag, request);
    if (this.ended || result.silent) return;
    const text = `${tag} ${result.status} ${result.code ? `[${result.code}] ` : ''}${result.text}\r\n`;
    this.out.push(text);
    await this.out.flush();
    if (this.state === 'logout') {
      this.end();
      return;
    }
    if (result.status === 'BAD') this.countBad();
    else this.badInARow = 0;
    if (this.closing && !this.ended) this.bye('Server shutting down');
  }

  private async execute(tag: string, request: ImapRequest): Promise<Tagged> {
    try {
      const sel = this.selected;
      // RFC 7162 §3.1: from a CONDSTORE enabling command on, *every* untagged FETCH carries
      // MODSEQ, those told before the command runs included.
      if (enablesCondstore(request)) this.enableCondstore();
      if (sel && refreshesBefore(request)) {
        if (!(await sel.refresh(this.ctx.deps.adapters.index, this.ctx.recent))) return this.mailboxGone();
        this.pushLines(await flushWithContexts(this, sel, expungeAllowedBefore(request)));
      }
      const result = await runCommand(this, request, tag);
      const after = this.selected;
      if (after && after === sel && !this.ended) {
        const tellModseq = this.qresync && result.status === 'OK' && !result.code && (request.name === 'EXPUNGE' || request.name === 'UID EXPUNGE');
        if (refreshesAfter(request) || tellModseq) {
          if (!(await after.refresh(this.ctx.deps.adapters.index, this.ctx.recent))) return this.mailboxGone();
        }
        this.pushLines(await flushWithContexts(this, after, expungeAllowedAfter(request)));
        // RFC 7162 §3.2.7, §3.2.9: with QRESYNC the tagged OK of EXPUNGE carries the new
        // HIGHESTMODSEQ; the refresh just before told every change up to it.
        if (tellModseq) return { ...result, code: `HIGHESTMODSEQ ${after.highestModseq}` };
      }
      return result;
    } catch (err) {
      return this.errorToTagged(err, request.name);
    }
  }

  private mailboxGone(): Tagged {
    this.bye('Selected mailbox was deleted, have to disconnect');
    return { status: 'NO', code: null, text: 'Mailbox was deleted' };
  }

  errorToTagged(err: unknown, command: string): Tagged {
    if (err instanceof ImapError) return { status: err.status, code: err.code, text: err.message };
    if (err instanceof SequenceError) return { status: 'BAD', code: null, text: err.message };
    if (err instanceof MailboxNameError) return { status: 'NO', code: 'CANNOT', text: err.message };
    if (err instanceof IndexError) {
      switch (err.code) {
        case 'NOT_FOUND':
          return { status: 'NO', code: 'NONEXISTENT', text: 'No such mailbox' };
        case 'EXISTS':
          return { status: 'NO', code: 'ALREADYEXISTS', text: 'Mailbox already exists' };
        case 'INVALID':
          return { status: 'NO', code: 'CANNOT', text: err.message };
        default:
          return { status: 'NO', code: 'INUSE', text: 'Mailbox busy, try again' };
      }
    }
    this.log.error('command failed', { command, err: err as Error });
    return { status: 'NO', code: 'UNAVAILABLE', text: 'Temporary server failure, try again' };
  }
}

function stateError(name: string, state: SessionState, allowed: SessionState[]): string {
  if (state === 'not-authenticated') return `${name} not allowed before authentication`;
  if (allowed.length === 1 && allowed[0] === 'selected') return `${name} needs a selected mailbox`;
  if (allowed.length === 1 && allowed[0] === 'not-authenticated') return `${name} not allowed once authenticated`;
  return `${name} not allowed in this state`;
}

/** CONDSTORE enabling commands (RFC 7162 §3.1) other than ENABLE and SELECT/EXAMINE (CONDSTORE). */
function enablesCondstore(req: ImapRequest): boolean {
  switch (req.name) {
    case 'FETCH':
      return req.changedSince !== null || req.items.some((a) => a.k === 'MODSEQ');
    case 'STORE':
      return req.unchangedSince !== null;
    case 'SEARCH':
      return usesModseq(req.criteria);
    case 'SORT':
    case 'THREAD':
      return usesModseq(req.search);
    case 'STATUS':
      return req.items.includes('HIGHESTMODSEQ');
    default:
      return false;
  }
}

/** Commands that look at the selected mailbox first (all but leaving it). */
function refreshesBefore(req: ImapRequest): boolean {
  switch (req.name) {
    case 'CLOSE':
    case 'UNSELECT':
    case 'SELECT':
    case 'EXAMINE':
    case 'LOGOUT':
    case 'IDLE':
    case 'UNAUTHENTICATE':
      return false;
    default:
      return true;
  }
}

/** Commands after which the selected mailbox may hold the session's own new messages. */
function refreshesAfter(req: ImapRequest): boolean {
  return req.name === 'APPEND' || req.name === 'COPY' || req.name === 'MOVE';
}

/** Rule 4: not before commands whose arguments are sequence numbers. */
function expungeAllowedBefore(req: ImapRequest): boolean {
  switch (req.name) {
    case 'FETCH':
    case 'STORE':
    case 'COPY':
    case 'MOVE':
      return req.uid;
    case 'SEARCH':
    case 'SORT':
    case 'THREAD':
      return false;
    default:
      return true;
  }
}

/** Rule 4: never during FETCH, STORE, SEARCH (RFC 3501 §7.4.1); UID forms may. */
function expungeAllowedAfter(req: ImapRequest): boolean {
  switch (req.name) {
    case 'FETCH':
    case 'STORE':
    case 'SEARCH':
    case 'SORT':
    case 'THREAD':
      return req.uid;
    default:
      return true;
  }
}
