/**
 * Password hashing on threads of its own (core/accounts/scrypt-pool.ts): the same keys as
 * node:crypto's scrypt, errors as rejections, never more hashes at once than the pool has
 * threads, and libuv's thread pool (file I/O) stays free while logins hash.
 */
import { scryptSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '#core/accounts/password.ts';
import { ScryptPool } from '#core/accounts/scrypt-pool.ts';

describe('scrypt pool', () => {
  it('derives the same key as node:crypto scrypt, and a bad parameter is a rejection', async () => {
    const pool = new ScryptPool(2);
    const salt = Buffer.from('0123456789abcdef');
    const options = { N: 1024, r: 8, p: 1 };
    expect((await pool.scrypt('pässword', salt, 32, options)).equals(scryptSync('pässword', salt, 32, options))).toBe(true);
    await expect(pool.scrypt('x', salt, 32, { N: 3, r: 8, p: 1 })).rejects.toThrow(/N|parameter|invalid/i);
    // The pool keeps working after a failed job.
    expect((await pool.scrypt('x', salt, 16, options)).length).toBe(16);
  });

  it('runs at most its size of hashes at once; the rest wait their turn and all complete', async () => {
    const pool = new ScryptPool(2);
    const salt = Buffer.alloc(16, 7);
    const keys = await Promise.all(Array.from({ length: 6 }, (_, i) => pool.scrypt(`pw${i}`, salt, 32, { N: 1 << 12, r: 8, p: 1 })));
    expect(pool.threadCount).toBe(2);
    keys.forEach((k, i) => expect(k.equals(scryptSync(`pw${i}`, salt, 32, { N: 1 << 12, r: 8, p: 1 }))).toBe(true));
  });

  it('password hashes in flight leave libuv thread pool free: a file read issued after four of them finishes before any hash', async () => {
    // Four expensive hashes: on node:crypto's asynchronous scrypt they would take all four of
    // libuv's threads, and the read would wait for the first of them to finish.
    const order: string[] = [];
    const hashes = Array.from({ length: 4 }, (_, i) =>
      hashPassword(`secret${i}`, { N: 1 << 16, r: 8, p: 1 }).then((h) => {
        order.push('hash');
        return h;
      }),
    );
    await readFile(import.meta.filename);
    order.push('read');
    const encoded = await Promise.all(hashes);
    expect(order[0]).toBe('read');
    expect(await verifyPassword('secret0', encoded[0])).toBe(true);
    expect(await verifyPassword('secret1', encoded[0])).toBe(false);
  });
});
