/**
 * `mailctl import …` (core/import/) and `mailctl export …` (core/export/): options, password, progress outputs and the summary.
 * Progress goes to stderr as a live line on a terminal, or as JSON lines on stdout (--json);
 * the summary to stdout. Exit 0 when everything was copied (or was already here), 1 when a
 * folder stopped early or a message could not be copied (each one listed with its reason).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Adapters } from '../adapters/adapters.ts';
import { exportMaildir, exportMbox } from '../export/export.ts';
import { importMaildir, importMbox } from '../import/file-import.ts';
import { importPop3, parsePop3Url } from '../import/pop3-import.ts';
import { createLogger } from '../log.ts';
import { ImportError, importImap, parseImapUrl } from '../import/imap-import.ts';
import { summaryLines, type ImportSummary } from '../import/progress.ts';
import type { MailctlIO } from './mailctl.ts';

/** A mistake in the command line: mailctl shows the `import` usage (exit 2). */
export class ImportUsageError extends Error {}

interface Parsed {
  positional: string[];
  flags: Set<string>;
  values: Map<string, string>;
}

function parseArgs(args: string[], flags: string[], values: string[]): Parsed {
  const out: Parsed = { positional: [], flags: new Set(), values: new Map() };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (flags.includes(a)) out.flags.add(a);
    else if (values.includes(a)) {
      const v = args[++i];
      if (v === undefined) throw new ImportUsageError(`${a} needs a value`);
      out.values.set(a, v);
    } else if (a.startsWith('--')) throw new ImportUsageError(`unknown option ${a}`);
    else out.positional.push(a);
  }
  return out;
}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ImportUsageError(`${name} must be a positive integer`);
  return n;
}

async function requireUser(adapters: Adapters, address: string): Promise<string> {
  const user = address.toLowerCase();
  if (!(await adapters.index.getUser(user))) throw new ImportError(`no such user: ${user} (add it first: mailctl user add ${user})`);
  return user;
}

function report(io: MailctlIO, json: boolean, summary: ImportSummary): number {
  if (!json) for (const line of summaryLines(summary)) io.out(line);
  return summary.notCopied.length > 0 || summary.folders.some((f) => f.error) ? 1 : 0;
}

/** `import imap <address> <imap-url> [--insecure] [--json] [--connections N]`. */
export async function importImapCommand(adapters: Adapters, io: MailctlIO, args: string[]): Promise<number> {
  const p = parseArgs(args, ['--insecure', '--json'], ['--connections']);
  if (p.positional.length !== 2) throw new ImportUsageError('import imap needs <address> and <imap-url>');
  const user = await requireUser(adapters, p.positional[0]);
  const source = parseImapUrl(p.positional[1]);
  const password = io.env?.IMPORT_PASSWORD ?? (await io.readPassword(`Password for ${source.user} at ${source.host}: `));
  const json = p.flags.has('--json');
  const summary = await importImap(adapters, user, {
    source,
    password,
    insecure: p.flags.has('--insecure'),
    connections: positiveInt(p.values.get('--connections'), '--connections', 4),
    progress: { json: json ? io.out : undefined, live: json ? undefined : io.status },
    log: createLogger({ command: 'import imap' }, 'warn', (line) => io.err(line)),
  });
  return report(io, json, summary);
}

/** `import mbox <address> <file> [--mailbox NAME] [--format mboxrd|mboxo] [--json]`. */
export async function importMboxCommand(adapters: Adapters, io: MailctlIO, args: string[]): Promise<number> {
  const p = parseArgs(args, ['--json'], ['--mailbox', '--format']);
  if (p.positional.length !== 2) throw new ImportUsageError('import mbox needs <address> and <file>');
  const format = p.values.get('--format') ?? 'mboxrd';
  if (format !== 'mboxrd' && format !== 'mboxo') throw new ImportUsageError('--format must be mboxrd or mboxo');
  const user = await requireUser(adapters, p.positional[0]);
  if (!existsSync(p.positional[1])) throw new ImportError(`no such file: ${p.positional[1]}`);
  const json = p.flags.has('--json');
  const summary = await importMbox(adapters, user, p.positional[1], {
    mailbox: p.values.get('--mailbox'),
    format,
    progress: { json: json ? io.out : undefined, live: json ? undefined : io.status },
  });
  return report(io, json, summary);
}

/** `import maildir <address> <dir> [--json]`. */
export async function importMaildirCommand(adapters: Adapters, io: MailctlIO, args: string[]): Promise<number> {
  const p = parseArgs(args, ['--json'], []);
  if (p.positional.length !== 2) throw new ImportUsageError('import maildir needs <address> and <dir>');
  const user = await requireUser(adapters, p.positional[0]);
  if (!existsSync(path.join(p.positional[1], 'cur'))) throw new ImportError(`not a Maildir (no cur/): ${p.positional[1]}`);
  const json = p.flags.has('--json');
  const summary = await importMaildir(adapters, user, p.positional[1], { progress: { json: json ? io.out : undefined, live: json ? undefined : io.status } });
  return report(io, json, summary);
}

/** `export mbox|maildir <address> <path> [--mailbox NAME]`. */
export async function exportCommand(adapters: Adapters, io: MailctlIO, format: 'mbox' | 'maildir', args: string[]): Promise<number> {
  const p = parseArgs(args, [], ['--mailbox']);
  if (p.positional.length !== 2) throw new ImportUsageError(`export ${format} needs <address> and <path>`);
  const user = await requireUser(adapters, p.positional[0]);
  const mailbox = p.values.get('--mailbox');
  if (mailbox !== undefined && !(await adapters.index.getMailbox(user, mailbox))) throw new ImportError(`no mailbox ${mailbox} for ${user}`);
  const result =
    format === 'mbox' ? await exportMbox(adapters, user, p.positional[1], { mailbox }) : await exportMaildir(adapters, user, p.positional[1], { mailbox });
  for (const m of result.mailboxes) io.out([m.name, m.messages, m.bytes, m.path].join('\t'));
  for (const w of result.warnings) io.err(`mailctl: ${w}`);
  const n = result.mailboxes.reduce((s, m) => s + m.messages, 0);
  io.out(`exported ${n} messages of ${user} in ${result.mailboxes.length} mailboxes to ${p.positional[1]} (${format})`);
  return result.warnings.length > 0 ? 1 : 0;
}

/** `import pop3 <address> <pop3-url> [--insecure] [--json]`. */
export async function importPop3Command(adapters: Adapters, io: MailctlIO, args: string[]): Promise<number> {
  const p = parseArgs(args, ['--insecure', '--json'], []);
  if (p.positional.length !== 2) throw new ImportUsageError('import pop3 needs <address> and <pop3-url>');
  const user = await requireUser(adapters, p.positional[0]);
  const source = parsePop3Url(p.positional[1]);
  const password = io.env?.IMPORT_PASSWORD ?? (await io.readPassword(`Password for ${source.user} at ${source.host}: `));
  const json = p.flags.has('--json');
  const summary = await importPop3(adapters, user, {
    source,
    password,
    insecure: p.flags.has('--insecure'),
    progress: { json: json ? io.out : undefined, live: json ? undefined : io.status },
  });
  return report(io, json, summary);
}
