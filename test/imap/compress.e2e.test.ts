/**
 * COMPRESS=DEFLATE (RFC 4978): raw deflate both ways from the octet after the tagged OK, inside
 * TLS when TLS is active; a second COMPRESS is NO [COMPRESSIONACTIVE]; an unknown mechanism is
 * BAD; input that is not deflate ends only that connection. imapflow negotiates COMPRESS by
 * itself after login, so its session here runs compressed end to end.
 */
import zlib from 'node:zlib';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deflateFace } from './support/deflate-face.ts';
import { RawImap, quote } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

/** Logs in, sends COMPRESS DEFLATE and returns a client that talks deflate. */
async function compressed(sys: ImapTestSystem, tls = false): Promise<{ c: RawImap; wire: { in: number; out: number } }> {
  const plain = await RawImap.connect(tls ? sys.tlsPort : sys.port, { tls });
  await plain.line();
  expect((await plain.command(`LOGIN ${quote(sys.user)} ${quote(sys.password)}`)).tagged).toMatch(/ OK /);
  expect((await plain.command('COMPRESS DEFLATE')).tagged).toMatch(/^T2 OK DEFLATE active$/);
  const { face, wire } = deflateFace(plain.socket);
  return { c: new RawImap(face), wire };
}

describe('COMPRESS=DEFLATE (RFC 4978)', () => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem('local');
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('is advertised only once authenticated, and COMPRESS before LOGIN is refused (RFC 4978 §3)', async () => {
    const c = await RawImap.connect(sys.port);
    expect(await c.line()).not.toContain('COMPRESS=DEFLATE');
    expect((await c.command('COMPRESS DEFLATE')).tagged).toMatch(/^T1 BAD .*authentication/);
    expect((await c.command(`LOGIN ${quote(sys.user)} ${quote(sys.password)}`)).tagged).toMatch(/OK \[CAPABILITY .*COMPRESS=DEFLATE/);
    c.close();
  });

  it('an unknown mechanism or missing argument is BAD and nothing changes (RFC 4978 §3)', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    expect((await c.command('COMPRESS LZ4')).tagged).toMatch(/^T2 BAD Unknown compression mechanism LZ4/);
    expect((await c.command('COMPRESS')).tagged).toMatch(/^T3 BAD/);
    // Still plaintext: an uncompressed NOOP is understood.
    expect((await c.command('NOOP')).tagged).toMatch(/^T4 OK/);
    c.close();
  });

  it('after the tagged OK both directions are deflate: commands, literals and FETCH work (RFC 4978 §3, §4)', async () => {
    const { c, wire } = await compressed(sys);
    const body = 'A line that repeats and compresses well.\r\n'.repeat(2000);
    const msg = sampleMessage('Compressed append', body);
    const t = c.nextTag();
    c.write(`${t} APPEND INBOX {${msg.length}}\r\n`);
    expect(await c.line()).toMatch(/^\+ /);
    c.write(Buffer.concat([msg, Buffer.from('\r\n')]));
    expect((await c.until(t)).tagged).toMatch(/OK \[APPENDUID \d+ 1\]/);
    expect((await c.command('SELECT INBOX')).untagged).toContain('* 1 EXISTS');
    const before = wire.in;
    const r = await c.command('FETCH 1 BODY.PEEK[]');
    expect(Buffer.compare(r.literals[0], msg)).toBe(0);
    // The 86 KB message crossed the wire in far fewer octets.
    expect(wire.in - before).toBeLessThan(msg.length / 10);
    expect(wire.out).toBeLessThan(msg.length / 10);
    c.close();
  });

  it('a second COMPRESS is NO [COMPRESSIONACTIVE], sent compressed (RFC 4978 §3)', async () => {
    const { c } = await compressed(sys);
    expect((await c.command('COMPRESS DEFLATE')).tagged).toMatch(/^T1 NO \[COMPRESSIONACTIVE\]/);
    expect((await c.command('NOOP')).tagged).toMatch(/^T2 OK/);
    expect((await c.command('LOGOUT')).untagged).toEqual(['* BYE Logging out']);
    expect(await c.closedByServer()).toBe(true);
  });

  it('works inside TLS on the implicit-TLS port (RFC 4978 §3: compression under TLS)', async () => {
    const { c } = await compressed(sys, true);
    const r = await c.command('LIST "" INBOX');
    expect(r.untagged[0]).toMatch(/^\* LIST \(.*\) "\/" "?INBOX"?$/);
    c.close();
  });

  it('compressed bytes pipelined right behind COMPRESS are read as deflate', async () => {
    const plain = await RawImap.login(sys.port, sys.user, sys.password);
    const deflate = zlib.createDeflateRaw();
    const chunks: Buffer[] = [];
    deflate.on('data', (d: Buffer) => chunks.push(d));
    deflate.write('p2 NOOP\r\n');
    await new Promise<void>((r) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
    plain.write(Buffer.concat([Buffer.from('p1 COMPRESS DEFLATE\r\n'), ...chunks]));
    expect(await plain.line()).toBe('p1 OK DEFLATE active');
    const inflate = zlib.createInflateRaw();
    let text = '';
    inflate.on('data', (d: Buffer) => (text += d.toString('latin1')));
    plain.socket.removeAllListeners('data');
    plain.socket.on('data', (d: Buffer) => inflate.write(d));
    for (let i = 0; i < 50 && !text.includes('p2 OK'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(text).toMatch(/^p2 OK NOOP completed\r\n$/);
    plain.close();
  });

  it('input that is not deflate ends that connection only; the server keeps serving', async () => {
    const plain = await RawImap.login(sys.port, sys.user, sys.password);
    expect((await plain.command('COMPRESS DEFLATE')).tagged).toMatch(/OK DEFLATE active/);
    // Block type 3 is reserved (RFC 1951 §3.2.3): an inflate error.
    plain.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0d, 0x0a]));
    expect(await plain.closedByServer()).toBe(true);
    const other = await RawImap.login(sys.port, sys.user, sys.password);
    expect((await other.command('NOOP')).tagged).toMatch(/OK/);
    other.close();
  });

  it('imapflow negotiates COMPRESS after login and runs a session through it, IDLE included', async () => {
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: sys.tlsPort,
      secure: true,
      auth: { user: sys.user, pass: sys.password },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await c.connect();
    try {
      expect((c as unknown as { _deflate?: unknown })._deflate).toBeTruthy();
      const raw = sampleMessage('Through imapflow', 'Compressible text. '.repeat(500) + '\r\n');
      const res = await c.append('Archive', raw);
      expect(res && res.uid).toBe(1);
      const lock = await c.getMailboxLock('Archive');
      try {
        const m = await c.fetchOne('1', { source: true, envelope: true });
        expect(m && m.envelope?.subject).toBe('Through imapflow');
        expect(m && Buffer.compare(m.source!, raw)).toBe(0);
        // A message arriving while imapflow IDLEs is announced through the deflate stream.
        const exists = new Promise<number>((resolve) => c.on('exists', (d: { count: number }) => resolve(d.count)));
        const idling = c.idle().catch(() => {});
        await new Promise((r) => setTimeout(r, 100));
        await sys.deliver(sampleMessage('While idling'), 'Archive');
        expect(await exists).toBe(2);
        void idling;
      } finally {
        lock.release();
      }
    } finally {
      await c.logout();
    }
  });
});
