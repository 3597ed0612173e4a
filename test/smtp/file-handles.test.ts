/**
 * The SMTP/submission DATA paths that fail half-way — client gone mid-DATA, message over the
 * size limit, reset connections — leave no descriptor of a blob-store file open, and Node never
 * warns "Closing file descriptor N on garbage collection" (issue 18 item 9): the warning is an
 * error here.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestSystem, type TestSystem } from '../support/mail-system.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Open descriptors of this process on files under `dir`. */
function openUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(path.join('/proc/self/fd', fd));
      if (target.startsWith(dir + path.sep)) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** One session that fails in DATA in the way `mode` says. */
function failingSession(port: number, mode: number, auth: string): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.on('close', () => resolve());
    s.write(`EHLO fuzz.test\r\n${auth}MAIL FROM:<alice@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n`);
    setTimeout(() => {
      s.write('From: alice@example.test\r\nSubject: x\r\n\r\n' + ('a'.repeat(998) + '\r\n').repeat(mode === 1 ? 300 : 20));
      if (mode === 0)
        s.destroy(); // gone mid-DATA
      else if (mode === 1)
        s.end('.\r\nQUIT\r\n'); // over the size limit
      else s.resetAndDestroy(); // RST mid-DATA
    }, 30);
    setTimeout(() => s.destroy(), 2000);
  });
}

describe('file handles on the DATA path', () => {
  let sys: TestSystem;
  const warnings: string[] = [];
  const onWarning = (w: Error) => void warnings.push(w.message);
  beforeAll(async () => {
    process.on('warning', onWarning);
    sys = await startTestSystem({ env: { MAX_MESSAGE_SIZE: '100000' } });
    await sys.addUser('alice@example.test', 'pw');
  });
  afterAll(async () => {
    process.off('warning', onWarning);
    await sys.stop();
  });

  it('failed DATA on MX and submission leaves no blob file open and nothing for the garbage collector to close', async () => {
    const auth = 'AUTH PLAIN ' + Buffer.from('\0alice@example.test\0pw').toString('base64') + '\r\n';
    for (let round = 0; round < 2; round++) {
      await Promise.all([
        ...[0, 1, 2].map((mode) => failingSession(sys.port('smtp-mx'), mode, '')),
        ...[0, 1, 2].map((mode) => failingSession(sys.port('submission'), mode, auth)),
      ]);
    }
    // A put whose source fails half-way.
    const failing = new Readable({ read() {} });
    failing.push(Buffer.alloc(100_000, 'x'));
    setTimeout(() => failing.destroy(new Error('source failed')), 20);
    await expect(sys.adapters.blobs.put('messages/failing-source', failing)).rejects.toThrow('source failed');
    const blobs = path.join(sys.dataDir, 'blobs');
    await eventually(async () => openUnder(blobs).length === 0, 10_000);
    gc();
    await new Promise((r) => setTimeout(r, 100));
    expect(warnings.filter((w) => /file descriptor/i.test(w))).toEqual([]);
  });
});
