/**
 * The `local` adapter set (docs/architecture.md, "Ports and adapters"): everything under one data directory —
 *   <dataDir>/blobs.sqlite   raw messages up to 128 KiB (SqliteBlobStore, WAL; group commit)
 *   <dataDir>/blobs/         larger ones, and those written before blobs.sqlite existed (FileBlobStore)
 *   <dataDir>/index.sqlite   mail index (SqliteMailIndex, WAL) and contacts (SqliteContactStore)
 *   <dataDir>/queue.sqlite   work queue (SqliteWorkQueue, WAL)
 *   secrets                  files (relative to <dataDir>) or environment variables (FileSecretStore)
 * Several processes (the listeners, the CLI) may open the same directory at once.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Adapters } from '../adapters.ts';
import { SqliteBlobStore } from './sqlite-blob-store.ts';
import { FileSecretStore } from './file-secret-store.ts';
import { SqliteContactStore } from './sqlite-contact-store.ts';
import { PhotoBlobContactStore } from '../../contacts/photo-blobs.ts';
import { SqliteMailIndex } from './sqlite-mail-index.ts';
import { SqliteWorkQueue, type SqliteWorkQueueOptions } from './sqlite-work-queue.ts';

export { FileBlobStore } from './file-blob-store.ts';
export { SqliteBlobStore } from './sqlite-blob-store.ts';
export { FileSecretStore } from './file-secret-store.ts';
export { SqliteMailIndex } from './sqlite-mail-index.ts';
export { SqliteWorkQueue } from './sqlite-work-queue.ts';

export interface LocalAdapterOptions {
  /** Created (with parents) when absent. */
  dataDir: string;
  /** Queue overrides (tests): maxReceiveCount, visibilityTimeoutSeconds, pollIntervalMs. */
  queue?: Omit<SqliteWorkQueueOptions, 'dataDir' | 'file'>;
}

export async function createLocalAdapters(options: LocalAdapterOptions): Promise<Adapters> {
  const dataDir = path.resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const blobs = new SqliteBlobStore(dataDir);
  let index: SqliteMailIndex;
  try {
    index = new SqliteMailIndex({ dataDir });
  } catch (err) {
    blobs.close();
    throw err;
  }
  let queue: SqliteWorkQueue;
  let contacts: PhotoBlobContactStore;
  try {
    queue = new SqliteWorkQueue({ ...options.queue, dataDir });
  } catch (err) {
    await index.close();
    blobs.close();
    throw err;
  }
  try {
    contacts = new PhotoBlobContactStore(new SqliteContactStore({ dataDir }), blobs);
  } catch (err) {
    await queue.close();
    await index.close();
    blobs.close();
    throw err;
  }
  let closed = false;
  return {
    kind: 'local',
    blobs,
    index,
    queue,
    secrets: new FileSecretStore({ dataDir }),
    contacts,
    async close() {
      if (closed) return;
      closed = true;
      await queue.close();
      await contacts.close();
      await index.close();
      blobs.close();
    },
  };
}
