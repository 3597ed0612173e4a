/**
 * `mailctl import …` (core/import/): options, password, progress outputs and the summary.
 * Progress goes to stderr as a live line on a terminal, or as JSON lines on stdout (--json);
 * the summary to stdout. Exit 0 when everything was copied (or was already here), 1 when a
 * folder stopped early or a message could not be copied (each one listed with its reason).
 */
import type { Adapters } from '../adapters/adapters.ts';
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
