/**
 * Connection-level behaviour: greeting and CAPABILITY, LOGINDISABLED before TLS, STARTTLS,
 * LOGIN / AUTHENTICATE PLAIN (SASL-IR), state rules, bad input and limits (invariant 6 of
 * docs/architecture.md), ENABLE IMAP4rev2, ID, NAMESPACE, LOGOUT.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawImap, quote } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

const plain = (u: string, p: string) => Buffer.from(`\0${u}\0${p}`).toString('base64');

describe('IMAP connection and session rules', () => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem('local', { limits: { preAuthTimeoutMs: 60_000 } });
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('greets with capabilities and offers STARTTLS and AUTH=PLAIN on loopback', async () => {
    const c = await RawImap.connect(sys.port);
    const greeting = await c.line();
    expect(greeting).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 .*STARTTLS.*AUTH=PLAIN.*\] /);
    const r = await c.command('CAPABILITY');
    expect(r.untagged[0]).toContain('LITERAL+');
    expect(r.untagged[0]).not.toContain('LOGINDISABLED');
    expect((await c.command('NOOP')).tagged).toMatch(/OK/);
    expect((await c.command('SELECT INBOX')).tagged).toMatch(/^T\d+ BAD .*authentication/);
    const out = await c.command('LOGOUT');
    expect(out.untagged).toEqual(['* BYE Logging out']);
    expect(out.tagged).toMatch(/OK LOGOUT completed/);
  });

  it('LOGIN with quoted strings and literals; wrong password is NO [AUTHENTICATIONFAILED]', async () => {
    const c = await RawImap.connect(sys.port);
    await c.line();
    expect((await c.command(`LOGIN ${quote(sys.user)} "wrong"`)).tagged).toMatch(/NO \[AUTHENTICATIONFAILED\]/);
    const tag = c.nextTag();
    c.write(`${tag} LOGIN {${sys.user.length}}\r\n`);
    expect(await c.line()).toMatch(/^\+ /);
    c.write(`${sys.user} {${sys.password.length}+}\r\n${sys.password}\r\n`);
    const r = await c.until(tag);
    expect(r.tagged).toMatch(/OK \[CAPABILITY .*UIDPLUS.*MOVE.*\] Logged in/);
    expect((await c.command('LOGIN a b')).tagged).toMatch(/BAD/);
    c.close();
  });

  it('AUTHENTICATE PLAIN with SASL-IR, with a continuation, and cancelled', async () => {
    const a = await RawImap.connect(sys.port);
    await a.line();
    expect((await a.command(`AUTHENTICATE PLAIN ${plain(sys.user, sys.password)}`)).tagged).toMatch(/OK \[CAPABILITY/);
    a.close();
    const b = await RawImap.connect(sys.port);
    await b.line();
    const tag = b.nextTag();
    b.write(`${tag} AUTHENTICATE PLAIN\r\n`);
    expect(await b.line()).toBe('+ ');
    b.write(`${plain(sys.user, sys.password)}\r\n`);
    expect((await b.until(tag)).tagged).toMatch(/OK/);
    b.close();
    const d = await RawImap.connect(sys.port);
    await d.line();
    const t2 = d.nextTag();
    d.write(`${t2} AUTHENTICATE PLAIN\r\n`);
    await d.line();
    d.write('*\r\n');
    expect((await d.until(t2)).tagged).toMatch(/BAD .*cancel/i);
    expect((await d.command('AUTHENTICATE CRAM-MD5')).tagged).toMatch(/NO/);
    d.close();
  });

  it('STARTTLS upgrades the connection and drops pipelined plaintext', async () => {
    const c = await RawImap.connect(sys.port);
    await c.line();
    // A command pipelined behind STARTTLS must not be executed inside TLS (injection).
    c.write('s1 STARTTLS\r\ns2 LOGIN x y\r\n');
    expect(await c.line()).toBe('s1 OK Begin TLS negotiation now');
    const secure = tls.connect({ socket: c.socket as net.Socket, rejectUnauthorized: false });
    await new Promise((r) => secure.once('secureConnect', r));
    const lines: string[] = [];
    secure.on('data', (d) => lines.push(...d.toString().split('\r\n').filter(Boolean)));
    secure.write('s3 CAPABILITY\r\n');
    await new Promise((r) => setTimeout(r, 200));
    expect(lines.some((l) => l.startsWith('s2'))).toBe(false);
    expect(lines.find((l) => l.startsWith('* CAPABILITY'))).not.toContain('STARTTLS');
    expect(lines).toContain('s3 OK CAPABILITY completed');
    secure.destroy();
  });

  it('answers BAD to unknown commands and garbage, and the session lives on', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    expect((await c.command('XYZZY')).tagged).toMatch(/BAD Unknown command/);
    c.write(Buffer.from([0xff, 0x00, 0x80, 0x0d, 0x0a]));
    expect(await c.line()).toMatch(/^\* BAD/);
    expect((await c.command('FETCH 1 FLAGS')).tagged).toMatch(/BAD .*selected/);
    expect((await c.command('ENABLE IMAP4rev2')).tagged).toMatch(/OK/);
    expect((await c.command('NOOP')).tagged).toMatch(/OK/);
    c.close();
  });

  it('closes after too many invalid commands in a row', async () => {
    const c = await RawImap.connect(sys.port);
    await c.line();
    for (let i = 0; i < 12; i++) c.write(`b${i} BOGUS\r\n`);
    const lines: string[] = [];
    try {
      for (;;) lines.push(await c.line(2000));
    } catch {
      // closed
    }
    expect(lines).toContain('* BYE Too many invalid commands');
    expect(c.isClosed).toBe(true);
  });

  it('refuses a 1 GB literal without reading it, for APPEND and for any other command', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    const t1 = c.nextTag();
    c.write(`${t1} APPEND INBOX {1073741824}\r\n`);
    expect(await c.line()).toMatch(new RegExp(`^${t1} NO \\[TOOBIG\\]`));
    const t2 = c.nextTag();
    c.write(`${t2} LOGIN {1073741824}\r\n`);
    expect(await c.line()).toMatch(new RegExp(`^${t2} BAD \\[TOOBIG\\]`));
    // The session is still usable.
    expect((await c.command('NOOP')).tagged).toMatch(/OK/);
    // A non-synchronising literal that large cannot be skipped: the connection ends.
    c.write('n1 APPEND INBOX {1073741824+}\r\nxxxx');
    expect(await c.line()).toMatch(/^n1 NO \[TOOBIG\]/);
    expect(await c.line()).toMatch(/^\* BYE/);
    c.close();
    // Before authentication literals are small.
    const d = await RawImap.connect(sys.port);
    await d.line();
    d.write('p1 LOGIN {100000}\r\n');
    expect(await d.line()).toMatch(/^p1 BAD \[TOOBIG\]/);
    d.close();
  });

  it('bounds the literals of one command together: APPEND messages share APPENDLIMIT (RFC 3502), other literals 1 MiB', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    // The message literals may be up to APPENDLIMIT together (a further message of MULTIAPPEND
    // counts with the first) — refused at the `{n}`, unread.
    c.write('a1 APPEND Junk {5}\r\n');
    expect(await c.line()).toMatch(/^\+ /);
    c.write('hello {26214400}\r\n');
    expect(await c.line()).toMatch(/^a1 NO \[TOOBIG\] Messages of one APPEND larger than 26214400 octets together/);
    // Nothing of it was read: the next line is a new command.
    expect((await c.command('NOOP')).tagged).toMatch(/OK/);
    // Non-message literals of any command are limited in total, not one by one.
    c.write('a2 LIST {600000}\r\n');
    expect(await c.line()).toMatch(/^\+ /);
    c.write(Buffer.concat([Buffer.alloc(600000, 0x61), Buffer.from(' {600000}\r\n')]));
    expect(await c.line()).toMatch(/^a2 BAD \[TOOBIG\] Literals of this command too large/);
    expect((await c.command('NOOP')).tagged).toMatch(/OK/);
    // A mailbox name given as a literal is not the message: it cannot be large either…
    c.write('a3 APPEND {2000000}\r\n');
    expect(await c.line()).toMatch(/^a3 BAD \[TOOBIG\]/);
    // …and the literal after it is the message, which may be.
    const msg = sampleMessage('big', 'x'.repeat(1_500_000) + '\r\n');
    c.write('a4 APPEND {4}\r\n');
    expect(await c.line()).toMatch(/^\+ /);
    c.write(`Junk {${msg.length}}\r\n`);
    expect(await c.line()).toMatch(/^\+ /);
    c.write(Buffer.concat([msg, Buffer.from('\r\n')]));
    expect((await c.until('a4')).tagged).toMatch(/^a4 OK \[APPENDUID/);
    c.close();
  });

  it('resynchronises after an over-long line', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    c.write('L1 NOOP ' + 'x'.repeat(100 * 1024) + '\r\n');
    expect(await c.line()).toMatch(/^L1 BAD Line too long/);
    expect((await c.command('NOOP')).tagged).toMatch(/OK/);
    c.close();
  });

  it('serves other sessions while one client stalls mid-command or floods garbage', async () => {
    const stalled = await RawImap.login(sys.port, sys.user, sys.password);
    stalled.write('s1 APPEND INBOX {1000}\r\n');
    expect(await stalled.line()).toMatch(/^\+ /);
    stalled.write('only a few bytes of the literal');
    const flood = await RawImap.connect(sys.port);
    await flood.line();
    const junk = Buffer.alloc(512 * 1024);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919) % 251;
    flood.write(junk);
    const t0 = Date.now();
    const other = await RawImap.login(sys.port, sys.user, sys.password);
    expect((await other.command('SELECT INBOX')).tagged).toMatch(/OK/);
    expect((await other.command('LIST "" *')).tagged).toMatch(/OK/);
    expect(Date.now() - t0).toBeLessThan(2000);
    other.close();
    stalled.close();
    flood.close();
  });

  it('ENABLE IMAP4rev2: UTF-8 names, ESEARCH results, no \\Recent, LIST in SELECT (RFC 9051)', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    expect((await c.command('ENABLE IMAP4rev2 X-UNKNOWN')).untagged).toEqual(['* ENABLED IMAP4rev2']);
    expect((await c.command('CREATE "Entwürfe"')).tagged).toMatch(/OK/);
    expect((await c.command('LIST "" "Entw*"')).untagged).toEqual([
      '* LIST (\\HasNoChildren) "/" "Entwürfe"'.replace(/ü/, Buffer.from('ü').toString('latin1')),
    ]);
    await sys.deliver(sampleMessage('rev2'));
    const sel = await c.command('SELECT INBOX');
    expect(sel.untagged.some((l) => /RECENT/.test(l))).toBe(false);
    expect(sel.untagged).toContain('* LIST () "/" "INBOX"');
    const s = await c.command('UID SEARCH ALL');
    expect(s.untagged[0]).toMatch(/^\* ESEARCH \(TAG "T\d+"\) UID ALL \d+/);
    expect((await c.command('FETCH 1 FLAGS')).untagged[0]).not.toContain('\\Recent');
    // Unknown capabilities are ignored; ENABLE is not valid once selected.
    expect((await c.command('ENABLE UTF8=ACCEPT')).tagged).toMatch(/BAD/);
    c.close();
    const d = await RawImap.login(sys.port, sys.user, sys.password);
    expect((await d.command('LIST "" "Entw*"')).untagged).toEqual(['* LIST (\\HasNoChildren) "/" "Entw&APw-rfe"']);
    d.close();
  });

  it('ENABLE UTF8=ACCEPT: UTF-8 names and the APPEND UTF8 form (RFC 6855)', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    const raw = 'Subject: Grüße\r\n\r\nx\r\n';
    const n = Buffer.byteLength(raw);
    expect((await c.command(`APPEND INBOX UTF8 (~{${n}+}\r\n${raw})`)).tagged).toMatch(/BAD/);
    expect((await c.command('ENABLE UTF8=ACCEPT')).untagged).toEqual(['* ENABLED UTF8=ACCEPT']);
    expect((await c.command('CREATE "Ordner/Größe"')).tagged).toMatch(/OK/);
    expect((await c.command('LIST "" "Ordner/*"')).untagged).toEqual([Buffer.from('* LIST (\\HasNoChildren) "/" "Ordner/Größe"').toString('latin1')]);
    const r = await c.command(`APPEND "Ordner/Größe" UTF8 (~{${n}+}\r\n${raw})`);
    expect(r.tagged).toMatch(/OK \[APPENDUID \d+ 1\]/);
    const mb = await sys.ts.adapters.index.getMailbox(sys.user, 'Ordner/Größe');
    const [rec] = await sys.ts.adapters.index.listMessages(sys.user, mb!.id);
    expect((await sys.ts.adapters.blobs.get(rec.blobKey)).toString('utf8')).toBe(raw);
    // \Recent and SEARCH stay as in IMAP4rev1: only names and strings change.
    await c.command('SELECT INBOX');
    expect((await c.command('SEARCH ALL')).untagged[0]).toMatch(/^\* SEARCH/);
    c.close();
  });

  it('ID, NAMESPACE and CHECK', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    expect((await c.command('ID ("name" "test")')).untagged[0]).toMatch(/^\* ID \("name" "cloudmail"/);
    expect((await c.command('NAMESPACE')).untagged).toEqual(['* NAMESPACE (("" "/")) NIL NIL']);
    expect((await c.command('CHECK')).tagged).toMatch(/BAD/);
    await c.command('SELECT INBOX');
    expect((await c.command('CHECK')).tagged).toMatch(/OK/);
    c.close();
  });
});

describe('LOGINDISABLED before TLS when plaintext auth is not allowed', () => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem('local', { env: { MAIL_ALLOW_PLAINTEXT_LOOPBACK: '0' } });
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('refuses LOGIN/AUTHENTICATE in plaintext and allows them after STARTTLS or on imaps', async () => {
    const c = await RawImap.connect(sys.port);
    const greeting = await c.line();
    expect(greeting).toContain('LOGINDISABLED');
    expect(greeting).not.toContain('AUTH=PLAIN');
    expect((await c.command(`LOGIN ${quote(sys.user)} ${quote(sys.password)}`)).tagged).toMatch(/NO \[PRIVACYREQUIRED\]/);
    expect((await c.command(`AUTHENTICATE PLAIN ${plain(sys.user, sys.password)}`)).tagged).toMatch(/NO \[PRIVACYREQUIRED\]/);
    c.close();
    const s = await RawImap.connect(sys.tlsPort, { tls: true });
    const g = await s.line();
    expect(g).toContain('AUTH=PLAIN');
    expect(g).not.toContain('STARTTLS');
    expect((await s.command(`LOGIN ${quote(sys.user)} ${quote(sys.password)}`)).tagged).toMatch(/OK/);
    s.close();
  });
});

describe('listener shutdown', () => {
  it('says BYE to waiting and idling sessions and closes them', async () => {
    const sys = await startImapSystem('local');
    const waiting = await RawImap.login(sys.port, sys.user, sys.password);
    const idling = await RawImap.login(sys.port, sys.user, sys.password);
    await idling.command('SELECT INBOX');
    idling.write('I IDLE\r\n');
    expect(await idling.line()).toBe('+ idling');
    const stopped = sys.stop();
    expect(await waiting.line()).toBe('* BYE Server shutting down');
    expect(await idling.line()).toBe('* BYE Server shutting down');
    await stopped;
    await new Promise((r) => setTimeout(r, 50));
    expect(waiting.isClosed && idling.isClosed).toBe(true);
  });
});

describe('TLS handshake timeout', () => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem('local', { limits: { preAuthTimeoutMs: 400 } });
  });
  afterAll(async () => {
    await sys?.stop();
  });

  const closedWithin = (socket: net.Socket, ms: number) =>
    new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      socket.once('close', () => {
        clearTimeout(t);
        resolve(true);
      });
    });

  it('closes a connection to the IMAPS port that never starts the handshake', async () => {
    const s = net.connect(sys.tlsPort, '127.0.0.1');
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    const t0 = Date.now();
    expect(await closedWithin(s, 3000)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
  });

  it('closes a connection that sends STARTTLS and then nothing', async () => {
    const c = await RawImap.connect(sys.port);
    await c.line();
    c.write('x STARTTLS\r\n');
    expect(await c.line()).toBe('x OK Begin TLS negotiation now');
    const socket = c.socket as net.Socket;
    socket.on('error', () => {});
    expect(socket.destroyed || (await closedWithin(socket, 3000))).toBe(true);
  });
});
