/**
 * Where an import resumes: per source folder, its UIDVALIDITY and the last UID copied.
 *
 * Kept as a small JSON object in the blob store, under `import-state/<user>/<source hash>.json`
 * (an S3 object on AWS, a file under the data directory locally; like the DKIM keys,
 * core/dkim/keys.ts): the stores the product already has, so the same import resumes from a
 * one-off ECS task as from a laptop. A put replaces the object whole (atomic rename locally,
 * S3 PutObject), so a run killed mid-write leaves the previous state.
 *
 * The state is only where to start: what makes a rerun never duplicate is the delivery key of
 * every message appended (`import:<source hash>:<UIDVALIDITY>:<folder>:<UID>`, invariant 2),
 * committed in the same index transaction as the message. A run killed after a commit and
 * before the state was saved finds those messages again and the index answers "duplicate".
 */
import { createHash } from 'node:crypto';
import { BlobNotFoundError, type BlobStore } from '../ports/blob-store.ts';

export const IMPORT_STATE_PREFIX = 'import-state/';

export interface FolderState {
  uidValidity: number;
  /** The highest UID whose message is in our store (or was reported as not copyable). */
  lastUid: number;
  /** Our mailbox it went to. */
  target: string;
}

export interface ImportState {
  version: 1;
  /** `imap://user@host:port`, `pop3://…`: what was imported (no password). */
  source: string;
  user: string;
  folders: Record<string, FolderState>;
  /** POP3 (RFC 1939 §7 UIDL): the unique ids already copied. */
  uidls?: string[];
  updatedAt: string;
}

/** A short, stable name for the source: part of the state's key and of every delivery key. */
export function sourceHash(source: string): string {
  return createHash('sha256').update(source).digest('hex').slice(0, 24);
}

export function importStateKey(user: string, source: string): string {
  return `${IMPORT_STATE_PREFIX}${encodeURIComponent(user)}/${sourceHash(source)}.json`;
}

export async function loadImportState(blobs: BlobStore, user: string, source: string): Promise<ImportState> {
  try {
    const state = JSON.parse((await blobs.get(importStateKey(user, source))).toString('utf8')) as ImportState;
    if (state && state.version === 1 && typeof state.folders === 'object') return state;
    throw new Error(`import state ${importStateKey(user, source)} is not an import state (version ${String(state?.version)})`);
  } catch (err) {
    if (err instanceof BlobNotFoundError) return { version: 1, source, user, folders: {}, updatedAt: new Date(0).toISOString() };
    throw err;
  }
}

/**
 * Saves the state; concurrent saves from one run (several folders at once) are queued so
 * that the last one written holds every folder's latest position.
 */
export class ImportStateWriter {
  private chain: Promise<void> = Promise.resolve();
  private readonly blobs: BlobStore;
  readonly state: ImportState;

  constructor(blobs: BlobStore, state: ImportState) {
    this.blobs = blobs;
    this.state = state;
  }

  /** Records a folder's position and saves (resolves when durable). */
  setFolder(folder: string, value: FolderState): Promise<void> {
    this.state.folders[folder] = { ...value };
    return this.save();
  }

  save(): Promise<void> {
    const next = this.chain.then(async () => {
      this.state.updatedAt = new Date().toISOString();
      await this.blobs.put(importStateKey(this.state.user, this.state.source), Buffer.from(JSON.stringify(this.state, null, 1)));
    });
    // A failed save fails its caller; the chain goes on for the next one.
    this.chain = next.catch(() => undefined);
    return next;
  }
}
