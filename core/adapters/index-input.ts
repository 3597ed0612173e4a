/** Input checks shared by the MailIndex adapters (SQLite and DynamoDB), so both refuse the same input alike. */
import { IndexError, MAX_ACCOUNT_OBJECT_BYTES, type ChangesOptions, type FlagUpdateMode, type NewMessage } from '../ports/mail-index.ts';
import { checkThreadKeys } from './thread-choice.ts';

export function checkString(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw new IndexError('INVALID', `${what} must be a non-empty string`);
}

export function checkFlags(flags: unknown): asserts flags is string[] {
  if (!Array.isArray(flags) || flags.some((f) => typeof f !== 'string' || f.length === 0)) {
    throw new IndexError('INVALID', 'flags must be an array of non-empty strings');
  }
}

/** appendMessage's message: a blob key, a size and a date that are numbers, flags, a delivery key if any. */
export function checkNewMessage(message: NewMessage): void {
  checkString(message.blobKey, 'blobKey');
  if (!Number.isSafeInteger(message.size) || message.size < 0) throw new IndexError('INVALID', 'size must be a non-negative integer');
  if (!Number.isFinite(message.internalDate)) throw new IndexError('INVALID', 'internalDate must be a number');
  checkFlags(message.flags);
  if (message.deliveryKey !== undefined) checkString(message.deliveryKey, 'deliveryKey');
  const ref = message.blobReference;
  if (ref !== undefined && ref !== 'sole') {
    if (typeof ref !== 'object' || ref === null) throw new IndexError('INVALID', "blobReference must be 'sole' or { takeOver: holder }");
    checkString(ref.takeOver, 'blobReference.takeOver');
  }
  if (message.thread !== undefined) checkThreadKeys(message.thread);
}

/** updateFlags' mode and flags. */
export function checkFlagUpdate(mode: FlagUpdateMode, flags: string[]): void {
  if (mode !== 'add' && mode !== 'remove' && mode !== 'set') throw new IndexError('INVALID', `bad flag update mode: ${String(mode)}`);
  checkFlags(flags);
}

/** changesSince's `since` (a modseq: a non-negative integer) and its options. */
export function checkChangesSince(since: number, options: ChangesOptions): void {
  if (!Number.isSafeInteger(since) || since < 0) throw new IndexError('INVALID', 'since must be a non-negative integer modseq');
  if (options.uidNext !== undefined && (!Number.isSafeInteger(options.uidNext) || options.uidNext < 1)) {
    throw new IndexError('INVALID', 'uidNext must be a positive integer');
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

/** putAccountObject's arguments: kind and id non-empty, data JSON text within the limit or null, ifState a counter value. */
export function checkAccountObject(kind: string, id: string, data: string | null, ifState: number | undefined): void {
  checkObjectKey(kind, id);
  if (data !== null && typeof data !== 'string') throw new IndexError('INVALID', 'data must be a string or null');
  if (data !== null && Buffer.byteLength(data) > MAX_ACCOUNT_OBJECT_BYTES) throw new IndexError('INVALID', `data is over ${MAX_ACCOUNT_OBJECT_BYTES} bytes`);
  if (ifState !== undefined && (!Number.isSafeInteger(ifState) || ifState < 0)) throw new IndexError('INVALID', 'ifState must be a non-negative integer');
}

/** An account object's kind (1–64 of [A-Za-z0-9_-], so `<kind>#` prefixes never overlap) and id (1–255 characters). */
export function checkObjectKey(kind: string, id: string): void {
  if (typeof kind !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(kind)) throw new IndexError('INVALID', 'object kind must be 1-64 of [A-Za-z0-9_-]');
  checkString(id, 'object id');
  if (id.length > 255) throw new IndexError('INVALID', 'object id is over 255 characters');
}
