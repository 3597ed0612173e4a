/**
 * JMAP Core request handling (RFC 8620 §2 session, §3 envelope and errors, §3.7 back-references)
 * over plain HTTP with HTTP Basic on loopback (allowed there by MAIL_ALLOW_PLAINTEXT_LOOPBACK).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem } from '../support/mail-system.ts';
import { startJmapSystem, type JmapTestSystem } from './support/jmap-server.ts';

const CORE = 'urn:ietf:params:jmap:core';

describe('JMAP Core over HTTP', () => {
  let sys: JmapTestSystem;
  let accountId: string;
  const post = (body: string | object, auth = sys.auth) =>
    fetch(`${sys.base}/jmap/api`, {
      method: 'POST',
      headers: { Authorization: auth, 'Content-Type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    sys = await startJmapSystem({ plain: true });
    const s = (await (await fetch(`${sys.base}/.well-known/jmap`, { headers: { Authorization: sys.auth } })).json()) as any;
    accountId = s.primaryAccounts['urn:ietf:params:jmap:mail'] ?? Object.keys(s.accounts)[0];
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('serves the session resource with absolute URLs and the core limits (RFC 8620 §2)', async () => {
    const res = await fetch(`${sys.base}/.well-known/jmap`, { headers: { Authorization: sys.auth } });
    expect(res.status).toBe(200);
    const s = (await res.json()) as any;
    expect(s.username).toBe(sys.user);
    expect(s.apiUrl).toBe(`${sys.base}/jmap/api`);
    expect(s.downloadUrl).toContain('{blobId}');
    expect(s.uploadUrl).toContain('{accountId}');
    expect(s.eventSourceUrl).toContain('{types}');
    expect(s.capabilities[CORE].maxCallsInRequest).toBeGreaterThan(0);
    expect(s.capabilities[CORE].maxSizeRequest).toBeGreaterThan(0);
    expect(s.accounts[accountId].name).toBe(sys.user);
    expect(typeof s.state).toBe('string');
  });

  it('refuses a request without credentials with 401 and a Basic challenge, a wrong password with 401', async () => {
    const none = await fetch(`${sys.base}/.well-known/jmap`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    const wrong = await fetch(`${sys.base}/.well-known/jmap`, { headers: { Authorization: 'Basic ' + Buffer.from(`${sys.user}:nope`).toString('base64') } });
    expect(wrong.status).toBe(401);
  });

  it('answers Core/echo with the arguments it was given (RFC 8620 §4)', async () => {
    const res = await post({ using: [CORE], methodCalls: [['Core/echo', { hello: true, n: [1, 2] }, 'c1']] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.methodResponses).toEqual([['Core/echo', { hello: true, n: [1, 2] }, 'c1']]);
    expect(typeof body.sessionState).toBe('string');
  });

  it('resolves a back-reference with a JSON Pointer and * (RFC 8620 §3.7)', async () => {
    const res = await post({
      using: [CORE],
      methodCalls: [
        ['Core/echo', { list: [{ id: 'a' }, { id: 'b' }] }, 'c1'],
        ['Core/echo', { '#ids': { resultOf: 'c1', name: 'Core/echo', path: '/list/*/id' } }, 'c2'],
      ],
    });
    const body = (await res.json()) as any;
    expect(body.methodResponses[1]).toEqual(['Core/echo', { ids: ['a', 'b'] }, 'c2']);
  });

  it('answers a back-reference to a missing result with invalidResultReference and runs the next call (RFC 8620 §3.7)', async () => {
    const res = await post({
      using: [CORE],
      methodCalls: [
        ['Core/echo', { '#x': { resultOf: 'nope', name: 'Core/echo', path: '/a' } }, 'c1'],
        ['Core/echo', { ok: 1 }, 'c2'],
      ],
    });
    const body = (await res.json()) as any;
    expect(body.methodResponses[0][0]).toBe('error');
    expect(body.methodResponses[0][1].type).toBe('invalidResultReference');
    expect(body.methodResponses[1]).toEqual(['Core/echo', { ok: 1 }, 'c2']);
  });

  it('answers an unknown method with unknownMethod (RFC 8620 §3.6.2)', async () => {
    const body = (await (await post({ using: [CORE], methodCalls: [['Foo/bar', {}, 'c1']] })).json()) as any;
    expect(body.methodResponses).toEqual([['error', expect.objectContaining({ type: 'unknownMethod' }), 'c1']]);
  });

  it('refuses malformed JSON with notJSON, a non-request with notRequest, an unknown capability with unknownCapability (RFC 8620 §3.6.1)', async () => {
    const notJson = await post('{"using": [');
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as any).type).toBe('urn:ietf:params:jmap:error:notJSON');
    const notRequest = await post({ using: 'x', methodCalls: {} });
    expect(notRequest.status).toBe(400);
    expect(((await notRequest.json()) as any).type).toBe('urn:ietf:params:jmap:error:notRequest');
    const badCall = await post({ using: [CORE], methodCalls: [['Core/echo', [], 'c1']] });
    expect(((await badCall.json()) as any).type).toBe('urn:ietf:params:jmap:error:notRequest');
    const unknown = await post({ using: [CORE, 'urn:example:nope'], methodCalls: [] });
    expect(((await unknown.json()) as any).type).toBe('urn:ietf:params:jmap:error:unknownCapability');
  });

  it('refuses 10,000 method calls with the limit error maxCallsInRequest (RFC 8620 §3.6.1)', async () => {
    const calls = Array.from({ length: 10_000 }, (_, i) => ['Core/echo', {}, `c${i}`]);
    const res = await post({ using: [CORE], methodCalls: calls });
    expect(res.status).toBe(400);
    const body = (await res.json()) as any;
    expect(body.type).toBe('urn:ietf:params:jmap:error:limit');
    expect(body.limit).toBe('maxCallsInRequest');
  });

  it('refuses a body over maxSizeRequest with the limit error maxSizeRequest', async () => {
    const big = JSON.stringify({ using: [CORE], methodCalls: [['Core/echo', { pad: 'x'.repeat(10_000_001) }, 'c1']] });
    const res = await post(big);
    expect(res.status).toBe(413);
    const body = (await res.json()) as any;
    expect(body.type).toBe('urn:ietf:params:jmap:error:limit');
    expect(body.limit).toBe('maxSizeRequest');
  });

  it('refuses a method of a capability not in "using" with unknownMethod', async () => {
    const body = (await (await post({ using: [], methodCalls: [['Core/echo', {}, 'c1']] })).json()) as any;
    expect(body.methodResponses[0][1].type).toBe('unknownMethod');
  });
});

describe('JMAP_ENABLED=false', () => {
  it('turns JMAP off: the listener serves no JMAP session or API, the rest of the web face stays', async () => {
    const ts = await startTestSystem({ env: { JMAP_ENABLED: 'false' } });
    try {
      await ts.addUser('bob@example.test', 'pw');
      const auth = `Basic ${Buffer.from('bob@example.test:pw').toString('base64')}`;
      const base = `http://127.0.0.1:${ts.port('http')}`;
      expect((await fetch(`${base}/.well-known/jmap`, { headers: { Authorization: auth } })).status).toBe(404);
      expect((await fetch(`${base}/jmap/api`, { method: 'POST', headers: { Authorization: auth }, body: '{}' })).status).toBe(404);
      // The rest of the web face is there.
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      await ts.stop();
    }
  }, 60_000);
});
