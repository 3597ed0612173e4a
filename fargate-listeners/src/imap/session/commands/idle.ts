/**
 * IDLE (RFC 2177, RFC 9051 §6.3.13) and how changes reach idle sessions.
 *
 * Mechanism. A session in IDLE registers with the listener's MailboxWatcher for its selected
 * mailbox. Two sources wake it:
 *  1. In-process events (core/mailbox/events.ts): every writer in this process — other IMAP
 *     sessions, POP3, the local ingest worker — calls events.notify(user, mailboxId) after
 *     committing. The watcher subscribes once per watched mailbox, and wakes that mailbox's
 *     idle sessions at once (latency: one index read).
 *  2. Polling, for writers in other processes or containers (the ingest Lambda on AWS, a
 *     second Fargate task): once per `idlePollMs` (default 1 s) the watcher reads
 *     MailIndex.mailboxState — uidNext, highestModseq, messageCount — of each watched
 *     mailbox, and wakes its sessions when it moved. A woken session refreshes its view
 *     (selected-mailbox.ts: what changed since its last modseq, from the change log) and sends
 *     EXISTS / EXPUNGE / FETCH FLAGS. Changes are therefore seen within about 1–2 s.
 *
 * Cost as idle clients grow. Polling is per distinct *mailbox*, not per session: N devices
 * idling on the same INBOX cost one read per second in total. With M distinct idle
 * mailboxes per listener process the cost is M small reads per second: in SQLite (local) a
 * primary-key lookup, negligible; in DynamoDB one eventually-consistent GetItem of the
 * mailbox item (0.5 RCU) each — 1,000 idle mailboxes ≈ 1,000 reads/s ≈ 2.6 billion reads a
 * month, about $650/month on-demand, or ~500 provisioned RCU. Raising idlePollMs divides that
 * linearly (up to ~2 s keeps new mail prompt). Beyond that scale the next step is push: DynamoDB Streams
 * (or the ingest Lambda) publishing "mailbox changed" to the listener tasks, making polling a
 * slow safety net. Polls run at most 16 at a time, and a mailbox whose previous poll has not
 * returned is skipped, so a slow index never piles up requests. Memory per idle session is the
 * view (UIDs and flags of the selected mailbox) plus a closure in the watcher.
 */
import type { MailIndex, MailboxState } from '#core/ports/mail-index.ts';
import type { Logger } from '#core/log.ts';
import type { MailboxEvents } from '#core/mailbox/events.ts';
import { bad, ok, type Tagged } from '../errors.ts';
import type { ImapSession } from '../session.ts';

interface Watched {
  user: string;
  mailboxId: string;
  listeners: Set<() => void>;
  last: string | null;
  polling: boolean;
  unsubscribe: () => void;
}

const POLL_CONCURRENCY = 16;

function stateKey(s: MailboxState | null): string {
  return s ? `${s.uidValidity}/${s.uidNext}/${s.highestModseq}/${s.messageCount}` : 'gone';
}

export class MailboxWatcher {
  private readonly index: MailIndex;
  private readonly events: MailboxEvents;
  private readonly intervalMs: number;
  private readonly log: Logger;
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | null = null;

  constructor(index: MailIndex, events: MailboxEvents, intervalMs: number, log: Logger) {
    this.index = index;
    this.events = events;
    this.intervalMs = intervalMs;
    this.log = log;
  }

  get size(): number {
    return this.watched.size;
  }

  /** Calls onChange (without awaiting it) whenever the mailbox may have changed. */
  watch(user: string, mailboxId: string, onChange: () => void): () => void {
    const key = `${user}\0${mailboxId}`;
    let w = this.watched.get(key);
    if (!w) {
      const entry: Watched = { user, mailboxId, listeners: new Set(), last: null, polling: false, unsubscribe: () => {} };
      entry.unsubscribe = this.events.subscribe(user, (id) => {
        if (id === mailboxId) this.fire(entry);
      });
      this.watched.set(key, entry);
      w = entry;
      this.ensureTimer();
    }
    const entry = w;
    entry.listeners.add(onChange);
    return () => {
      entry.listeners.delete(onChange);
      if (entry.listeners.size === 0) {
        entry.unsubscribe();
        this.watched.delete(key);
        if (this.watched.size === 0) this.stopTimer();
      }
    };
  }

  private fire(w: Watched): void {
    for (const l of [...w.listeners]) {
      try {
        l();
      } catch (err) {
        this.log.error('idle listener failed', { err: err as Error });
      }
    }
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.pollAll(), this.intervalMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  stop(): void {
    this.stopTimer();
    for (const w of this.watched.values()) w.unsubscribe();
    this.watched.clear();
  }

  private async pollAll(): Promise<void> {
    const entries = [...this.watched.values()].filter((w) => !w.polling);
    let i = 0;
    const worker = async () => {
      while (i < entries.length) {
        const w = entries[i++];
        w.polling = true;
        try {
          const key = stateKey(await this.index.mailboxState(w.user, w.mailboxId));
          // The first poll of a new watch also fires: a change may have landed between the
          // session's last look and this poll (sessions ignore a wake-up with nothing new).
          if (key !== w.last) this.fire(w);
          w.last = key;
        } catch (err) {
          this.log.warn('idle poll failed', { err: err as Error });
        } finally {
          w.polling = false;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(POLL_CONCURRENCY, entries.length) }, worker));
  }
}

export async function idle(s: ImapSession): Promise<Tagged> {
  const sel = s.selected;
  let chain: Promise<void> = Promise.resolve();
  let stopWatching = () => {};
  const update = () => {
    chain = chain.then(async () => {
      if (!sel || s.selected !== sel || s.isEnded) return;
      try {
        if (!(await sel.refresh(s.deps.adapters.index, s.ctx.recent))) {
          s.bye('Selected mailbox was deleted, have to disconnect');
          return;
        }
        // IDLE is not a FETCH/STORE/SEARCH: every kind of update may be sent (RFC 2177).
        const lines = sel.flushUpdates(true, s.rev2, s);
        if (lines.length > 0) {
          s.pushLines(lines);
          await s.out.flush();
        }
      } catch (err) {
        s.log.warn('idle refresh failed', { err: err as Error });
      }
    });
  };
  if (sel) {
    stopWatching = s.ctx.watcher.watch(s.user!, sel.id, update);
  }
  await s.continuation('idling');
  // Changes that happened between the command's arrival and now.
  if (sel) update();
  s.waitingForInput = true;
  const line = await s.readLine();
  s.waitingForInput = false;
  stopWatching();
  await chain;
  if (line === null) return { status: 'OK', code: null, text: 'IDLE ended', silent: true };
  if (line.toString('latin1').trim().toUpperCase() !== 'DONE') throw bad('Expected DONE');
  return ok('IDLE terminated');
}
