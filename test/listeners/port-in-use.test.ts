/**
 * Starting the local system (`npm start`: fargate-listeners/src/local-main.ts) when one of its
 * ports is taken: one line naming the setting to change and exit 1, not a stack trace.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../support/clients.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'port-in-use-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const ALL_FREE = {
  SMTP_PORT: '0',
  SUBMISSION_PORT: '0',
  SUBMISSIONS_PORT: '0',
  IMAP_PORT: '0',
  IMAPS_PORT: '0',
  POP3_PORT: '0',
  POP3S_PORT: '0',
  HTTPS_PORT: '0',
  HTTP_PORT: '0',
};

async function occupy(): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('a port already in use', () => {
  for (const variable of ['SMTP_PORT', 'IMAPS_PORT', 'POP3_PORT']) {
    it(`names ${variable} in one line and exits 1`, async () => {
      const holder = await occupy();
      const port = (holder.address() as net.AddressInfo).port;
      try {
        const r = await run(process.execPath, ['fargate-listeners/src/local-main.ts'], {
          cwd: ROOT,
          env: { ...process.env, MAIL_DATA_DIR: dataDir, MAIL_HOSTNAME: 'mx.test', MAIL_BIND: '127.0.0.1', ...ALL_FREE, [variable]: String(port) },
        });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(new RegExp(`^mail: ${variable} ${port} is already in use on 127\\.0\\.0\\.1: .*${variable}.*\\n$`));
        expect(r.stderr.split('\n')).toHaveLength(2); // one line, no stack trace
        expect(r.stdout).not.toContain('mail system started');
      } finally {
        holder.close();
      }
    });
  }
});
