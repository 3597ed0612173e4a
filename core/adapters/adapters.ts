/** A complete set of port implementations: `aws` or `local` (docs/architecture.md, "Ports and adapters"). */
import type { BlobStore } from '../ports/blob-store.ts';
import type { ContactStore } from '../ports/contacts.ts';
import type { MailIndex } from '../ports/mail-index.ts';
import type { SecretStore } from '../ports/secrets.ts';
import type { WorkQueue } from '../ports/work-queue.ts';

export interface Adapters {
  kind: 'aws' | 'local';
  blobs: BlobStore;
  index: MailIndex;
  queue: WorkQueue;
  secrets: SecretStore;
  /** Address books and vCards (CardDAV, mailctl contacts). */
  contacts: ContactStore;
  close(): Promise<void>;
}
