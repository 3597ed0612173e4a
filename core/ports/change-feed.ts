/**
 * Change feed port: "this user's mailbox changed", carried between processes (the ingest
 * Lambda, every listener task, mailctl). In-process delivery is core/mailbox/events.ts, which
 * publishes every change it is told of here and hands what the feed receives to the same
 * subscribers, so IDLE sessions hear a write made anywhere as they hear one made next door.
 *
 * A notification names the mailbox and nothing else (no message content): a woken session
 * re-reads the index, the truth. Delivery is best effort — at most once, possibly late,
 * possibly duplicated — and a lost notification costs only latency: listeners also poll each
 * watched mailbox on a slow timer (IDLE_POLL_SECONDS), the safety net.
 *
 * Adapters: SNS topic → one SQS queue per listener task (core/adapters/aws/sns-change-feed.ts);
 * locally the SQLite store itself (core/adapters/local/sqlite-change-feed.ts), whose feed can
 * only say "something in the store changed" (a null change).
 */

/** Changes one publish carries at most (an SNS message holds 256 KiB; a change is under 200 bytes). */
export const MAX_CHANGES_PER_PUBLISH = 50;

export interface MailboxChange {
  user: string;
  mailboxId: string;
}

/**
 * Called for a change made by another process; `null` when the feed knows only that the store
 * changed, not which mailbox: the receiver re-checks every mailbox it watches.
 */
export type ChangeListener = (change: MailboxChange | null) => void;

export interface ChangeFeed {
  /**
   * Tells the other processes that these mailboxes changed (one request where the adapter can:
   * at most MAX_CHANGES_PER_PUBLISH). Resolves once sent; rejects when it could not be (the
   * caller logs it and moves on: a write never fails for want of a notification). Never waits
   * longer than the adapter's request timeout.
   */
  publish(changes: readonly MailboxChange[]): Promise<void>;
  /**
   * Starts receiving changes made elsewhere and hands each to `listener` (one per feed; a
   * listener process calls this once). Resolves when changes published from now on will be
   * received.
   */
  listen(listener: ChangeListener): Promise<void>;
  /** Stops listening and releases what listen() set up. Idempotent. */
  close(): Promise<void>;
}
