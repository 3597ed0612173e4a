/**
 * mailctl: administration of domains, users, mailboxes, messages and queues. Works on any
 * adapter set; bin/mailctl.js picks local (default) or aws (--aws or MAIL_RUNTIME=aws).
 */
import libmime from 'libmime';
import type { Adapters } from '../adapters/adapters.ts';
import { changePassword, createUser } from '../accounts/accounts.ts';
import { isValidAddress, normalizeAddress } from '../accounts/addresses.ts';
import { invalidateDirectory } from '../accounts/directory-cache.ts';
import { BlobNotFoundError } from '../ports/blob-store.ts';
import { IndexError, type QuotaLimits } from '../ports/mail-index.ts';
import { createLogger } from '../log.ts';
import { MailboxWrites } from '../mailbox/writes.ts';
import type { MailboxEvents } from '../mailbox/events.ts';
import { checkBlobs } from './blob-check.ts';
import { exportCommand, importImapCommand, importMaildirCommand, importMboxCommand, importPop3Command, ImportUsageError } from './mailctl-import.ts';
import { ImportError } from '../import/imap-import.ts';
import type { QueueName } from '../ports/work-queue.ts';
import { dkimKeyBlobKey, dkimZoneLine, generateDkimKey, loadDkimKey, loadDkimKeysFromSecret, saveDkimKey, type DkimKeyAlgorithm } from '../dkim/keys.ts';
import { loadConfig, type MailConfig } from '../config.ts';
import { publicEndpoints } from '../mail-endpoints.ts';
import { domainDnsRecords, formatDnsRecords } from './dns-records.ts';
import { ContactsUsageError, exportContacts, importContacts } from './mailctl-contacts.ts';
import { readContactSettings, removeContactSettings, writeContactSettings } from '../contacts/collected.ts';
import { ContactError } from '../ports/contacts.ts';
import { modelStats } from '../junk/classifier.ts';
import { junkScore } from '../junk/delivery-verdict.ts';
import { junkModelsFor } from '../junk/model-store.ts';
import { indexMessage } from '../mime/index-message.ts';
import { fieldValue, parseHeaderFields } from '../mime/header.ts';

export interface MailctlIO {
  out(line: string): void;
  err(line: string): void;
  /** Reads a password: from a hidden prompt on a terminal, else the first line of stdin. */
  readPassword(prompt: string): Promise<string>;
  /** Raw bytes to stdout (message show). */
  writeRaw(data: Buffer): void;
  /** The environment (IMPORT_PASSWORD); absent: none. */
  env?: Record<string, string | undefined>;
  /** A status line shown in place of the previous one (a terminal); '' clears it. Absent: none shown. */
  status?: (line: string) => void;
}

export const USAGE = `usage: mailctl [--aws] <command>
  domain add <domain> [--postmaster <address>]
                                 add a local domain; postmaster mail for it goes to <address>
  domain postmaster <domain> [<address> | --default]
                                 show or set where postmaster@<domain> mail goes (--default:
                                 POSTMASTER_ADDRESS, else the domain's first user)
  domain list                    list local domains
  domain remove <domain>         remove a local domain (its users stay until removed)
  domain dkim <domain> [--algorithm rsa|ed25519] [--selector <s>] [--new] [--json]
                                 make (or show) the domain's DKIM key; prints the DNS TXT record
  domain show <domain>           every DNS record to publish for the domain (MX, SPF, DKIM, DMARC,
                                 MTA-STS, TLS-RPT, SRV, autoconfig/autodiscover), for this deployment
  user add <address>             add a user (password from a prompt, or stdin)
  user list [domain]             list users
  user remove <address>          remove a user with all mailboxes and messages
  user passwd <address>          set a user's password (prompt or stdin)
  user quota <address> [--storage N] [--messages N]
                                 show or set a user's quota: storage in octets (or with K, M, G:
                                 KiB, MiB, GiB), messages in messages, 'none' for no limit
  mailbox list <address>         list a user's mailboxes with counts
  message list <address> [mailbox]        list messages (default INBOX)
  message show <address> <uid> [mailbox] [--auth]
                                 print a message's raw bytes; --auth: only its stored verdicts
                                 (Authentication-Results, X-Spam-*) and its junk score by the
                                 user's model now
  junk stats <address>           the user's junk model: messages trained as spam and ham, tokens
  check [address]                compare every message's blob with the index (all users, or one):
                                 reports missing, unreadable, truncated and extended blobs; exit 1 if any
  import imap <address> <imap-url> [--insecure] [--json] [--connections N]
                                 copy an IMAP account into the user (imaps://user@host:993, or
                                 imap://user@host with STARTTLS; password from stdin or
                                 IMPORT_PASSWORD): every folder, flags, keywords, dates and
                                 subscriptions; a rerun copies only what is new (README "Moving in")
  import pop3 <address> <pop3-url> [--insecure] [--json]
                                 copy a POP3 maildrop into INBOX (pop3s://user@host:995, or
                                 pop3://user@host with STLS); a rerun copies only new UIDLs
  import mbox <address> <file> [--mailbox NAME] [--format mboxrd|mboxo] [--json]
                                 copy an mbox file into a mailbox (default INBOX); flags from
                                 Status/X-Status/X-Keywords, dates from the From lines
  import maildir <address> <dir> [--json]
                                 copy a Maildir with its Maildir++ folders; flags from the :2, info
  export mbox <address> <path> [--mailbox NAME]
                                 write mailboxes as mboxrd (a file with --mailbox, else a directory
                                 of <name>.mbox), byte for byte, flags in Status/X-Keywords headers
  export maildir <address> <dir> [--mailbox NAME]
                                 write mailboxes as a Maildir++ tree, byte for byte, flags in the info
  contacts import <address> <file.vcf> [--book <id>]
                                 add the vCards of a file to an address book (default: the
                                 CardDAV default book); a card with a UID already there replaces it
  contacts export <address> <file.vcf> [--book <id>]
                                 write an address book's vCards to one file, byte for byte
  contacts collect <address> [on|off]
                                 show or set whether recipients of mail the user sends are added
                                 to the "Collected addresses" book (default on)
  queue stats                    jobs per queue (visible, in flight, delayed, dead)
  queue dead-letters [queue]     show jobs in the dead-letter queue (default: all queues)
Options: --aws  use the AWS resources named by MAIL_TABLE, MAIL_BUCKET, INGEST_QUEUE_URL, ... (or MAIL_RUNTIME=aws)`;

export class UsageError extends Error {
  /** The command group the mistake was made in ('user', 'domain', ...): its usage is shown. */
  readonly group?: string;
  constructor(message: string, group?: string) {
    super(message);
    this.group = group;
  }
}

/** The command groups: first words of the usage lines that a subcommand follows (`check` takes none). */
export const GROUPS = [
  ...new Set(
    USAGE.split('\n')
      .map((l) => /^ {2}([a-z-]+) [a-z]/.exec(l)?.[1])
      .filter((g): g is string => Boolean(g)),
  ),
];

/** Every first word of a usage line: the groups and the commands that stand alone (`check`). */
export const COMMANDS = [
  ...new Set(
    USAGE.split('\n')
      .map((l) => /^ {2}([a-z-]+)\b/.exec(l)?.[1])
      .filter((g): g is string => Boolean(g)),
  ),
];

/** The usage of one group: its lines of USAGE (with their continuation lines). */
export function groupUsage(group: string): string {
  const out = [`usage: mailctl [--aws] ${group} <command>`];
  let inGroup = false;
  for (const line of USAGE.split('\n').slice(1)) {
    const m = /^ {2}([a-z-]+) /.exec(line);
    if (m) inGroup = m[1] === group;
    else if (!/^ {3,}/.test(line)) inGroup = false;
    if (inGroup) out.push(line);
  }
  return out.join('\n');
}

/** RFC 2047 encoded-words decoded for display; the text as it is when it does not decode. */
function displayText(value: string): string {
  try {
    return libmime.decodeWords(value).replace(/[\r\n\t]+/g, ' ');
  } catch {
    return value;
  }
}

/** A failure the user is told in one line (exit 1), not with a stack trace. */
class CommandError extends Error {}

const QUEUE_NAMES: QueueName[] = ['ingest', 'outbound'];

/** Runs one command; returns the process exit code. */
/** Commands that add, change or remove a domain or user (cached by the MX listener and ingest). */
const DIRECTORY_CHANGES = ['domain add', 'domain postmaster', 'domain remove', 'user add', 'user remove'];

export async function runMailctl(
  args: string[],
  adapters: Adapters,
  io: MailctlIO,
  events?: MailboxEvents,
  /** The configuration `domain show` describes (default: the environment, for the adapter set's runtime). */
  config?: MailConfig,
): Promise<number> {
  const [group, action, ...rest] = args;
  const need = (n: number) => {
    if (rest.length < n) throw new UsageError(`missing argument for '${group} ${action}'`, group);
  };
  const requireUser = async (address: string) => {
    const user = normalizeAddress(address);
    if (!(await adapters.index.getUser(user))) throw new IndexError('NOT_FOUND', `no such user: ${user}`);
    return user;
  };
  try {
    if (group === 'check') return await check(adapters, io, args[1]);
    switch (`${group} ${action}`) {
      case 'domain add': {
        need(1);
        const postmaster = postmasterOption(rest.slice(1));
        const d = await adapters.index.addDomain(rest[0].toLowerCase(), postmaster ? { postmaster } : {});
        io.out(`added domain ${d.name}${d.postmaster ? ` (postmaster ${d.postmaster})` : ''}`);
        return 0;
      }
      case 'domain postmaster': {
        need(1);
        const name = rest[0].toLowerCase();
        const arg = rest[1];
        if (arg === undefined) {
          const d = await adapters.index.getDomain(name);
          if (!d) throw new IndexError('NOT_FOUND', `no such domain: ${name}`);
          io.out(
            d.postmaster
              ? `postmaster of ${name}: ${d.postmaster}`
              : `postmaster of ${name}: default (a user postmaster@${name}, else POSTMASTER_ADDRESS, else the domain's first user)`,
          );
          return 0;
        }
        if (rest.length > 2) throw new UsageError(`unexpected argument ${rest[2]}`);
        const d = await adapters.index.setDomainPostmaster(name, arg === '--default' ? null : postmasterAddress(arg));
        io.out(d.postmaster ? `postmaster of ${name}: ${d.postmaster}` : `postmaster of ${name}: default`);
        return 0;
      }
      case 'domain list': {
        for (const d of await adapters.index.listDomains()) io.out(d.name);
        return 0;
      }
      case 'domain remove': {
        need(1);
        await adapters.index.removeDomain(rest[0].toLowerCase());
        io.out(`removed domain ${rest[0].toLowerCase()}`);
        return 0;
      }
      case 'domain dkim': {
        need(1);
        return await domainDkim(adapters, io, rest);
      }
      case 'domain show': {
        need(1);
        if (rest.length > 1) throw new UsageError(`unexpected argument ${rest[1]}`, group);
        return await domainShow(adapters, io, rest[0], config ?? loadConfig({ ...process.env, MAIL_RUNTIME: adapters.kind === 'aws' ? 'aws' : 'local' }));
      }
      case 'user add': {
        need(1);
        const password = await io.readPassword(`Password for ${rest[0]}: `);
        const u = await createUser(adapters.index, rest[0], password);
        io.out(`added user ${u.address}`);
        return 0;
      }
      case 'user list': {
        for (const u of await adapters.index.listUsers(rest[0]?.toLowerCase())) io.out(u.address);
        return 0;
      }
      case 'user remove': {
        need(1);
        // A blob that cannot be deleted is reported on stderr (a JSON line with its key) and left
        // as unreferenced garbage: the user is gone either way.
        const writes = new MailboxWrites(adapters, { events, log: createLogger({ command: 'user remove' }, 'warn', (line) => io.err(line)) });
        await writes.removeUser(normalizeAddress(rest[0]));
        await adapters.contacts.removeAllContacts(normalizeAddress(rest[0]));
        await removeContactSettings(adapters.blobs, normalizeAddress(rest[0]));
        await junkModelsFor(adapters.blobs).remove(normalizeAddress(rest[0]));
        io.out(`removed user ${normalizeAddress(rest[0])}`);
        return 0;
      }
      case 'user passwd': {
        need(1);
        await requireUser(rest[0]);
        const password = await io.readPassword(`New password for ${rest[0]}: `);
        await changePassword(adapters.index, rest[0], password);
        io.out(`password changed for ${normalizeAddress(rest[0])}`);
        return 0;
      }
      case 'user quota': {
        need(1);
        const user = await requireUser(rest[0]);
        const current = (await adapters.index.getQuota(user))!;
        const change = quotaOptions(rest.slice(1));
        if (change) {
          await adapters.index.setQuota(user, { ...current.limits, ...change });
          Object.assign(current.limits, change);
        }
        const of = (used: number, limit: number | null) => `${used} of ${limit === null ? 'no limit' : limit}`;
        io.out(
          `quota of ${user}: storage ${of(current.usage.storage, current.limits.storage)} octets, messages ${of(current.usage.messages, current.limits.messages)}`,
        );
        return 0;
      }
      case 'mailbox list': {
        need(1);
        const user = await requireUser(rest[0]);
        const boxes = await adapters.index.listMailboxes(user);
        io.out(['MAILBOX', 'MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'SPECIAL-USE'].join('\t'));
        for (const m of boxes.sort((a, b) => a.name.localeCompare(b.name)))
          io.out([m.name, m.messageCount, m.uidNext, m.uidValidity, m.specialUse ?? ''].join('\t'));
        return 0;
      }
      case 'message list': {
        need(1);
        const user = await requireUser(rest[0]);
        const mailbox = await adapters.index.getMailbox(user, rest[1] ?? 'INBOX');
        if (!mailbox) throw new IndexError('NOT_FOUND', `no mailbox ${rest[1] ?? 'INBOX'} for ${user}`);
        io.out(['UID', 'SIZE', 'DATE', 'FLAGS', 'FROM', 'SUBJECT'].join('\t'));
        for (const m of await adapters.index.listMessages(user, mailbox.id, { withMeta: true })) {
          const from = m.meta?.envelope.from?.[0];
          const fromText = from ? `${from.mailbox ?? ''}@${from.host ?? ''}` : '';
          io.out([m.uid, m.size, new Date(m.internalDate).toISOString(), m.flags.join(' '), fromText, displayText(m.meta?.envelope.subject ?? '')].join('\t'));
        }
        return 0;
      }
      case 'message show': {
        const auth = rest.includes('--auth');
        if (auth) rest.splice(rest.indexOf('--auth'), 1);
        need(2);
        const user = await requireUser(rest[0]);
        const uid = Number(rest[1]);
        if (!Number.isInteger(uid) || uid <= 0) throw new UsageError('uid must be a positive integer');
        const mailbox = await adapters.index.getMailbox(user, rest[2] ?? 'INBOX');
        if (!mailbox) throw new IndexError('NOT_FOUND', `no mailbox ${rest[2] ?? 'INBOX'} for ${user}`);
        const [msg] = await adapters.index.getMessages(user, mailbox.id, [uid]);
        if (!msg) throw new IndexError('NOT_FOUND', `no message with UID ${uid} in ${mailbox.name}`);
        let raw: Buffer;
        try {
          raw = await adapters.blobs.get(msg.blobKey);
        } catch (err) {
          const what = `message UID ${uid} in ${mailbox.name} of ${user}`;
          if (err instanceof BlobNotFoundError) throw new CommandError(`${what}: its stored copy (blob ${msg.blobKey}) is missing; see 'mailctl check'`);
          throw new CommandError(`${what}: cannot read blob ${msg.blobKey}: ${(err as Error).message}`);
        }
        if (auth) {
          for (const line of await storedVerdicts(adapters, user, raw)) io.out(line);
          return 0;
        }
        io.writeRaw(raw);
        return 0;
      }
      case 'junk stats': {
        need(1);
        const user = await requireUser(rest[0]);
        const stats = modelStats(await junkModelsFor(adapters.blobs).read(user));
        io.out(`trained spam messages\t${stats.spam}`);
        io.out(`trained ham messages\t${stats.ham}`);
        io.out(`tokens\t${stats.tokens}`);
        io.out(`messages remembered as trained\t${stats.trackedMessages}`);
        return 0;
      }
      case 'import imap':
      case 'import pop3':
      case 'import mbox':
      case 'import maildir':
      case 'export mbox':
      case 'export maildir': {
        try {
          if (group === 'export') return await exportCommand(adapters, io, action as 'mbox' | 'maildir', rest);
          if (action === 'mbox') return await importMboxCommand(adapters, io, rest);
          if (action === 'maildir') return await importMaildirCommand(adapters, io, rest);
          if (action === 'pop3') return await importPop3Command(adapters, io, rest);
          return await importImapCommand(adapters, io, rest);
        } catch (err) {
          if (err instanceof ImportUsageError) throw new UsageError(err.message, group);
          if (err instanceof ImportError) throw new CommandError(err.message);
          throw err;
        }
      }
      case 'contacts collect': {
        need(1);
        const user = await requireUser(rest[0]);
        const value = rest[1];
        if (value !== undefined && value !== 'on' && value !== 'off') throw new UsageError('contacts collect takes on or off', group);
        if (value !== undefined) await writeContactSettings(adapters.blobs, user, { collect: value === 'on' });
        const { collect } = await readContactSettings(adapters.blobs, user);
        io.out(`collecting recipients for ${user}: ${collect ? 'on' : 'off'}`);
        return 0;
      }
      case 'contacts import':
      case 'contacts export': {
        need(2);
        const user = await requireUser(rest[0]);
        try {
          if (action === 'import') return await importContacts(adapters, user, rest[1], rest.slice(2), io);
          return await exportContacts(adapters, user, rest[1], rest.slice(2), io);
        } catch (err) {
          if (err instanceof ContactsUsageError) throw new UsageError(err.message, group);
          if (err instanceof ContactError) throw new CommandError(err.message);
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CommandError(`${rest[1]}: no such file`);
          throw err;
        }
      }
      case 'queue stats': {
        io.out(['QUEUE', 'VISIBLE', 'IN-FLIGHT', 'DELAYED', 'DEAD'].join('\t'));
        for (const q of QUEUE_NAMES) {
          const s = await adapters.queue.stats(q);
          io.out([q, s.visible, s.inFlight, s.delayed, s.dead].join('\t'));
        }
        return 0;
      }
      case 'queue dead-letters': {
        const queues = rest[0] ? [rest[0] as QueueName] : QUEUE_NAMES;
        for (const q of queues) {
          if (!QUEUE_NAMES.includes(q)) throw new UsageError(`unknown queue ${q}`);
          for (const d of await adapters.queue.deadLetters(q, 100)) {
            // An ingest job's inline copy of the message (IngestJob.bytes) is shown by its size only: the blob holds the message.
            const body =
              d.body && typeof d.body === 'object' && typeof (d.body as { bytes?: unknown }).bytes === 'string'
                ? { ...(d.body as object), bytes: `(${Buffer.byteLength((d.body as { bytes: string }).bytes, 'base64')} bytes inline)` }
                : d.body;
            io.out(JSON.stringify({ queue: q, id: d.id, receiveCount: d.receiveCount, sentAt: new Date(d.sentAt).toISOString(), body }));
          }
        }
        return 0;
      }
      default:
        if (group && GROUPS.includes(group) && (action === '--help' || action === '-h' || action === 'help')) {
          io.out(groupUsage(group));
          return 0;
        }
        if (group && GROUPS.includes(group)) throw new UsageError(action ? `unknown command '${group} ${action}'` : `'${group}' needs a command`, group);
        throw new UsageError(group ? `unknown command '${group}'` : 'no command given');
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`mailctl: ${err.message}`);
      io.err(err.group ? groupUsage(err.group) : USAGE);
      return 2;
    }
    if (err instanceof IndexError || err instanceof CommandError) {
      io.err(`mailctl: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    // Domains and users are cached by the MX listener and ingest in this process: changed here, seen at once.
    if (DIRECTORY_CHANGES.includes(`${group} ${action}`)) invalidateDirectory(adapters.index);
  }
}

function postmasterAddress(value: string | undefined): string {
  const address = normalizeAddress(value ?? '');
  if (!isValidAddress(address)) throw new UsageError(`not an address: ${JSON.stringify(value ?? '')} (postmaster needs user@domain)`);
  return address;
}

/** `[--postmaster <address>]` of `domain add`. */
function postmasterOption(args: string[]): string | null {
  if (args.length === 0) return null;
  if (args[0] !== '--postmaster') throw new UsageError(`unknown option ${args[0]}`);
  if (args.length > 2) throw new UsageError(`unexpected argument ${args[2]}`);
  return postmasterAddress(args[1]);
}

/** `check [address]`: one tab-separated line per problem, then a summary; exit 1 when any. */
/**
 * `message show --auth`: the verdicts stored in the message's header (Authentication-Results,
 * RFC 8601, and any X-Spam-* fields), unfolded, and the junk score the user's model gives it now.
 */
async function storedVerdicts(adapters: Adapters, user: string, raw: Buffer): Promise<string[]> {
  const meta = indexMessage(raw);
  const out: string[] = [];
  for (const f of parseHeaderFields(raw, 0, meta.mime.bodyStart)) {
    if (f.key === 'authentication-results' || f.key.startsWith('x-spam-')) out.push(`${f.name}: ${fieldValue(raw, f).replace(/[\t ]+/g, ' ')}`);
  }
  if (out.length === 0) out.push('(no Authentication-Results or X-Spam fields stored: not received at the MX, or from a trusted network)');
  const { score, junk, tokens } = await junkScore(adapters.blobs, user, raw, meta, loadConfig({ ...process.env }).inbound.junkThreshold);
  out.push(`Junk score now: ${score.toFixed(4)} (${junk ? 'junk' : 'not junk'}; ${tokens} telling tokens)`);
  return out;
}

async function check(adapters: Adapters, io: MailctlIO, address: string | undefined): Promise<number> {
  let users: string[];
  if (address !== undefined) {
    const user = normalizeAddress(address);
    if (!(await adapters.index.getUser(user))) throw new IndexError('NOT_FOUND', `no such user: ${user}`);
    users = [user];
  } else users = (await adapters.index.listUsers()).map((u) => u.address);
  let header = false;
  const result = await checkBlobs(adapters.index, adapters.blobs, users, (p) => {
    if (!header) io.out(['PROBLEM', 'ADDRESS', 'MAILBOX', 'UID', 'BLOB', 'DETAIL'].join('\t'));
    header = true;
    io.out([p.kind, p.user, p.mailbox, p.uid, p.blobKey, p.detail].join('\t'));
  });
  const n = result.problems.length;
  io.out(
    `checked ${result.messages} messages in ${result.mailboxes} mailboxes of ${result.users} users: ${n === 0 ? 'no problems' : `${n} ${n === 1 ? 'problem' : 'problems'}`}`,
  );
  return n === 0 ? 0 : 1;
}

/**
 * `domain dkim <domain>`: the domain's DKIM signing key (RFC 6376; core/dkim/keys.ts). Shows
 * the existing key's record, or makes a key when there is none (or with --new: a new key
 * under a new selector, used for signing from now on — publish its record first).
 */
async function domainDkim(adapters: Adapters, io: MailctlIO, rest: string[]): Promise<number> {
  const domain = rest[0].toLowerCase();
  let algorithm: DkimKeyAlgorithm = 'rsa';
  let selector: string | undefined;
  let fresh = false;
  let json = false;
  for (let i = 1; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--algorithm' || a === '-a') {
      const v = rest[++i];
      if (v !== 'rsa' && v !== 'ed25519') throw new UsageError('--algorithm must be rsa or ed25519');
      algorithm = v;
      fresh = true;
    } else if (a === '--selector') {
      selector = rest[++i];
      if (!selector) throw new UsageError('--selector needs a value');
      fresh = true;
    } else if (a === '--new') fresh = true;
    else if (a === '--json') json = true;
    else throw new UsageError(`unknown option ${a}`);
  }
  if (!(await adapters.index.getDomain(domain))) throw new IndexError('NOT_FOUND', `no local domain ${domain}; add it first`);
  let key = await loadDkimKey(adapters.blobs, domain);
  const made = !key || fresh;
  if (made) {
    try {
      key = generateDkimKey(domain, algorithm, selector);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    await saveDkimKey(adapters.blobs, key);
  }
  io.out(`${made ? 'created' : 'existing'} DKIM key for ${domain}: ${key!.algorithm}, selector ${key!.selector} (stored at ${dkimKeyBlobKey(domain)})`);
  io.out('publish this DNS record:');
  io.out(dkimZoneLine(key!));
  if (json) io.out(JSON.stringify({ [domain]: key }));
  return 0;
}

/**
 * `domain show <domain>`: the DNS records to publish (core/admin/dns-records.ts) for the
 * endpoints of `config` — the well-known ports on AWS, the configured ones locally.
 */
async function domainShow(adapters: Adapters, io: MailctlIO, name: string, config: MailConfig): Promise<number> {
  const domain = name.toLowerCase().replace(/\.$/, '');
  if (!(await adapters.index.getDomain(domain))) throw new IndexError('NOT_FOUND', `no local domain ${domain}; add it first`);
  const fromSecret = config.dkimKeysSecretArn ? (await loadDkimKeysFromSecret(adapters.secrets, config.dkimKeysSecretArn)).get(domain) : undefined;
  const dkim = fromSecret ?? (await loadDkimKey(adapters.blobs, domain));
  const endpoints = publicEndpoints(config);
  io.out(`; DNS records for ${domain}, served by ${endpoints.host} (${config.runtime === 'aws' ? 'AWS: the load balancer ports' : 'local ports'})`);
  for (const line of formatDnsRecords(domainDnsRecords({ domain, endpoints, config, dkim }))) io.out(line);
  return 0;
}

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** `--storage N[K|M|G]` / `--messages N` (`none`: no limit); null when neither is given. */
function quotaOptions(args: string[]): Partial<QuotaLimits> | null {
  const out: Partial<QuotaLimits> = {};
  for (let i = 0; i < args.length; i += 2) {
    const [opt, value] = [args[i], args[i + 1]];
    if (opt !== '--storage' && opt !== '--messages') throw new UsageError(`unexpected argument ${opt}`, 'user');
    if (value === undefined) throw new UsageError(`${opt} needs a number or none`, 'user');
    const key = opt === '--storage' ? 'storage' : 'messages';
    if (value.toLowerCase() === 'none') {
      out[key] = null;
      continue;
    }
    const m = (key === 'storage' ? /^(\d+)([KMG]?)$/i : /^(\d+)()$/).exec(value);
    const n = m ? Number(m[1]) * SIZE_UNITS[m[2].toUpperCase()] : NaN;
    if (!Number.isSafeInteger(n))
      throw new UsageError(`${opt} takes a whole number${key === 'storage' ? ' (K, M, G allowed)' : ''} or none, not ${value}`, 'user');
    out[key] = n;
  }
  return Object.keys(out).length > 0 ? out : null;
}
