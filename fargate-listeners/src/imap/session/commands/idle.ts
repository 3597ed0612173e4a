/**
 * IDLE (RFC 2177, RFC 9051 §6.3.13) and how changes reach idle sessions.
 *
 * Mechanism. A session in IDLE registers with the listener's MailboxWatcher for its selected
 * mailbox. Three sources wake it:
 *  1. Change notifications (core/mailbox/events.ts): every writer calls
 *     events.notify(user, mailboxId) after committing. Writers in this process (other IMAP
 *     sessions, POP3, the local ingest worker) reach the watcher at once; writers in other
 *     processes reach it through the change feed (core/ports/change-feed.ts): on AWS the
 *     ingest Lambda and the other listener tasks publish to an SNS topic that fans out to one
 *     SQS queue per task, long-polled (docs/deploy.md, "Push between listener tasks"). The
 *     watcher subscribes once per watched mailbox and wakes its idle sessions (latency: the
 *     feed's, then one index read).
 *  2. "The store changed" without a mailbox (subscribeAny): the local feed watches the SQLite
 *     file itself (core/adapters/local/sqlite-change-feed.ts) and cannot say which mailbox; the
 *     watcher then reads MailIndex.mailboxState — uidNext, highestModseq, messageCount — of
 *     each watched mailbox and wakes those that moved.
 *  3. The same check on a slow timer, once per `idlePollMs` (IDLE_POLL_SECONDS, default
 *     60 s): the safety net for a notification that was lost (a publish that failed, a task
 *     that was starting its queue). A woken session refreshes its view (selected-mailbox.ts)
 *     (what changed since its last modseq, from the change log) and sends
 *     EXISTS / EXPUNGE / FETCH FLAGS, with the ADDTO / REMOVEFROM of its live update contexts
 *     (RFC 5267 §4.3.2, contexts.ts).
 *
 * Cost as idle clients grow. The check is per distinct *mailbox*, not per session: N devices
 * idling on the same INBOX cost one read per interval in total. With M distinct idle
 * mailboxes per listener process the safety net costs M reads a minute (DynamoDB: one
 * GetItem of the mailbox item each, 60 an hour per mailbox); notifications cost one read per
 * change per watched mailbox. Checks run at most 16 at a time; a mailbox whose check has not
 * returned is not read twice at once, but is checked again when it returns if another check
 * was asked for meanwhile (so a change that landed during a read is never left to the slow
 * timer). Memory per idle session is the view (UIDs and flags of the selected mailbox) plus a
 * closure in the watcher.
 */
import type { MailIndex, MailboxState } from '#core/ports/mail-index.ts';
import type { Logger } from '#core/log.ts';
import type { MailboxEvents } from '#core/mailbox/events.ts';
import { bad, ok, type Tagged } from '../errors.ts';
import { flushWithContexts } from '../contexts.ts';
import type { ImapSession } from '../session.ts';

interface Watched {
  user: string;
  mailboxId: string;
  listeners: Set<() => void>;
  last: string | null;
  /** A mailboxState read is under way. */
  checking: boolean;
  /** Another check was asked for while one was under way: run it when that one returns. */
  again: boolean;
  /** The wait before the retry check after a session's failed refresh (doubles to the poll interval). */
  retryMs: number;
  retry: NodeJS.Timeout | null;
  unsubscribe: () => void;
}

const FIRST_RETRY_MS = 1000;

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
  private readonly unsubscribeAny: () => void;

  constructor(index: MailIndex, events: MailboxEvents, intervalMs: number, log: Logger) {
    this.index = index;
    this.events = events;
    this.intervalMs = intervalMs;
    this.log = log;
    this.unsubscribeAny = events.subscribeAny(() => void this.checkAll());
  }

  get size(): number {
    return this.watched.size;
  }

  /** Calls onChange (without awaiting it) whenever the mailbox may have changed. */
  watch(user: string, mailboxId: string, onChange: () => void): () => void {
    const key = `${user}\0${mailboxId}`;
    let w = this.watched.get(key);
    if (!w) {
      const entry: Watched = {
        user,
        mailboxId,
        listeners: new Set(),
        last: null,
        checking: false,
        again: false,
        retryMs: FIRST_RETRY_MS,
        retry: null,
        unsubscribe: () => {},
      };
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
        if (entry.retry) clearTimeout(entry.retry);
        this.watched.delete(key);
        if (this.watched.size === 0) this.stopTimer();
      }
    };
  }

  /**
   * A woken session could not bring its view up to date (a transient index error): the state
   * the watcher last saw is forgotten, so the mailbox fires again at a retry check (after 1 s,
   * doubling to the poll interval) or the next poll, not only at the next change.
   */
  refreshFailed(user: string, mailboxId: string): void {
    const w = this.watched.get(`${user}\0${mailboxId}`);
    if (!w) return;
    w.last = null;
    if (w.retry) return;
    const wait = Math.min(w.retryMs, this.intervalMs);
    w.retryMs = Math.min(w.retryMs * 2, this.intervalMs);
    w.retry = setTimeout(() => {
      w.retry = null;
      if (this.watched.get(`${user}\0${mailboxId}`) !== w) return;
      if (w.checking) w.again = true;
      else void this.check(w);
    }, wait);
    w.retry.unref();
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
    this.timer = setInterval(() => void this.checkAll(), this.intervalMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  stop(): void {
    this.stopTimer();
    this.unsubscribeAny();
    for (const w of this.watched.values()) {
      w.unsubscribe();
      if (w.retry) clearTimeout(w.retry);
    }
    this.watched.clear();
  }

  /** Reads the state of every watched mailbox and wakes those that moved (the timer, and "the store changed"). */
  private async checkAll(): Promise<void> {
    const entries: Watched[] = [];
    for (const w of this.watched.values()) {
      if (w.checking) w.again = true;
      else entries.push(w);
    }
    let i = 0;
    const worker = async () => {
      while (i < entries.length) await this.check(entries[i++]);
    };
    await Promise.all(Array.from({ length: Math.min(POLL_CONCURRENCY, entries.length) }, worker));
  }

  private async check(w: Watched): Promise<void> {
    w.checking = true;
    try {
      do {
        w.again = false;
        try {
          const key = stateKey(await this.index.mailboxState(w.user, w.mailboxId));
          // The first check of a new watch also fires: a change may have landed between the
          // session's last look and this check (sessions ignore a wake-up with nothing new).
          if (key !== w.last) this.fire(w);
          w.last = key;
        } catch (err) {
          this.log.warn('idle poll failed', { err: err as Error });
        }
      } while (w.again && this.watched.get(`${w.user}\0${w.mailboxId}`) === w);
    } finally {
      w.checking = false;
    }
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
        const lines = await flushWithContexts(s, sel, true);
        if (lines.length > 0) {
          s.pushLines(lines);
          await s.out.flush();
        }
      } catch (err) {
        s.log.warn('idle refresh failed; trying again', { err: err as Error });
        s.ctx.watcher.refreshFailed(s.user!, sel.id);
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
