/**
 * End to end with getmail6 into a Maildir: keep mode (`read_all = false`, `delete = false`)
 * over implicit TLS — a second run retrieves nothing (UIDL), a third only new mail — and
 * delete mode over plaintext loopback, which empties the maildrop. (getmail has no STLS.)
 *
 * getmail does not store the bytes it received: it re-serialises each message through
 * Python's email package and prepends Return-Path:. The expectation is therefore computed by
 * getmail's own code (support/getmail_expected.py) from the exact POP3 form of each message;
 * any difference in what the server sent would show up as a difference in the files.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run } from '../support/clients.ts';
import { filesIn, multisetDiff } from './support/compare.ts';
import { corpusMessages, expectedPop3Form, type CorpusMessage } from './support/pop3-form.ts';
import { describeWithCorpus } from '../support/corpus.ts';
import { startPop3System, type Pop3TestSystem } from './support/pop3-system.ts';

const messages = corpusMessages(30);
const asRoot = process.getuid?.() === 0;

/** The interpreter getmail runs with (its getmailcore package lives there). */
function getmailPython(): string {
  const which = execFileSync('sh', ['-c', 'command -v getmail'], { encoding: 'utf8' });
  const first = readFileSync(which.trim(), 'latin1').split('\n')[0];
  return first.replace(/^#!\s*/, '').split(/\s+/)[0];
}

describeWithCorpus('getmail6', () => {
  let sys: Pop3TestSystem;
  let tmp: string;
  let python: string;

  beforeAll(async () => {
    sys = await startPop3System('local');
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pop3-getmail-'));
    // As root, getmail refuses to deliver unless told to switch to another user for it.
    chmodSync(tmp, 0o755);
    python = getmailPython();
  }, 60_000);

  afterAll(async () => {
    await sys?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** getmail's output for these messages, computed with getmail's own serialisation. */
  async function expected(name: string, list: CorpusMessage[]) {
    const src = path.join(tmp, `${name}-forms`);
    const dst = path.join(tmp, `${name}-expected`);
    mkdirSync(src);
    list.forEach((m, i) => writeFileSync(path.join(src, String(i).padStart(4, '0')), expectedPop3Form(m.raw)));
    const r = await run(python, [path.join(import.meta.dirname, 'support/getmail_expected.py'), src, dst]);
    expect(r.code, r.stderr).toBe(0);
    return readdirSync(dst)
      .sort()
      .map((f, i) => ({ name: list[i].name, bytes: readFileSync(path.join(dst, f)) }));
  }

  function maildir(name: string): string {
    const dir = path.join(tmp, name);
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(dir, sub), { recursive: true });
    if (asRoot) for (const d of [dir, ...['cur', 'new', 'tmp'].map((s) => path.join(dir, s))]) chmodSync(d, 0o777);
    return dir;
  }

  async function getmail(opts: { keep: boolean; implicitTls: boolean; maildir: string; stateDir: string }) {
    mkdirSync(opts.stateDir, { recursive: true });
    const rc = path.join(opts.stateDir, 'getmailrc');
    writeFileSync(
      rc,
      [
        '[retriever]',
        `type = ${opts.implicitTls ? 'SimplePOP3SSLRetriever' : 'SimplePOP3Retriever'}`,
        'server = 127.0.0.1',
        `port = ${opts.implicitTls ? sys.tlsPort : sys.port}`,
        `username = ${sys.user}`,
        `password = ${sys.password}`,
        '',
        '[destination]',
        'type = Maildir',
        `path = ${opts.maildir}/`,
        ...(asRoot ? ['user = nobody'] : []),
        '',
        '[options]',
        'read_all = false',
        `delete = ${opts.keep ? 'false' : 'true'}`,
        'delivered_to = false',
        'received = false',
        'verbose = 1',
        '',
      ].join('\n'),
    );
    return run('getmail', ['--getmaildir', opts.stateDir, '--rcfile', rc], { timeoutMs: 60_000 });
  }

  it('keep mode over pop3s: Maildir holds every message; a second run gets nothing; a third only new mail', async () => {
    await sys.fill(messages.map((m) => m.raw));
    const state = path.join(tmp, 'state-keep');
    const md = maildir('Maildir-keep');
    const r1 = await getmail({ keep: true, implicitTls: true, maildir: md, stateDir: state });
    expect(r1.code, r1.stderr + r1.stdout).toBe(0);
    expect(multisetDiff(filesIn(path.join(md, 'new')), await expected('all', messages))).toBe('');

    const r2 = await getmail({ keep: true, implicitTls: true, maildir: md, stateDir: state });
    expect(r2.code, r2.stderr + r2.stdout).toBe(0);
    expect(r2.stdout).toMatch(/0 messages \(0 bytes\) retrieved, 30 skipped/);
    expect(filesIn(path.join(md, 'new'))).toHaveLength(messages.length);
    expect(await sys.inboxUids()).toHaveLength(messages.length);

    const fresh = messages.slice(-3);
    await sys.fill(fresh.map((m) => m.raw));
    const md3 = maildir('Maildir-keep3');
    const r3 = await getmail({ keep: true, implicitTls: true, maildir: md3, stateDir: state });
    expect(r3.code, r3.stderr + r3.stdout).toBe(0);
    expect(multisetDiff(filesIn(path.join(md3, 'new')), await expected('fresh', fresh))).toBe('');
  });

  it('delete mode over plaintext loopback empties the maildrop', async () => {
    const n = (await sys.inboxUids()).length;
    expect(n).toBe(messages.length + 3);
    const md = maildir('Maildir-delete');
    const r = await getmail({ keep: false, implicitTls: false, maildir: md, stateDir: path.join(tmp, 'state-delete') });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(filesIn(path.join(md, 'new'))).toHaveLength(n);
    expect(await sys.inboxUids()).toEqual([]);
  });
});
