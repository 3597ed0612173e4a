/**
 * SecretStore for one machine: a secret's name is either `env:NAME` (the value of the
 * environment variable NAME) or the path of a file holding the value, absolute or relative to
 * the data directory (`secrets/dkim.json` is `<MAIL_DATA_DIR>/secrets/dkim.json`). The same
 * configuration variables as on AWS name them (DKIM_KEYS_SECRET_ARN, SMART_HOST_SECRET_ARN).
 * An unset or empty variable and a missing file are "not found".
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SecretNotFoundError, type SecretStore } from '#core/ports/secrets.ts';

export class FileSecretStore implements SecretStore {
  private readonly dataDir: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(options: { dataDir: string; env?: NodeJS.ProcessEnv }) {
    this.dataDir = path.resolve(options.dataDir);
    this.env = options.env ?? process.env;
  }

  async getSecretString(name: string): Promise<string> {
    // An ARN names a Secrets Manager secret, which the local runtime does not read: say so,
    // rather than look for a file of that name and report the secret missing.
    if (name.startsWith('arn:'))
      throw new Error(`${name} is a Secrets Manager ARN; locally a secret is a file (absolute, or relative to MAIL_DATA_DIR) or env:NAME`);
    if (name.startsWith('env:')) {
      const value = this.env[name.slice(4)];
      if (!value) throw new SecretNotFoundError(name);
      return value;
    }
    try {
      return await readFile(path.resolve(this.dataDir, name), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new SecretNotFoundError(name);
      throw err;
    }
  }
}
