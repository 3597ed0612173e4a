/**
 * Whole POP3 sessions fuzzed (mox's FuzzServer; invariant 6 of docs/architecture.md): a real
 * listener on the local adapters, brought into each state — AUTHORIZATION, after USER,
 * TRANSACTION, inside an AUTH PLAIN exchange — then fed well-formed commands with a few
 * mutated, in random segments. POP3 answers every line with one status line (`+OK`, `-ERR`,
 * or `+ ` inside SASL), multi-line bodies between, in order (RFC 1939 §3, RFC 2449 §6.6). So:
 *  - a CAPA probe after the stream is answered, and by then exactly one status line has come
 *    per line sent (plus the greeting); or the server closed the connection, after a last
 *    status line that says why (-ERR, or +OK to a QUIT) — never silence;
 *  - QUIT then ends the session with +OK;
 *  - a fresh, well-behaved session (USER, PASS, STAT, LIST, RETR, QUIT) is served afterwards.
 * A failure prints its seed; FUZZ_SEED=<seed> FUZZ_RUNS=1 repeats it (test/support/prng.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '#core/accounts/password.ts';
import { fuzzRuns, type Prng } from '../support/prng.ts';
import { mutateBytes, RecordingSocket } from '../support/session-fuzz.ts';
import { RawPop3Client } from './support/raw-client.ts';
import { startPop3System, type Pop3TestSystem } from './support/pop3-system.ts';

type State = 'authorization' | 'after USER' | 'transaction' | 'auth exchange';

const message = (n: number) =>
  Buffer.from(`From: bob@example.test\r\nSubject: pop ${n}\r\nMessage-ID: <pop${n}@example.test>\r\n\r\nline one\r\n.leading dot\r\n`);

/** Complete lines (bare LF ends a line too) of a byte stream. */
function lines(buf: Buffer): string[] {
  const text = buf.toString('latin1');
  const parts = text.split('\n');
  parts.pop();
  return parts.map((l) => l.replace(/\r$/, ''));
}

const isStatus = (l: string) => l.startsWith('+OK') || l.startsWith('-ERR') || l === '+' || l.startsWith('+ ');

function corpus(sys: Pop3TestSystem): string[] {
  const ir = Buffer.from(`\0${sys.user}\0${sys.password}`).toString('base64');
  return [
    'CAPA\r\n',
    `USER ${sys.user}\r\n`,
    `PASS ${sys.password}\r\n`,
    'PASS wrong\r\n',
    `AUTH PLAIN ${ir}\r\n`,
    `AUTH PLAIN\r\n${ir}\r\n`,
    'AUTH PLAIN\r\n*\r\n',
    'AUTH\r\n',
    'STAT\r\n',
    'LIST\r\n',
    'LIST 1\r\n',
    'UIDL\r\n',
    'UIDL 2\r\n',
    'RETR 1\r\n',
    'TOP 2 0\r\n',
    'TOP 1 99999999999\r\n',
    'DELE 3\r\n',
    'RSET\r\n',
    'NOOP\r\n',
    'APOP x y\r\n',
    'QUIT\r\n',
  ];
}

async function enter(sys: Pop3TestSystem, state: State): Promise<RecordingSocket> {
  // A previous session's maildrop lock goes when its connection closes: retry IN-USE briefly.
  for (let attempt = 0; ; attempt++) {
    const c = await RecordingSocket.connect(sys.port);
    const statuses = () => lines(c.received).filter(isStatus);
    if (!(await c.wait(() => statuses().length >= 1, 5000))) throw new Error('no greeting');
    if (state === 'authorization') return c;
    if (state === 'auth exchange') {
      c.write('AUTH PLAIN\r\n');
      if (!(await c.wait(() => statuses().length >= 2, 5000)) || !statuses()[1].startsWith('+ ')) throw new Error(`no continuation: ${statuses()}`);
      return c;
    }
    c.write(`USER ${sys.user}\r\n`);
    if (!(await c.wait(() => statuses().length >= 2, 5000))) throw new Error('no USER answer');
    if (state === 'after USER') return c;
    c.write(`PASS ${sys.password}\r\n`);
    if (!(await c.wait(() => statuses().length >= 3, 5000))) throw new Error('no PASS answer');
    if (statuses()[2].startsWith('+OK')) return c;
    c.destroy();
    if (attempt >= 40 || !/IN-USE/.test(statuses()[2])) throw new Error(`login failed: ${statuses()[2]}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function runSession(sys: Pop3TestSystem, state: State, rnd: Prng): Promise<void> {
  const units = corpus(sys);
  const c = await enter(sys, state);
  try {
    const count = 1 + rnd.int(8);
    const parts: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const unit = Buffer.from(rnd.pick(units), 'latin1');
      parts.push(rnd.chance(0.35) ? mutateBytes(unit, rnd) : unit);
    }
    const stream = Buffer.concat(parts);
    await c.writeChunked(stream, rnd);
    // '*' ends a SASL exchange (RFC 5034 §4); CAPA's answer is recognisable in any state.
    c.write('\r\n*\r\nCAPA\r\n');
    // In step: the output ends with a complete CAPA answer, and every line sent has had its
    // status line (a CAPA inside the stream may have been taken as SASL data: hence the count).
    const inStep = () => {
      const got = lines(c.received);
      const statuses = got.filter(isStatus);
      return got.at(-1) === '.' && (statuses.at(-1) ?? '').startsWith('+OK capability list follows') && statuses.length === lines(c.sent).length + 1;
    };
    const settled = await c.wait(() => c.closed || inStep(), 8000);
    const got = lines(c.received);
    const statuses = got.filter(isStatus);
    const context = () => `state ${state}; sent ${JSON.stringify(stream.toString('latin1').slice(0, 500))}; got ${JSON.stringify(got.slice(-8))}`;
    const sentLines = lines(c.sent).length;
    if (!settled)
      throw new Error(
        `neither answered the probe nor closed within 8 s: ${statuses.length} status lines for ${sentLines} lines sent and the greeting (${context()})`,
      );
    if (statuses.length > sentLines + 1) throw new Error(`${statuses.length} status lines for ${sentLines} lines sent (${context()})`);
    if (c.closed && !inStep()) {
      const last = statuses.at(-1) ?? '';
      if (!last.startsWith('-ERR') && !(last.startsWith('+OK') && /(^|\n)\s*quit/i.test(c.sent.toString('latin1'))))
        throw new Error(`closed after ${JSON.stringify(last)}, without a reason (${context()})`);
      return;
    }
    if (statuses.length !== sentLines + 1)
      throw new Error(`in step, yet ${statuses.length} status lines for ${sentLines} lines sent and the greeting (${context()})`);
    c.write('QUIT\r\n');
    if (!(await c.wait(() => c.closed, 5000))) throw new Error(`QUIT did not close (${context()})`);
    const final = lines(c.received).filter(isStatus).at(-1) ?? '';
    if (!final.startsWith('+OK') && !final.startsWith('-ERR')) throw new Error(`QUIT answered ${JSON.stringify(final)} (${context()})`);
  } finally {
    c.destroy();
  }
}

async function freshSession(sys: Pop3TestSystem): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const c = await RawPop3Client.connect(sys.port);
    try {
      expect(await c.line()).toMatch(/^\+OK/);
      expect(await c.cmd(`USER ${sys.user}`)).toMatch(/^\+OK/);
      const pass = await c.cmd(`PASS ${sys.password}`);
      if (/IN-USE/.test(pass) && attempt < 40) {
        await new Promise((r) => setTimeout(r, 25));
        continue;
      }
      expect(pass).toMatch(/^\+OK/);
      const stat = await c.cmd('STAT');
      expect(stat).toMatch(/^\+OK \d+ \d+/);
      expect(await c.cmd('LIST')).toMatch(/^\+OK/);
      expect((await c.body()).length).toBe(Number(stat.split(' ')[1]));
      if (Number(stat.split(' ')[1]) > 0) {
        expect(await c.cmd('RETR 1')).toMatch(/^\+OK/);
        expect((await c.body()).join('\n')).toContain('..leading dot');
      }
      expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
      return;
    } finally {
      c.close();
    }
  }
}

describe('POP3 session fuzz (local adapters)', () => {
  let sys: Pop3TestSystem;
  beforeAll(async () => {
    sys = await startPop3System('local', {
      env: { AUTH_MAX_FAILURES_PER_CLIENT: '0', AUTH_MAX_FAILURES_PER_ACCOUNT: '0' },
      maxAuthFailures: 1000,
      failureDelay: { baseMs: 1, maxMs: 2 },
    });
    // A cheap scrypt cost for this test's user (verified with the hash's own parameters).
    await sys.ts.adapters.index.setPasswordHash(sys.user, await hashPassword(sys.password, { N: 1024, r: 8, p: 1 }));
  });
  afterAll(() => sys?.stop());

  const states: State[] = ['authorization', 'after USER', 'transaction', 'auth exchange'];
  for (const [n, state] of states.entries()) {
    it(`${state}: mutated command streams get one answer per line or a closing -ERR, and a fresh session is served after them`, async () => {
      await fuzzRuns(`pop3 session fuzz (${state})`, { seed: 100 * (n + 1), runs: 30 }, async (rnd) => {
        // DELE + QUIT in the stream empties the maildrop over time: keep a few messages.
        if ((await sys.inboxUids()).length < 3) await sys.fill([message(1), message(2), message(3)]);
        await runSession(sys, state, rnd);
      });
      await freshSession(sys);
    });
  }
});
