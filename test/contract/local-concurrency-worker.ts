/**
 * A task run in another process (argv[2] = JSON) or worker thread (workerData) by
 * test/contract/local.test.ts, to exercise the SQLite adapters with real concurrency:
 * DatabaseSync is synchronous, so only separate threads/processes contend for the file lock.
 * Prints (process) or posts (thread) a JSON result.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SqliteMailIndex } from '#core/adapters/local/sqlite-mail-index.ts';
import { SqliteWorkQueue } from '#core/adapters/local/sqlite-work-queue.ts';
import type { MessageMeta } from '#core/mime/types.ts';

export type ConcurrencyTask =
  | { kind: 'append'; dataDir: string; user: string; mailboxId: string; count: number; tag: string; startAt: number }
  | { kind: 'drain'; dataDir: string; startAt: number }
  | { kind: 'wait'; dataDir: string; startAt: number; waitSeconds: number };

export type ConcurrencyResult = { kind: 'append'; uids: number[] } | { kind: 'drain'; ids: string[] } | { kind: 'wait'; ids: string[] };

function meta(subject: string): MessageMeta {
  return {
    envelope: { date: null, subject, from: null, sender: null, replyTo: null, to: null, cc: null, bcc: null, inReplyTo: null, messageId: null },
    mime: {
      headerStart: 0,
      bodyStart: 20,
      bodyEnd: 30,
      type: 'text',
      subtype: 'plain',
      params: [],
      id: null,
      description: null,
      encoding: '7BIT',
      size: 10,
      lines: 1,
      md5: null,
      disposition: null,
      language: null,
      location: null,
      children: [],
      message: null,
    },
    size: 30,
    header: null,
  };
}

async function run(task: ConcurrencyTask): Promise<ConcurrencyResult> {
  // Start together, so the writers really overlap.
  while (Date.now() < task.startAt) await new Promise((r) => setTimeout(r, 2));
  if (task.kind === 'append') {
    const index = new SqliteMailIndex({ dataDir: task.dataDir });
    const uids: number[] = [];
    for (let i = 0; i < task.count; i++) {
      const r = await index.appendMessage(task.user, task.mailboxId, {
        blobKey: `messages/${task.tag}-${i}`,
        size: 30,
        internalDate: Date.now(),
        flags: [],
        meta: meta(`${task.tag} ${i}`),
        deliveryKey: `${task.tag}-${i}`,
      });
      uids.push(r.uid);
    }
    await index.close();
    return { kind: 'append', uids };
  }
  if (task.kind === 'wait') {
    // One long receive that never polls the file: only a wake-up can end it early.
    const queue = new SqliteWorkQueue({ dataDir: task.dataDir, pollIntervalMs: 60_000 });
    const jobs = await queue.receive('outbound', { waitSeconds: task.waitSeconds });
    await queue.close();
    return { kind: 'wait', ids: jobs.map((j) => j.id) };
  }
  const queue = new SqliteWorkQueue({ dataDir: task.dataDir, pollIntervalMs: 20 });
  const ids: string[] = [];
  let emptyPolls = 0;
  while (emptyPolls < 3) {
    const jobs = await queue.receive('ingest', { max: 3, visibilityTimeoutSeconds: 60, waitSeconds: 0 });
    if (jobs.length === 0) {
      emptyPolls += 1;
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    emptyPolls = 0;
    for (const j of jobs) {
      ids.push(j.id);
      await queue.ack('ingest', j.receipt);
    }
  }
  await queue.close();
  return { kind: 'drain', ids };
}

const task = (isMainThread ? JSON.parse(process.argv[2] ?? 'null') : workerData) as ConcurrencyTask | null;
if (task) {
  const result = await run(task);
  if (isMainThread) process.stdout.write(JSON.stringify(result));
  else parentPort!.postMessage(result);
}
