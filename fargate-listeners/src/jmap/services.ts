/** What the JMAP methods use: the index, the shared write path and notifications, the limits. */
import type { BlobStore } from '#core/ports/blob-store.ts';
import type { MailboxEvents } from '#core/mailbox/events.ts';
import type { MailboxWrites } from '#core/mailbox/writes.ts';
import type { MailIndex } from '#core/ports/mail-index.ts';
import type { CoreLimits } from './limits.ts';

export interface JmapServices {
  index: MailIndex;
  blobs: BlobStore;
  writes: MailboxWrites;
  events: MailboxEvents;
  limits: CoreLimits;
}
