/**
 * `mailctl import pop3 <address> <pop3-url>`: the messages of a POP3 maildrop into INBOX.
 * POP3 knows no folders, flags or arrival dates: each message arrives unflagged, with the
 * INTERNALDATE of its newest `Received:` header (when the source server took it in), else of
 * its `Date:`, else now. Nothing is deleted at the source.
 *
 * Resume (RFC 1939 §7): the unique ids (UIDL) already copied are kept in the import state
 * (core/import/state.ts, saved every 50 messages and at the end); a rerun retrieves only the others. Each
 * message is appended with the delivery key `import:<source>:uidl:<id>`, so a run killed
 * between a commit and the save finds that message already here, never twice. A server
 * without UIDL is refused: without it, no run could tell new messages from old ones.
 */
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { MailboxWrites, type MailStores } from '../mailbox/writes.ts';
import { ImportError } from './imap-import.ts';
import { Pop3Client, Pop3Error } from './pop3-client.ts';
import { ImportProgress, type ImportSummary, type ProgressOutputs } from './progress.ts';
import { ImportStateWriter, loadImportState, sourceHash } from './state.ts';

export interface Pop3Source {
  id: string;
  host: string;
  port: number;
  secure: boolean;
  user: string;
}

/** `pop3s://user@host[:995]` or `pop3://user@host[:110]` (STLS required). */
export function parsePop3Url(url: string): Pop3Source {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ImportError(`not a POP3 URL: ${JSON.stringify(url)} (pop3s://user@host:995 or pop3://user@host:110)`);
  }
  if (u.protocol !== 'pop3s:' && u.protocol !== 'pop3:') throw new ImportError(`not a POP3 URL: ${url} (the scheme must be pop3s:// or pop3://)`);
  const user = decodeURIComponent(u.username);
  if (!user) throw new ImportError(`the POP3 URL names no user: ${url} (pop3s://user@host)`);
  if (u.password) throw new ImportError('the POP3 URL must not hold the password: give it on stdin or in IMPORT_PASSWORD');
  const secure = u.protocol === 'pop3s:';
  return {
    id: `${u.protocol}//${encodeURIComponent(user)}@${u.host}`,
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : secure ? 995 : 110,
    secure,
    user,
  };
}

/** The date of the newest (first) Received: header, else of Date:, else null. */
export function arrivalDate(raw: Buffer): number | null {
  const end = raw.indexOf('\r\n\r\n');
  const header = raw.toString('latin1', 0, end < 0 ? Math.min(raw.length, 65536) : end).replace(/\r?\n[ \t]+/g, ' ');
  const received = /^Received:[^\n]*;\s*([^\r\n]+)/im.exec(header);
  const date = /^Date:\s*([^\r\n]+)/im.exec(header);
  for (const v of [received?.[1], date?.[1]]) {
    if (!v) continue;
    const t = Date.parse(v.replace(/\([^)]*\)/g, '').trim());
    if (Number.isFinite(t)) return t;
  }
  return null;
}

export interface Pop3ImportOptions {
  source: Pop3Source;
  password: string;
  insecure?: boolean;
  progress?: ProgressOutputs;
  log?: Logger;
}

export async function importPop3(stores: MailStores, user: string, options: Pop3ImportOptions): Promise<ImportSummary> {
  const { source } = options;
  const progress = new ImportProgress(source.id, user, options.progress);
  const writes = new MailboxWrites(stores, { log: options.log ?? silentLogger });
  const state = new ImportStateWriter(stores.blobs, await loadImportState(stores.blobs, user, source.id));
  const done = new Set(state.state.uidls ?? []);
  const hash = sourceHash(source.id);
  const client = new Pop3Client({ host: source.host, port: source.port, secure: source.secure, insecure: options.insecure });
  const folder = 'POP3';
  try {
    await client.connect();
    try {
      await client.login(source.user, options.password);
    } catch (err) {
      if (err instanceof Pop3Error && err.response) throw new ImportError(`the source refused the login of ${source.user}: ${err.response}`);
      throw err;
    }
    let uidl: Map<number, string>;
    try {
      uidl = await client.uidl();
    } catch (err) {
      if (err instanceof Pop3Error && err.response)
        throw new ImportError(`the POP3 server does not give unique ids (UIDL: ${err.response}); an import could not resume without them`);
      throw err;
    }
    const sizes = await client.list();
    const todo = [...uidl].filter(([, id]) => !done.has(id)).sort((a, b) => a[0] - b[0]);
    progress.planFolder(
      folder,
      'INBOX',
      todo.length,
      todo.reduce((n, [num]) => n + (sizes.get(num) ?? 0), 0),
    );
    progress.planned();
    progress.folderStarted(folder);
    try {
      for (const [num, id] of todo) {
        let raw: Buffer;
        try {
          raw = await client.retr(num);
        } catch (err) {
          if (err instanceof Pop3Error && err.response) {
            progress.failed(folder, id, `RETR ${num}: ${err.response}`, sizes.get(num) ?? 0);
            continue;
          }
          throw err;
        }
        const r = await writes.append(user, 'INBOX', raw, { internalDate: arrivalDate(raw) ?? Date.now(), deliveryKey: `import:${hash}:uidl:${id}` });
        if (r.duplicate) progress.present(folder, raw.length);
        else progress.copied(folder, raw.length);
        done.add(id);
        // Saved every 50 messages (the delivery keys cover what a kill loses in between).
        if (done.size % 50 === 0) {
          state.state.uidls = [...done];
          await state.save();
        }
      }
      progress.folderDone(folder);
    } catch (err) {
      progress.folderDone(folder, (err as Error).message);
    } finally {
      state.state.uidls = [...done];
      await state.save();
    }
  } finally {
    await client.quit();
  }
  return progress.summary();
}
