/**
 * End to end with curl's POP3 client: `pop3://` (plaintext on loopback and with STLS),
 * `pop3s://` (implicit TLS, -k for the self-signed certificate). LIST, RETR, UIDL, DELE.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run } from '../support/clients.ts';
import { corpusMessages, expectedPop3Form } from './support/pop3-form.ts';
import { describeWithCorpus } from '../support/corpus.ts';
import { startPop3System, type Pop3TestSystem } from './support/pop3-system.ts';

const messages = corpusMessages(30);

describeWithCorpus('curl pop3:// and pop3s://', () => {
  let sys: Pop3TestSystem;
  let tmp: string;

  beforeAll(async () => {
    sys = await startPop3System('local');
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pop3-curl-'));
    await sys.fill(messages.map((m) => m.raw));
  }, 60_000);

  afterAll(async () => {
    await sys?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const curl = (args: string[]) => run('curl', ['-sS', '--max-time', '30', '-u', `${sys.user}:${sys.password}`, ...args], { timeoutMs: 60_000 });

  it('LIST over pop3:// gives the exact sizes', async () => {
    const r = await curl([`pop3://127.0.0.1:${sys.port}/`]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(messages.map((m, i) => `${i + 1} ${expectedPop3Form(m.raw).length}\r\n`).join(''));
  });

  for (const mode of ['pop3', 'pop3 with STLS', 'pop3s'] as const) {
    it(`RETR of every message over ${mode} is byte-identical to its POP3 form`, async () => {
      const dir = path.join(tmp, mode.replace(/ /g, '-'));
      const base = mode === 'pop3s' ? `pop3s://127.0.0.1:${sys.tlsPort}` : `pop3://127.0.0.1:${sys.port}`;
      const args = ['--create-dirs', ...(mode === 'pop3' ? [] : ['-k']), ...(mode === 'pop3 with STLS' ? ['--ssl-reqd'] : [])];
      // One curl run, one connection reused for every URL.
      for (let i = 1; i <= messages.length; i++) args.push(`${base}/${i}`, '-o', path.join(dir, `${i}.eml`));
      const r = await curl(args);
      expect(r.code, r.stderr).toBe(0);
      for (const [i, m] of messages.entries()) {
        expect(readFileSync(path.join(dir, `${i + 1}.eml`)).equals(expectedPop3Form(m.raw)), m.name).toBe(true);
      }
    });
  }

  it('UIDL with -X, then DELE with -X … -I removes the message from the index', async () => {
    const uidl = await curl(['-X', 'UIDL', `pop3://127.0.0.1:${sys.port}/`]);
    const lines = uidl.stdout.trim().split('\r\n');
    expect(lines).toHaveLength(messages.length);
    const uids = await sys.inboxUids();
    const mb = await sys.ts.adapters.index.getMailbox(sys.user, 'INBOX');
    expect(lines[0]).toBe(`1 ${mb!.uidValidity}.${uids[0]}`);
    const dele = await curl(['-X', 'DELE', '-I', `pop3://127.0.0.1:${sys.port}/1`]);
    expect(dele.code, dele.stderr).toBe(0);
    expect(await sys.inboxUids()).toEqual(uids.slice(1));
  });

  it('a wrong password fails the transfer', async () => {
    const r = await run('curl', ['-sS', '--max-time', '10', '-u', `${sys.user}:wrong`, `pop3://127.0.0.1:${sys.port}/`], { timeoutMs: 20_000 });
    expect(r.code).toBe(67); // CURLE_LOGIN_DENIED
  });
});
