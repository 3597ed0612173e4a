/**
 * Email/parse (RFC 8621 §4.9) over raw HTTP (jmapc has no Email/parse): an uploaded message and
 * an attached message/rfc822 part answered as Emails without storing anything, their part blob
 * ids downloadable, a blob that is not a message `notParsable`, an unknown one `notFound`.
 * Email/copy (RFC 8621 §4.7, RFC 8620 §5.4) driven by jmapc: a user has one account, so a copy
 * from it into itself is invalidArguments ("MUST be different") and from any other account
 * fromAccountNotFound.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendToMailbox } from '#core/mailbox/writes.ts';
import { run } from '../support/clients.ts';
import { startJmapSystem, type JmapTestSystem } from './support/jmap-server.ts';

const USING = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];
const VENV_PYTHON = path.resolve(import.meta.dirname, '../../.tools/venv/bin/python');

const INNER = [
  'From: Carol <carol@example.org>',
  'To: bob@example.net',
  'Subject: =?UTF-8?Q?Das_Original?=',
  'Message-ID: <inner@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="in"',
  '',
  '--in',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'The forwarded text.',
  '--in',
  'Content-Type: application/octet-stream; name="data.bin"',
  'Content-Disposition: attachment; filename="data.bin"',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('binary payload').toString('base64'),
  '--in--',
  '',
].join('\r\n');

const OUTER = Buffer.from(
  [
    'From: Bob <bob@example.net>',
    'To: alice@example.test',
    'Subject: Fwd: the original',
    'Message-ID: <outer@example.net>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="out"',
    '',
    '--out',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'See the attached message.',
    '--out',
    'Content-Type: message/rfc822',
    'Content-Disposition: attachment; filename="original.eml"',
    '',
    INNER,
    '--out--',
    '',
  ].join('\r\n'),
);

describe('Email/parse and Email/copy', () => {
  let sys: JmapTestSystem;
  let accountId: string;
  let caFile: string;
  const api = async (calls: unknown[]): Promise<any[]> => {
    const res = await fetch(`${sys.base}/jmap/api`, {
      method: 'POST',
      headers: { Authorization: sys.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ using: USING, methodCalls: calls }),
    });
    return ((await res.json()) as any).methodResponses;
  };
  const upload = async (body: Buffer): Promise<string> => {
    const res = await fetch(`${sys.base}/jmap/upload/${accountId}/`, {
      method: 'POST',
      headers: { Authorization: sys.auth, 'Content-Type': 'message/rfc822' },
      body,
    });
    return ((await res.json()) as any).blobId;
  };
  const download = async (blobId: string): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${sys.base}/jmap/download/${accountId}/${blobId}/x?accept=application/octet-stream`, { headers: { Authorization: sys.auth } });
    return { status: res.status, text: await res.text() };
  };

  beforeAll(async () => {
    sys = await startJmapSystem({ plain: true });
    const s = (await (await fetch(`${sys.base}/.well-known/jmap`, { headers: { Authorization: sys.auth } })).json()) as any;
    accountId = s.primaryAccounts['urn:ietf:params:jmap:mail'];
    caFile = path.join(sys.ts.dataDir, 'jmap-test-ca.pem');
    writeFileSync(caFile, sys.ts.system.deps.tls.cert);
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('parses an uploaded message into Email properties without storing it; stored-only properties are null (RFC 8621 §4.9)', async () => {
    const blobId = await upload(OUTER);
    const before = await sys.ts.adapters.index.listMessages(sys.user, (await sys.ts.adapters.index.getMailbox(sys.user, 'INBOX'))!.id);
    const [[name, r]] = await api([
      [
        'Email/parse',
        {
          accountId,
          blobIds: [blobId],
          properties: ['id', 'blobId', 'mailboxIds', 'size', 'subject', 'from', 'messageId', 'attachments', 'preview', 'bodyValues'],
          fetchTextBodyValues: true,
        },
        'p',
      ],
    ]);
    expect(name).toBe('Email/parse');
    const e = r.parsed[blobId];
    expect(e).toMatchObject({
      id: null,
      blobId,
      mailboxIds: null,
      size: OUTER.length,
      subject: 'Fwd: the original',
      from: [{ name: 'Bob', email: 'bob@example.net' }],
    });
    expect(e.messageId).toEqual(['outer@example.net']);
    expect(e.preview).toBe('See the attached message.');
    expect(Object.values(e.bodyValues).map((v: any) => v.value)).toEqual(['See the attached message.']);
    expect(e.attachments.map((a: any) => a.type)).toEqual(['message/rfc822']);
    expect(r.notParsable).toEqual([]);
    expect(r.notFound).toEqual([]);
    // Nothing was stored.
    expect(await sys.ts.adapters.index.listMessages(sys.user, (await sys.ts.adapters.index.getMailbox(sys.user, 'INBOX'))!.id)).toEqual(before);
    // The attached message is a part blob of the upload; it downloads as the inner message.
    const inner = await download(e.attachments[0].blobId);
    expect(inner.status).toBe(200);
    expect(inner.text).toContain('Message-ID: <inner@example.org>');
  });

  it('parses an attached message/rfc822 part of a stored Email; its own parts download (section numbering goes on inside it)', async () => {
    await appendToMailbox(sys.ts.adapters, sys.user, 'INBOX', OUTER);
    const [, [, got]] = await api([
      ['Email/query', { accountId, filter: { subject: 'Fwd' } }, 'q'],
      ['Email/get', { accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: ['attachments'] }, 'g'],
    ]);
    const part = got.list[0].attachments[0];
    expect(part.type).toBe('message/rfc822');
    const [[, r]] = await api([
      ['Email/parse', { accountId, blobIds: [part.blobId], properties: ['subject', 'from', 'textBody', 'attachments', 'hasAttachment'] }, 'p'],
    ]);
    const e = r.parsed[part.blobId];
    expect(e).toMatchObject({ subject: 'Das Original', from: [{ name: 'Carol', email: 'carol@example.org' }], hasAttachment: true });
    expect((await download(e.attachments[0].blobId)).text).toBe('binary payload');
    expect((await download(e.textBody[0].blobId)).text).toBe('The forwarded text.');
  });

  it('answers notParsable for a blob that is not a message, notFound for an unknown one, invalidArguments without blobIds', async () => {
    const junk = await upload(Buffer.from('\r\njust some bytes, no header block\r\n'));
    const [[, r], [errName, err], [, unknownProp]] = await api([
      ['Email/parse', { accountId, blobIds: [junk, 'Bnope', 'not a blob id'] }, 'a'],
      ['Email/parse', { accountId }, 'b'],
      ['Email/parse', { accountId, blobIds: [junk], properties: ['nonsense'] }, 'c'],
    ]);
    expect(r).toMatchObject({ parsed: {}, notParsable: [junk], notFound: ['Bnope', 'not a blob id'] });
    expect([errName, err.type]).toEqual(['error', 'invalidArguments']);
    expect(unknownProp.type).toBe('invalidArguments');
  });

  it('answers Email/parse and Email/copy with a result or a typed error, never serverFail, for arguments of every wrong type', async () => {
    const values = [null, 0, -1, 1.5, 'x', '', true, [], [1], ['Bx', 'P'], {}, { a: 1 }, { k: { id: 1 } }];
    const names = [
      'blobIds',
      'properties',
      'bodyProperties',
      'fetchTextBodyValues',
      'maxBodyValueBytes',
      'fromAccountId',
      'create',
      'onSuccessDestroyOriginal',
      'ifInState',
    ];
    const calls: unknown[] = [];
    let n = 0;
    for (const m of ['Email/parse', 'Email/copy']) for (const name of names) for (const v of values) calls.push([m, { accountId, [name]: v }, `c${n++}`]);
    for (let i = 0; i < calls.length; i += 60) {
      for (const r of await api(calls.slice(i, i + 60))) expect(r[0] === 'error' ? r[1].type : 'ok').not.toBe('serverFail');
    }
  });

  it('Email/copy (jmapc): from the same account is invalidArguments, from another account fromAccountNotFound (RFC 8620 §5.4)', async () => {
    const script = String.raw`
import json, sys
from jmapc import Client
from jmapc.methods import EmailCopy
host, user, password = sys.argv[1:4]
c = Client.create_with_password(host=host, user=user, password=password)
out = {}
for name, source in (("same", c.account_id), ("other", "aSomeoneElse0000")):
    r = c.request(EmailCopy(from_account_id=source, create={"k1": {"id": "Mxyz", "mailbox_ids": {"x": True}}}))
    out[name] = getattr(r, "type", None)
print(json.dumps(out))
`;
    const host = new URL(sys.base.replace('http://', 'https://')).hostname + ':' + sys.ts.port('https');
    const r = await run(VENV_PYTHON, ['-c', script, host, sys.user, sys.password], { timeoutMs: 60_000, env: { ...process.env, REQUESTS_CA_BUNDLE: caFile } });
    if (r.code !== 0) throw new Error(r.stderr);
    expect(JSON.parse(r.stdout)).toEqual({ same: 'invalidArguments', other: 'fromAccountNotFound' });
  });
});
