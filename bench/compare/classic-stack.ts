/**
 * The classic stack: Postfix 3.7 → LMTP → Dovecot 2.3, each from a configuration of its own in
 * a temporary directory (never /etc/postfix or the system's Dovecot): Postfix with its own
 * main.cf, master.cf and queue directory (`postfix -c <dir>`), listening on 127.0.0.1 on a free
 * high port, relaying example.test to Dovecot's LMTP socket; Dovecot (`dovecot -c <dir>/dovecot.conf`)
 * with its own base_dir, a passwd-file of SHA512-CRYPT hashes, Maildir, and plaintext IMAP on
 * 127.0.0.1 (as ours on loopback). Tuned as a busy Dovecot is: login processes in
 * high-performance mode (service_count = 0, one per core, Dovecot's documented setting for
 * many logins: the default forks and execs imap-login for every connection); limits raised only
 * where the benchmark would otherwise hit them (1,000 connections of one user from one address,
 * 1,000 imap processes). Everything else is the packages' defaults (no auth cache, fsync on).
 * Needs root (Postfix's master runs as root; Dovecot's mail processes run as the dovecot user).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../test/support/emulator.ts';
import { writeMaildirMessage } from '../../test/support/dovecot-server.ts';
import { sample } from '../imap.ts';
import { BINARIES } from './packages.ts';
import { PASSWORD, processTree, USERS, waitForPort, type Stack } from './stack.ts';

function ids(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no system user ${name} (its Debian package creates it)`);
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

function chownTree(p: string, uid: number, gid: number): void {
  chownSync(p, uid, gid);
  if (statSync(p).isDirectory()) for (const e of readdirSync(p)) chownTree(path.join(p, e), uid, gid);
}

function dovecotConf(dir: string, imapPort: number, mailUid: number): string {
  return `# written by bench/compare/classic-stack.ts
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = ${mailUid}
mail_location = maildir:~/Maildir
default_client_limit = 5000
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT username_format=%u ${dir}/passwd
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=${dir}/home/%u
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
  service_count = 0
  process_min_avail = ${os.cpus().length}
  client_limit = 2100
  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
service imap {
  process_limit = 2000
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
protocol imap {
  mail_max_userip_connections = 2000
}
namespace inbox {
  inbox = yes
  separator = /
}
`;
}

function mainCf(dir: string, lmtpSocket: string): string {
  return `# written by bench/compare/classic-stack.ts
compatibility_level = 3.6
queue_directory = ${dir}/queue
data_directory = ${dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.test
mydomain = bench.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = example.test
virtual_mailbox_maps = texthash:${dir}/vmailbox
virtual_transport = lmtp:unix:${lmtpSocket}
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
maillog_file = ${dir}/maillog
maillog_file_prefixes = ${dir}
biff = no
append_dot_mydomain = no
`;
}

function masterCf(smtpPort: number): string {
  // Debian's master.cf without chroot (the queue is not under /var/spool/postfix) and without
  // the services that deliver elsewhere (uucp, …); smtpd on our port only.
  return `# written by bench/compare/classic-stack.ts
127.0.0.1:${smtpPort} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;
}

/** SHA512-CRYPT ($6$, 5,000 rounds: Dovecot's and glibc's default) of the password. */
function sha512Crypt(password: string): string {
  return execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: password }).toString().trim();
}

export interface ClassicStackOptions {
  /** Messages in big@'s INBOX, the same sample messages ours gets (bench/imap.ts). */
  bigMailbox: number;
  stressUsers: number;
  log: (line: string) => void;
}

export async function startClassicStack(options: ClassicStackOptions): Promise<Stack> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-classic-'));
  chmodSync(dir, 0o755);
  const dovecotDir = path.join(dir, 'dovecot');
  const postfixDir = path.join(dir, 'postfix');
  mkdirSync(dovecotDir, { mode: 0o755 });
  mkdirSync(postfixDir, { mode: 0o755 });
  const mail = ids('dovecot');
  const [smtpPort, imapPort] = [await freePort(), await freePort()];
  let dovecot: ChildProcess | null = null;
  let postfixStarted = false;
  const stop = async () => {
    if (postfixStarted) {
      try {
        execFileSync(BINARIES.postfix, ['-c', postfixDir, 'stop'], { stdio: 'ignore' });
      } catch {
        // Already stopped.
      }
      // The master exits a moment after `postfix stop` returns; its pid file goes with it.
      for (let i = 0; i < 100 && existsSync(path.join(postfixDir, 'queue/pid/master.pid')); i++) await new Promise((r) => setTimeout(r, 100));
    }
    if (dovecot && dovecot.exitCode === null) {
      dovecot.kill('SIGTERM');
      await new Promise((r) => dovecot!.once('exit', r));
    }
    // Whatever went wrong on their side is worth seeing before the directory goes.
    for (const file of [path.join(dovecotDir, 'dovecot.log'), path.join(postfixDir, 'maillog')]) {
      const bad = existsSync(file)
        ? readFileSync(file, 'utf8')
            .split('\n')
            .filter((l) => /\b(warning|error|fatal|panic)\b/i.test(l) && !/not owned by root|group or other writable/.test(l))
        : [];
      // The same warning from many processes (e.g. Dovecot's inotify limit, which only makes an
      // IDLE beyond /proc/sys/fs/inotify/max_user_instances poll instead) is shown once, counted.
      const counts = new Map<string, number>();
      for (const l of bad) {
        const text = l.replace(/^.*?\]?: (?=(warning|error|fatal|panic)\b)/i, '');
        counts.set(text, (counts.get(text) ?? 0) + 1);
      }
      for (const [text, n] of [...counts].slice(0, 5)) options.log(`${path.basename(file)}: ${text}${n > 1 ? ` (${n} times)` : ''}`);
      if (counts.size > 5) options.log(`${path.basename(file)}: … ${counts.size - 5} more kinds`);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Dovecot: users (SHA512-CRYPT, one hash per user as a real passwd-file has), Maildirs, big@'s INBOX.
    const users = [USERS.sink, USERS.big, ...Array.from({ length: options.stressUsers }, (_, i) => USERS.stress(i))];
    writeFileSync(path.join(dovecotDir, 'passwd'), users.map((u) => `${u}:{SHA512-CRYPT}${sha512Crypt(PASSWORD)}::::::\n`).join(''));
    for (const u of users) mkdirSync(path.join(dovecotDir, 'home', u, 'Maildir', 'cur'), { recursive: true });
    const bigMaildir = path.join(dovecotDir, 'home', USERS.big, 'Maildir');
    const start = Date.UTC(2021, 1, 1);
    for (let i = 0; i < options.bigMailbox; i++)
      writeMaildirMessage(bigMaildir, '', sample(i), { flags: i % 3 === 0 ? ['\\Seen'] : [], date: new Date(start + i * 1000) });
    chownTree(path.join(dovecotDir, 'home'), mail.uid, mail.gid);
    writeFileSync(path.join(dovecotDir, 'dovecot.conf'), dovecotConf(dovecotDir, imapPort, mail.uid));
    const child = spawn(BINARIES.dovecot, ['-F', '-c', path.join(dovecotDir, 'dovecot.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    dovecot = child;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const dovecotLog = () => (existsSync(path.join(dovecotDir, 'dovecot.log')) ? readFileSync(path.join(dovecotDir, 'dovecot.log'), 'utf8') : '') + stderr;
    await waitForPort(imapPort, 15_000, () => (child.exitCode === null ? null : `dovecot exited (${child.exitCode}): ${dovecotLog()}`));
    const lmtpSocket = path.join(dovecotDir, 'run', 'lmtp');
    for (let i = 0; i < 50 && !existsSync(lmtpSocket); i++) await new Promise((r) => setTimeout(r, 100));
    if (!existsSync(lmtpSocket)) throw new Error(`no Dovecot LMTP socket at ${lmtpSocket}: ${dovecotLog()}`);

    // Postfix: recipients known by a texthash map (no postmap), delivered by LMTP to Dovecot.
    writeFileSync(path.join(postfixDir, 'main.cf'), mainCf(postfixDir, lmtpSocket));
    writeFileSync(path.join(postfixDir, 'master.cf'), masterCf(smtpPort));
    writeFileSync(path.join(postfixDir, 'vmailbox'), users.map((u) => `${u} ok\n`).join(''));
    mkdirSync(path.join(postfixDir, 'queue'), { mode: 0o755 });
    mkdirSync(path.join(postfixDir, 'data'), { mode: 0o700 });
    chownSync(path.join(postfixDir, 'data'), ids('postfix').uid, ids('postfix').gid);
    try {
      execFileSync(BINARIES.postfix, ['-c', postfixDir, 'start'], { stdio: 'ignore' });
    } catch (err) {
      // Without a terminal the postfix command logs only to syslog; its own log file has the reason.
      const maillog = path.join(postfixDir, 'maillog');
      throw new Error(`postfix -c ${postfixDir} start failed: ${existsSync(maillog) ? readFileSync(maillog, 'utf8').slice(-2000) : 'see syslog'}`, {
        cause: err,
      });
    }
    postfixStarted = true;
    await waitForPort(smtpPort, 15_000, () => null);
    options.log(`Postfix SMTP on 127.0.0.1:${smtpPort}, Dovecot IMAP on 127.0.0.1:${imapPort} (${dir})`);
    return {
      name: 'Postfix + Dovecot',
      smtpPort,
      imapPort,
      pids: () => (child.pid ? processTree(child.pid) : []),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
