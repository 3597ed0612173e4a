/**
 * Changing one's own password over the web face (POST /jmap/auth/password,
 * fargate-listeners/src/jmap/password-route.ts): the current password is checked again under
 * the failed-login throttle, every earlier token and remembered Basic login ends, the caller
 * gets a fresh token, and IMAP logins (Python imaplib) take the new password at once. Bad
 * input gets a problem answer and changes nothing.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { python, run } from '../support/clients.ts';
import { startJmapSystem, type JmapTestSystem } from './support/jmap-server.ts';

const IMAP_LOGIN = String.raw`
import imaplib, sys
c = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
c.starttls()
try:
    print(c.login(sys.argv[2], sys.argv[3])[0])
except imaplib.IMAP4.error as e:
    print('NO')
`;

describe('changing the password over HTTPS (POST /jmap/auth/password)', () => {
  let sys: JmapTestSystem;
  let caFile: string;
  const basic = (password: string) => 'Basic ' + Buffer.from(`${sys.user}:${password}`).toString('base64');
  const http = async (method: string, p: string, headers: Record<string, string>, body?: string) => {
    const r = await run(
      'curl',
      [
        '-s',
        '--cacert',
        caFile,
        '-X',
        method,
        '-o',
        '-',
        '-w',
        '\n%{http_code}',
        ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
        ...(body !== undefined ? ['--data-binary', '@-'] : []),
        `https://127.0.0.1:${sys.ts.port('https')}${p}`,
      ],
      { timeoutMs: 30_000, input: body },
    );
    const cut = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut) };
  };
  const token = async (password: string) => {
    const r = await http('POST', '/jmap/auth/token', { Authorization: basic(password) });
    return r.status === 200 ? (JSON.parse(r.body) as { access_token: string }).access_token : null;
  };
  const change = (auth: string, body: unknown) =>
    http('POST', '/jmap/auth/password', { Authorization: auth, 'Content-Type': 'application/json' }, typeof body === 'string' ? body : JSON.stringify(body));
  const imapLogin = async (password: string) => {
    const r = await python(IMAP_LOGIN, [String(sys.ts.port('imap')), sys.user, password], { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout.trim();
  };

  beforeAll(async () => {
    sys = await startJmapSystem();
    caFile = path.join(sys.ts.dataDir, 'password-test-ca.pem');
    writeFileSync(caFile, sys.ts.system.deps.tls.cert);
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('with the right current password: a fresh token comes back, every earlier token and the old password end at once (web and IMAP)', async () => {
    const before = (await token(sys.password))!;
    const other = (await token(sys.password))!;
    // A Basic success is remembered for a minute (auth.ts); the change must end it too.
    expect((await http('GET', '/.well-known/jmap', { Authorization: basic(sys.password) })).status).toBe(200);

    const r = await change(`Bearer ${before}`, { currentPassword: sys.password, newPassword: 'a much longer secret' });
    expect(r.status).toBe(200);
    const fresh = JSON.parse(r.body) as { access_token: string; token_type: string };
    expect(fresh.token_type).toBe('Bearer');

    expect((await http('GET', '/.well-known/jmap', { Authorization: `Bearer ${fresh.access_token}` })).status).toBe(200);
    expect((await http('GET', '/.well-known/jmap', { Authorization: `Bearer ${before}` })).status).toBe(401);
    expect((await http('GET', '/.well-known/jmap', { Authorization: `Bearer ${other}` })).status).toBe(401);
    expect((await http('GET', '/.well-known/jmap', { Authorization: basic(sys.password) })).status).toBe(401);
    expect(await imapLogin('a much longer secret')).toBe('OK');
    expect(await imapLogin(sys.password)).toBe('NO');

    // Back, for the other tests (Basic works on this route as on every JMAP route).
    const back = await change(basic('a much longer secret'), { currentPassword: 'a much longer secret', newPassword: sys.password });
    expect(back.status).toBe(200);
    expect(await imapLogin(sys.password)).toBe('OK');
  });

  it('a wrong current password is refused (403) and changes nothing, even with a valid token', async () => {
    const t = (await token(sys.password))!;
    const r = await change(`Bearer ${t}`, { currentPassword: 'not it', newPassword: 'something else entirely' });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).detail).toMatch(/current password is wrong/);
    expect((await http('GET', '/.well-known/jmap', { Authorization: `Bearer ${t}` })).status).toBe(200);
    expect(await imapLogin(sys.password)).toBe('OK');
    expect(await token('something else entirely')).toBeNull();
  });

  it('bad input gets 400 (not JSON, missing fields, a new password under 8 characters) and no credentials get 401; nothing changes', async () => {
    const t = (await token(sys.password))!;
    const bearer = `Bearer ${t}`;
    for (const body of [
      '{not json',
      '[]',
      { currentPassword: sys.password },
      { currentPassword: sys.password, newPassword: 12345678 },
      { currentPassword: sys.password, newPassword: 'short' },
    ]) {
      const r = await change(bearer, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    expect((await change('', { currentPassword: sys.password, newPassword: 'long enough now' })).status).toBe(401);
    expect((await http('GET', '/jmap/auth/password', { Authorization: bearer })).status).toBe(405);
    expect((await http('GET', '/.well-known/jmap', { Authorization: bearer })).status).toBe(200);
    expect(await imapLogin(sys.password)).toBe('OK');
  });
});
