/** Secrets Manager values (JSON) read once at start: TLS certificate/key, DKIM keys, smart-host credentials. */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AwsClientConfig } from './clients.ts';

export async function readJsonSecret<T>(secretId: string, clientConfig?: AwsClientConfig): Promise<T> {
  const client = new SecretsManagerClient({ ...(clientConfig ?? {}), ...(process.env.AWS_ENDPOINT_URL && !clientConfig?.endpoint ? { endpoint: process.env.AWS_ENDPOINT_URL } : {}) });
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (out.SecretString === undefined) throw new Error(`secret ${secretId} has no string value`);
    return JSON.parse(out.SecretString) as T;
  } finally {
    client.destroy();
  }
}
