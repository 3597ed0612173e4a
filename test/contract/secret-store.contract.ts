/**
 * Contract of the SecretStore port (core/ports/secrets.ts), run against every adapter: files
 * and environment variables (test/contract/local.test.ts) and Secrets Manager (the aws
 * contract test). The fixture's `put` is the operator's side (a file written, a secret created
 * or updated); the test reads only through the port.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readJsonSecret, SecretNotFoundError, type SecretStore } from '#core/ports/secrets.ts';
import { rejection } from '../support/rejection.ts';

export interface SecretStoreFixture {
  secrets: SecretStore;
  /** Creates or replaces the secret; returns the name the port reads it by. */
  put(key: string, value: string): Promise<string>;
  /** A name that no secret has. */
  missingName: string;
  cleanup(): Promise<void>;
}

export function secretStoreContract(adapterName: string, make: () => Promise<SecretStoreFixture>): void {
  describe(`SecretStore contract: ${adapterName}`, () => {
    let fx: SecretStoreFixture;
    beforeEach(async () => {
      fx = await make();
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('returns the value exactly as stored (multi-line PEM, non-ASCII, JSON)', async () => {
      const pem = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+x\n-----END PRIVATE KEY-----\n';
      const value = JSON.stringify({ cert: pem, key: pem, note: 'grüße ✉' });
      const name = await fx.put('tls', value);
      expect(await fx.secrets.getSecretString(name)).toBe(value);
      expect(await readJsonSecret(fx.secrets, name)).toEqual({ cert: pem, key: pem, note: 'grüße ✉' });
    });

    it('rejects an unknown name with SecretNotFoundError naming the secret', async () => {
      const err = await rejection(fx.secrets.getSecretString(fx.missingName));
      expect(err).toBeInstanceOf(SecretNotFoundError);
      expect((err as SecretNotFoundError).secretName).toBe(fx.missingName);
    });

    it('keeps no copy: a replaced value is what the next read returns', async () => {
      const name = await fx.put('creds', '{"user":"a","password":"1"}');
      expect(await readJsonSecret(fx.secrets, name)).toEqual({ user: 'a', password: '1' });
      await fx.put('creds', '{"user":"a","password":"2"}');
      expect(await readJsonSecret(fx.secrets, name)).toEqual({ user: 'a', password: '2' });
    });

    it('a value that is not JSON is an error naming the secret, not showing its value', async () => {
      const name = await fx.put('broken', 'hunter2 {');
      const err = (await rejection(readJsonSecret(fx.secrets, name))) as Error;
      expect(err.message).toContain(name);
      expect(err.message).not.toContain('hunter2');
    });
  });
}
