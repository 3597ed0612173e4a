/**
 * End to end with Python's poplib on loopback, on the local and the aws (emulator) adapters:
 * the corpus is downloaded byte-identical to its POP3 form (bare LF sent as CRLF), sizes are
 * exact, deletions reach the index, a second session gets [IN-USE].
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run } from '../support/clients.ts';
import { LineClient } from '../support/line-client.ts';
import { ADAPTER_KINDS } from '../support/mail-system.ts';
import { corpusMessages, expectedPop3Form } from './support/pop3-form.ts';
import { describeWithCorpus } from '../support/corpus.ts';
import { startPop3System, type Pop3TestSystem } from './support/pop3-system.ts';

const SCRIPT = path.join(import.meta.dirname, 'support/poplib_client.py');

interface Spec {
  security?: 'plain' | 'stls' | 'ssl';
  auth?: 'user' | 'plain';
  actions: unknown[][];
}

async function poplib(sys: Pop3TestSystem, spec: Spec): Promise<any[]> {
  const full = {
    host: '127.0.0.1',
    port: spec.security === 'ssl' ? sys.tlsPort : sys.port,
    security: spec.security ?? 'plain',
    auth: spec.auth ?? 'user',
    user: sys.user,
    password: sys.password,
    actions: spec.actions,
  };
  const r = await run('python3', [SCRIPT, JSON.stringify(full)], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`poplib failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

for (const kind of ADAPTER_KINDS) {
  // All of the corpus on local; an evenly spread subset on the emulator (quick suite).
  const messages = corpusMessages(kind === 'local' ? undefined : 40);

  describeWithCorpus(`poplib on ${kind} adapters`, () => {
    let sys: Pop3TestSystem;
    let tmp: string;

    beforeAll(async () => {
      sys = await startPop3System(kind);
      tmp = mkdtempSync(path.join(os.tmpdir(), 'pop3-poplib-'));
      await sys.fill(messages.map((m) => m.raw));
    }, 120_000);

    afterAll(async () => {
      await sys?.stop();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    it('downloads every message byte-identical to its POP3 form, with exact STAT/LIST sizes (keep mode)', async () => {
      const out = path.join(tmp, 'keep');
      const res = await poplib(sys, { actions: [['stat'], ['list'], ['uidl'], ['retr_all', out], ['quit']] });
      expect(res[1].login).toMatch(/^\+OK/);
      const forms = messages.map((m) => expectedPop3Form(m.raw));
      const [count, octets] = res[2];
      expect(count).toBe(messages.length);
      expect(octets).toBe(forms.reduce((a, f) => a + f.length, 0));
      expect(res[3]).toEqual(forms.map((f, i) => `${i + 1} ${f.length}`));
      const uidls = (res[4] as string[]).map((l) => l.split(' ')[1]);
      expect(new Set(uidls).size).toBe(messages.length);
      for (const [i, m] of messages.entries()) {
        const got = readFileSync(path.join(out, `${i + 1}.eml`));
        expect(got.equals(forms[i]), m.name).toBe(true);
        expect(res[5][i + 1].status).toBe(`+OK ${forms[i].length} octets`);
        // A message stored with CRLF throughout (and a final CRLF) comes back exactly as stored.
        if (!/(^|[^\r])\n/.test(m.raw.toString('latin1')) && m.raw.subarray(-2).toString() === '\r\n') expect(got.equals(m.raw), m.name).toBe(true);
      }
      // Keep mode: nothing was deleted, UIDLs are the same next time.
      expect(await sys.inboxUids()).toHaveLength(messages.length);
      const again = await poplib(sys, { actions: [['uidl'], ['quit']] });
      expect((again[2] as string[]).map((l) => l.split(' ')[1])).toEqual(uidls);
    });

    it('TOP, DELE, RSET over STLS with AUTH PLAIN; QUIT expunges only the marked messages', async () => {
      const before = await sys.inboxUids();
      const top = await poplib(sys, {
        security: 'stls',
        auth: 'plain',
        actions: [['top', 1, 0], ['dele', 1], ['dele', 2], ['rset'], ['dele', 3], ['stat'], ['quit']],
      });
      expect(top[1].stls).toMatch(/^\+OK/);
      expect(top[2].login).toMatch(/^\+OK/);
      const form1 = expectedPop3Form(messages[0].raw).toString('latin1');
      const headerEnd = form1.indexOf('\r\n\r\n');
      expect(top[3]).toBe(headerEnd === -1 ? form1 : form1.slice(0, headerEnd + 4));
      expect(top[6]).toMatch(/^\+OK maildrop has \d+ messages/);
      expect(top[8][0]).toBe(messages.length - 1);
      expect(top[9]).toMatch(/\(1 messages deleted\)/);
      // The deletion is in the index (what IMAP reads).
      expect(await sys.inboxUids()).toEqual(before.filter((_, i) => i !== 2));
    });

    it('implicit TLS (pop3s) with USER/PASS', async () => {
      const res = await poplib(sys, { security: 'ssl', actions: [['capa'], ['stat'], ['quit']] });
      expect(res[1].login).toMatch(/^\+OK/);
      expect(Object.keys(res[2])).toEqual(
        expect.arrayContaining(['TOP', 'UIDL', 'USER', 'SASL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'EXPIRE', 'IMPLEMENTATION']),
      );
      expect(Object.keys(res[2])).not.toContain('STLS');
      expect(res[3][0]).toBe(messages.length - 1);
    });

    it('a second concurrent session gets -ERR [IN-USE]; a dropped first session deletes nothing', async () => {
      const before = await sys.inboxUids();
      const a = await LineClient.connect(sys.port);
      await a.line();
      a.write(`USER ${sys.user}\r\nPASS ${sys.password}\r\nDELE 1\r\n`);
      expect(await a.line()).toMatch(/^\+OK/);
      expect(await a.line()).toMatch(/^\+OK/);
      expect(await a.line()).toMatch(/^\+OK message 1 deleted/);
      const res = await poplib(sys, { actions: [] });
      expect(res[1].error).toMatch(/^-ERR \[IN-USE\]/);
      a.close(); // drop without QUIT
      await new Promise((r) => setTimeout(r, 200));
      expect(await sys.inboxUids()).toEqual(before);
      const after = await poplib(sys, { actions: [['stat'], ['quit']] });
      expect(after[2][0]).toBe(before.length);
    });

    it('delete mode empties the maildrop', async () => {
      const n = (await sys.inboxUids()).length;
      const actions: unknown[][] = [];
      for (let i = 1; i <= n; i++) actions.push(['dele', i]);
      const res = await poplib(sys, { actions: [...actions, ['quit']] });
      expect(res.at(-1)).toMatch(new RegExp(`\\(${n} messages deleted\\)`));
      expect(await sys.inboxUids()).toEqual([]);
    });
  });
}
