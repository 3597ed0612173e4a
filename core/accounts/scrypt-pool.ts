/**
 * scrypt on threads of its own. node:crypto's asynchronous scrypt runs on libuv's thread pool
 * (4 threads), which every file read, write, fsync and DNS lookup of the process shares; under
 * a load of logins each scrypt (tens of milliseconds, 32 MiB at N = 2^15) held a pool thread,
 * so blob reads and writes, and with them every other command, queued behind password checks.
 * Here each scrypt runs synchronously inside one of a few worker threads, sized to the cores
 * (os.availableParallelism(), at most MAX_THREADS), and libuv's pool stays free for I/O. Jobs
 * beyond the threads wait in a FIFO queue here, so at most that many hashes (and their memory)
 * run at once.
 *
 * The threads start on first use and hold the process open only while they have work
 * (unref'd when idle), so a CLI or a test exits as before. A thread that dies fails the job
 * it held (the caller sees an error, as from a failed scrypt) and is replaced on the next job.
 * The worker's code is inline (eval) so bundles (esbuild) need no extra file.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ScryptOptions } from 'node:crypto';

const MAX_THREADS = 8;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { scryptSync } = require('node:crypto');
parentPort.on('message', ({ password, salt, keylen, options }) => {
  try {
    const key = scryptSync(password, salt, keylen, options);
    parentPort.postMessage({ key });
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.message) || err) });
  }
});
`;

interface Task {
  password: string;
  salt: Buffer;
  keylen: number;
  options: ScryptOptions;
  resolve: (key: Buffer) => void;
  reject: (err: Error) => void;
}

interface Thread {
  worker: Worker;
  task: Task | null;
}

export class ScryptPool {
  readonly size: number;
  private readonly threads: Thread[] = [];
  private readonly waiting: Task[] = [];

  constructor(size = Math.min(MAX_THREADS, Math.max(1, os.availableParallelism()))) {
    this.size = size;
  }

  /** scrypt(password, salt, keylen, options) on a pool thread. */
  scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ password, salt, keylen, options, resolve, reject });
      this.dispatch();
    });
  }

  /** Threads started so far (for tests). */
  get threadCount(): number {
    return this.threads.length;
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      let thread = this.threads.find((t) => t.task === null);
      if (!thread) {
        if (this.threads.length >= this.size) return;
        thread = this.start();
      }
      const task = this.waiting.shift()!;
      thread.task = task;
      thread.worker.ref();
      thread.worker.postMessage({ password: task.password, salt: task.salt, keylen: task.keylen, options: task.options });
    }
  }

  private start(): Thread {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    const thread: Thread = { worker, task: null };
    worker.unref();
    worker.on('message', (m: { key?: Uint8Array; error?: string }) => {
      const task = thread.task;
      thread.task = null;
      worker.unref();
      if (task) {
        if (m.key) task.resolve(Buffer.from(m.key.buffer, m.key.byteOffset, m.key.byteLength));
        else task.reject(new Error(m.error ?? 'scrypt failed'));
      }
      this.dispatch();
    });
    const gone = (err: Error) => {
      const i = this.threads.indexOf(thread);
      if (i < 0) return;
      this.threads.splice(i, 1);
      thread.task?.reject(err);
      thread.task = null;
      this.dispatch();
    };
    worker.on('error', gone);
    worker.on('exit', (code) => gone(new Error(`scrypt thread exited (${code})`)));
    this.threads.push(thread);
    return thread;
  }
}

/** The process's pool, used by password.ts. */
export const scryptPool = new ScryptPool();
