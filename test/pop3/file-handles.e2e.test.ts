/**
 * No file handle is left to the garbage collector (Node: "Warning: Closing file descriptor N on
 * garbage collection"; issue 18 item 9): a client that goes away in the middle of a RETR leaves
 * no open descriptor of the message file behind. The warning is an error here.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqliteBlobStore } from '#core/adapters/local/sqlite-blob-store.ts';
import { eventually } from '../support/mail-system.ts';
import { RawPop3Client } from './support/raw-client.ts';
import { startPop3System, type Pop3TestSystem } from './support/pop3-system.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Open descriptors of this process that point at `file`. */
function openDescriptorsOf(file: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(path.join('/proc/self/fd', fd)) === file) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

describe('file handles on the POP3 read path', () => {
  let sys: Pop3TestSystem;
  const warnings: string[] = [];
  const onWarning = (w: Error) => void warnings.push(w.message);
  beforeAll(async () => {
    process.on('warning', onWarning);
    sys = await startPop3System('local');
  });
  afterAll(async () => {
    process.off('warning', onWarning);
    await sys.stop();
  });

  it('a client that disconnects mid-RETR leaves the message file closed, not to the garbage collector', async () => {
    // Larger than the socket buffers, so the server is still sending when the client goes.
    const [uid] = await sys.fill([Buffer.from('Subject: big\r\n\r\n' + ('r'.repeat(998) + '\r\n').repeat(8000))]);
    const record = (await sys.ts.adapters.index.getMessages(sys.user, (await sys.ts.adapters.index.getMailbox(sys.user, 'INBOX'))!.id, [uid]))[0];
    // Past SMALL_BLOB_BYTES: a file of its own, not a row of blobs.sqlite.
    const file = (sys.ts.adapters.blobs as SqliteBlobStore).files.pathOf(record.blobKey);
    for (let round = 0; round < 3; round++) {
      const c = await RawPop3Client.connect(sys.port);
      expect(await c.line()).toMatch(/^\+OK/);
      expect(await c.cmd(`USER ${sys.user}`)).toMatch(/^\+OK/);
      expect(await c.cmd(`PASS ${sys.password}`)).toMatch(/^\+OK/);
      expect(await c.cmd('LIST 1')).toMatch(/^\+OK 1 /); // the size is known: RETR streams from the file
      expect(await c.cmd('RETR 1')).toMatch(/^\+OK \d+ octets/);
      await c.line();
      c.close();
      await eventually(async () => openDescriptorsOf(file) === 0, 5000);
    }
    gc();
    await new Promise((r) => setTimeout(r, 100));
    expect(warnings.filter((w) => /file descriptor/i.test(w))).toEqual([]);
  });
});
