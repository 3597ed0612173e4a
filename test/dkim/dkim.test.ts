/**
 * DKIM keys and signing (RFC 6376 relaxed/relaxed; rsa-sha256 and ed25519-sha256, RFC 8463),
 * verified by an independent implementation (mailauth's verifier), and `mailctl domain dkim`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dkimVerify } from 'mailauth';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { runMailctl } from '#core/admin/mailctl.ts';
import { FileSecretStore } from '#core/adapters/local/file-secret-store.ts';
import { createDkimKeyCache, dkimTxtRecord, generateDkimKey, loadDkimKey, parseDkimKeySecret, saveDkimKey } from '#core/dkim/keys.ts';
import { dkimSignature } from '#core/dkim/sign.ts';

const MESSAGE = Buffer.from(
  'From: Alice <alice@a.test>\r\nTo: bob@b.test\r\nSubject: signed\r\nDate: Tue, 24 Nov 2026 05:00:00 +0000\r\nMessage-ID: <s1@a.test>\r\n\r\nHello  there \r\n\r\n\r\n',
);

async function verify(raw: Buffer, records: Record<string, string>) {
  const res = await dkimVerify(raw, {
    resolver: async (name: string) => {
      if (records[name]) return [[records[name]]];
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    },
  });
  return res.results.map((r: any) => ({ domain: r.signingDomain, result: r.status.result, algo: r.algo }));
}

describe('DKIM signing', () => {
  for (const algorithm of ['rsa', 'ed25519'] as const) {
    it(`signs with ${algorithm} so that an independent verifier passes it, and fails it after tampering`, async () => {
      const key = generateDkimKey('a.test', algorithm, 'sel1');
      const signed = Buffer.concat([Buffer.from('Received: from somewhere\r\n'), Buffer.from(await dkimSignature(MESSAGE, key)), MESSAGE]);
      const rec = dkimTxtRecord(key);
      expect(rec.name).toBe('sel1._domainkey.a.test');
      expect(await verify(signed, { [rec.name]: rec.value })).toEqual([{ domain: 'a.test', result: 'pass', algo: `${algorithm}-sha256` }]);
      // relaxed/relaxed: re-folding whitespace does not break it; a changed word does.
      const refolded = Buffer.from(signed.toString().replace('Subject: signed', 'Subject:   signed'));
      expect((await verify(refolded, { [rec.name]: rec.value }))[0].result).toBe('pass');
      const tampered = Buffer.from(signed.toString().replace('Hello', 'Jello'));
      expect((await verify(tampered, { [rec.name]: rec.value }))[0].result).not.toBe('pass'); // mailauth: 'neutral' (body hash mismatch)
    });
  }

  it('reads keys from a Secrets Manager JSON value (array or keyed by domain)', () => {
    const key = generateDkimKey('a.test', 'ed25519', 'x');
    expect(parseDkimKeySecret(JSON.stringify([key])).get('a.test')?.selector).toBe('x');
    const { domain: _d, ...rest } = key;
    expect(parseDkimKeySecret(JSON.stringify({ 'A.test': rest })).get('a.test')?.privateKey).toBe(key.privateKey);
    // The stack's placeholder secret (and other junk) holds no keys.
    expect(parseDkimKeySecret('{"_placeholder":"Xy12"}').size).toBe(0);
    expect(parseDkimKeySecret('{"a.test":null,"b.test":{"selector":1}}').size).toBe(0);
    expect(parseDkimKeySecret('"just a string"').size).toBe(0);
  });

  it('takes a domain key from the DKIM keys secret (read through the SecretStore port) before the blob store, and reads a missing secret again later', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dkim-secret-'));
    try {
      const adapters = await createLocalAdapters({ dataDir: dir });
      const inBlobs = generateDkimKey('a.test', 'ed25519', 'blob');
      await saveDkimKey(adapters.blobs, inBlobs);
      await saveDkimKey(adapters.blobs, generateDkimKey('b.test', 'ed25519', 'blobb'));
      const env: NodeJS.ProcessEnv = {};
      const keyFor = createDkimKeyCache(adapters.blobs, 60_000, { store: new FileSecretStore({ dataDir: dir, env }), name: 'env:DKIM_KEYS' });
      await expect(keyFor('a.test')).rejects.toThrow('secret not found: env:DKIM_KEYS');
      env.DKIM_KEYS = JSON.stringify([generateDkimKey('a.test', 'ed25519', 'fromsecret')]);
      expect((await keyFor('A.test'))?.selector).toBe('fromsecret');
      expect((await keyFor('b.test'))?.selector).toBe('blobb');
      await adapters.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mailctl domain dkim', () => {
  let dir: string;
  let adapters: Adapters;
  let out: string[];
  const io = () => ({ out: (l: string) => out.push(l), err: (l: string) => out.push(l), readPassword: async () => '', writeRaw: () => {} });
  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'dkim-'));
    adapters = await createLocalAdapters({ dataDir: dir });
    await adapters.index.addDomain('a.test');
    out = [];
  });
  afterEach(async () => {
    await adapters.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a key once, shows it again unchanged, and makes a new one only when asked', async () => {
    expect(await runMailctl(['domain', 'dkim', 'a.test'], adapters, io())).toBe(0);
    expect(out[0]).toMatch(/^created DKIM key for a\.test: rsa, selector rsa\d{6} \(stored at keys\/dkim\/a\.test\)$/);
    expect(out[2]).toMatch(/^rsa\d{6}\._domainkey\.a\.test\. IN TXT \( "v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+={0,2}"( "[A-Za-z0-9+/=]+")* \)$/);
    const first = await loadDkimKey(adapters.blobs, 'a.test');
    out = [];
    expect(await runMailctl(['domain', 'dkim', 'a.test'], adapters, io())).toBe(0);
    expect(out[0]).toMatch(/^existing DKIM key/);
    expect((await loadDkimKey(adapters.blobs, 'a.test'))!.privateKey).toBe(first!.privateKey);
    out = [];
    expect(await runMailctl(['domain', 'dkim', 'a.test', '--algorithm', 'ed25519', '--selector', 'ed1'], adapters, io())).toBe(0);
    expect(out[2]).toMatch(/^ed1\._domainkey\.a\.test\. IN TXT \( "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=" \)$/);
    expect((await loadDkimKey(adapters.blobs, 'a.test'))!.algorithm).toBe('ed25519');
  });

  it('refuses unknown domains and bad options', async () => {
    expect(await runMailctl(['domain', 'dkim', 'nowhere.test'], adapters, io())).toBe(1);
    expect(await runMailctl(['domain', 'dkim', 'a.test', '--algorithm', 'dsa'], adapters, io())).toBe(2);
    expect(await runMailctl(['domain', 'dkim', 'a.test', '--selector', 'bad selector!'], adapters, io())).toBe(2);
    expect(await loadDkimKey(adapters.blobs, 'a.test')).toBeNull();
  });
});
