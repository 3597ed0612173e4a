/** Adapters and change notifications for a Lambda container, made once per cold start from the stack's environment. */
import type { Adapters } from '#core/adapters/adapters.ts';
import { createAwsAdapters } from '#core/adapters/aws/index.ts';
import { awsResourceRefsFromEnv } from '#core/adapters/aws/provision.ts';
import { createAwsChangeFeed } from '#core/adapters/aws/sns-change-feed.ts';
import type { Logger } from '#core/log.ts';
import { createMailboxEvents, type MailboxEvents } from '#core/mailbox/events.ts';

let adapters: Promise<Adapters> | undefined;

export function awsAdapters(): Promise<Adapters> {
  adapters ??= createAwsAdapters({ refs: awsResourceRefsFromEnv(process.env) });
  return adapters;
}

let events: MailboxEvents | undefined;

/**
 * "Mailbox changed" notifications to the listener tasks (PUSH_TOPIC_ARN; publish only: a
 * function never listens). The handler awaits flush() before it returns, since a frozen
 * container sends nothing; a failed publish is logged and never fails a record.
 */
export const INGEST_PUBLISH_DELAY_MS = 1000;

export function awsChangeEvents(logger: Logger): MailboxEvents {
  // The deliveries of a batch (or of a message to several recipients) share a publish, sent
  // when the handler flushes at the end of its batch or after a second of a long batch: a
  // publish per batch instead of one per mailbox (docs/deploy.md, "Push between listener tasks").
  events ??= createMailboxEvents({ feed: createAwsChangeFeed({ log: logger }) ?? undefined, log: logger, publishDelayMs: INGEST_PUBLISH_DELAY_MS });
  return events;
}
