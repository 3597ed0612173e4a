/**
 * Progress of an import a person can follow, and the summary at its end.
 *
 * Two outputs, either or both: a live line (rewritten in place on a terminal: messages, MiB,
 * rate, ETA overall and per running folder), and JSON lines (`--json`, for scripts and for
 * CloudWatch when the import runs as an ECS task or Lambda):
 *
 *   {"event":"plan","folders":[{"folder":"INBOX","target":"INBOX","messages":120,"bytes":345678}, …],"messages":…,"bytes":…}
 *   {"event":"progress","messages":40,"ofMessages":500,"bytes":…,"ofBytes":…,"messagesPerSecond":…,"bytesPerSecond":…,"etaSeconds":…,"folders":[{"folder":"INBOX","messages":40,"ofMessages":120}]}
 *   {"event":"not-copied","folder":"INBOX","uid":17,"reason":"…"}
 *   {"event":"retry","what":"fetch INBOX","attempt":1,"delayMs":1042,"reason":"[LIMIT] …"}   (throttled or connection lost)
 *   {"event":"fewer-connections","reason":"[LIMIT] …"}   (the source allows fewer connections than asked)
 *   {"event":"folder-done","folder":"INBOX","target":"INBOX","copied":119,"present":0,"notCopied":1,"bytes":…,"error":null}
 *   {"event":"summary", …ImportSummary}
 *
 * Progress lines come at most once per `intervalMs` (and when a folder ends).
 */

export interface NotCopied {
  folder: string;
  /** Source UID (IMAP) or message number/UIDL (POP3), as a string for both. */
  id: string;
  reason: string;
}

export interface FolderSummary {
  folder: string;
  target: string;
  /** Appended now. */
  copied: number;
  /** Already in our store (an earlier run, or the same Message-ID/size/date: de-duplication). */
  present: number;
  notCopied: number;
  bytes: number;
  /** Why the folder stopped before its end, if it did (the next run goes on from there). */
  error: string | null;
}

export interface ImportSummary {
  source: string;
  user: string;
  folders: FolderSummary[];
  skippedFolders: Array<{ folder: string; reason: string }>;
  copied: number;
  present: number;
  notCopied: NotCopied[];
  bytes: number;
  seconds: number;
  messagesPerSecond: number;
  bytesPerSecond: number;
  /** Peak resident set of this process (process.resourceUsage().maxRSS), bytes. */
  peakRssBytes: number;
  /** Retries after throttling or lost connections, and connections the source refused. */
  retries: number;
}

export interface ProgressOutputs {
  /** One JSON object per line (`--json`). */
  json?: (line: string) => void;
  /** The live line, to be shown in place of the previous one (a terminal). */
  live?: (line: string) => void;
  intervalMs?: number;
  now?: () => number;
}

interface FolderProgress extends FolderSummary {
  ofMessages: number;
  ofBytes: number;
  running: boolean;
}

const MiB = 1024 * 1024;

export class ImportProgress {
  private readonly out: ProgressOutputs;
  private readonly now: () => number;
  private readonly started: number;
  private readonly folders = new Map<string, FolderProgress>();
  private readonly skipped: Array<{ folder: string; reason: string }> = [];
  private readonly notCopied: NotCopied[] = [];
  private readonly notices: Array<Record<string, unknown>> = [];
  private lastEmit = 0;
  private readonly source: string;
  private readonly user: string;

  constructor(source: string, user: string, out: ProgressOutputs = {}) {
    this.source = source;
    this.user = user;
    this.out = out;
    this.now = out.now ?? Date.now;
    this.started = this.now();
  }

  skipFolder(folder: string, reason: string): void {
    this.skipped.push({ folder, reason });
  }

  /** The work found in a folder (what is left to copy in it). */
  planFolder(folder: string, target: string, messages: number, bytes: number): void {
    this.folders.set(folder, {
      folder,
      target,
      copied: 0,
      present: 0,
      notCopied: 0,
      bytes: 0,
      error: null,
      ofMessages: messages,
      ofBytes: bytes,
      running: false,
    });
  }

  /** All folders planned: says what will be copied. */
  planned(): void {
    const t = this.totals();
    this.json({
      event: 'plan',
      folders: [...this.folders.values()].map((f) => ({ folder: f.folder, target: f.target, messages: f.ofMessages, bytes: f.ofBytes })),
      messages: t.ofMessages,
      bytes: t.ofBytes,
    });
  }

  folderStarted(folder: string): void {
    const f = this.folders.get(folder);
    if (f) f.running = true;
  }

  copied(folder: string, bytes: number): void {
    const f = this.folder(folder);
    f.copied++;
    f.bytes += bytes;
    this.tick();
  }

  present(folder: string, bytes: number): void {
    const f = this.folder(folder);
    f.present++;
    f.bytes += bytes;
    this.tick();
  }

  failed(folder: string, id: string, reason: string, bytes = 0): void {
    const f = this.folder(folder);
    f.notCopied++;
    f.bytes += bytes;
    this.notCopied.push({ folder, id, reason });
    this.json({ event: 'not-copied', folder, uid: id, reason });
    this.tick();
  }

  /** Something the user should know while it runs (a retry after throttling, fewer connections): a JSON line. */
  notice(fields: { event: string } & Record<string, unknown>): void {
    this.notices.push(fields);
    this.json(fields);
  }

  folderDone(folder: string, error: string | null = null): void {
    const f = this.folder(folder);
    f.running = false;
    f.error = error;
    this.json({ event: 'folder-done', folder, target: f.target, copied: f.copied, present: f.present, notCopied: f.notCopied, bytes: f.bytes, error });
    this.tick(true);
  }

  summary(): ImportSummary {
    const seconds = Math.max((this.now() - this.started) / 1000, 0.001);
    const t = this.totals();
    const summary: ImportSummary = {
      source: this.source,
      user: this.user,
      folders: [...this.folders.values()].map(({ folder, target, copied, present, notCopied, bytes, error }) => ({
        folder,
        target,
        copied,
        present,
        notCopied,
        bytes,
        error,
      })),
      skippedFolders: [...this.skipped],
      copied: t.copied,
      present: t.present,
      notCopied: [...this.notCopied],
      bytes: t.bytes,
      seconds,
      messagesPerSecond: t.copied / seconds,
      bytesPerSecond: t.bytes / seconds,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      retries: this.notices.filter((n) => n.event === 'retry').length,
    };
    if (this.out.live) this.out.live('');
    this.json({ event: 'summary', ...summary });
    return summary;
  }

  private folder(name: string): FolderProgress {
    const f = this.folders.get(name);
    if (!f) throw new Error(`import progress: folder ${name} was not planned`);
    return f;
  }

  private totals() {
    let copied = 0;
    let present = 0;
    let notCopied = 0;
    let bytes = 0;
    let ofMessages = 0;
    let ofBytes = 0;
    for (const f of this.folders.values()) {
      copied += f.copied;
      present += f.present;
      notCopied += f.notCopied;
      bytes += f.bytes;
      ofMessages += f.ofMessages;
      ofBytes += f.ofBytes;
    }
    return { copied, present, notCopied, done: copied + present + notCopied, bytes, ofMessages, ofBytes };
  }

  private tick(force = false): void {
    const now = this.now();
    if (!force && now - this.lastEmit < (this.out.intervalMs ?? 1000)) return;
    this.lastEmit = now;
    const t = this.totals();
    const seconds = Math.max((now - this.started) / 1000, 0.001);
    const rate = t.done / seconds;
    const byteRate = t.bytes / seconds;
    // ETA by bytes when there are any (a few big messages dominate), else by count.
    const eta = byteRate > 0 && t.ofBytes > 0 ? Math.max(t.ofBytes - t.bytes, 0) / byteRate : rate > 0 ? Math.max(t.ofMessages - t.done, 0) / rate : null;
    const running = [...this.folders.values()].filter((f) => f.running);
    this.json({
      event: 'progress',
      messages: t.done,
      ofMessages: t.ofMessages,
      bytes: t.bytes,
      ofBytes: t.ofBytes,
      messagesPerSecond: round(rate),
      bytesPerSecond: Math.round(byteRate),
      etaSeconds: eta === null ? null : Math.round(eta),
      folders: running.map((f) => ({ folder: f.folder, messages: f.copied + f.present + f.notCopied, ofMessages: f.ofMessages })),
    });
    if (this.out.live) {
      const pct = t.ofMessages > 0 ? Math.floor((100 * t.done) / t.ofMessages) : 100;
      const width = 20;
      const bar = '#'.repeat(Math.round((pct / 100) * width)).padEnd(width, '.');
      const per = running.map((f) => `${f.folder} ${f.copied + f.present + f.notCopied}/${f.ofMessages}`).join(', ');
      this.out.live(
        `[${bar}] ${pct}% ${t.done}/${t.ofMessages} msgs, ${(t.bytes / MiB).toFixed(1)}/${(t.ofBytes / MiB).toFixed(1)} MiB, ` +
          `${rate.toFixed(0)} msg/s ${(byteRate / MiB).toFixed(1)} MiB/s, ETA ${eta === null ? '?' : clock(eta)}${per ? ` | ${per}` : ''}`,
      );
    }
  }

  private json(value: object): void {
    this.out.json?.(JSON.stringify(value));
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${r}` : `${m}:${r}`;
}

/** The summary as text: a line per folder, then every message not copied and why. */
export function summaryLines(s: ImportSummary): string[] {
  const lines = [['FOLDER', 'TARGET', 'COPIED', 'PRESENT', 'NOT-COPIED', 'MIB', 'ERROR'].join('\t')];
  for (const f of s.folders) lines.push([f.folder, f.target, f.copied, f.present, f.notCopied, (f.bytes / MiB).toFixed(1), f.error ?? ''].join('\t'));
  for (const f of s.skippedFolders) lines.push(`skipped folder ${f.folder}: ${f.reason}`);
  for (const n of s.notCopied) lines.push(`not copied: ${n.folder} ${n.id}: ${n.reason}`);
  lines.push(
    `imported ${s.copied} messages (${(s.bytes / MiB).toFixed(1)} MiB seen) into ${s.user} in ${s.seconds.toFixed(1)} s: ` +
      `${s.present} already present, ${s.notCopied.length} not copied, ${s.folders.filter((f) => f.error).length} folders stopped early, ${s.retries} retries; ` +
      `${s.messagesPerSecond.toFixed(1)} msg/s, ${(s.bytesPerSecond / MiB).toFixed(2)} MiB/s, peak memory ${(s.peakRssBytes / MiB).toFixed(0)} MiB`,
  );
  return lines;
}
