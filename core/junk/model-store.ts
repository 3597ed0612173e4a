/**
 * Where each user's junk model lives: one JSON object in the blob store
 * (`junk/<user>.json`; a file under the data directory locally, an S3 object on AWS), so no
 * schema changes. Blob keys of messages are under `messages/`, so a model is never taken for a
 * message (and the local crash sweep leaves JSON files alone, core/adapters/local/crash-leftovers.ts).
 *
 * Reads (at delivery) go through a small in-process cache (CACHE_SECONDS, CACHE_USERS): a
 * Lambda container or a listener delivers many messages to the same users.
 *
 * Writes (training, core/junk/training.ts) are serialised per user in this process, and each
 * reads the stored model afresh before changing it, so two trainings in one process never
 * lose counts. The BlobStore port has no conditional put, so two *processes* training the same
 * user within the same moment (two listener tasks on AWS, each handling one of the user's
 * clients) can still lose one of the two updates: last writer wins. What is lost is one
 * message's counts, never mail; the next move of that message trains it again.
 */
import { BlobNotFoundError, type BlobStore } from '../ports/blob-store.ts';
import { emptyModel, parseModel, serializeModel, type JunkModel } from './classifier.ts';

export const JUNK_MODEL_PREFIX = 'junk/';
export const CACHE_SECONDS = 60;
export const CACHE_USERS = 500;

export function modelKey(user: string): string {
  return `${JUNK_MODEL_PREFIX}${encodeURIComponent(user.toLowerCase())}.json`;
}

export class JunkModels {
  private readonly cache = new Map<string, { model: JunkModel; at: number }>();
  private readonly chains = new Map<string, Promise<unknown>>();

  private readonly blobs: BlobStore;
  private readonly cacheMs: number;

  constructor(blobs: BlobStore, cacheMs = CACHE_SECONDS * 1000) {
    this.blobs = blobs;
    this.cacheMs = cacheMs;
  }

  /** The user's model (a neutral one when never trained), from the cache when fresh. */
  async read(user: string): Promise<JunkModel> {
    const hit = this.cache.get(user);
    if (hit && Date.now() - hit.at < this.cacheMs) return hit.model;
    const model = await this.load(user);
    this.remember(user, model);
    return model;
  }

  /**
   * Changes the user's model with `change` (which returns whether it changed anything) and
   * stores it; one at a time per user in this process, each on the stored model.
   */
  update(user: string, change: (model: JunkModel) => boolean | Promise<boolean>): Promise<JunkModel> {
    const run = async () => {
      const model = await this.load(user);
      if (await change(model)) await this.blobs.put(modelKey(user), Buffer.from(serializeModel(model)));
      this.remember(user, model);
      return model;
    };
    const previous = this.chains.get(user) ?? Promise.resolve();
    const next = previous.then(run, run);
    this.chains.set(user, next);
    const clear = () => {
      if (this.chains.get(user) === next) this.chains.delete(user);
    };
    next.then(clear, clear);
    return next;
  }

  /** Removes the user's model (`mailctl user remove`). */
  async remove(user: string): Promise<void> {
    this.cache.delete(user);
    await this.blobs.delete(modelKey(user));
  }

  private async load(user: string): Promise<JunkModel> {
    try {
      return parseModel((await this.blobs.get(modelKey(user))).toString('utf8'));
    } catch (err) {
      if (err instanceof BlobNotFoundError) return emptyModel();
      throw err;
    }
  }

  private remember(user: string, model: JunkModel): void {
    this.cache.delete(user);
    this.cache.set(user, { model, at: Date.now() });
    for (const k of this.cache.keys()) {
      if (this.cache.size <= CACHE_USERS) break;
      this.cache.delete(k);
    }
  }
}

const perStore = new WeakMap<BlobStore, JunkModels>();

/** The process's models for this blob store (one cache and one write queue per store). */
export function junkModelsFor(blobs: BlobStore): JunkModels {
  let models = perStore.get(blobs);
  if (!models) {
    models = new JunkModels(blobs);
    perStore.set(blobs, models);
  }
  return models;
}
