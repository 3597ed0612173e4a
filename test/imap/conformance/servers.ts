/**
 * The two servers the scenarios run against, both on loopback over implicit TLS: ours (local
 * adapters) and Debian's Dovecot 2.3 (test/support/dovecot-server.ts) with the plugins that give
 * it QUOTA and COMPRESS=DEFLATE, `/` as separator and the same special-use mailboxes a new user
 * of ours gets (INBOX, Sent, Drafts, Trash, Junk, Archive; RFC 6154), so every group starts
 * from the same state: a fresh user per group.
 */
import { DEFAULT_MAILBOXES, ensureDefaultMailboxes } from '#core/accounts/accounts.ts';
import { invalidateDirectory } from '#core/accounts/directory-cache.ts';
import { hashPassword } from '#core/accounts/password.ts';
import { startDovecot } from '../../support/dovecot-server.ts';
import { startImapSystem } from '../support/imap-system.ts';
import { Client } from './client.ts';

export interface ServerUnderTest {
  name: string;
  /** A new user with only the default mailboxes. */
  newUser(): Promise<{ user: string; password: string }>;
  /** A logged-in connection; `caps` holds what the server announces once authenticated. */
  login(account: { user: string; password: string }): Promise<Client>;
  stop(): Promise<void>;
}

async function loginOver(port: number, account: { user: string; password: string }): Promise<Client> {
  const { client } = await Client.connect(port, true);
  const q = (s: string) => `"${s.replace(/[\\"]/g, (m) => '\\' + m)}"`;
  const r = await client.send(`LOGIN ${q(account.user)} ${q(account.password)}`);
  if (r.status !== 'OK') r.fail('login failed');
  const caps = (await client.ok('CAPABILITY')).one(/^\* CAPABILITY (.*)$/i)[1];
  for (const c of caps.trim().split(/\s+/)) client.caps.add(c.toUpperCase());
  return client;
}

export async function startOurs(): Promise<ServerUnderTest> {
  const sys = await startImapSystem('local');
  const index = sys.ts.adapters.index;
  // A user per group, as createUser makes one but with a cheaper scrypt cost (the encoding
  // carries it): at the default cost hashing and each LOGIN take most of a group's time.
  const password = 'conformance pass';
  const passwordHash = await hashPassword(password, { N: 1 << 10, r: 8, p: 1 });
  let n = 0;
  return {
    name: 'ours',
    async newUser() {
      const user = `conf${++n}@example.test`;
      await index.addUser({ address: user, passwordHash });
      await ensureDefaultMailboxes(index, user);
      // The same limit as Dovecot's quota_rule below: QUOTA reports resources with a limit.
      await index.setQuota(user, { storage: 1024 ** 3, messages: null });
      invalidateDirectory(index);
      return { user, password };
    },
    login: (account) => loginOver(sys.tlsPort, account),
    stop: () => sys.stop(),
  };
}

export async function startDovecotUnderTest(users: number): Promise<ServerUnderTest> {
  const accounts = Array.from({ length: users }, (_, i) => ({ user: `conf${i + 1}`, password: 'conformance pass' }));
  const mailboxes = DEFAULT_MAILBOXES.filter((m) => m.specialUse)
    .map((m) => `  mailbox ${m.name} {\n    special_use = ${m.specialUse}\n    auto = subscribe\n  }\n`)
    .join('');
  const extra = `mail_plugins = $mail_plugins quota zlib
protocol imap {
  mail_plugins = $mail_plugins imap_quota imap_zlib
}
plugin {
  quota = count:User quota
  quota_rule = *:storage=1G
  quota_vsizes = yes
}
namespace inbox {
${mailboxes}}
`;
  const dovecot = await startDovecot(accounts, {}, extra, '/');
  let next = 0;
  return {
    name: 'Dovecot',
    async newUser() {
      if (next >= accounts.length) throw new Error('more groups than Dovecot users');
      return accounts[next++];
    },
    login: (account) => loginOver(dovecot.imapsPort, account),
    stop: () => dovecot.stop(),
  };
}
