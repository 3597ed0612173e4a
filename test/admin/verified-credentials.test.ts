/**
 * Remembered password checks (core/accounts/verified-credentials.ts) as authenticate() uses
 * them: a repeated login with the right password skips scrypt; a wrong password, a changed
 * password (a new stored hash) and an expired entry never pass on the memory of an old success.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { verifyPassword } from '#core/accounts/password.ts';
import { authenticate, changePassword, createUser } from '#core/accounts/accounts.ts';
import { VerifiedCredentials, verifiedCredentials } from '#core/accounts/verified-credentials.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';

// The real scrypt check, counted.
vi.mock('#core/accounts/password.ts', async (original) => {
  const real = await original<typeof import('#core/accounts/password.ts')>();
  return { ...real, verifyPassword: vi.fn(real.verifyPassword) };
});

describe('VerifiedCredentials', () => {
  it('remembers a success for the TTL only, bound to address, password and stored hash', () => {
    let now = 1_000_000;
    const c = new VerifiedCredentials(60, () => now);
    c.add('a@example.test', 'secret', 'scrypt$hash1');
    expect(c.has('a@example.test', 'secret', 'scrypt$hash1')).toBe(true);
    expect(c.has('a@example.test', 'Secret', 'scrypt$hash1')).toBe(false);
    expect(c.has('b@example.test', 'secret', 'scrypt$hash1')).toBe(false);
    expect(c.has('a@example.test', 'secret', 'scrypt$hash2')).toBe(false);
    now += 59_000;
    expect(c.has('a@example.test', 'secret', 'scrypt$hash1')).toBe(true);
    now += 2_000;
    expect(c.has('a@example.test', 'secret', 'scrypt$hash1')).toBe(false);
    expect(c.size).toBe(0);
  });

  it('keeps nothing with a TTL of 0 (AUTH_CACHE_SECONDS=0)', () => {
    const c = new VerifiedCredentials(0);
    c.add('a@example.test', 'secret', 'h');
    expect(c.has('a@example.test', 'secret', 'h')).toBe(false);
    expect(c.size).toBe(0);
  });

  it('is bounded: the oldest entry goes first', () => {
    const c = new VerifiedCredentials(600);
    for (let i = 0; i < 10_001; i++) c.add(`u${i}@example.test`, 'p', 'h');
    expect(c.size).toBe(10_000);
    expect(c.has('u0@example.test', 'p', 'h')).toBe(false);
    expect(c.has('u10000@example.test', 'p', 'h')).toBe(true);
  });
});

describe('authenticate() with remembered checks', () => {
  it('a second login with the right password runs no scrypt; a wrong one and one after a password change do', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'verified-credentials-'));
    const adapters = await createLocalAdapters({ dataDir: dir });
    try {
      await adapters.index.addDomain('example.test');
      await createUser(adapters.index, 'alice@example.test', 'first secret');
      verifiedCredentials.setTtl(300);
      const verify = vi.mocked(verifyPassword);
      verify.mockClear();
      expect(await authenticate(adapters.index, 'alice@example.test', 'first secret')).not.toBeNull();
      expect(verify).toHaveBeenCalledTimes(1);
      expect(await authenticate(adapters.index, 'Alice@Example.test', 'first secret')).not.toBeNull();
      expect(verify).toHaveBeenCalledTimes(1);
      expect(await authenticate(adapters.index, 'alice@example.test', 'wrong')).toBeNull();
      expect(verify).toHaveBeenCalledTimes(2);
      await changePassword(adapters.index, 'alice@example.test', 'second secret');
      expect(await authenticate(adapters.index, 'alice@example.test', 'first secret')).toBeNull();
      expect(await authenticate(adapters.index, 'alice@example.test', 'second secret')).not.toBeNull();
    } finally {
      await adapters.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
