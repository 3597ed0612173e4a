/**
 * The classic stack's Debian packages (postfix, dovecot-imapd, dovecot-lmtpd): found, or
 * installed when this runs as root and they are missing (`apt-get update` once, then a
 * non-interactive install with Postfix pre-seeded to "No configuration", so no /etc/postfix/main.cf
 * is written and no system instance is set up). Nothing else on the system is configured: the
 * comparison runs both servers from configurations in temporary directories of its own.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PACKAGES = ['postfix', 'dovecot-imapd', 'dovecot-lmtpd'];
/** The programs the comparison runs, each from one of PACKAGES. */
export const BINARIES = {
  postfix: '/usr/sbin/postfix',
  smtpSource: '/usr/sbin/smtp-source',
  dovecot: '/usr/sbin/dovecot',
  imap: '/usr/lib/dovecot/imap',
  lmtp: '/usr/lib/dovecot/lmtp',
};

function installed(): boolean {
  return Object.values(BINARIES).every((b) => existsSync(b));
}

/** Null when the classic stack can run; otherwise why not (the comparison then runs ours alone). */
export function ensureClassicStack(log: (line: string) => void): string | null {
  // Postfix's master runs as root, and Dovecot runs its mail processes as its own user.
  if (process.getuid?.() !== 0) return 'not root (the classic stack runs Postfix, whose master needs root)';
  if (installed()) return null;
  if (!existsSync('/usr/bin/apt-get')) return 'no apt-get: install Postfix 3.7 and Dovecot 2.3 (imapd, lmtpd) by hand';
  log(`installing ${PACKAGES.join(', ')} (apt-get)...`);
  try {
    execFileSync('debconf-set-selections', {
      input: 'postfix postfix/main_mailer_type select No configuration\npostfix postfix/mailname string localhost\n',
      stdio: ['pipe', 'ignore', 'inherit'],
    });
  } catch (err) {
    return `debconf-set-selections failed: ${(err as Error).message}`;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  if (update.status !== 0) return `apt-get update failed (exit ${update.status})`;
  const install = spawnSync('apt-get', ['install', '-y', ...PACKAGES], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  if (install.status !== 0) return `apt-get install ${PACKAGES.join(' ')} failed (exit ${install.status})`;
  return installed()
    ? null
    : `installed ${PACKAGES.join(', ')} but ${Object.values(BINARIES)
        .filter((b) => !existsSync(b))
        .join(', ')} missing`;
}
