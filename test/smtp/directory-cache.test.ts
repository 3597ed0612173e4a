/**
 * Domains and users cached briefly (core/accounts/directory-cache.ts): a found answer is kept
 * DIRECTORY_CACHE_SECONDS, a "no such user/domain" NEGATIVE_TTL_SECONDS, 0 turns it off, and
 * mailctl in the same process invalidates it. The MX listener still refuses an unknown user
 * (RFC 5321 §3.3: 550 at RCPT), the second time from the cache, and sees a user mailctl adds
 * or removes at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createUser } from '#core/accounts/accounts.ts';
import { DirectoryCache, directoryFor, NEGATIVE_TTL_SECONDS } from '#core/accounts/directory-cache.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { runMailctl, type MailctlIO } from '#core/admin/mailctl.ts';
import { loadConfig } from '#core/config.ts';
import { LineClient } from '../support/line-client.ts';
import { startTestSystem, type TestSystem } from '../support/mail-system.ts';

describe('directory cache', () => {
  let dataDir: string;
  let adapters: Adapters;
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'dircache-'));
    adapters = await createLocalAdapters({ dataDir });
    await adapters.index.addDomain('example.test');
    await createUser(adapters.index, 'alice@example.test', 'pw');
  });
  afterAll(async () => {
    await adapters?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const counted = (ttlSeconds: number) => {
    let now = 1_000_000;
    const cache = new DirectoryCache(adapters.index, { ttlSeconds, now: () => now });
    const users = vi.spyOn(adapters.index, 'getUser');
    const domains = vi.spyOn(adapters.index, 'getDomain');
    users.mockClear();
    domains.mockClear();
    return { cache, users, domains, advance: (s: number) => (now += s * 1000) };
  };

  it('answers a found user and domain from the cache until the TTL ends, then reads again', async () => {
    const { cache, users, domains, advance } = counted(30);
    expect((await cache.domain('example.test'))?.name).toBe('example.test');
    expect((await cache.user('alice@example.test'))?.address).toBe('alice@example.test');
    advance(29);
    expect((await cache.domain('example.test'))?.name).toBe('example.test');
    expect((await cache.user('alice@example.test'))?.address).toBe('alice@example.test');
    expect(users).toHaveBeenCalledTimes(1);
    expect(domains).toHaveBeenCalledTimes(1);
    advance(2);
    await cache.user('alice@example.test');
    expect(users).toHaveBeenCalledTimes(2);
    // Concurrent lookups of one key share one read.
    advance(31);
    await Promise.all([cache.user('alice@example.test'), cache.user('alice@example.test')]);
    expect(users).toHaveBeenCalledTimes(3);
  });

  it('keeps "no such user" only NEGATIVE_TTL_SECONDS, so a user added elsewhere is reachable soon', async () => {
    const { cache, users, advance } = counted(30);
    expect(await cache.user('newbie@example.test')).toBeNull();
    expect(await cache.user('newbie@example.test')).toBeNull();
    expect(users).toHaveBeenCalledTimes(1);
    await createUser(adapters.index, 'newbie@example.test', 'pw'); // by another process: not invalidated
    advance(NEGATIVE_TTL_SECONDS - 1);
    expect(await cache.user('newbie@example.test')).toBeNull();
    advance(2);
    expect((await cache.user('newbie@example.test'))?.address).toBe('newbie@example.test');
    expect(users).toHaveBeenCalledTimes(2);
  });

  it('with a TTL of 0 reads the index every time; invalidate() forgets everything', async () => {
    const off = counted(0);
    await off.cache.user('alice@example.test');
    await off.cache.user('alice@example.test');
    expect(off.users).toHaveBeenCalledTimes(2);
    const on = counted(30);
    await on.cache.user('alice@example.test');
    on.cache.invalidate();
    await on.cache.user('alice@example.test');
    expect(on.users).toHaveBeenCalledTimes(2);
  });

  it('a failed read is not cached', async () => {
    const { cache, users } = counted(30);
    users.mockRejectedValueOnce(new Error('index down'));
    await expect(cache.user('alice@example.test')).rejects.toThrow('index down');
    expect((await cache.user('alice@example.test'))?.address).toBe('alice@example.test');
    expect(users).toHaveBeenCalledTimes(2);
  });

  it('DIRECTORY_CACHE_SECONDS: 30 by default, 0 allowed, garbage refused', () => {
    expect(loadConfig({}).directoryCacheSeconds).toBe(30);
    expect(loadConfig({ DIRECTORY_CACHE_SECONDS: '0' }).directoryCacheSeconds).toBe(0);
    expect(() => loadConfig({ DIRECTORY_CACHE_SECONDS: '-1' })).toThrow(/DIRECTORY_CACHE_SECONDS/);
  });
});

describe('MX listener with the directory cache on', () => {
  let sys: TestSystem;
  const io: MailctlIO = { out: () => {}, err: () => {}, readPassword: async () => 'pw', writeRaw: () => {} };
  beforeAll(async () => {
    sys = await startTestSystem({ adapters: 'local', env: { DIRECTORY_CACHE_SECONDS: '30' } });
    await sys.addUser('alice@example.test', 'alice-password');
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('refuses an unknown user every time (550 5.1.1), accepts a user mailctl adds at once and refuses one it removes at once', async () => {
    const getUser = vi.spyOn(sys.adapters.index, 'getUser');
    const c = await LineClient.connect(sys.port('smtp-mx'));
    expect(await c.smtpReply()).toMatch(/^220 /);
    await c.send('EHLO client.test');
    expect(await c.send('MAIL FROM:<x@remote.test>')).toMatch(/^250 /);
    getUser.mockClear();
    expect(await c.send('RCPT TO:<nobody@example.test>')).toMatch(/^550 5\.1\.1 /);
    expect(await c.send('RCPT TO:<nobody@example.test>')).toMatch(/^550 5\.1\.1 /);
    expect(await c.send('RCPT TO:<alice@example.test>')).toMatch(/^250 /);
    expect(await c.send('RCPT TO:<alice@example.test>')).toMatch(/^250 /);
    // The second of each came from the cache.
    expect(getUser.mock.calls.map(([a]) => a)).toEqual(['nobody@example.test', 'alice@example.test']);
    expect(await c.send('RSET')).toMatch(/^250 /);

    expect(await runMailctl(['user', 'add', 'nobody@example.test'], sys.adapters, io)).toBe(0);
    expect(await runMailctl(['user', 'remove', 'alice@example.test'], sys.adapters, io)).toBe(0);
    expect(await c.send('MAIL FROM:<x@remote.test>')).toMatch(/^250 /);
    expect(await c.send('RCPT TO:<nobody@example.test>')).toMatch(/^250 /);
    expect(await c.send('RCPT TO:<alice@example.test>')).toMatch(/^550 5\.1\.1 /);
    expect(await c.send('QUIT')).toMatch(/^221 /);
    c.close();
    expect(directoryFor(sys.adapters.index, 30)).toBe(directoryFor(sys.adapters.index, 0));
  });
});
