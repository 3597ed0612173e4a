/**
 * One POP3 session: the AUTHORIZATION → TRANSACTION → UPDATE state machine (RFC 1939 §3).
 * It talks to the core ports only (accounts, MailIndex, BlobStore through Maildrop) and to
 * its connection through `Pop3Transport`; it never touches a socket.
 *
 * Implementation notes:
 *  - Commands are handled one at a time, in the order received (PIPELINING, RFC 2449 §6.6);
 *    the connection does not hand over the next line before handleLine resolves.
 *  - The maildrop lock (RFC 1939 §8 "exclusive-access lock", RFC 2449 §8.1.1 [IN-USE]) is a
 *    MailIndex lease named `pop3:<user>`, taken after the password check and before the
 *    maildrop is read. It has a TTL so a crashed container cannot lock a user out; the session
 *    refreshes it at a third of the TTL, re-checks it before UPDATE, and releases it on QUIT or
 *    when the connection closes (whenever the command in progress has finished).
 *  - Deletions happen only in the UPDATE state after QUIT (RFC 1939 §6). A connection that
 *    drops, times out or is shut down deletes nothing.
 *  - No USER/PASS/AUTH on a plaintext connection unless it is loopback and the configuration
 *    allows it (RFC 2595 §2.2, docs/architecture.md "TLS"); STLS is offered instead.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { authenticate } from '#core/accounts/accounts.ts';
import { normalizeAddress } from '#core/accounts/addresses.ts';
import type { Logger } from '#core/log.ts';
import type { MailboxEvents } from '#core/mailbox/events.ts';
import { MailboxWrites } from '#core/mailbox/writes.ts';
import { Maildrop, type MaildropPorts } from './maildrop.ts';
import type { AuthThrottle } from '../auth-throttle.ts';
import { leaseReleasesFor } from './lease-release.ts';
import { capabilities, type ExpirePolicy } from './protocol/capabilities.ts';
import { Pop3ParseError, parseCommand, type Pop3Command } from './protocol/command.ts';
import { Pop3Error, TERMINATOR, continuation, err, multiline, ok } from './protocol/response.ts';
import { decodePlain } from './protocol/sasl-plain.ts';

/** What the session needs from its connection. */
export interface Pop3Transport {
  readonly remoteAddress: string;
  /** The connection is TLS (implicit, or after STLS). */
  readonly secure: boolean;
  /** A plaintext connection from a loopback address. */
  readonly loopback: boolean;
  /** Queues bytes; resolves when the connection can take more (backpressure). */
  write(data: string | Buffer): Promise<void>;
  /** Sends a stream's bytes; rejects if it fails (the caller then closes). */
  send(stream: Readable): Promise<void>;
  /**
   * Stops reading plaintext, writes `reply` (the STLS `+OK`), then starts TLS; resolves when
   * the handshake is done. Anything the client pipelined after STLS is discarded.
   */
  startTls(reply: string): Promise<void>;
  /** Flushes what was written and closes. */
  close(): void;
}

export interface Pop3SessionSettings {
  hostname: string;
  implementation: string;
  allowPlaintextAuthOnLoopback: boolean;
  /** STLS can be offered (TLS material is loaded). */
  tlsAvailable: boolean;
  expire: ExpirePolicy;
  leaseTtlSeconds: number;
  /** Bad commands (unknown, syntax, wrong state) before the connection is closed. */
  maxBadCommands: number;
  /** Failed logins in one session before the connection is closed. */
  maxAuthFailures: number;
  /**
   * Wait before answering a failed login: baseMs, doubled for each further failure in the
   * session, at most maxMs. Slows one connection; the bound on guessing is the throttle's.
   */
  failureDelay: { baseMs: number; maxMs: number };
}

export interface Pop3SessionDeps {
  ports: MaildropPorts;
  events: MailboxEvents;
  logger: Logger;
  /** The process's failed-login throttle, shared with IMAP and submission (../auth-throttle.ts). */
  throttle: AuthThrottle;
  settings: Pop3SessionSettings;
}

type State = 'authorization' | 'transaction' | 'update' | 'closed';

export class Pop3Session {
  private readonly deps: Pop3SessionDeps;
  private readonly io: Pop3Transport;
  private readonly log: Logger;
  private state: State = 'authorization';
  private pendingUser: string | null = null;
  /** An AUTH PLAIN without initial response is waiting for the client's response line. */
  private saslPending = false;
  private badCommands = 0;
  private authFailures = 0;
  private maildrop: Maildrop | null = null;
  private lease: { name: string; owner: string } | null = null;
  private leaseLost = false;
  private refreshTimer: NodeJS.Timeout | null = null;
  private busy = false;
  private closeRequested = false;

  constructor(deps: Pop3SessionDeps, io: Pop3Transport) {
    this.deps = deps;
    this.io = io;
    this.log = deps.logger.child({ proto: 'pop3', session: randomUUID().slice(0, 8), remote: io.remoteAddress });
  }

  /** RFC 1939 §4: the greeting. No APOP timestamp: APOP is not offered. */
  greeting(): string {
    return ok(`${this.deps.settings.hostname} POP3 server ready`);
  }

  /** The next line is a SASL response (the connection allows it a larger line limit). */
  get expectingSaslResponse(): boolean {
    return this.saslPending;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  private get loginAllowed(): boolean {
    return this.io.secure || (this.io.loopback && this.deps.settings.allowPlaintextAuthOnLoopback);
  }

  async handleLine(raw: Buffer): Promise<void> {
    if (this.state === 'closed') return;
    this.busy = true;
    try {
      if (this.saslPending) await this.saslResponse(raw.toString('latin1'));
      else await this.command(raw);
    } catch (e) {
      if (e instanceof Pop3Error) {
        await this.io.write(e.reply());
        if (e.close) this.end();
      } else {
        this.log.error('pop3 command failed', { err: e });
        await this.io.write(err('internal server error', 'SYS/TEMP'));
        this.end();
      }
    } finally {
      this.busy = false;
      this.logUnreadable();
      if (this.closeRequested) await this.releaseLease();
    }
  }

  /** A log line with the blob key for each message whose blob could not be read (maildrop.ts). */
  private logUnreadable(): void {
    const drop = this.maildrop;
    const found = drop?.takeUnreadable() ?? [];
    for (const m of found.slice(0, 10)) {
      this.log.warn(m.missing ? 'pop3 message blob missing' : 'pop3 message blob unreadable', {
        user: drop!.user,
        message: m.n,
        uid: m.uid,
        blobKey: m.blobKey,
        err: m.error,
      });
    }
    if (found.length > 10) this.log.warn('pop3 more message blobs unreadable', { user: drop!.user, count: found.length - 10 });
  }

  private async command(raw: Buffer): Promise<void> {
    let cmd: Pop3Command;
    try {
      cmd = parseCommand(new TextDecoder().decode(raw));
    } catch (e) {
      if (e instanceof Pop3ParseError) return this.bad(e.message);
      throw e;
    }
    if (cmd.name === 'CAPA') return this.capa();
    if (this.state === 'authorization') {
      switch (cmd.name) {
        case 'USER':
          return this.user(cmd.user);
        case 'PASS':
          return this.pass(cmd.password);
        case 'AUTH':
          return this.auth(cmd.mechanism, cmd.initialResponse);
        case 'STLS':
          return this.stls();
        case 'QUIT':
          await this.io.write(ok(`${this.deps.settings.hostname} signing off`));
          return this.end();
        default:
          return this.bad(`${cmd.name} is not valid before login`);
      }
    }
    const drop = this.maildrop as Maildrop;
    switch (cmd.name) {
      case 'STAT': {
        const s = await drop.stat();
        return void (await this.io.write(ok(`${s.count} ${s.octets}`)));
      }
      case 'LIST': {
        const rows = await drop.list(cmd.msg);
        if (cmd.msg !== null) return void (await this.io.write(ok(`${rows[0][0]} ${rows[0][1]}`)));
        const octets = rows.reduce((a, r) => a + r[1], 0);
        return void (await this.io.write(
          multiline(
            `${rows.length} messages (${octets} octets)`,
            rows.map((r) => `${r[0]} ${r[1]}`),
          ),
        ));
      }
      case 'UIDL': {
        const rows = drop.uidl(cmd.msg);
        if (cmd.msg !== null) return void (await this.io.write(ok(`${rows[0][0]} ${rows[0][1]}`)));
        return void (await this.io.write(
          multiline(
            'unique-id listing follows',
            rows.map((r) => `${r[0]} ${r[1]}`),
          ),
        ));
      }
      case 'RETR': {
        const { octets, body } = await drop.retrieve(cmd.msg);
        return this.multilineBody(`${octets} octets`, body);
      }
      case 'TOP': {
        const body = await drop.top(cmd.msg, cmd.lines);
        return this.multilineBody('top of message follows', body);
      }
      case 'DELE':
        drop.dele(cmd.msg);
        return void (await this.io.write(ok(`message ${cmd.msg} deleted`)));
      case 'RSET': {
        drop.reset();
        const s = await drop.stat();
        return void (await this.io.write(ok(`maildrop has ${s.count} messages (${s.octets} octets)`)));
      }
      case 'NOOP':
        return void (await this.io.write(ok()));
      case 'QUIT':
        return this.quit();
      default:
        return this.bad(`${cmd.name} is not valid after login`);
    }
  }

  private async multilineBody(status: string, body: Buffer | Readable): Promise<void> {
    if (Buffer.isBuffer(body)) {
      return void (await this.io.write(Buffer.concat([Buffer.from(ok(status)), body, Buffer.from(TERMINATOR)])));
    }
    await this.io.write(ok(status));
    try {
      await this.io.send(body);
    } catch (e) {
      // The status line is out; the response cannot be turned into -ERR any more. Close
      // without UPDATE (RFC 1939 §6: nothing is deleted) so the client sees the failure.
      this.log.warn('pop3 message stream failed', { err: e });
      return this.end();
    }
    await this.io.write(TERMINATOR);
  }

  private async bad(text: string): Promise<void> {
    this.badCommands++;
    if (this.badCommands >= this.deps.settings.maxBadCommands) {
      await this.io.write(err(`${text}; too many bad commands, closing`));
      return this.end();
    }
    await this.io.write(err(text));
  }

  private async capa(): Promise<void> {
    const s = this.deps.settings;
    const caps = capabilities({
      loginAllowed: this.state === 'authorization' ? this.loginAllowed : true,
      stlsOffered: this.state === 'authorization' && !this.io.secure && s.tlsAvailable,
      expire: s.expire,
      implementation: s.implementation,
    });
    await this.io.write(multiline('capability list follows', caps));
  }

  private requireLoginAllowed(): void {
    // RFC 2595 §2.2 / §4; RFC 3206 §4: [AUTH] covers logins refused by policy.
    if (!this.loginAllowed) throw new Pop3Error('plaintext authentication disallowed on insecure connections; use STLS first', 'AUTH');
  }

  private async user(name: string): Promise<void> {
    this.requireLoginAllowed();
    this.pendingUser = name;
    await this.io.write(ok('send PASS'));
  }

  private async pass(password: string): Promise<void> {
    this.requireLoginAllowed();
    const user = this.pendingUser;
    this.pendingUser = null;
    if (user === null) return this.bad('USER first');
    await this.login(user, password);
  }

  private async auth(mechanism: string | null, initialResponse: string | null): Promise<void> {
    if (mechanism === null) {
      // AUTH with no argument lists the mechanisms (RFC 1734 usage, still probed by clients).
      return void (await this.io.write(multiline('SASL mechanisms follow', this.loginAllowed ? ['PLAIN'] : [])));
    }
    this.requireLoginAllowed();
    if (mechanism !== 'PLAIN') return void (await this.io.write(err(`unsupported SASL mechanism ${mechanism}`)));
    if (initialResponse === null) {
      this.saslPending = true;
      return void (await this.io.write(continuation()));
    }
    await this.plain(initialResponse);
  }

  private async saslResponse(line: string): Promise<void> {
    this.saslPending = false;
    // RFC 5034 §4: "*" cancels the exchange.
    if (line === '*') return void (await this.io.write(err('authentication cancelled')));
    await this.plain(line);
  }

  private async plain(response: string): Promise<void> {
    const creds = decodePlain(response);
    if (!creds) return this.bad('invalid SASL PLAIN response');
    // No proxy authorization: an authzid, if given, must name the same user (RFC 4616 §2).
    if (creds.authzid && normalizeAddress(creds.authzid) !== normalizeAddress(creds.authcid)) {
      return this.loginFailed(normalizeAddress(creds.authcid), 'authorization identity not permitted');
    }
    await this.login(creds.authcid, creds.password);
  }

  private async stls(): Promise<void> {
    if (this.io.secure) return this.bad('TLS is already active');
    if (!this.deps.settings.tlsAvailable) return this.bad('STLS is not available');
    await this.io.startTls(ok('begin TLS negotiation'));
    // RFC 2595 §4: after TLS starts, forget everything learnt before it.
    this.pendingUser = null;
  }

  /**
   * Answers a failed login after the session's delay. `record`: count it in the throttle (a
   * password check counts itself through begin()).
   */
  private async loginFailed(account: string, why: string, record = true): Promise<void> {
    const client = this.io.remoteAddress;
    if (record) this.deps.throttle.failed(client, account);
    this.authFailures++;
    const { baseMs, maxMs } = this.deps.settings.failureDelay;
    const delay = Math.min(maxMs, baseMs * 2 ** Math.min(this.authFailures - 1, 30));
    this.log.info('pop3 login failed', { client, account, why, delayMs: delay });
    await new Promise((r) => setTimeout(r, delay));
    const closing = this.authFailures >= this.deps.settings.maxAuthFailures;
    const text = why === 'throttled' ? 'too many failed logins; try again later' : 'authentication failed';
    throw new Pop3Error(closing ? `${text}; closing` : text, 'AUTH', { close: closing });
  }

  private async login(typed: string, password: string): Promise<void> {
    const { index } = this.deps.ports;
    // The identity authentication resolves, computed once: the throttle counts exactly that.
    const account = normalizeAddress(typed);
    // Too many recent failures from this address or for this account (in any protocol of this
    // process): refused without checking the password.
    const attempt = await this.deps.throttle.begin(this.io.remoteAddress, account);
    if (!attempt) return this.loginFailed(account, 'throttled', false);
    let address: string;
    try {
      const user = await authenticate(index, account, password);
      if (!user) {
        attempt.fail(); // stays counted
        return this.loginFailed(account, 'bad credentials', false);
      }
      address = user.address;
    } catch (e) {
      attempt.release();
      throw new Pop3Error('authentication is unavailable; try again later', 'SYS/TEMP', { cause: e });
    }
    attempt.release();

    const lease = { name: `pop3:${address}`, owner: `${this.deps.settings.hostname}:${process.pid}:${randomUUID()}` };
    let locked: boolean;
    try {
      // A release of this maildrop that the store refused earlier is owed first (lease-release.ts).
      await leaseReleasesFor(index).settle(lease.name);
      locked = await index.acquireLease(lease.name, lease.owner, this.deps.settings.leaseTtlSeconds);
    } catch (e) {
      throw new Pop3Error('cannot lock the maildrop; try again later', 'SYS/TEMP', { cause: e });
    }
    // RFC 2449 §8.1.1: another session holds the maildrop.
    if (!locked) throw new Pop3Error('maildrop is locked by another POP3 session', 'IN-USE');
    this.lease = lease;
    try {
      this.maildrop = await Maildrop.open(this.deps.ports, address);
    } catch (e) {
      await this.releaseLease();
      throw e;
    }
    this.state = 'transaction';
    this.startLeaseRefresh();
    this.log.info('pop3 login', { user: address });
    await this.io.write(ok(`${address} has ${this.maildrop.uidl(null).length} messages`));
  }

  private startLeaseRefresh(): void {
    const ttl = this.deps.settings.leaseTtlSeconds;
    this.refreshTimer = setInterval(() => void this.refreshLease(), Math.max(50, (ttl * 1000) / 3));
    this.refreshTimer.unref();
  }

  /** Extends the lease; false when another owner has it now (ours expired). */
  private async refreshLease(): Promise<boolean> {
    const lease = this.lease;
    if (!lease || this.leaseLost) return false;
    try {
      const ok = await this.deps.ports.index.acquireLease(lease.name, lease.owner, this.deps.settings.leaseTtlSeconds);
      if (!ok) {
        this.leaseLost = true;
        this.log.warn('pop3 maildrop lease lost', { lease: lease.name });
      }
      return ok;
    } catch (e) {
      // A storage hiccup: keep the session; the lease is checked again before UPDATE.
      this.log.warn('pop3 lease refresh failed', { err: e });
      return true;
    }
  }

  /** QUIT in TRANSACTION: the UPDATE state (RFC 1939 §6). */
  private async quit(): Promise<void> {
    this.state = 'update';
    const drop = this.maildrop as Maildrop;
    try {
      if (this.refreshTimer) clearInterval(this.refreshTimer);
      this.refreshTimer = null;
      // Only the lock holder may change the maildrop: if the lease expired and another
      // session took it, change nothing.
      let held: boolean;
      try {
        held = !this.leaseLost && (await this.deps.ports.index.acquireLease(this.lease!.name, this.lease!.owner, this.deps.settings.leaseTtlSeconds));
      } catch (e) {
        throw new Pop3Error('cannot confirm the maildrop lock; no messages deleted', 'SYS/TEMP', { cause: e });
      }
      if (!held) throw new Pop3Error('maildrop lock was lost; no messages deleted', 'IN-USE');
      const writes = new MailboxWrites(this.deps.ports, { events: this.deps.events, log: this.log });
      const result = await drop.commit(writes, this.deps.settings.expire);
      this.log.info('pop3 update', { user: drop.user, expunged: result.expunged.length, expired: result.expired });
      await this.io.write(ok(`${this.deps.settings.hostname} signing off (${result.expunged.length} messages deleted)`));
    } catch (e) {
      if (!(e instanceof Pop3Error)) throw e;
      this.log.warn('pop3 update failed', { user: drop.user, err: e.cause ?? e });
      await this.io.write(e.reply());
    } finally {
      await this.releaseLease();
      this.end();
    }
  }

  private async releaseLease(): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = null;
    const lease = this.lease;
    this.lease = null;
    if (!lease) return;
    // Retried until it succeeds when the store refuses the write (a full disk): lease-release.ts.
    await leaseReleasesFor(this.deps.ports.index).release(lease.name, lease.owner, this.deps.settings.leaseTtlSeconds, this.log);
  }

  private end(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeRequested = true;
    this.io.close();
  }

  /**
   * The connection is gone (QUIT, client drop, idle timeout, shutdown). Releases the lock once
   * no command is running; never enters UPDATE.
   */
  async closed(): Promise<void> {
    if (this.state !== 'closed') this.state = 'closed';
    this.closeRequested = true;
    if (!this.busy) await this.releaseLease();
  }
}
