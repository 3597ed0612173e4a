/** Domains and users of the SQLite MailIndex: the `domains`, `domain_postmasters` and `users` tables. */
import { IndexError, type Domain, type User } from '#core/ports/mail-index.ts';
import { checkString, domainPart } from '#core/adapters/index-input.ts';
import type { SqliteHandle } from '../sqlite-db.ts';
import { dropUsage } from './usage.ts';
import { unref } from './blob-refs.ts';
import { dropMailboxRows } from './mailboxes.ts';
import { dropUserThreadRefs } from './threads.ts';

interface DomainRow {
  name: string;
  created_at: number;
  postmaster: string | null;
}

function domainFromRow(r: DomainRow): Domain {
  return { name: r.name, createdAt: r.created_at, postmaster: r.postmaster ?? null };
}

export async function addDomain(h: SqliteHandle, name: string, options: { postmaster?: string | null } = {}): Promise<Domain> {
  checkString(name, 'domain name');
  const postmaster = options.postmaster ?? null;
  if (postmaster !== null) checkString(postmaster, 'postmaster address');
  return h.immediate(() => {
    if (h.stmt('SELECT 1 FROM domains WHERE name = ?').get(name)) throw new IndexError('EXISTS', `domain exists: ${name}`);
    const createdAt = Date.now();
    h.stmt('INSERT INTO domains (name, created_at) VALUES (?, ?)').run(name, createdAt);
    h.stmt('DELETE FROM domain_postmasters WHERE domain = ?').run(name);
    if (postmaster !== null) h.stmt('INSERT INTO domain_postmasters (domain, address) VALUES (?, ?)').run(name, postmaster);
    return { name, createdAt, postmaster };
  });
}

export async function setDomainPostmaster(h: SqliteHandle, name: string, postmaster: string | null): Promise<Domain> {
  if (postmaster !== null) checkString(postmaster, 'postmaster address');
  return h.immediate(() => {
    const r = h.stmt('SELECT name, created_at FROM domains WHERE name = ?').get(name) as { name: string; created_at: number } | undefined;
    if (!r) throw new IndexError('NOT_FOUND', `no such domain: ${name}`);
    h.stmt('DELETE FROM domain_postmasters WHERE domain = ?').run(name);
    if (postmaster !== null) h.stmt('INSERT INTO domain_postmasters (domain, address) VALUES (?, ?)').run(name, postmaster);
    return { name: r.name, createdAt: r.created_at, postmaster };
  });
}

/** NOT_FOUND when absent; CONFLICT while users of the domain remain. */
export async function removeDomain(h: SqliteHandle, name: string): Promise<void> {
  h.immediate(() => {
    if (!h.stmt('SELECT 1 FROM domains WHERE name = ?').get(name)) throw new IndexError('NOT_FOUND', `no such domain: ${name}`);
    if (h.stmt('SELECT 1 FROM users WHERE domain = ? LIMIT 1').get(name)) throw new IndexError('CONFLICT', `domain ${name} still has users`);
    h.stmt('DELETE FROM domains WHERE name = ?').run(name);
    h.stmt('DELETE FROM domain_postmasters WHERE domain = ?').run(name);
  });
}

export async function listDomains(h: SqliteHandle): Promise<Domain[]> {
  const rows = h
    .stmt('SELECT d.name, d.created_at, p.address AS postmaster FROM domains d LEFT JOIN domain_postmasters p ON p.domain = d.name ORDER BY d.name')
    .all() as unknown as DomainRow[];
  return rows.map(domainFromRow);
}

export async function getDomain(h: SqliteHandle, name: string): Promise<Domain | null> {
  const r = h
    .stmt('SELECT d.name, d.created_at, p.address AS postmaster FROM domains d LEFT JOIN domain_postmasters p ON p.domain = d.name WHERE d.name = ?')
    .get(name) as DomainRow | undefined;
  return r ? domainFromRow(r) : null;
}

export async function addUser(h: SqliteHandle, user: { address: string; passwordHash: string }): Promise<User> {
  checkString(user.address, 'address');
  if (!user.address.includes('@')) throw new IndexError('INVALID', `not an address: ${user.address}`);
  if (typeof user.passwordHash !== 'string') throw new IndexError('INVALID', 'passwordHash must be a string');
  return h.immediate(() => {
    if (h.stmt('SELECT 1 FROM users WHERE address = ?').get(user.address)) throw new IndexError('EXISTS', `user exists: ${user.address}`);
    const createdAt = Date.now();
    h.stmt('INSERT INTO users (address, domain, password_hash, created_at) VALUES (?, ?, ?, ?)').run(
      user.address,
      domainPart(user.address),
      user.passwordHash,
      createdAt,
    );
    return { address: user.address, passwordHash: user.passwordHash, createdAt };
  });
}

export async function getUser(h: SqliteHandle, address: string): Promise<User | null> {
  const r = h
    .stmt(
      'SELECT u.address, u.password_hash, u.created_at, q.storage_limit, q.message_limit FROM users u LEFT JOIN user_quotas q ON q.user = u.address WHERE u.address = ?',
    )
    .get(address) as { address: string; password_hash: string; created_at: number; storage_limit: number | null; message_limit: number | null } | undefined;
  if (!r) return null;
  const user: User = { address: r.address, passwordHash: r.password_hash, createdAt: r.created_at };
  if (r.storage_limit !== null || r.message_limit !== null) user.quota = { storage: r.storage_limit, messages: r.message_limit };
  return user;
}

export async function listUsers(h: SqliteHandle, domain?: string): Promise<User[]> {
  const rows = (
    domain === undefined
      ? h.stmt('SELECT address, password_hash, created_at FROM users ORDER BY address').all()
      : h.stmt('SELECT address, password_hash, created_at FROM users WHERE domain = ? ORDER BY address').all(domain)
  ) as Array<{ address: string; password_hash: string; created_at: number }>;
  return rows.map((r) => ({ address: r.address, passwordHash: r.password_hash, createdAt: r.created_at }));
}

export async function setPasswordHash(h: SqliteHandle, address: string, passwordHash: string): Promise<void> {
  if (typeof passwordHash !== 'string') throw new IndexError('INVALID', 'passwordHash must be a string');
  h.immediate(() => {
    const res = h.stmt('UPDATE users SET password_hash = ? WHERE address = ?').run(passwordHash, address);
    if (Number(res.changes) === 0) throw new IndexError('NOT_FOUND', `no such user: ${address}`);
  });
}

export async function removeUser(h: SqliteHandle, address: string): Promise<{ orphanedBlobs: string[] }> {
  return h.immediate(() => {
    if (!h.stmt('SELECT 1 FROM users WHERE address = ?').get(address)) throw new IndexError('NOT_FOUND', `no such user: ${address}`);
    const blobKeys = (
      h.stmt('SELECT m.blob_key AS blob_key FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.user = ?').all(address) as Array<{
        blob_key: string;
      }>
    ).map((r) => r.blob_key);
    const ids = (h.stmt('SELECT id FROM mailboxes WHERE user = ?').all(address) as Array<{ id: string }>).map((r) => r.id);
    for (const id of ids) dropMailboxRows(h, id);
    h.stmt('DELETE FROM subscriptions WHERE user = ?').run(address);
    dropUserThreadRefs(h, address);
    h.stmt('DELETE FROM account_objects WHERE user = ?').run(address);
    h.stmt('DELETE FROM account_object_counters WHERE user = ?').run(address);
    h.stmt('DELETE FROM users WHERE address = ?').run(address);
    dropUsage(h, address);
    // uidvalidity_counters is kept on purpose: a recreated user's mailboxes get greater UIDVALIDITY.
    return { orphanedBlobs: unref(h, blobKeys) };
  });
}
