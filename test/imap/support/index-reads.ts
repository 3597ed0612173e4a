/**
 * Adapters whose index counts how a session learns of changes: full mailbox listings
 * (listMessages without a UID range) and change-log reads (changesSince).
 */
import type { Adapters } from '#core/adapters/adapters.ts';
import type { ListOptions, MailIndex } from '#core/ports/mail-index.ts';
import { override } from '../../support/mail-system.ts';

export interface IndexReads {
  fullLists: number;
  changesSince: number;
}

/** `ad` with an index that adds to `calls` on every full listing and change-log read. */
export function countingIndexReads(ad: Adapters, calls: IndexReads): Adapters {
  const index = override<MailIndex>(ad.index, {
    listMessages: (user: string, mailboxId: string, options?: ListOptions) => {
      if (options?.uidFrom === undefined && options?.uidTo === undefined) calls.fullLists++;
      return ad.index.listMessages(user, mailboxId, options);
    },
    changesSince: (...args: Parameters<MailIndex['changesSince']>) => {
      calls.changesSince++;
      return ad.index.changesSince(...args);
    },
  });
  return override(ad, { index });
}
