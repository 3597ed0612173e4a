/** Input checks shared by the MailIndex adapters (SQLite and DynamoDB), so both refuse the same input alike. */
import { IndexError } from '../ports/mail-index.ts';

export function checkString(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw new IndexError('INVALID', `${what} must be a non-empty string`);
}

export function checkFlags(flags: unknown): asserts flags is string[] {
  if (!Array.isArray(flags) || flags.some((f) => typeof f !== 'string' || f.length === 0)) {
    throw new IndexError('INVALID', 'flags must be an array of non-empty strings');
  }
}

/**
 * The domain of a stored user's address, spelled as stored: the key both indexes file a user
 * under for listUsers(domain) and removeUser. Unlike `domainOf` (accounts/addresses.ts) it
 * does not lower-case, because the key must match what an existing index already holds.
 */
export function domainPart(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}
