/**
 * Account operations on top of the mail index: a new user gets INBOX and the special-use
 * mailboxes (RFC 6154); authentication checks the stored scrypt hash.
 */
import type { MailIndex, SpecialUse, User } from '../ports/mail-index.ts';
import { IndexError } from '../ports/mail-index.ts';
import { domainOf, isValidAddress, normalizeAddress } from './addresses.ts';
import { hashPassword, verifyPassword } from './password.ts';
import { verifiedCredentials } from './verified-credentials.ts';

export const DEFAULT_MAILBOXES: Array<{ name: string; specialUse: SpecialUse | null }> = [
  { name: 'INBOX', specialUse: null },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
];

export async function createUser(index: MailIndex, address: string, password: string): Promise<User> {
  const addr = normalizeAddress(address);
  if (!isValidAddress(addr)) throw new IndexError('INVALID', `not a valid address: ${address}`);
  if (!(await index.getDomain(domainOf(addr)))) throw new IndexError('INVALID', `domain ${domainOf(addr)} is not a local domain; add it first`);
  if (password.length === 0) throw new IndexError('INVALID', 'empty password');
  const user = await index.addUser({ address: addr, passwordHash: await hashPassword(password) });
  await ensureDefaultMailboxes(index, addr);
  return user;
}

export async function ensureDefaultMailboxes(index: MailIndex, address: string): Promise<void> {
  for (const mb of DEFAULT_MAILBOXES) {
    if (!(await index.getMailbox(address, mb.name))) {
      try {
        await index.createMailbox(address, mb.name, { specialUse: mb.specialUse, subscribed: true });
      } catch (err) {
        if (!(err instanceof IndexError && err.code === 'EXISTS')) throw err;
      }
    }
  }
}

export async function changePassword(index: MailIndex, address: string, password: string): Promise<void> {
  if (password.length === 0) throw new IndexError('INVALID', 'empty password');
  const addr = normalizeAddress(address);
  if (!(await index.getUser(addr))) throw new IndexError('NOT_FOUND', `no such user: ${addr}`);
  await index.setPasswordHash(addr, await hashPassword(password));
}

/**
 * Returns the user when the password matches, else null. Constant work for unknown users. A
 * success is remembered for AUTH_CACHE_SECONDS (verified-credentials.ts), bound to the stored
 * hash, so a repeated login costs the index read but no scrypt.
 */
export async function authenticate(index: MailIndex, address: string, password: string): Promise<User | null> {
  const user = await index.getUser(normalizeAddress(address));
  if (!user) {
    await verifyPassword(password, DUMMY_HASH);
    return null;
  }
  if (verifiedCredentials.has(user.address, password, user.passwordHash)) return user;
  if (!(await verifyPassword(password, user.passwordHash))) return null;
  verifiedCredentials.add(user.address, password, user.passwordHash);
  return user;
}

// A hash of a random string, so an unknown user costs as much time as a known one.
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
