/**
 * A change feed that cannot start when the listener task does (a throttled CreateQueue, a
 * role not yet propagated): the mail system starts anyway and keeps trying to listen in the
 * background (fargate-listeners/src/mail-system.ts), so push is not off for the task's life.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { loadConfig } from '#core/config.ts';
import { silentLogger } from '#core/log.ts';
import type { ChangeFeed, ChangeListener } from '#core/ports/change-feed.ts';
import { startMailSystem } from '#listeners/mail-system.ts';
import { EPHEMERAL_PORTS } from '../support/mail-system.ts';

class FailingFeed implements ChangeFeed {
  attempts = 0;
  listener: ChangeListener | null = null;
  private readonly failures: number;
  constructor(failures: number) {
    this.failures = failures;
  }
  async publish(): Promise<void> {}
  async listen(listener: ChangeListener): Promise<void> {
    if (++this.attempts <= this.failures) throw new Error('ThrottlingException: Rate exceeded');
    this.listener = listener;
  }
  async close(): Promise<void> {}
}

describe('mail system with a change feed that fails to start', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('starts, tries listening again in the background until it succeeds, and then hands changes from elsewhere to its sessions', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-retry-'));
    dirs.push(dir);
    const adapters = await createLocalAdapters({ dataDir: dir });
    const feed = new FailingFeed(2);
    const system = await startMailSystem({
      adapters,
      config: loadConfig({ MAIL_RUNTIME: 'local', MAIL_DATA_DIR: dir, MAIL_HOSTNAME: 'mx.example.test', MAIL_BIND: '127.0.0.1', ...EPHEMERAL_PORTS }),
      logger: silentLogger,
      workers: false,
      changeFeed: feed,
      listenRetryMs: 50,
    });
    try {
      expect(feed.attempts).toBe(1);
      await expect.poll(() => feed.attempts, { timeout: 2000 }).toBe(3);
      await expect.poll(() => feed.listener !== null).toBe(true);
      const heard: string[] = [];
      system.deps.events.subscribe('alice@example.test', (id) => heard.push(id));
      feed.listener!({ user: 'alice@example.test', mailboxId: 'mb1' });
      expect(heard).toEqual(['mb1']);
    } finally {
      await system.stop(100);
      await adapters.close();
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(feed.attempts).toBe(3);
  });

  it('stops trying when the system stops', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-retry-'));
    dirs.push(dir);
    const adapters = await createLocalAdapters({ dataDir: dir });
    const feed = new FailingFeed(1_000);
    const system = await startMailSystem({
      adapters,
      config: loadConfig({ MAIL_RUNTIME: 'local', MAIL_DATA_DIR: dir, MAIL_HOSTNAME: 'mx.example.test', MAIL_BIND: '127.0.0.1', ...EPHEMERAL_PORTS }),
      logger: silentLogger,
      workers: false,
      changeFeed: feed,
      listenRetryMs: 50,
    });
    await system.stop(100);
    await adapters.close();
    const after = feed.attempts;
    await new Promise((r) => setTimeout(r, 300));
    expect(feed.attempts).toBe(after);
  });
});
