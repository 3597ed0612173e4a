/**
 * The SecretStore contract on both adapter sets — files and environment variables (local),
 * Secrets Manager on the emulator (aws) — and what only the local adapter promises: how a
 * name maps to a file or a variable.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateSecretCommand, DeleteSecretCommand, PutSecretValueCommand, ResourceExistsException } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it, inject } from 'vitest';
import { createAwsClients } from '#core/adapters/aws/clients.ts';
import { SecretsManagerStore } from '#core/adapters/aws/secrets-manager-store.ts';
import { FileSecretStore } from '#core/adapters/local/file-secret-store.ts';
import { SecretNotFoundError } from '#core/ports/secrets.ts';
import { emulatorClientConfig } from '../support/emulator.ts';
import { secretStoreContract } from './secret-store.contract.ts';

const uniquePrefix = () => `t${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;

secretStoreContract('local files', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mail-secrets-'));
  return {
    secrets: new FileSecretStore({ dataDir: dir, env: {} }),
    put: async (key, value) => {
      await mkdir(path.join(dir, 'secrets'), { recursive: true });
      await writeFile(path.join(dir, 'secrets', `${key}.json`), value);
      return `secrets/${key}.json`;
    },
    missingName: 'secrets/none.json',
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

secretStoreContract('local environment variables', async () => {
  const env: NodeJS.ProcessEnv = {};
  return {
    secrets: new FileSecretStore({ dataDir: tmpdir(), env }),
    put: async (key, value) => {
      env[`SECRET_${key.toUpperCase()}`] = value;
      return `env:SECRET_${key.toUpperCase()}`;
    },
    missingName: 'env:SECRET_NONE',
    cleanup: async () => {},
  };
});

secretStoreContract('aws Secrets Manager', async () => {
  const clients = createAwsClients(emulatorClientConfig(inject('awsEndpoint')));
  const prefix = uniquePrefix();
  const created: string[] = [];
  return {
    secrets: new SecretsManagerStore({ client: clients.secrets }),
    put: async (key, value) => {
      const name = `${prefix}/${key}`;
      try {
        const out = await clients.secrets.send(new CreateSecretCommand({ Name: name, SecretString: value }));
        created.push(out.ARN!);
        return out.ARN!;
      } catch (err) {
        if (!(err instanceof ResourceExistsException)) throw err;
        await clients.secrets.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
        return created.find((arn) => arn.includes(`:secret:${name}`))!;
      }
    },
    missingName: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${prefix}/none-AbCdEf`,
    cleanup: async () => {
      for (const arn of created) await clients.secrets.send(new DeleteSecretCommand({ SecretId: arn, ForceDeleteWithoutRecovery: true })).catch(() => {});
      clients.destroy();
    },
  };
});

describe('FileSecretStore names', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mail-secrets-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('reads an absolute path as given and a relative one under the data directory', async () => {
    const abs = path.join(dir, 'elsewhere.json');
    await writeFile(abs, '"abs"');
    await writeFile(path.join(dir, 'rel.json'), '"rel"');
    const store = new FileSecretStore({ dataDir: dir, env: {} });
    expect(await store.getSecretString(abs)).toBe('"abs"');
    expect(await store.getSecretString('rel.json')).toBe('"rel"');
  });

  it('treats an empty environment variable as missing (an unset secret is not an empty password)', async () => {
    const store = new FileSecretStore({ dataDir: dir, env: { EMPTY: '' } });
    await expect(store.getSecretString('env:EMPTY')).rejects.toBeInstanceOf(SecretNotFoundError);
  });

  it('refuses a Secrets Manager ARN with an error that says what a local secret name is (not "not found")', async () => {
    const store = new FileSecretStore({ dataDir: dir, env: {} });
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:dkim-AbCdEf';
    const err = await store.getSecretString(arn).catch((e: Error) => e);
    expect(err).not.toBeInstanceOf(SecretNotFoundError);
    expect((err as Error).message).toMatch(/Secrets Manager ARN; locally a secret is a file .* or env:NAME/);
  });
});
