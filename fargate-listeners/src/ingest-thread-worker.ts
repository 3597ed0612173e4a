/**
 * Inside the ingest thread (ingest-thread.ts): the local adapters of the data directory, the
 * job workers, and a MailboxEvents whose notifications also go to the listeners' thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import type { MailConfig } from '#core/config.ts';
import { createLogger } from '#core/log.ts';
import { createMailboxEvents, type MailboxEvents } from '#core/mailbox/events.ts';
import { startJobWorkers } from './job-workers.ts';
import type { FromIngestThread } from './ingest-thread.ts';

const port = parentPort!;
const post = (m: FromIngestThread) => port.postMessage(m);
const { dataDir, config } = workerData as { dataDir: string; config: MailConfig };
const logger = createLogger({}, config.logLevel, (line) => post({ type: 'log', line }));

try {
  const adapters = await createLocalAdapters({ dataDir });
  const here = createMailboxEvents({ log: logger });
  const events: MailboxEvents = {
    ...here,
    notify(user, mailboxId) {
      here.notify(user, mailboxId);
      post({ type: 'notify', user, mailboxId });
    },
  };
  const workers = startJobWorkers({ adapters, config, logger, events });
  port.on('message', (m: { type: string }) => {
    if (m.type !== 'stop') return;
    void (async () => {
      await Promise.all(workers.map((w) => w.stop()));
      await adapters.close();
      post({ type: 'stopped' });
      process.exit(0); // in a worker: ends this thread only
    })();
  });
  post({ type: 'ready' });
} catch (err) {
  post({ type: 'failed', message: (err as Error)?.message ?? String(err) });
  port.close();
}
