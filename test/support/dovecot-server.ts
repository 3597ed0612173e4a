/**
 * Debian's Dovecot (dovecot-imapd, dovecot-pop3d; installed by `scripts/setup.sh --test`) as
 * the foreign server the import tests and the import benchmark (bench/import.ts) read from:
 * started on loopback with a configuration written into a temporary directory (no system
 * configuration), passwd-file users, Maildir (Maildir++ layout, `.` separator) prepared by the
 * caller, IMAPS and POP3S with a self-signed certificate. No test-runner imports here (the
 * benchmark uses it too); test/support/dovecot.ts adds describeWithDovecot.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './emulator.ts';

export const DOVECOT_BIN = '/usr/sbin/dovecot';

export function dovecotInstalled(): boolean {
  const ok = existsSync(DOVECOT_BIN) && existsSync('/usr/lib/dovecot/imap') && existsSync('/usr/lib/dovecot/pop3');
  if (!ok && process.env.CI) throw new Error('CI is set and Dovecot is missing: run scripts/setup.sh --test (apt-get install dovecot-imapd dovecot-pop3d)');
  return ok;
}

export interface DovecotUser {
  user: string;
  password: string;
}

export interface Dovecot {
  dir: string;
  imapsPort: number;
  pop3sPort: number;
  /** The Maildir root of a user (INBOX; other folders are `.Name` beside it). */
  maildir(user: string): string;
  /** Owns everything under the users' homes by the mail user (after the test wrote files). */
  fixOwnership(): void;
  log(): string;
  stop(): Promise<void>;
}

function ids(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no system user ${name} (the dovecot-core package creates it)`);
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/**
 * Starts Dovecot. `specialUse`: folder name → SPECIAL-USE attribute that Dovecot announces
 * (RFC 6154); folders not named there carry no attribute (the importer maps them by name).
 * `separator`: the IMAP hierarchy separator (on disk Maildir++ always uses `.`).
 */
export async function startDovecot(users: DovecotUser[], specialUse: Record<string, string> = {}, extraConfig = '', separator = '.'): Promise<Dovecot> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dovecot-'));
  chmodSync(dir, 0o755);
  const root = process.getuid?.() === 0;
  // Dovecot refuses to run its login processes and mail processes as root: as root it uses the
  // package's users; as anyone else, that user for everything.
  const me = os.userInfo().username;
  const mailUser = root ? 'dovecot' : me;
  const mailIds = root ? ids('dovecot') : { uid: process.getuid!(), gid: process.getgid!() };
  const [imapsPort, pop3sPort] = [await freePort(), await freePort()];
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-days',
      '2',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
    ],
    {
      stdio: 'ignore',
    },
  );
  writeFileSync(path.join(dir, 'passwd'), users.map((u) => `${u.user}:{PLAIN}${u.password}::::::\n`).join(''));
  for (const u of users) mkdirSync(path.join(dir, 'home', u.user, 'Maildir', 'cur'), { recursive: true });
  const mailboxes = Object.entries(specialUse)
    .map(([name, use]) => `  mailbox "${name}" {\n    special_use = ${use}\n  }\n`)
    .join('');
  const conf = `# written by test/support/dovecot.ts
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = required
ssl_cert = <${dir}/cert.pem
ssl_key = <${dir}/key.pem
auth_mechanisms = plain login
default_internal_user = ${root ? 'dovecot' : me}
default_internal_group = ${root ? 'dovecot' : execFileSync('id', ['-gn']).toString().trim()}
default_login_user = ${root ? 'dovenull' : me}
first_valid_uid = ${mailIds.uid}
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xv%08Xu
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/passwd
}
userdb {
  driver = static
  args = uid=${mailUser} gid=${mailIds.gid} home=${dir}/home/%u
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${imapsPort}
  }
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = ${pop3sPort}
  }
}
namespace inbox {
  inbox = yes
  separator = ${separator}
${mailboxes}}
${extraConfig}
`;
  writeFileSync(path.join(dir, 'dovecot.conf'), conf);
  const child: ChildProcess = spawn(DOVECOT_BIN, ['-F', '-c', path.join(dir, 'dovecot.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const fixOwnership = () => {
    if (!root) return;
    const walk = (p: string) => {
      chownSync(p, mailIds.uid, mailIds.gid);
      if (statSync(p).isDirectory()) for (const e of readdirSync(p)) walk(path.join(p, e));
    };
    walk(path.join(dir, 'home'));
  };
  fixOwnership();
  const log = () => (existsSync(path.join(dir, 'dovecot.log')) ? readFileSync(path.join(dir, 'dovecot.log'), 'utf8') : '') + stderr;
  // Up when the IMAPS port accepts.
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dovecot exited (${child.exitCode}): ${log()}`);
    const up = await new Promise<boolean>((resolve) => {
      import('node:net').then(({ connect }) => {
        const s = connect(imapsPort, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error(`dovecot did not start: ${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dir,
    imapsPort,
    pop3sPort,
    maildir: (user) => path.join(dir, 'home', user, 'Maildir'),
    fixOwnership,
    log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let fileCounter = 0;

/**
 * Writes a message into a Maildir folder (`''` = INBOX, else the Maildir++ name without the
 * leading dot, e.g. `Work.Clients`) as Dovecot would keep it: in cur/ with the `:2,` info of
 * its system flags (Maildir: D draft, F flagged, R replied, S seen, T trashed) and keyword
 * letters from the folder's dovecot-keywords file; its mtime is the INTERNALDATE.
 */
export function writeMaildirMessage(maildir: string, folder: string, raw: Buffer, options: { flags?: string[]; keywords?: string[]; date: Date }): string {
  const dir = folder ? path.join(maildir, `.${folder}`) : maildir;
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(dir, sub), { recursive: true });
  if (folder) writeFileSync(path.join(dir, 'maildirfolder'), '');
  const letters: Record<string, string> = { '\\Draft': 'D', '\\Flagged': 'F', '\\Answered': 'R', '\\Seen': 'S', '\\Deleted': 'T' };
  let info = (options.flags ?? [])
    .map((f) => letters[f])
    .sort()
    .join('');
  if (options.keywords?.length) {
    const kwFile = path.join(dir, 'dovecot-keywords');
    const known = existsSync(kwFile)
      ? readFileSync(kwFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(' ')[1])
      : [];
    for (const k of options.keywords) if (!known.includes(k)) known.push(k);
    writeFileSync(kwFile, known.map((k, i) => `${i} ${k}\n`).join(''));
    info += options.keywords
      .map((k) => String.fromCharCode(97 + known.indexOf(k)))
      .sort()
      .join('');
  }
  const name = `${Math.floor(options.date.getTime() / 1000)}.M${++fileCounter}P${process.pid}.test,S=${raw.length}:2,${info}`;
  const file = path.join(dir, 'cur', name);
  writeFileSync(file, raw);
  utimesSync(file, options.date, options.date);
  return file;
}
