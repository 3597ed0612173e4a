/**
 * ID (RFC 2971) reports the server's name and version from package.json; UNAUTHENTICATE
 * (RFC 8437) returns a connection to the not-authenticated state, keeping TLS and COMPRESS.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deflateFace } from './support/deflate-face.ts';
import { RawImap, quote } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

const pkg = JSON.parse(readFileSync(path.join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { name: string; version: string };

describe('ID and UNAUTHENTICATE', () => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem('local');
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('ID answers with the name and version of package.json, before and after login, to NIL and to fields (RFC 2971 §3.1, §3.3)', async () => {
    const c = await RawImap.connect(sys.port);
    await c.line();
    const want = `* ID ("name" "${pkg.name}" "version" "${pkg.version}" "vendor" "${pkg.name}" "support-url" NIL)`;
    const pre = await c.command('ID NIL');
    expect(pre.untagged).toEqual([want]);
    expect(pre.tagged).toMatch(/^T1 OK ID completed$/);
    expect((await c.command(`LOGIN ${quote(sys.user)} ${quote(sys.password)}`)).tagged).toMatch(/OK/);
    expect((await c.command('ID ("name" "raw test" "version" "1.0")')).untagged).toEqual([want]);
    expect((await c.command('ID ("name")')).tagged).toMatch(/^T4 BAD/);
    c.close();
  });

  it('imapflow reads the server name and version from ID (RFC 2971)', async () => {
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: sys.port,
      secure: false,
      auth: { user: sys.user, pass: sys.password },
      logger: false,
      clientInfo: { name: 'test' },
      tls: { rejectUnauthorized: false },
    });
    await c.connect();
    try {
      expect(c.serverInfo).toMatchObject({ name: pkg.name, version: pkg.version });
    } finally {
      await c.logout();
    }
  });

  it('UNAUTHENTICATE leaves the selected mailbox unexpunged and returns to the not-authenticated state (RFC 8437 §3)', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    expect((await c.command('CAPABILITY')).untagged[0]).toMatch(/ UNAUTHENTICATE( |$)/);
    const uid = await sys.deliver(sampleMessage('keep me'));
    await c.command('ENABLE CONDSTORE');
    await c.command('SELECT INBOX');
    expect((await c.command(`UID STORE ${uid} +FLAGS.SILENT (\\Deleted)`)).tagged).toMatch(/OK/);
    const r = await c.command('UNAUTHENTICATE');
    expect(r.untagged).toEqual([]);
    expect(r.tagged).toMatch(/^T\d+ OK /);
    // Not authenticated: mailbox commands are refused, the capabilities are the pre-login ones.
    expect((await c.command('SELECT INBOX')).tagged).toMatch(/BAD .*authentication/);
    const caps = (await c.command('CAPABILITY')).untagged[0];
    expect(caps).toContain('AUTH=PLAIN');
    expect(caps).not.toContain('UNAUTHENTICATE');
    expect(await sys.uids()).toContain(uid);
    // Logging in again works, as another user or the same; ENABLE was reset (CONDSTORE is new again).
    expect((await c.command(`LOGIN ${quote(sys.user)} ${quote(sys.password)}`)).tagged).toMatch(/OK/);
    expect((await c.command('ENABLE CONDSTORE')).untagged).toEqual(['* ENABLED CONDSTORE']);
    expect((await c.command('SELECT INBOX')).untagged).toContain('* 1 EXISTS');
    c.close();
  });

  it('UNAUTHENTICATE before login is BAD (RFC 8437 §3: authenticated or selected state only)', async () => {
    const c = await RawImap.connect(sys.port);
    await c.line();
    expect((await c.command('UNAUTHENTICATE')).tagged).toMatch(/^T1 BAD .*authentication/);
    expect((await c.command('UNAUTHENTICATE now')).tagged).toMatch(/^T2 BAD/);
    c.close();
  });

  it('after UNAUTHENTICATE on TLS the connection stays encrypted and LOGIN works without STARTTLS (RFC 8437 §3)', async () => {
    const c = await RawImap.connect(sys.tlsPort, { tls: true });
    await c.line();
    expect((await c.command(`LOGIN ${quote(sys.user)} ${quote(sys.password)}`)).tagged).toMatch(/OK/);
    expect((await c.command('UNAUTHENTICATE')).tagged).toMatch(/OK/);
    const caps = (await c.command('CAPABILITY')).untagged[0];
    expect(caps).not.toContain('STARTTLS');
    expect((await c.command(`LOGIN ${quote(sys.user)} ${quote(sys.password)}`)).tagged).toMatch(/OK/);
    c.close();
  });

  it('COMPRESS stays on after UNAUTHENTICATE, and STARTTLS under it is refused (RFC 8437 §3, RFC 4978 §3)', async () => {
    const plain = await RawImap.login(sys.port, sys.user, sys.password);
    expect((await plain.command('COMPRESS DEFLATE')).tagged).toMatch(/OK DEFLATE active/);
    const c = new RawImap(deflateFace(plain.socket).face);
    expect((await c.command('UNAUTHENTICATE')).tagged).toMatch(/^T1 OK/);
    expect((await c.command('STARTTLS')).tagged).toMatch(/^T2 BAD STARTTLS not available once COMPRESS is active/);
    expect((await c.command(`LOGIN ${quote(sys.user)} ${quote(sys.password)}`)).tagged).toMatch(/^T3 OK/);
    expect((await c.command('COMPRESS DEFLATE')).tagged).toMatch(/^T4 NO \[COMPRESSIONACTIVE\]/);
    c.close();
  });
});
