/**
 * Whole IMAP sessions fuzzed (mox's FuzzServer; invariant 6 of docs/architecture.md: bad
 * input gets a protocol error, never a crash): a real listener on the local adapters, brought
 * into each state — not authenticated, authenticated, selected, inside IDLE, inside an APPEND
 * literal, inside an AUTHENTICATE exchange — then fed a stream of well-formed commands with a
 * few mutated, in random segments. After each stream:
 *  - the session is still in step (a NOOP probe gets its tagged answer) or the server closed
 *    it after `* BYE` — never silence, never a drop without a word;
 *  - no tag is answered more often than it was sent, no response names a tag never sent, and
 *    no NO [SERVERBUG] (an exception the session caught) appears;
 *  - in the command states, every command before the first mutated one is answered;
 *  - a fresh, well-behaved session (LOGIN, SELECT, FETCH, LOGOUT) is served afterwards.
 * A failure prints its seed; FUZZ_SEED=<seed> FUZZ_RUNS=1 repeats it (test/support/prng.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '#core/accounts/password.ts';
import { fuzzRuns, type Prng } from '../support/prng.ts';
import { mutateBytes, RecordingSocket } from '../support/session-fuzz.ts';
import { RawImap, quote } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

type State = 'not authenticated' | 'authenticated' | 'selected' | 'idle' | 'append literal' | 'authenticate exchange';

/** Server output split into responses; a literal's bytes are inlined (they may hold CRLFs). */
function responses(buf: Buffer): string[] {
  const out: string[] = [];
  let pos = 0;
  let current = '';
  for (;;) {
    const eol = buf.indexOf('\r\n', pos);
    if (eol < 0) break;
    const line = buf.toString('latin1', pos, eol);
    const lit = /\{(\d+)\}$/.exec(line);
    if (lit) {
      const n = Number(lit[1]);
      if (eol + 2 + n > buf.length) break;
      current += line + '\r\n' + buf.toString('latin1', eol + 2, eol + 2 + n);
      pos = eol + 2 + n;
      continue;
    }
    out.push(current + line);
    current = '';
    pos = eol + 2;
  }
  return out;
}

const taggedOf = (r: string) => /^([^\s*+]\S*) (OK|NO|BAD)\b/.exec(r);

function plainIr(user: string, password: string): string {
  return Buffer.from(`\0${user}\0${password}`).toString('base64');
}

/** Self-contained command units (literals and IDLE's DONE included) for tag `t`. */
function corpus(sys: ImapTestSystem): Array<(t: string) => string> {
  const msg = sampleMessage('fuzzed').toString('latin1');
  return [
    (t) => `${t} CAPABILITY\r\n`,
    (t) => `${t} NOOP\r\n`,
    (t) => `${t} LOGIN ${quote(sys.user)} ${quote(sys.password)}\r\n`,
    (t) => `${t} LOGIN ${quote(sys.user)} "wrong"\r\n`,
    (t) => `${t} AUTHENTICATE PLAIN ${plainIr(sys.user, sys.password)}\r\n`,
    (t) => `${t} AUTHENTICATE PLAIN\r\n${plainIr(sys.user, 'nope')}\r\n`,
    (t) => `${t} AUTHENTICATE PLAIN\r\n*\r\n`,
    (t) => `${t} ID ("name" "fuzz" "version" NIL)\r\n`,
    (t) => `${t} ENABLE IMAP4rev2 UTF8=ACCEPT\r\n`,
    (t) => `${t} NAMESPACE\r\n`,
    (t) => `${t} LIST "" *\r\n`,
    (t) => `${t} LIST (SUBSCRIBED) "" ("INBOX" "%") RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))\r\n`,
    (t) => `${t} LSUB "" "*"\r\n`,
    (t) => `${t} STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE)\r\n`,
    (t) => `${t} SELECT INBOX\r\n`,
    (t) => `${t} EXAMINE "INBOX"\r\n`,
    (t) => `${t} CREATE Fuzz/a\r\n`,
    (t) => `${t} RENAME Fuzz/a {5}\r\nFuzzB\r\n`,
    (t) => `${t} DELETE FuzzB\r\n`,
    (t) => `${t} SUBSCRIBE Trash\r\n`,
    (t) => `${t} APPEND INBOX (\\Seen) {${msg.length}}\r\n${msg}\r\n`,
    (t) => `${t} APPEND Drafts {${msg.length}+}\r\n${msg}\r\n`,
    (t) => `${t} FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE BODYSTRUCTURE)\r\n`,
    (t) => `${t} UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (Subject From)] BODY.PEEK[TEXT]<0.20>)\r\n`,
    (t) => `${t} FETCH 1 (BINARY.PEEK[1] BODY[1.MIME])\r\n`,
    (t) => `${t} STORE 1 +FLAGS (\\Seen $Fuzz)\r\n`,
    (t) => `${t} UID STORE 1:* -FLAGS.SILENT (\\Flagged)\r\n`,
    (t) => `${t} SEARCH OR SEEN UNSEEN\r\n`,
    (t) => `${t} UID SEARCH RETURN (MIN MAX COUNT) CHARSET UTF-8 SUBJECT {6}\r\nfuzzed\r\n`,
    (t) => `${t} UID SORT RETURN (MIN COUNT ALL) (REVERSE DATE SUBJECT) UTF-8 OLDER 60\r\n`,
    (t) => `${t} UID SEARCH RETURN (UPDATE PARTIAL -1:-5) UNSEEN\r\n`,
    (t) => `${t} SORT RETURN (UPDATE COUNT) (SUBJECT) UTF-8 ALL\r\n${t}x CANCELUPDATE "${t}"\r\n`,
    (t) => `${t} UID FETCH 1:* (UID FLAGS) (PARTIAL 1:3)\r\n`,
    (t) => `${t} THREAD REFERENCES UTF-8 ALL\r\n`,
    (t) => `${t} COPY 1 Trash\r\n`,
    (t) => `${t} UID MOVE 2 Archive\r\n`,
    (t) => `${t} STORE 1 +FLAGS.SILENT (\\Deleted)\r\n${t}x EXPUNGE\r\n`,
    (t) => `${t} CHECK\r\n`,
    (t) => `${t} IDLE\r\nDONE\r\n`,
    (t) => `${t} UNSELECT\r\n`,
    (t) => `${t} CLOSE\r\n`,
    (t) => `${t} LOGOUT\r\n`,
  ];
}

interface Setup {
  client: RecordingSocket;
  /** Command states: a command reader waits for the stream. Mid states: IDLE, a literal, SASL. */
  commandState: boolean;
}

async function expectTagged(c: RecordingSocket, tag: string): Promise<void> {
  const ok = await c.wait(() => responses(c.received).some((r) => r.startsWith(`${tag} OK`)), 5000);
  if (!ok) throw new Error(`setup ${tag} not OK: ${JSON.stringify(c.received.toString('latin1').slice(-300))}`);
}

async function enter(sys: ImapTestSystem, state: State, rnd: Prng): Promise<Setup> {
  const c = await RecordingSocket.connect(sys.port);
  if (!(await c.wait(() => responses(c.received).length > 0, 5000))) throw new Error('no greeting');
  if (state === 'not authenticated') return { client: c, commandState: true };
  if (state === 'authenticate exchange') {
    c.write('S1 AUTHENTICATE PLAIN\r\n');
    if (!(await c.wait(() => responses(c.received).some((r) => r.startsWith('+')), 5000))) throw new Error('no continuation');
    return { client: c, commandState: false };
  }
  c.write(`S1 LOGIN ${quote(sys.user)} ${quote(sys.password)}\r\n`);
  await expectTagged(c, 'S1');
  if (state === 'authenticated') return { client: c, commandState: true };
  c.write('S2 SELECT INBOX\r\n');
  await expectTagged(c, 'S2');
  if (state === 'selected') return { client: c, commandState: true };
  if (state === 'idle') {
    c.write('S3 IDLE\r\n');
    if (!(await c.wait(() => responses(c.received).some((r) => r.startsWith('+')), 5000))) throw new Error('no idle continuation');
    return { client: c, commandState: false };
  }
  // Inside an APPEND literal: part of the message is sent, the stream continues it.
  const size = 100 + rnd.int(300);
  c.write(`S3 APPEND INBOX {${size}}\r\n`);
  if (!(await c.wait(() => responses(c.received).some((r) => r.startsWith('+')), 5000))) throw new Error('no append continuation');
  c.write(sampleMessage('partial').subarray(0, rnd.int(size)));
  return { client: c, commandState: false };
}

/** One run: setup, stream, probe; returns the assertions' verdict as an error or nothing. */
async function runSession(sys: ImapTestSystem, state: State, rnd: Prng): Promise<void> {
  const units = corpus(sys);
  const { client: c, commandState } = await enter(sys, state, rnd);
  try {
    const count = 1 + rnd.int(8);
    const mutated = new Set<number>();
    const wanted = 1 + rnd.int(Math.min(3, count));
    while (mutated.size < wanted) mutated.add(rnd.int(count));
    const sent: Buffer[] = [];
    const tags: string[] = [];
    for (let i = 0; i < count; i++) {
      const tag = `F${i}`;
      tags.push(tag);
      const unit = Buffer.from(rnd.pick(units)(tag), 'latin1');
      sent.push(mutated.has(i) ? mutateBytes(unit, rnd) : unit);
    }
    const stream = Buffer.concat(sent);
    await c.writeChunked(stream, rnd);

    // Probe until answered or closed: CRLF ends a partial line, DONE ends an IDLE, '*' a SASL
    // exchange; filler completes a pending literal (the limits below keep literals small).
    let probe = 0;
    let answered = false;
    const deadline = Date.now() + 8000;
    while (!c.closed && Date.now() < deadline) {
      const p = `ZP${probe++}`;
      c.write(`\r\nDONE\r\n*\r\n${p} NOOP\r\n`);
      answered = await c.wait(() => c.closed || responses(c.received).some((r) => taggedOf(r)?.[1].startsWith('ZP') ?? false), 150);
      if (answered && !c.closed) break;
      if (!c.closed) c.write(Buffer.alloc(2048, 0x78));
    }
    const all = responses(c.received);
    const context = () => `state ${state}; sent ${JSON.stringify(stream.toString('latin1').slice(0, 600))}; got ${JSON.stringify(all.slice(-8))}`;
    const probed = all.some((r) => taggedOf(r)?.[1].startsWith('ZP'));
    if (!probed) {
      if (!c.closed) throw new Error(`no answer to the probe and not closed within 8 s (${context()})`);
      if (!all.some((r) => r.startsWith('* BYE'))) throw new Error(`closed without * BYE (${context()})`);
    }
    const sentText = c.sent.toString('latin1');
    const answers = new Map<string, number>();
    for (const r of all) {
      const m = taggedOf(r);
      if (!m) continue;
      if (/\[SERVERBUG\]/.test(r)) throw new Error(`SERVERBUG: ${r} (${context()})`);
      const tag = m[1];
      answers.set(tag, (answers.get(tag) ?? 0) + 1);
      if (!sentText.includes(tag)) throw new Error(`answer to a tag never sent: ${r} (${context()})`);
    }
    for (const [tag, n] of answers) {
      // Sent as the first word of a line (a literal's end can also start one: hence at least 1).
      const times = sentText.split(new RegExp(`(?:^|\\n)${tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=[ \\r\\n]|$)`)).length - 1;
      if (n > Math.max(times, 1)) throw new Error(`${tag} answered ${n} times, sent ${times} (${context()})`);
    }
    if (commandState && probed) {
      const first = Math.min(...mutated);
      for (let i = 0; i < first; i++) {
        if (sent[i].toString('latin1').includes(' LOGOUT')) break;
        if (!answers.has(tags[i])) throw new Error(`intact command ${tags[i]} before the first mutated one was not answered (${context()})`);
      }
    }
  } finally {
    c.destroy();
  }
}

/** A well-behaved client after the fuzzing: the same account is still served. */
async function freshSession(sys: ImapTestSystem): Promise<void> {
  const c = await RawImap.login(sys.port, sys.user, sys.password);
  try {
    expect((await c.command('SELECT INBOX')).tagged).toMatch(/ OK /);
    expect((await c.command('UID FETCH 1:* (UID FLAGS)')).tagged).toMatch(/ OK /);
    expect((await c.command('LOGOUT')).tagged).toMatch(/ OK /);
  } finally {
    c.close();
  }
}

describe('IMAP session fuzz (local adapters)', () => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem('local', {
      env: { AUTH_MAX_FAILURES_PER_CLIENT: '0', AUTH_MAX_FAILURES_PER_ACCOUNT: '0' },
      // Small limits keep a mutated literal size from holding a session for long.
      limits: {
        maxLineLength: 4096,
        maxCommandText: 16384,
        maxLiteral: 4096,
        maxPreAuthLiteral: 2048,
        maxAppendSize: 4096,
        maxAuthFailures: 1000,
        preAuthTimeoutMs: 5000,
        authTimeoutMs: 5000,
        idlePollMs: 200,
      },
    });
    // A cheap scrypt cost for this test's user (the server verifies with the hash's own
    // parameters): hundreds of logins would otherwise spend the time budget on hashing.
    await sys.ts.adapters.index.setPasswordHash(sys.user, await hashPassword(sys.password, { N: 1024, r: 8, p: 1 }));
  });
  afterAll(() => sys?.stop());

  const states: State[] = ['not authenticated', 'authenticated', 'selected', 'idle', 'append literal', 'authenticate exchange'];
  for (const [n, state] of states.entries()) {
    it(`${state}: mutated command streams get answers or a BYE, and a fresh session is served after them`, async () => {
      await fuzzRuns(`imap session fuzz (${state})`, { seed: 1000 * (n + 1), runs: 25 }, async (rnd) => {
        if ((await sys.uids()).length < 3) for (let i = 0; i < 3; i++) await sys.deliver(sampleMessage(`m${i}`));
        await runSession(sys, state, rnd);
      });
      await freshSession(sys);
    });
  }
});
