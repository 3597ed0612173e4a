/**
 * The POP3 state machine (RFC 1939 §3-§6) against in-memory ports: no sockets.
 */
import type { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '#core/log.ts';
import type { MailboxEvents } from '#core/mailbox/events.ts';
import { createAuthThrottle, type AuthThrottle } from '#listeners/auth-throttle.ts';
import { retrievedAt, retrievedKeyword } from '#listeners/pop3/maildrop.ts';
import type { ExpirePolicy } from '#listeners/pop3/protocol/capabilities.ts';
import { encodePlain } from '#listeners/pop3/protocol/sasl-plain.ts';
import { Pop3Session, type Pop3Transport } from '#listeners/pop3/session.ts';
import { MemoryBlobs, MemoryIndex } from './support/memory-ports.ts';
import { expectedPop3Form } from './support/pop3-form.ts';

class FakeTransport implements Pop3Transport {
  remoteAddress = '192.0.2.10';
  secure = false;
  loopback = false;
  closed = false;
  out = '';
  async write(data: string | Buffer) {
    this.out += Buffer.isBuffer(data) ? data.toString('latin1') : data;
  }
  async send(stream: Readable) {
    for await (const c of stream) this.out += (c as Buffer).toString('latin1');
  }
  async startTls(reply: string) {
    this.out += reply;
    this.secure = true;
  }
  close() {
    this.closed = true;
  }
  take(): string {
    const o = this.out;
    this.out = '';
    return o;
  }
}

const USER = 'alice@example.test';
const PASS = 'correct horse';

interface Setup {
  index: MemoryIndex;
  blobs: MemoryBlobs;
  notified: string[];
  open(opts?: { secure?: boolean; loopback?: boolean; allowLoopback?: boolean; expire?: ExpirePolicy; leaseTtlSeconds?: number }): {
    s: Pop3Session;
    io: FakeTransport;
    cmd(line: string): Promise<string>;
  };
}

let t: Setup;
let throttle: AuthThrottle;

beforeEach(async () => {
  const index = new MemoryIndex();
  const blobs = new MemoryBlobs();
  await index.addUser(USER, PASS);
  const notified: string[] = [];
  const events: MailboxEvents = {
    notify: (u, id) => void notified.push(`${u}:${id}`),
    subscribe: () => () => {},
    subscribeAny: () => () => {},
    listen: async () => {},
    flush: async () => {},
    close: async () => {},
  };
  throttle = createAuthThrottle({ maxFailuresPerClient: 1000, maxFailuresPerAccount: 1000, windowSeconds: 900 });
  t = {
    index,
    blobs,
    notified,
    open(opts = {}) {
      const io = new FakeTransport();
      io.secure = opts.secure ?? true;
      io.loopback = opts.loopback ?? false;
      const s = new Pop3Session(
        {
          ports: { index: index.asPort(), blobs },
          events,
          logger: silentLogger,
          throttle,
          settings: {
            hostname: 'pop.test',
            implementation: 'cloudmail',
            allowPlaintextAuthOnLoopback: opts.allowLoopback ?? true,
            tlsAvailable: true,
            expire: opts.expire ?? 'NEVER',
            leaseTtlSeconds: opts.leaseTtlSeconds ?? 60,
            maxBadCommands: 5,
            maxAuthFailures: 3,
            failureDelay: { baseMs: 1, maxMs: 5 },
          },
        },
        io,
      );
      return {
        s,
        io,
        cmd: async (line: string) => {
          await s.handleLine(Buffer.from(line, 'utf8'));
          return io.take();
        },
      };
    },
  };
});

async function login(opts: Parameters<Setup['open']>[0] = {}) {
  const c = t.open(opts);
  expect(await c.cmd(`USER ${USER}`)).toMatch(/^\+OK/);
  expect(await c.cmd(`PASS ${PASS}`)).toMatch(/^\+OK/);
  return c;
}

const LF_MSG = Buffer.from('From: a@example.test\nSubject: lf\n\n.dot line\nsecond\n');
const CRLF_MSG = Buffer.from('From: b@example.test\r\nSubject: crlf\r\n\r\nbody\r\n');

describe('AUTHORIZATION state', () => {
  it('greets, and lists capabilities with RESP-CODES, AUTH-RESP-CODE, PIPELINING, EXPIRE (RFC 2449 §5-6)', async () => {
    const c = t.open({ secure: false, loopback: true });
    expect(c.s.greeting()).toMatch(/^\+OK .*\r\n$/);
    const capa = await c.cmd('CAPA');
    expect(capa.split('\r\n')).toEqual([
      '+OK capability list follows',
      'TOP',
      'UIDL',
      'RESP-CODES',
      'AUTH-RESP-CODE',
      'PIPELINING',
      'EXPIRE NEVER',
      'USER',
      'SASL PLAIN',
      'STLS',
      'IMPLEMENTATION cloudmail',
      '.',
      '',
    ]);
  });

  it('refuses USER/PASS and AUTH on plaintext from a non-loopback address until STLS (RFC 2595 §2.2)', async () => {
    const c = t.open({ secure: false, loopback: false });
    const capa = await c.cmd('CAPA');
    expect(capa).not.toMatch(/\r\nUSER\r\n/);
    expect(capa).not.toMatch(/SASL/);
    expect(capa).toMatch(/\r\nSTLS\r\n/);
    expect(await c.cmd(`USER ${USER}`)).toMatch(/^-ERR \[AUTH\] plaintext/);
    expect(await c.cmd(`AUTH PLAIN ${encodePlain(USER, PASS)}`)).toMatch(/^-ERR \[AUTH\]/);
    expect(await c.cmd('STLS')).toBe('+OK begin TLS negotiation\r\n');
    expect(c.io.secure).toBe(true);
    const after = await c.cmd('CAPA');
    expect(after).not.toMatch(/STLS/);
    expect(after).toMatch(/\r\nUSER\r\n/);
    expect(await c.cmd('STLS')).toMatch(/^-ERR/);
    expect(await c.cmd(`USER ${USER}`)).toMatch(/^\+OK/);
    expect(await c.cmd(`PASS ${PASS}`)).toMatch(/^\+OK/);
  });

  it('refuses plaintext login on loopback too when the configuration does not allow it', async () => {
    const c = t.open({ secure: false, loopback: true, allowLoopback: false });
    expect(await c.cmd(`USER ${USER}`)).toMatch(/^-ERR \[AUTH\]/);
  });

  it('forgets a USER given before STLS (RFC 2595 §4)', async () => {
    const c = t.open({ secure: false, loopback: true });
    await c.cmd(`USER ${USER}`);
    await c.cmd('STLS');
    expect(await c.cmd(`PASS ${PASS}`)).toMatch(/^-ERR USER first/);
  });

  it('answers a wrong password with -ERR [AUTH] and closes after 3 failures', async () => {
    const c = t.open();
    await c.cmd(`USER ${USER}`);
    expect(await c.cmd('PASS wrong')).toBe('-ERR [AUTH] authentication failed\r\n');
    expect(await c.cmd(`PASS ${PASS}`)).toMatch(/^-ERR USER first/); // PASS consumed the USER
    await c.cmd('USER nobody@example.test');
    expect(await c.cmd('PASS x')).toMatch(/^-ERR \[AUTH\]/);
    expect(c.io.closed).toBe(false);
    expect(await c.cmd(`AUTH PLAIN ${encodePlain(USER, 'nope')}`)).toMatch(/^-ERR \[AUTH\] authentication failed; closing/);
    expect(c.io.closed).toBe(true);
  });

  it('AUTH PLAIN with an initial response, the continuation form, "*" and "=" (RFC 5034 §4)', async () => {
    const a = t.open();
    expect(await a.cmd(`AUTH PLAIN ${encodePlain(USER, PASS)}`)).toMatch(/^\+OK/);
    await a.cmd('QUIT');

    const b = t.open();
    expect(await b.cmd('AUTH PLAIN')).toBe('+ \r\n');
    expect(b.s.expectingSaslResponse).toBe(true);
    expect(await b.cmd('*')).toBe('-ERR authentication cancelled\r\n');
    expect(await b.cmd('AUTH PLAIN')).toBe('+ \r\n');
    expect(await b.cmd(encodePlain(USER, PASS))).toMatch(/^\+OK/);
    await b.cmd('QUIT');

    const c = t.open();
    expect(await c.cmd('AUTH PLAIN =')).toMatch(/^-ERR invalid SASL/);
    expect(await c.cmd('AUTH CRAM-MD5')).toMatch(/^-ERR unsupported/);
    expect(await c.cmd('AUTH')).toBe('+OK SASL mechanisms follow\r\nPLAIN\r\n.\r\n');
    // No proxy authorization.
    expect(await c.cmd(`AUTH PLAIN ${encodePlain(USER, PASS, 'bob@example.test')}`)).toMatch(/^-ERR \[AUTH\]/);
  });

  it('rejects transaction commands before login, and keeps going after bad commands', async () => {
    const c = t.open();
    expect(await c.cmd('STAT')).toMatch(/^-ERR STAT is not valid before login/);
    expect(await c.cmd('FOO')).toBe('-ERR unknown command\r\n');
    expect(await c.cmd('CAPA')).toMatch(/^\+OK/);
    expect(c.io.closed).toBe(false);
  });

  it('closes after too many bad commands', async () => {
    const c = t.open();
    for (let i = 0; i < 4; i++) expect(await c.cmd('BAD')).toMatch(/^-ERR/);
    expect(await c.cmd('BAD')).toMatch(/too many bad commands/);
    expect(c.io.closed).toBe(true);
  });

  it('QUIT before login closes without touching the maildrop', async () => {
    const c = t.open();
    expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
    expect(c.io.closed).toBe(true);
    expect(t.index.expungeCalls).toEqual([]);
  });
});

describe('TRANSACTION state', () => {
  beforeEach(async () => {
    await t.index.deliver(t.blobs, USER, LF_MSG);
    await t.index.deliver(t.blobs, USER, CRLF_MSG);
  });

  it('STAT and LIST count the octets sent: bare LF counted as CRLF (RFC 1939 §5, §11)', async () => {
    const c = await login();
    const s1 = expectedPop3Form(LF_MSG).length;
    const s2 = CRLF_MSG.length;
    expect(s1).toBe(LF_MSG.length + 5);
    expect(await c.cmd('STAT')).toBe(`+OK 2 ${s1 + s2}\r\n`);
    expect(await c.cmd('LIST')).toBe(`+OK 2 messages (${s1 + s2} octets)\r\n1 ${s1}\r\n2 ${s2}\r\n.\r\n`);
    expect(await c.cmd('LIST 2')).toBe(`+OK 2 ${s2}\r\n`);
    expect(await c.cmd('LIST 3')).toMatch(/^-ERR no such message/);
  });

  it('RETR sends the CRLF form, byte-stuffed, then the terminator', async () => {
    const c = await login();
    const r = await c.cmd('RETR 1');
    const form = expectedPop3Form(LF_MSG).toString('latin1');
    expect(r).toBe(`+OK ${form.length} octets\r\n${form.replace('\r\n.dot', '\r\n..dot')}.\r\n`);
    // Second time the size comes from the cache and the blob is streamed: same bytes.
    expect(await c.cmd('RETR 1')).toBe(r);
    expect(await c.cmd('RETR 2')).toBe(`+OK ${CRLF_MSG.length} octets\r\n${CRLF_MSG.toString('latin1')}.\r\n`);
  });

  it('TOP sends the header, the blank line and n body lines (RFC 1939 §7)', async () => {
    const c = await login();
    expect(await c.cmd('TOP 1 0')).toBe('+OK top of message follows\r\nFrom: a@example.test\r\nSubject: lf\r\n\r\n.\r\n');
    expect(await c.cmd('TOP 1 1')).toBe('+OK top of message follows\r\nFrom: a@example.test\r\nSubject: lf\r\n\r\n..dot line\r\n.\r\n');
    expect(await c.cmd('TOP 2 100')).toBe(`+OK top of message follows\r\n${CRLF_MSG.toString()}.\r\n`);
  });

  it('UIDL is <UIDVALIDITY>.<UID>, stable across sessions', async () => {
    const c = await login();
    const list = await c.cmd('UIDL');
    expect(list).toBe('+OK unique-id listing follows\r\n1 1700000000.1\r\n2 1700000000.2\r\n.\r\n');
    expect(await c.cmd('UIDL 2')).toBe('+OK 2 1700000000.2\r\n');
    await c.cmd('QUIT');
    const d = await login();
    expect(await d.cmd('UIDL')).toBe(list);
  });

  it('DELE marks, hides the message, RSET unmarks; nothing changes before QUIT (RFC 1939 §5-6)', async () => {
    const c = await login();
    expect(await c.cmd('DELE 1')).toBe('+OK message 1 deleted\r\n');
    expect(await c.cmd('DELE 1')).toMatch(/^-ERR message 1 already deleted/);
    expect(await c.cmd('RETR 1')).toMatch(/^-ERR/);
    expect(await c.cmd('LIST 1')).toMatch(/^-ERR/);
    expect(await c.cmd('STAT')).toBe(`+OK 1 ${CRLF_MSG.length}\r\n`);
    expect(await c.cmd('UIDL')).toBe('+OK unique-id listing follows\r\n2 1700000000.2\r\n.\r\n');
    expect(t.index.expungeCalls).toEqual([]);
    expect(await c.cmd('RSET')).toMatch(/^\+OK maildrop has 2 messages/);
    expect(await c.cmd('DELE 2')).toMatch(/^\+OK/);
    expect(await c.cmd('NOOP')).toBe('+OK\r\n');
    expect(await c.cmd('QUIT')).toMatch(/^\+OK .*\(1 messages deleted\)/);
    expect(c.io.closed).toBe(true);
    expect(t.index.expungeCalls).toEqual([[2]]);
    expect(t.blobs.data.size).toBe(1); // the orphaned blob is gone
    expect(t.notified).toEqual([`${USER}:mb-${USER}`]);
  });

  it('a dropped connection deletes nothing and frees the maildrop', async () => {
    const c = await login();
    await c.cmd('DELE 1');
    await c.s.closed();
    expect(t.index.expungeCalls).toEqual([]);
    expect(t.index.leases.size).toBe(0);
    const d = await login();
    expect(await d.cmd('STAT')).toMatch(/^\+OK 2 /);
  });

  it('the maildrop is INBOX as at login: later mail waits for the next session', async () => {
    const c = await login();
    await t.index.deliver(t.blobs, USER, CRLF_MSG);
    expect(await c.cmd('STAT')).toMatch(/^\+OK 2 /);
    expect(await c.cmd('RETR 3')).toMatch(/^-ERR no such message/);
    await c.cmd('QUIT');
    expect(await (await login()).cmd('STAT')).toMatch(/^\+OK 3 /);
  });

  it('a second concurrent session gets -ERR [IN-USE] (RFC 2449 §8.1.1)', async () => {
    const a = await login();
    const b = t.open();
    await b.cmd(`USER ${USER}`);
    expect(await b.cmd(`PASS ${PASS}`)).toBe('-ERR [IN-USE] maildrop is locked by another POP3 session\r\n');
    expect(await b.cmd('STAT')).toMatch(/^-ERR/); // still in AUTHORIZATION
    await a.cmd('QUIT');
    await b.cmd(`USER ${USER}`);
    expect(await b.cmd(`PASS ${PASS}`)).toMatch(/^\+OK/);
  });

  it('the lock has a TTL: a crashed container does not lock the user out for ever', async () => {
    // A lease left behind by a container that died mid-session.
    t.index.leases.set(`pop3:${USER}`, { owner: 'dead-container', expires: Date.now() + 200 });
    const c = t.open();
    await c.cmd(`USER ${USER}`);
    expect(await c.cmd(`PASS ${PASS}`)).toMatch(/^-ERR \[IN-USE\]/);
    await new Promise((r) => setTimeout(r, 250));
    await c.cmd(`USER ${USER}`);
    expect(await c.cmd(`PASS ${PASS}`)).toMatch(/^\+OK/);
  });

  it('a session whose lock was taken over deletes nothing at QUIT', async () => {
    const a = await login();
    await a.cmd('DELE 1');
    t.index.leases.set(`pop3:${USER}`, { owner: 'someone-else', expires: Date.now() + 60_000 });
    expect(await a.cmd('QUIT')).toMatch(/^-ERR \[IN-USE\] maildrop lock was lost/);
    expect(t.index.expungeCalls).toEqual([]);
    // Its release does not free someone else's lock.
    expect(t.index.leases.get(`pop3:${USER}`)?.owner).toBe('someone-else');
  });

  it('the session refreshes its lock while it lasts', async () => {
    const a = await login({ leaseTtlSeconds: 0.3 });
    await new Promise((r) => setTimeout(r, 700));
    const b = t.open();
    await b.cmd(`USER ${USER}`);
    expect(await b.cmd(`PASS ${PASS}`)).toMatch(/^-ERR \[IN-USE\]/);
    await a.s.closed();
  });

  it('login commands are refused after login', async () => {
    const c = await login();
    expect(await c.cmd('USER x')).toMatch(/^-ERR USER is not valid after login/);
    expect(await c.cmd('STLS')).toMatch(/^-ERR/);
  });
});

describe('storage failures → -ERR [SYS/TEMP] (RFC 3206)', () => {
  beforeEach(async () => {
    await t.index.deliver(t.blobs, USER, LF_MSG);
  });

  it('index down at login: -ERR [SYS/TEMP], lock released, can retry', async () => {
    t.index.failList = true;
    const c = t.open();
    await c.cmd(`USER ${USER}`);
    expect(await c.cmd(`PASS ${PASS}`)).toMatch(/^-ERR \[SYS\/TEMP\]/);
    expect(t.index.leases.size).toBe(0);
    t.index.failList = false;
    await c.cmd(`USER ${USER}`);
    expect(await c.cmd(`PASS ${PASS}`)).toMatch(/^\+OK/);
  });

  it('lease store down at login', async () => {
    t.index.failLease = true;
    const c = t.open();
    await c.cmd(`USER ${USER}`);
    expect(await c.cmd(`PASS ${PASS}`)).toMatch(/^-ERR \[SYS\/TEMP\]/);
  });

  it('blob store down: STAT/LIST still answer (stored sizes), RETR/TOP -ERR [SYS/TEMP] naming the message, session continues', async () => {
    const c = await login();
    t.blobs.failReads = true;
    const stored = [...t.index.messages.values()][0][0].size;
    expect(await c.cmd('STAT')).toBe(`+OK 1 ${stored}\r\n`);
    expect(await c.cmd('RETR 1')).toBe('-ERR [SYS/TEMP] message 1 cannot be read now; try again later\r\n');
    expect(await c.cmd('TOP 1 1')).toMatch(/^-ERR \[SYS\/TEMP\] message 1 /);
    t.blobs.failReads = false;
    expect(await c.cmd('RETR 1')).toMatch(/^\+OK/);
  });

  it('a message expunged by another session (IMAP) meanwhile: RETR gives -ERR "removed"', async () => {
    const c = await login();
    t.blobs.data.clear();
    for (const list of t.index.messages.values()) list.length = 0;
    expect(await c.cmd('RETR 1')).toMatch(/^-ERR \[SYS\/PERM\] message was removed by another session/);
  });

  it('a blob missing while the message is still indexed is damage, not an expunge: -ERR [SYS/PERM] naming it', async () => {
    const c = await login();
    t.blobs.data.clear();
    expect(await c.cmd('RETR 1')).toBe('-ERR [SYS/PERM] message 1 cannot be read: its stored copy is missing\r\n');
    expect(await c.cmd('TOP 1 0')).toMatch(/^-ERR \[SYS\/PERM\] message 1 cannot be read/);
  });

  it('expunge fails at QUIT: "-ERR some deleted messages not removed" (RFC 1939 §6)', async () => {
    const c = await login();
    await c.cmd('DELE 1');
    t.index.failExpunge = true;
    expect(await c.cmd('QUIT')).toBe('-ERR [SYS/TEMP] some deleted messages not removed\r\n');
    expect(c.io.closed).toBe(true);
    expect(t.index.leases.size).toBe(0);
    expect(t.blobs.data.size).toBe(1);
  });
});

describe('EXPIRE (RFC 2449 §6.7)', () => {
  beforeEach(async () => {
    await t.index.deliver(t.blobs, USER, LF_MSG);
    await t.index.deliver(t.blobs, USER, CRLF_MSG);
  });

  it('advertises the policy', async () => {
    expect(await t.open({ expire: 30 }).cmd('CAPA')).toMatch(/\r\nEXPIRE 30\r\n/);
  });

  it('EXPIRE 0: messages retrieved with RETR are removed at QUIT; TOP does not count', async () => {
    const c = await login({ expire: 0 });
    await c.cmd('RETR 2');
    await c.cmd('TOP 1 5');
    expect(await c.cmd('QUIT')).toMatch(/\(1 messages deleted\)/);
    expect(t.index.expungeCalls).toEqual([[2]]);
  });

  it('EXPIRE N: records the first retrieval, and removes the message N days later', async () => {
    const c = await login({ expire: 3 });
    await c.cmd('RETR 1');
    expect(await c.cmd('QUIT')).toMatch(/\(0 messages deleted\)/);
    const mbId = `mb-${USER}`;
    const flags = t.index.messages.get(mbId)![0].flags;
    expect(flags).toHaveLength(1);
    expect(Math.abs(retrievedAt(flags)! - Date.now())).toBeLessThan(120_000);
    // A second retrieval does not move the date.
    t.index.messages.get(mbId)![0].flags = [retrievedKeyword(Date.now() - 2 * 86_400_000)];
    const d = await login({ expire: 3 });
    await d.cmd('RETR 1');
    await d.cmd('QUIT');
    expect(t.index.messages.get(mbId)![0].flags).toHaveLength(1);
    // Three days after the first retrieval it goes at the next QUIT, even unread this time.
    t.index.messages.get(mbId)![0].flags = [retrievedKeyword(Date.now() - 3 * 86_400_000 - 60_000)];
    const e = await login({ expire: 3 });
    expect(await e.cmd('QUIT')).toMatch(/\(1 messages deleted\)/);
    expect(t.index.messages.get(mbId)!.map((m) => m.uid)).toEqual([2]);
  });

  it('EXPIRE NEVER records nothing and never expires', async () => {
    const c = await login();
    await c.cmd('RETR 1');
    await c.cmd('QUIT');
    expect(t.index.messages.get(`mb-${USER}`)![0].flags).toEqual([]);
  });

  it('a session that ends without QUIT expires nothing', async () => {
    const c = await login({ expire: 0 });
    await c.cmd('RETR 1');
    await c.s.closed();
    expect(t.index.expungeCalls).toEqual([]);
  });
});

describe('login throttling', () => {
  it('an account with too many failures is refused unchecked, from any address and however its name is spelt', async () => {
    throttle = createAuthThrottle({ maxFailuresPerClient: 1000, maxFailuresPerAccount: 3, windowSeconds: 900 });
    // USER's argument is a word (the parser drops spaces); AUTH PLAIN's authcid is taken as sent.
    const attempts = [`USER ${USER.toUpperCase()}`, `AUTH PLAIN ${encodePlain(` ${USER}  `, 'wrong')}`, `AUTH PLAIN ${encodePlain(`${USER}\t`, 'wrong')}`];
    for (const [i, line] of attempts.entries()) {
      const c = t.open();
      c.io.remoteAddress = `192.0.2.${20 + i}`;
      const answer = await c.cmd(line);
      expect(line.startsWith('USER') ? await c.cmd('PASS wrong') : answer).toBe('-ERR [AUTH] authentication failed\r\n');
    }
    const c = t.open();
    c.io.remoteAddress = '198.51.100.7';
    await c.cmd(`USER ${USER}`);
    expect(await c.cmd(`PASS ${PASS}`)).toBe('-ERR [AUTH] too many failed logins; try again later\r\n');
    // AUTH PLAIN is bounded the same way.
    const d = t.open();
    d.io.remoteAddress = '198.51.100.8';
    expect(await d.cmd(`AUTH PLAIN ${encodePlain(`${USER} `, PASS)}`)).toMatch(/^-ERR \[AUTH\] too many failed logins/);
  });

  it('a locked-out address is refused even with the right password', async () => {
    throttle = createAuthThrottle({ maxFailuresPerClient: 2, maxFailuresPerAccount: 1000, windowSeconds: 900 });
    const c = t.open(); // open() picks up the reassigned throttle
    throttle.failed(c.io.remoteAddress, 'x');
    throttle.failed(c.io.remoteAddress, 'y');
    await c.cmd(`USER ${USER}`);
    expect(await c.cmd(`PASS ${PASS}`)).toMatch(/^-ERR \[AUTH\]/);
  });
});
