/**
 * Bearer tokens for the web app (fargate-listeners/src/jmap/tokens.ts; RFC 8620 §1.5, RFC 6750):
 * exchanged for Basic credentials at POST /jmap/auth/token, used by jmapc (its API-token client
 * sends `Authorization: Bearer`) for the session and API, by fetch for upload, download and the
 * event source; they survive a listener restart (stored hashed in the index), end at logout
 * (DELETE) and when the password changes, and bad ones get 401 with the RFC 6750 challenge.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changePassword } from '#core/accounts/accounts.ts';
import { run } from '../support/clients.ts';
import { ADAPTER_KINDS } from '../support/mail-system.ts';
import { startJmapSystem, type JmapTestSystem } from './support/jmap-server.ts';

const VENV_PYTHON = path.resolve(import.meta.dirname, '../../.tools/venv/bin/python');

const JMAPC_TOKEN = String.raw`
import json, sys
from jmapc import Client
from jmapc.methods import MailboxGet
host, token = sys.argv[1:3]
c = Client.create_with_api_token(host=host, api_token=token)
boxes = c.request(MailboxGet(ids=None))
print(json.dumps({"accountId": c.account_id, "mailboxes": sorted(m.name for m in boxes.data)}))
`;

describe.each(ADAPTER_KINDS)('JMAP bearer tokens (%s adapters)', (kind) => {
  let sys: JmapTestSystem;
  let caFile: string;
  const base = () => `https://127.0.0.1:${sys.ts.port('https')}`;
  // curl over HTTPS, trusting the test certificate; answers status, headers and body.
  const http = async (method: string, p: string, headers: Record<string, string>, body?: string | Buffer) => {
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
        '-D',
        '-',
        ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
        ...(body !== undefined ? ['--data-binary', '@-'] : []),
        `${base()}${p}`,
      ],
      { timeoutMs: 30_000, input: body },
    );
    const status = Number(r.stdout.slice(r.stdout.lastIndexOf('\n') + 1));
    const text = r.stdout.slice(0, r.stdout.lastIndexOf('\n'));
    const split = text.indexOf('\r\n\r\n');
    return { status, head: text.slice(0, split), body: text.slice(split + 4) };
  };
  const basic = () => 'Basic ' + Buffer.from(`${sys.user}:${sys.password}`).toString('base64');
  const issue = async () => JSON.parse((await http('POST', '/jmap/auth/token', { Authorization: basic() })).body);
  const jmapc = async (token: string) => {
    const r = await run(VENV_PYTHON, ['-c', JMAPC_TOKEN, `127.0.0.1:${sys.ts.port('https')}`, token], {
      timeoutMs: 60_000,
      env: { ...process.env, REQUESTS_CA_BUNDLE: caFile },
    });
    return { code: r.code, out: r.code === 0 ? JSON.parse(r.stdout) : r.stderr };
  };

  beforeAll(async () => {
    sys = await startJmapSystem({ adapters: kind });
    caFile = path.join(sys.ts.dataDir, 'jmap-test-ca.pem');
    writeFileSync(caFile, sys.ts.system.deps.tls.cert);
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('issues a token for Basic credentials; jmapc uses it for the session and API; upload, download and EventSource take it', async () => {
    const res = await http('POST', '/jmap/auth/token', { Authorization: basic() });
    expect(res.status).toBe(200);
    expect(res.head).toMatch(/cache-control: no-store/i);
    const t = JSON.parse(res.body);
    expect(t).toMatchObject({ token_type: 'Bearer', expires_in: 7 * 24 * 3600 });
    expect(t.access_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const { code, out } = await jmapc(t.access_token);
    expect(code, String(out)).toBe(0);
    expect(out.mailboxes).toEqual(expect.arrayContaining(['INBOX', 'Sent']));
    const bearer = { Authorization: `Bearer ${t.access_token}` };
    const up = await http('POST', `/jmap/upload/${out.accountId}/`, { ...bearer, 'Content-Type': 'message/rfc822' }, 'Subject: via token\r\n\r\nhi\r\n');
    expect(up.status).toBe(201);
    const blobId = JSON.parse(up.body).blobId;
    const [, parsed] = JSON.parse(
      (
        await http(
          'POST',
          '/jmap/api',
          { ...bearer, 'Content-Type': 'application/json' },
          JSON.stringify({
            using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'],
            methodCalls: [['Email/parse', { accountId: out.accountId, blobIds: [blobId], properties: ['subject', 'textBody'] }, 'p']],
          }),
        )
      ).body,
    ).methodResponses[0];
    expect(parsed.parsed[blobId].subject).toBe('via token');
    const down = await http('GET', `/jmap/download/${out.accountId}/${parsed.parsed[blobId].textBody[0].blobId}/t.txt?accept=text/plain`, bearer);
    expect([down.status, down.body]).toEqual([200, 'hi\r\n']);
    const es = await run(
      'curl',
      [
        '-s',
        '--cacert',
        caFile,
        '-m',
        '2',
        '-D',
        '-',
        '-o',
        '/dev/null',
        '-H',
        `Authorization: Bearer ${t.access_token}`,
        `${base()}/jmap/eventsource?types=*&closeafter=no&ping=0`,
      ],
      {
        timeoutMs: 10_000,
      },
    );
    expect(es.stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(es.stdout).toMatch(/content-type: text\/event-stream/i);
  });

  it('a token survives a listener restart (kept hashed in the index) and ends at logout (DELETE), on every route', async () => {
    const t = await issue();
    await sys.ts.restart();
    expect((await jmapc(t.access_token)).code).toBe(0);
    const bearer = { Authorization: `Bearer ${t.access_token}` };
    expect((await http('DELETE', '/jmap/auth/token', bearer)).status).toBe(204);
    const after = await http('GET', '/.well-known/jmap', bearer);
    expect(after.status).toBe(401);
    expect(after.head).toMatch(/www-authenticate: .*Bearer realm="[^"]+", error="invalid_token"/i);
    expect((await jmapc(t.access_token)).code).not.toBe(0);
    // Logging out again: the token is no longer valid.
    expect((await http('DELETE', '/jmap/auth/token', bearer)).status).toBe(401);
  });

  it('a password change ends the tokens issued before it, and the old password mints no new one', async () => {
    const t = await issue();
    expect((await http('GET', '/.well-known/jmap', { Authorization: `Bearer ${t.access_token}` })).status).toBe(200);
    // Basic with the old password, remembered for a minute for API requests (auth.ts).
    expect((await http('GET', '/.well-known/jmap', { Authorization: basic() })).status).toBe(200);
    await changePassword(sys.ts.adapters.index, sys.user, 'a new secret');
    expect((await http('GET', '/.well-known/jmap', { Authorization: `Bearer ${t.access_token}` })).status).toBe(401);
    // The old password, though remembered, mints no token: the exchange checks it again.
    expect((await http('POST', '/jmap/auth/token', { Authorization: basic() })).status).toBe(401);
    await changePassword(sys.ts.adapters.index, sys.user, sys.password);
  });

  it('refuses a wrong password, a missing or unknown token, and a token exchange without Basic (401)', async () => {
    const wrong = await http('POST', '/jmap/auth/token', { Authorization: 'Basic ' + Buffer.from(`${sys.user}:nope`).toString('base64') });
    expect(wrong.status).toBe(401);
    expect((await http('POST', '/jmap/auth/token', {})).status).toBe(401);
    const t = await issue();
    expect((await http('POST', '/jmap/auth/token', { Authorization: `Bearer ${t.access_token}` })).status).toBe(401);
    expect((await http('GET', '/.well-known/jmap', { Authorization: 'Bearer not-a-real-token' })).status).toBe(401);
    expect((await http('GET', '/.well-known/jmap', { Authorization: 'Bearer' })).status).toBe(401);
    expect((await http('DELETE', '/jmap/auth/token', {})).status).toBe(401);
  });
});
