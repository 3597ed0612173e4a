/**
 * The maildrop lock outlives no session (RFC 1939 §8; issue 18 item 5): when the store refuses
 * the write that releases it — SQLite on a full disk — the release is owed and retried, and the
 * user's next login gets the maildrop as soon as the store takes writes again, not after the
 * lease TTL (POP3_LEASE_TTL, 300 s here).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import { python } from '../support/clients.ts';
import { override, startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { RawPop3Client } from './support/raw-client.ts';

const USER = 'alice@example.test';
const PASS = 'alice-pw';

// Python's poplib: log in, STAT, QUIT; prints the replies.
const POPLIB_SESSION = `
import poplib, sys
try:
    p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=10)
    p.user(sys.argv[2]); p.pass_(sys.argv[3])
    print('stat', p.stat())
    print('quit', p.quit().decode())
except poplib.error_proto as e:
    print('error', e.args[0].decode())
`;

function diskFullError(): Error {
  return Object.assign(new Error('database or disk is full'), { code: 'ERR_SQLITE_ERROR', errcode: 13 });
}

describe('POP3 maildrop lock after a failed release', () => {
  let sys: TestSystem | undefined;
  afterEach(async () => {
    await sys?.stop();
    sys = undefined;
  });

  it('a release that throws once does not keep the next login out (poplib)', async () => {
    let failures = 1;
    let releases = 0;
    sys = await startTestSystem({
      wrapAdapters: (a: Adapters) => ({
        ...a,
        index: override(a.index, {
          releaseLease: (name: string, owner: string) => {
            releases++;
            if (failures-- > 0) return Promise.reject(diskFullError());
            return a.index.releaseLease(name, owner);
          },
        }),
      }),
    });
    await sys.addUser(USER, PASS);
    const first = await python(POPLIB_SESSION, [String(sys.port('pop3')), USER, PASS]);
    expect(first.stdout, first.stderr).toMatch(/^stat \(0, 0\)\nquit \+OK /);
    expect(releases).toBe(1); // that one failed
    const second = await python(POPLIB_SESSION, [String(sys.port('pop3')), USER, PASS]);
    expect(second.stdout, second.stderr).toMatch(/^stat \(0, 0\)\nquit \+OK /);
    expect(second.stdout).not.toContain('IN-USE');
  });

  it('while the disk is full the login says SYS/TEMP (not IN-USE); once space is back the next login works at once', async () => {
    let diskFull = false;
    sys = await startTestSystem({
      wrapAdapters: (a: Adapters) => ({
        ...a,
        index: override(a.index, {
          releaseLease: (name: string, owner: string) => (diskFull ? Promise.reject(diskFullError()) : a.index.releaseLease(name, owner)),
          acquireLease: (name: string, owner: string, ttl: number) => (diskFull ? Promise.reject(diskFullError()) : a.index.acquireLease(name, owner, ttl)),
        }),
      }),
    });
    await sys.addUser(USER, PASS);
    const a = await RawPop3Client.connect(sys.port('pop3'));
    expect(await a.line()).toMatch(/^\+OK/);
    expect(await a.cmd(`USER ${USER}`)).toMatch(/^\+OK/);
    expect(await a.cmd(`PASS ${PASS}`)).toMatch(/^\+OK/);
    diskFull = true;
    expect(await a.cmd('QUIT')).toMatch(/^-ERR \[SYS\/TEMP\] cannot confirm the maildrop lock/);
    expect(await a.closedByServer()).toBe(true);

    const b = await RawPop3Client.connect(sys.port('pop3'));
    expect(await b.line()).toMatch(/^\+OK/);
    expect(await b.cmd(`USER ${USER}`)).toMatch(/^\+OK/);
    expect(await b.cmd(`PASS ${PASS}`)).toMatch(/^-ERR \[SYS\/TEMP\] cannot lock the maildrop/);

    diskFull = false;
    expect(await b.cmd(`USER ${USER}`)).toMatch(/^\+OK/);
    expect(await b.cmd(`PASS ${PASS}`)).toMatch(/^\+OK/);
    expect(await b.cmd('QUIT')).toMatch(/^\+OK/);
    b.close();
  });
});
