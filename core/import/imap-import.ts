/**
 * `mailctl import imap <address> <imap-url>`: copies a whole IMAP account into one of our
 * users — every folder, every message byte for byte with its flags, keywords and INTERNALDATE,
 * and the subscriptions. The source is read with imapflow; every message is written through
 * MailboxWrites.append (blob first, then the index record: the product's own write path).
 *
 * How it goes:
 *  1. LIST (with LSUB: `subscribed`) and a plan per folder (core/import/folder-map.ts).
 *  2. Scan: per folder, SELECT (read-only, EXAMINE) and `UID FETCH <from>:* (UID FLAGS
 *     INTERNALDATE RFC822.SIZE)` from the last UID copied (core/import/state.ts), so the plan
 *     knows every message and byte still to copy (progress and ETA are exact).
 *  3. Copy: up to `connections` folders at once, one connection each; per folder `UID FETCH
 *     <uids> BODY.PEEK[]` in batches of at most `batchMessages` messages and `batchBytes` bytes
 *     (a bigger message goes alone), read one message at a time with imapflow's backpressure —
 *     so a connection holds at most one batch, and a 25 MiB message a few copies (the literal,
 *     our index parse), never the mailbox. After each batch the folder's position is saved.
 *  4. Subscriptions: every subscribed source folder that was copied is subscribed here.
 *
 * Resume and idempotency (RFC 9051 §2.3.1.1: a UID is meaningful only with its UIDVALIDITY):
 *  - the state records per source folder its UIDVALIDITY and the last UID copied; a rerun asks
 *    only for UIDs above it;
 *  - each message is appended with the delivery key `import:<source>:<UIDVALIDITY>:<folder>:<UID>`
 *    (invariant 2), so a run killed between a commit and the save of its position finds the
 *    index answering "duplicate" for what it had copied: never a second copy;
 *  - a folder whose UIDVALIDITY changed (recreated at the source, or a server migrated) is
 *    copied again from UID 1 and every message that is already in the target mailbox with the
 *    same Message-ID, size and INTERNALDATE (to the second) is skipped (core/import/dedup.ts).
 *    Gmail's All Mail is always de-duplicated so, against all our mailboxes.
 *
 * Politeness: at most `connections` connections; `NO [LIMIT]`, `[UNAVAILABLE]`, `[INUSE]` and
 * lost connections are retried with exponential backoff (1 s doubling to 60 s, 8 tries), the
 * batch resumed where it stopped (messages already appended in it are not fetched again).
 */
import { ImapFlow, type FetchMessageObject, type ListResponse } from 'imapflow';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { IndexError, type SpecialUse } from '../ports/mail-index.ts';
import { MailboxWrites, type MailStores } from '../mailbox/writes.ts';
import { DedupIndex, dedupKey } from './dedup.ts';
import { planFolder, type SourceFolder } from './folder-map.ts';
import { ImportProgress, type ImportSummary, type ProgressOutputs } from './progress.ts';
import { ImportStateWriter, loadImportState, sourceHash } from './state.ts';
import { ensureMailbox } from './target.ts';

export interface ImapSource {
  /** `imaps://user@host:993`: what the state and the delivery keys are named by (no password). */
  id: string;
  host: string;
  port: number;
  /** Implicit TLS (imaps, RFC 8314 §3.3); else STARTTLS is required (RFC 9051 §6.2.1). */
  secure: boolean;
  user: string;
}

export class ImportError extends Error {}

/** `imaps://user@host[:port]` (993) or `imap://user@host[:port]` (143, STARTTLS); user may be percent-encoded (`me%40example.com`). */
export function parseImapUrl(url: string): ImapSource {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ImportError(`not an IMAP URL: ${JSON.stringify(url)} (imaps://user@host:993 or imap://user@host:143)`);
  }
  if (u.protocol !== 'imaps:' && u.protocol !== 'imap:') throw new ImportError(`not an IMAP URL: ${url} (the scheme must be imaps:// or imap://)`);
  const user = decodeURIComponent(u.username);
  if (!user) throw new ImportError(`the IMAP URL names no user: ${url} (imaps://user@host)`);
  if (u.password) throw new ImportError('the IMAP URL must not hold the password: give it on stdin or in IMPORT_PASSWORD');
  const secure = u.protocol === 'imaps:';
  const port = u.port ? Number(u.port) : secure ? 993 : 143;
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { id: `${u.protocol}//${encodeURIComponent(user)}@${u.host}`, host, port, secure, user };
}

export interface ImapImportOptions {
  source: ImapSource;
  password: string;
  /** Accept a certificate that does not verify (self-signed); `--insecure`. */
  insecure?: boolean;
  /** Connections (= folders copied at once); default 4. */
  connections?: number;
  batchMessages?: number;
  batchBytes?: number;
  /** Messages above this size are reported as not copied; default 256 MiB. */
  maxMessageBytes?: number;
  progress?: ProgressOutputs;
  log?: Logger;
  /** Backoff base in ms (tests shorten it); default 1000. */
  backoffMs?: number;
}

const DEFAULTS = { connections: 4, batchMessages: 200, batchBytes: 32 * 1024 * 1024, maxMessageBytes: 256 * 1024 * 1024, backoffMs: 1000 };
const MAX_TRIES = 8;

interface SourceMessage {
  uid: number;
  size: number;
  flags: string[];
  internalDate: number;
  messageId: string | null;
}

interface FolderWork {
  folder: SourceFolder;
  target: string;
  specialUse: SpecialUse | null;
  allMail: boolean;
  uidValidity: number;
  messages: SourceMessage[];
  /** De-duplicate against our mailboxes (UIDVALIDITY changed, or All Mail). */
  dedup: boolean;
}

/** Imports the account; resolves with the summary (also when folders stopped early: see `error`). */
export async function importImap(stores: MailStores, user: string, options: ImapImportOptions): Promise<ImportSummary> {
  const o = { ...DEFAULTS, ...options };
  const log = options.log ?? silentLogger;
  const writes = new MailboxWrites(stores, { log });
  const progress = new ImportProgress(o.source.id, user, options.progress);
  const state = new ImportStateWriter(stores.blobs, await loadImportState(stores.blobs, user, o.source.id));
  const hash = sourceHash(o.source.id);
  const pool = Array.from({ length: Math.max(1, o.connections) }, () => new SourceConnection(o, (n) => progress.notice(n)));
  try {
    // 1. Folders.
    const listed = await pool[0].run('LIST', (c) => c.list());
    const folders = listed.map(toSourceFolder);
    const work: FolderWork[] = [];
    const targets = new Map<string, { target: string; specialUse: SpecialUse | null; allMail: boolean }>();
    for (const folder of folders) {
      const plan = planFolder(folder);
      if (plan.kind === 'skip') progress.skipFolder(folder.path, plan.reason);
      else targets.set(folder.path, { target: plan.target, specialUse: plan.specialUse, allMail: plan.allMail });
    }
    // Our mailboxes first (special uses found by attribute, parents created).
    for (const [path, t] of targets) targets.set(path, { ...t, target: await ensureMailbox(stores.index, user, t.target, t.specialUse) });

    // 2. Scan, `connections` folders at a time.
    const scanErrors = new Map<string, string>();
    await eachConcurrently([...targets.keys()], pool, async (conn, path) => {
      const folder = folders.find((f) => f.path === path)!;
      const t = targets.get(path)!;
      try {
        work.push(await scanFolder(conn, folder, t, state.state.folders[path]));
      } catch (err) {
        scanErrors.set(path, describe(err));
      }
    });
    work.sort((a, b) => folders.indexOf(a.folder) - folders.indexOf(b.folder));
    for (const w of work) {
      progress.planFolder(
        w.folder.path,
        w.target,
        w.messages.length,
        w.messages.reduce((n, m) => n + m.size, 0),
      );
      const before = state.state.folders[w.folder.path];
      if (!before || before.uidValidity !== w.uidValidity) await state.setFolder(w.folder.path, { uidValidity: w.uidValidity, lastUid: 0, target: w.target });
    }
    for (const [path, error] of scanErrors) {
      progress.planFolder(path, targets.get(path)!.target, 0, 0);
      progress.folderDone(path, error);
    }
    progress.planned();

    // 3. Copy: the folders, then All Mail (de-duplicated against what they brought).
    const copyFolder = async (conn: SourceConnection, w: FolderWork) => {
      progress.folderStarted(w.folder.path);
      try {
        const dedup = w.dedup ? await DedupIndex.load(stores.index, user, w.allMail ? null : w.target) : null;
        await copyMessages(conn, w, {
          writes,
          user,
          progress,
          state,
          hash,
          dedup,
          batchMessages: o.batchMessages,
          batchBytes: o.batchBytes,
          maxMessageBytes: o.maxMessageBytes,
        });
        progress.folderDone(w.folder.path);
      } catch (err) {
        log.warn('import: folder stopped', { folder: w.folder.path, err: err as Error });
        progress.folderDone(w.folder.path, describe(err));
      }
    };
    await eachConcurrently(
      work.filter((w) => !w.allMail),
      pool,
      copyFolder,
    );
    for (const w of work.filter((x) => x.allMail)) await copyFolder(pool[0], w);

    // 4. Subscriptions (RFC 9051 §6.3.7): of the folders we have copied into.
    for (const folder of folders) {
      const t = targets.get(folder.path);
      if (folder.subscribed && t) await stores.index.setSubscribed(user, t.target, true);
    }
  } finally {
    await Promise.all(pool.map((c) => c.close()));
  }
  return progress.summary();
}

function toSourceFolder(l: ListResponse): SourceFolder {
  const flags = [...l.flags];
  // imapflow also reports a special use it took from RFC 6154 attributes ('extension'); one it
  // guessed from the name is ours to guess (folder-map.ts), not taken here.
  if (l.specialUse && l.specialUseSource === 'extension' && !flags.includes(l.specialUse)) flags.push(l.specialUse);
  return { path: l.path, delimiter: l.delimiter || null, flags, subscribed: l.subscribed };
}

async function scanFolder(
  conn: SourceConnection,
  folder: SourceFolder,
  t: { target: string; specialUse: SpecialUse | null; allMail: boolean },
  before: { uidValidity: number; lastUid: number } | undefined,
): Promise<FolderWork> {
  return conn.run(`scan ${folder.path}`, async (c) => {
    const box = await c.mailboxOpen(folder.path, { readOnly: true });
    const uidValidity = Number(box.uidValidity);
    const resume = before && before.uidValidity === uidValidity;
    const from = resume ? before.lastUid + 1 : 1;
    const dedup = Boolean(before && !resume) || t.allMail;
    const messages: SourceMessage[] = [];
    if (box.exists > 0 && from < box.uidNext) {
      // `n:*` also answers with the highest message when n is above it (RFC 9051 §6.4.8): filtered.
      for await (const m of c.fetch(`${from}:*`, { uid: true, flags: true, internalDate: true, size: true, envelope: dedup }, { uid: true })) {
        if (m.uid >= from) messages.push(sourceMessage(m));
      }
    }
    messages.sort((a, b) => a.uid - b.uid);
    return { folder, target: t.target, specialUse: t.specialUse, allMail: t.allMail, uidValidity, messages, dedup };
  });
}

function sourceMessage(m: FetchMessageObject): SourceMessage {
  const date = m.internalDate instanceof Date ? m.internalDate.getTime() : m.internalDate ? Date.parse(m.internalDate) : NaN;
  return {
    uid: m.uid,
    size: m.size ?? 0,
    // \Recent is the server's session state, never a stored flag (RFC 9051 removed it; RFC 3501 §2.3.2).
    flags: [...(m.flags ?? [])].filter((f) => f.toLowerCase() !== '\\recent'),
    internalDate: Number.isFinite(date) ? date : Date.now(),
    messageId: m.envelope?.messageId ?? null,
  };
}

interface CopyContext {
  writes: MailboxWrites;
  user: string;
  progress: ImportProgress;
  state: ImportStateWriter;
  hash: string;
  dedup: DedupIndex | null;
  batchMessages: number;
  batchBytes: number;
  maxMessageBytes: number;
}

/** Batches of consecutive messages: at most `count` and `bytes` (a bigger message alone). */
export function batches<T extends { size: number }>(items: T[], count: number, bytes: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let curBytes = 0;
  for (const item of items) {
    if (cur.length > 0 && (cur.length >= count || curBytes + item.size > bytes)) {
      out.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push(item);
    curBytes += item.size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

async function copyMessages(conn: SourceConnection, w: FolderWork, ctx: CopyContext): Promise<void> {
  const path = w.folder.path;
  const todo: SourceMessage[] = [];
  for (const m of w.messages) {
    if (m.size > ctx.maxMessageBytes)
      ctx.progress.failed(path, String(m.uid), `larger (${m.size} bytes) than the import limit of ${ctx.maxMessageBytes} bytes`, m.size);
    else if (ctx.dedup?.has(dedupKey(m.messageId, m.size, m.internalDate))) ctx.progress.present(path, m.size);
    else todo.push(m);
  }
  for (const batch of batches(todo, ctx.batchMessages, ctx.batchBytes)) {
    const byUid = new Map(batch.map((m) => [m.uid, m]));
    const done = new Set<number>();
    await conn.run(`fetch ${path}`, async (c) => {
      if (c.mailbox === false || c.mailbox.path !== path) {
        const box = await c.mailboxOpen(path, { readOnly: true });
        if (Number(box.uidValidity) !== w.uidValidity)
          throw new ImportError(`UIDVALIDITY of ${path} changed during the import (${w.uidValidity} → ${box.uidValidity}): run the import again`);
      }
      const uids = batch.filter((m) => !done.has(m.uid)).map((m) => m.uid);
      if (uids.length === 0) return;
      for await (const fetched of c.fetch(uids.join(','), { uid: true, source: true }, { uid: true })) {
        const m = byUid.get(fetched.uid);
        if (!m || done.has(m.uid) || !fetched.source) continue;
        const raw = fetched.source;
        const result = await ctx.writes.append(ctx.user, w.target, raw, {
          flags: m.flags,
          internalDate: m.internalDate,
          deliveryKey: `import:${ctx.hash}:${w.uidValidity}:${path}:${m.uid}`,
        });
        done.add(m.uid);
        if (result.duplicate) ctx.progress.present(path, raw.length);
        else ctx.progress.copied(path, raw.length);
      }
    });
    for (const m of batch) if (!done.has(m.uid)) ctx.progress.failed(path, String(m.uid), 'no longer at the source (expunged during the import)', m.size);
    await ctx.state.setFolder(path, { uidValidity: w.uidValidity, lastUid: batch[batch.length - 1].uid, target: w.target });
  }
}

/**
 * Runs `fn` over the items with one connection each, as many at once as there are connections.
 * A server that allows fewer connections than asked (Dovecot's `NO [LIMIT]` at LOGIN, RFC 5530
 * §3) is met with fewer: an extra connection refused so leaves its work to the connections that
 * are open, and is not tried again in this run. The first connection never gives up this way;
 * it backs off and retries (SourceConnection.run).
 */
async function eachConcurrently<T>(items: T[], pool: SourceConnection[], fn: (conn: SourceConnection, item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    pool.slice(0, Math.max(1, Math.min(pool.length, items.length))).map(async (conn, i) => {
      while (next < items.length) {
        if (i > 0 && !(await conn.tryOpen(pool))) return;
        // Another worker may have taken the last item while this one was connecting.
        if (next >= items.length) return;
        await fn(conn, items[next++]);
      }
    }),
  );
}

function describe(err: unknown): string {
  const e = err as { message?: string; responseText?: string; serverResponseCode?: string };
  if (e?.responseText) return `${e.serverResponseCode ? `[${e.serverResponseCode}] ` : ''}${e.responseText}`;
  return e?.message ?? String(err);
}

/** A throttling answer (RFC 5530 §3: LIMIT, UNAVAILABLE, INUSE) or imapflow's detected throttling. */
function isThrottled(err: unknown): boolean {
  const e = err as { code?: string; serverResponseCode?: string; responseText?: string };
  if (e?.code === 'ETHROTTLE') return true;
  const code = (e?.serverResponseCode ?? '').toUpperCase();
  return code === 'LIMIT' || code === 'UNAVAILABLE' || code === 'INUSE' || /\[(LIMIT|UNAVAILABLE|INUSE)\]/i.test(e?.responseText ?? '');
}

function isConnectionLost(err: unknown, client: ImapFlow | null): boolean {
  const e = err as { code?: string };
  if (client && !client.usable) return true;
  return [
    'NoConnection',
    'EConnectionClosed',
    'ECONNRESET',
    'ECONNREFUSED',
    'ETIMEDOUT',
    'EPIPE',
    'ClosedAfterConnectTLS',
    'ClosedAfterConnectText',
    'CONNECT_TIMEOUT',
    'GREETING_TIMEOUT',
  ].includes(e?.code ?? '');
}

/** What the source made us do: wait and retry, or go on with fewer connections. */
export type SourceNotice = { event: 'retry'; what: string; attempt: number; delayMs: number; reason: string } | { event: 'fewer-connections'; reason: string };

/** One connection to the source, reopened when lost; every command through run() (backoff). */
class SourceConnection {
  private client: ImapFlow | null = null;
  private readonly o: ImapImportOptions & typeof DEFAULTS;
  private readonly notice: (n: SourceNotice) => void;

  constructor(o: ImapImportOptions & typeof DEFAULTS, notice: (n: SourceNotice) => void) {
    this.o = o;
    this.notice = notice;
  }

  async run<T>(what: string, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(await this.open());
      } catch (err) {
        if (err instanceof IndexError || err instanceof ImportError) throw err;
        // Dovecot answers LOGIN with `NO [LIMIT]` when the user has too many connections: throttling, not a wrong password.
        if ((err as { authenticationFailed?: boolean }).authenticationFailed && !isThrottled(err))
          throw new ImportError(`the source refused the login of ${this.o.source.user}: ${describe(err)}`);
        const lost = isConnectionLost(err, this.client);
        if (!(lost || isThrottled(err)) || attempt >= MAX_TRIES) throw err;
        if (lost) await this.close();
        const delay = Math.min(this.o.backoffMs * 2 ** (attempt - 1), 60_000) * (0.75 + Math.random() / 2);
        this.notice({ event: 'retry', what, attempt, delayMs: Math.round(delay), reason: describe(err) });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Whether the server refused this connection for its connection limit (then not tried again). */
  private refused = false;

  /**
   * Opens the connection for an extra worker: false when the server refuses it for its limit
   * while another connection of the pool is open (the worker then leaves its work to that one).
   */
  async tryOpen(pool: SourceConnection[]): Promise<boolean> {
    if (this.refused) return false;
    try {
      await this.open();
      return true;
    } catch (err) {
      if (isThrottled(err) && pool.some((c) => c !== this && c.client?.usable)) {
        this.refused = true;
        this.notice({ event: 'fewer-connections', reason: describe(err) });
        return false;
      }
      // Anything else: run() sees it again and decides (backoff, or the error).
      return true;
    }
  }

  private async open(): Promise<ImapFlow> {
    if (this.client?.usable) return this.client;
    await this.close();
    const s = this.o.source;
    const client = new ImapFlow({
      host: s.host,
      port: s.port,
      secure: s.secure,
      doSTARTTLS: s.secure ? undefined : true,
      servername: /^[\d.:]+$/.test(s.host) ? undefined : s.host,
      auth: { user: s.user, pass: this.o.password },
      tls: { rejectUnauthorized: !this.o.insecure },
      logger: false,
      disableAutoIdle: true,
      clientInfo: { name: 'cloudmail mailctl import' },
      maxLiteralSize: this.o.maxMessageBytes + 1024 * 1024,
    });
    // A dropped connection surfaces on the next command (run() reconnects); not as a crash.
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      client.close();
      throw err;
    }
    this.client = client;
    return client;
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (!c) return;
    try {
      if (c.usable) await c.logout();
      else c.close();
    } catch {
      c.close();
    }
  }
}
