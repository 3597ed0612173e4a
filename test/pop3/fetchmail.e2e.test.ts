/**
 * End to end with fetchmail (6.4): keep mode over STLS with UIDL (a second run fetches nothing,
 * a third only the new mail), delete mode over implicit TLS (empties the maildrop). Each message
 * goes to an MDA that writes it to a file, so no local MTA is needed.
 *
 * fetchmail is told to pass the message through unchanged: `set invisible` (no Received:
 * header), `no rewrite` (addresses untouched), `no stripcr` (CRLF kept). What it still does on
 * its own: it drops a leading mbox "From " envelope line (17 corpus messages start with one),
 * so the expectation for those is the POP3 form without that first line.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run } from '../support/clients.ts';
import { filesIn, multisetDiff } from './support/compare.ts';
import { corpusMessages, expectedPop3Form, type CorpusMessage } from './support/pop3-form.ts';
import { describeWithCorpus } from '../support/corpus.ts';
import { startPop3System, type Pop3TestSystem } from './support/pop3-system.ts';

const messages = corpusMessages(30);

function fetchmailExpected(m: CorpusMessage): { name: string; bytes: Buffer } {
  let form = expectedPop3Form(m.raw);
  if (form.subarray(0, 5).toString() === 'From ') form = form.subarray(form.indexOf('\r\n') + 2);
  return { name: m.name, bytes: form };
}

describeWithCorpus('fetchmail', () => {
  let sys: Pop3TestSystem;
  let tmp: string;

  beforeAll(async () => {
    sys = await startPop3System('local');
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pop3-fetchmail-'));
  }, 60_000);

  afterAll(async () => {
    await sys?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** Runs fetchmail once with a fresh rc file; messages land in `out`. */
  async function fetchmail(name: string, opts: { keep: boolean; implicitTls: boolean; out: string }) {
    mkdirSync(opts.out, { recursive: true });
    const rc = path.join(tmp, `${name}.rc`);
    const port = opts.implicitTls ? sys.tlsPort : sys.port;
    writeFileSync(
      rc,
      [
        'set no syslog',
        'set invisible',
        `poll 127.0.0.1 with proto POP3 port ${port} and options uidl`,
        `  user "${sys.user}" there with password "${sys.password}" is "nobody" here`,
        `  options ${opts.keep ? 'keep' : 'nokeep fetchall'} no rewrite no stripcr ${opts.implicitTls ? 'ssl' : ''} no sslcertck`,
        `  mda "/bin/sh -c 'cat > ${opts.out}/$(date +%s%N)-$$'"`,
        '',
      ].join('\n'),
    );
    chmodSync(rc, 0o600); // fetchmail refuses a readable rc file with a password in it
    return run('fetchmail', ['-f', rc, '-i', path.join(tmp, 'fetchids'), '--nodetach', '-v'], {
      timeoutMs: 60_000,
      env: { ...process.env, HOME: tmp, FETCHMAILHOME: tmp },
    });
  }

  it('keep mode over STLS: everything byte-identical; a second run fetches nothing (UIDL); a third only new mail', async () => {
    await sys.fill(messages.map((m) => m.raw));
    const out1 = path.join(tmp, 'keep1');
    const r1 = await fetchmail('keep1', { keep: true, implicitTls: false, out: out1 });
    expect(r1.code, r1.stderr + r1.stdout).toBe(0);
    expect(r1.stderr + r1.stdout).toMatch(/upgrade to TLS succeeded/);
    expect(multisetDiff(filesIn(out1), messages.map(fetchmailExpected))).toBe('');
    expect(await sys.inboxUids()).toHaveLength(messages.length);

    const out2 = path.join(tmp, 'keep2');
    const r2 = await fetchmail('keep2', { keep: true, implicitTls: false, out: out2 });
    expect(r2.code, r2.stderr + r2.stdout).toBe(1); // PS_NOMAIL
    expect(readdirSync(out2)).toEqual([]);

    const fresh = messages.slice(0, 2);
    await sys.fill(fresh.map((m) => m.raw));
    const out3 = path.join(tmp, 'keep3');
    const r3 = await fetchmail('keep3', { keep: true, implicitTls: false, out: out3 });
    expect(r3.code, r3.stderr + r3.stdout).toBe(0);
    expect(multisetDiff(filesIn(out3), fresh.map(fetchmailExpected))).toBe('');
  });

  it('delete mode over implicit TLS empties the maildrop (and the index)', async () => {
    const n = (await sys.inboxUids()).length;
    expect(n).toBe(messages.length + 2);
    const out = path.join(tmp, 'delete');
    const r = await fetchmail('delete', { keep: false, implicitTls: true, out });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(filesIn(out)).toHaveLength(n);
    expect(await sys.inboxUids()).toEqual([]);
  });
});
