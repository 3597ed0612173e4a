/**
 * Secret store port: small confidential values read by name at start or on first use (DKIM
 * private keys, smart-host credentials, the listeners' TLS certificate and key). Read-only:
 * operators put secrets in place (Secrets Manager, a file, an environment variable); the mail
 * system only reads them.
 * Adapters: Secrets Manager (`core/adapters/aws/secrets-manager-store.ts`) and files or
 * environment variables (`core/adapters/local/file-secret-store.ts`).
 *
 * The value is never logged or put in an error message: errors name the secret, not its value.
 */

export interface SecretStore {
  /**
   * The secret's current string value (no caching in the adapter: callers that read often keep
   * their own copy). Rejects with SecretNotFoundError when there is no secret by that name, and
   * with another error when the store cannot be reached.
   */
  getSecretString(name: string): Promise<string>;
}

export class SecretNotFoundError extends Error {
  readonly secretName: string;
  constructor(name: string) {
    super(`secret not found: ${name}`);
    this.name = 'SecretNotFoundError';
    this.secretName = name;
  }
}

/** The secret's value parsed as JSON; a value that is not JSON is an error naming the secret. */
export async function readJsonSecret<T>(store: SecretStore, name: string): Promise<T> {
  const text = await store.getSecretString(name);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`secret ${name} is not JSON`);
  }
}
