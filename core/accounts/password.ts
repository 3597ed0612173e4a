/**
 * Password hashing with scrypt (memory-hard, node:crypto): N = 2^15, r = 8, p = 1 (32 MiB and
 * tens of milliseconds per hash), a 16-byte random salt, a 32-byte key. Encoded as
 * `scrypt$N$r$p$<salt b64>$<hash b64>` so parameters can be raised later without
 * invalidating stored hashes. The hashing runs on threads of its own (scrypt-pool.ts), never
 * on libuv's pool, so logins do not hold up file I/O.
 */
import { randomBytes, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { scryptPool } from './scrypt-pool.ts';

const KEYLEN = 32;
const DEFAULT = { N: 1 << 15, r: 8, p: 1 };

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return scryptPool.scrypt(password.normalize('NFC'), salt, keylen, options);
}

export async function hashPassword(password: string, params = DEFAULT): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEYLEN, { ...params, maxmem: 256 * params.N * params.r });
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0)) return false;
  const salt = Buffer.from(parts[4], 'base64');
  const expected = Buffer.from(parts[5], 'base64');
  const key = await scrypt(password, salt, expected.length, { N, r, p, maxmem: 256 * N * r });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
