/**
 * SecretStore on AWS Secrets Manager: a secret's name is its ARN (or its name), as the stack
 * passes it in TLS_SECRET_ARN, DKIM_KEYS_SECRET_ARN and SMART_HOST_SECRET_ARN. Only string
 * secrets are used; a binary secret is an error.
 */
import { GetSecretValueCommand, ResourceNotFoundException, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretNotFoundError, type SecretStore } from '#core/ports/secrets.ts';

export class SecretsManagerStore implements SecretStore {
  private readonly client: SecretsManagerClient;

  constructor(options: { client: SecretsManagerClient }) {
    this.client = options.client;
  }

  async getSecretString(name: string): Promise<string> {
    let out;
    try {
      out = await this.client.send(new GetSecretValueCommand({ SecretId: name }));
    } catch (err) {
      if (err instanceof ResourceNotFoundException || (err as { name?: string }).name === 'ResourceNotFoundException') throw new SecretNotFoundError(name);
      throw err;
    }
    if (out.SecretString === undefined) throw new Error(`secret ${name} has no string value`);
    return out.SecretString;
  }
}
