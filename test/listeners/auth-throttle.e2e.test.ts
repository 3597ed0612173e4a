/**
 * The process's one failed-login throttle, end to end (issue 18 items 1-2, issue 9 item 12):
 * many clients at once, each from its own loopback source address (127.0.0.2 … 127.0.0.40:
 * the whole 127/8 is loopback on Linux), against IMAP, POP3 and submission of one system.
 * "Password checks" are the index's user lookups that authenticate() makes, counted below the
 * listeners: a refused attempt never reaches them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapters } from '#core/adapters/adapters.ts';
import { createLogger } from '#core/log.ts';
import { quote, RawImap } from '../imap/support/raw-client.ts';
import { RawPop3Client } from '../pop3/support/raw-client.ts';
import { LineClient } from '../support/line-client.ts';
import { override, startTestSystem, type TestSystem } from '../support/mail-system.ts';

const PASSWORD = 'right password';

interface Counted {
  ts: TestSystem;
  /** Addresses authenticate() looked up, in order. */
  checks: string[];
  log: Array<Record<string, unknown>>;
}

async function countedSystem(env: Record<string, string> = {}): Promise<Counted> {
  const checks: string[] = [];
  const log: Array<Record<string, unknown>> = [];
  const ts = await startTestSystem({
    workers: false,
    env,
    logger: createLogger({}, 'info', (line) => void log.push(JSON.parse(line) as Record<string, unknown>)),
    wrapAdapters: (a: Adapters) => ({
      ...a,
      index: override(a.index, {
        getUser: (address: string) => {
          checks.push(address);
          return a.index.getUser(address);
        },
      }),
    }),
  });
  return { ts, checks, log };
}

const source = (n: number) => `127.0.0.${n}`;

async function imapLogin(port: number, from: string, user: string, password: string): Promise<string> {
  const c = await RawImap.connect(port, { localAddress: from });
  try {
    await c.line();
    return (await c.command(`LOGIN ${quote(user)} ${quote(password)}`, 15_000)).tagged;
  } finally {
    c.close();
  }
}

async function imapPlain(port: number, from: string, user: string, password: string): Promise<string> {
  const c = await RawImap.connect(port, { localAddress: from });
  try {
    await c.line();
    return (await c.command(`AUTHENTICATE PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`, 15_000)).tagged;
  } finally {
    c.close();
  }
}

/** USER/PASS attempts on one POP3 connection (until the server closes it); the answers. */
async function pop3Logins(port: number, from: string, user: string, passwords: string[]): Promise<string[]> {
  const c = await RawPop3Client.connect(port, { localAddress: from });
  const answers: string[] = [];
  try {
    await c.line();
    for (const p of passwords) {
      if (c.isClosed) break;
      await c.cmd(`USER ${user}`);
      c.write(`PASS ${p}\r\n`);
      answers.push(await c.line(20_000));
    }
    return answers;
  } finally {
    c.close();
  }
}

/** One AUTH PLAIN on a POP3 connection; the answer. */
async function pop3Plain(port: number, from: string, user: string, password: string): Promise<string> {
  const c = await RawPop3Client.connect(port, { localAddress: from });
  try {
    await c.line();
    c.write(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}\r\n`);
    return await c.line(20_000);
  } finally {
    c.close();
  }
}

async function submissionAuth(port: number, from: string, user: string, password: string): Promise<string> {
  const c = await LineClient.connect(port, '127.0.0.1', from);
  try {
    // Long waits: password checks of many parallel logins queue behind each other on a loaded machine.
    await c.smtpReply(30_000);
    c.write('EHLO client.test\r\n');
    await c.smtpReply(30_000);
    c.write(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}\r\n`);
    return await c.smtpReply(30_000);
  } finally {
    c.close();
  }
}

describe('login throttle and right passwords from one address', () => {
  let sys: Counted;
  const users = Array.from({ length: 6 }, (_, i) => `staff${i}@example.test`);

  beforeAll(async () => {
    sys = await countedSystem();
    for (const u of users) await sys.ts.addUser(u, PASSWORD);
  }, 60_000);
  afterAll(() => sys?.ts.stop());

  it('an office behind one NAT address logging in at once on IMAP, POP3 and submission (24 right passwords, more than the per-client limit of 10) is let in every time', async () => {
    const from = source(200);
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) => {
        const user = users[i % users.length];
        if (i % 4 === 0) return submissionAuth(sys.ts.port('submission'), from, user, PASSWORD);
        if (i % 4 === 1) return pop3Plain(sys.ts.port('pop3'), from, user, PASSWORD);
        return (i % 2 ? imapLogin : imapPlain)(sys.ts.port('imap'), from, user, PASSWORD);
      }),
    );
    const refused = answers.filter((a) => !/^(235|\+OK)|\bOK\b/.test(a) || / NO /.test(a));
    expect(refused).toEqual([]);
    expect(answers.filter((a) => /^235/.test(a))).toHaveLength(6);
  }, 120_000);
});

describe('login throttle with default limits (20 per account, 10 per client, 15 min)', () => {
  let sys: Counted;
  const alice = 'alice@example.test';
  const pat = 'pat@example.test';

  beforeAll(async () => {
    sys = await countedSystem();
    await sys.ts.addUser(alice, PASSWORD);
    await sys.ts.addUser(pat, PASSWORD);
  }, 60_000);
  afterAll(() => sys?.ts.stop());

  it('IMAP: 40 wrong passwords for one account spelt with spaces and case, from 40 addresses at once, get 20 password checks; the right one is then refused too', async () => {
    const port = sys.ts.port('imap');
    const spellings = Array.from({ length: 40 }, (_, i) => {
      const pad = ' '.repeat(i + 1);
      return [`${alice}${pad}`, `${pad}${alice}`, `${pad}ALICE@Example.Test${pad}`, `Alice@EXAMPLE.test${pad}`][i % 4];
    });
    const before = sys.checks.length;
    const answers = await Promise.all(spellings.map((name, i) => (i % 2 ? imapLogin : imapPlain)(port, source(i + 2), name, `guess ${i}`)));
    const checked = sys.checks.slice(before).filter((a) => a === alice).length;
    expect(checked).toBe(20);
    expect(answers.filter((a) => / NO \[AUTHENTICATIONFAILED\]/.test(a))).toHaveLength(20);
    expect(answers.filter((a) => / NO \[UNAVAILABLE\]/.test(a))).toHaveLength(20);
    // The account is now refused unchecked, with the right password too, however it is spelt.
    for (const [i, name] of [`${alice} `, ` ${alice}`, 'ALICE@EXAMPLE.TEST', alice].entries()) {
      expect(await imapLogin(port, source(50 + i), name, PASSWORD)).toMatch(/ NO \[UNAVAILABLE\]/);
    }
    expect(await imapPlain(port, source(55), `${alice}   `, PASSWORD)).toMatch(/ NO \[UNAVAILABLE\]/);
    expect(sys.checks.slice(before).filter((a) => a === alice)).toHaveLength(20);
    // A failed IMAP login is logged with the client address (as SMTP does).
    const failed = sys.log.filter((l) => l.msg === 'authentication failed' && l.proto === 'imap');
    expect(failed.length).toBeGreaterThan(0);
    for (const l of failed) expect(l.client).toMatch(/^(::ffff:)?127\.0\.0\.\d+$/);
  }, 120_000);

  it('POP3: 39 addresses with parallel connections guessing one account get at most 20 password checks (the per-task budget)', async () => {
    const port = sys.ts.port('pop3');
    const before = sys.checks.length;
    // Three attempts per connection (then the server closes it), two connections per address
    // at once: 234 guesses in all, six per address (under the per-address limit of 10).
    const runs = Array.from({ length: 39 }, (_, i) =>
      [0, 1].map((k) => pop3Logins(port, source(i + 2), pat, [`g${i}.${k}.1`, `g${i}.${k}.2`, `g${i}.${k}.3`])),
    ).flat();
    const answers = (await Promise.all(runs)).flat();
    const checked = sys.checks.slice(before).filter((a) => a === pat).length;
    expect(checked).toBe(20);
    expect(answers.filter((a) => a.startsWith('-ERR [AUTH] authentication failed'))).toHaveLength(20);
    expect(answers.filter((a) => a.startsWith('-ERR [AUTH] too many failed logins'))).toHaveLength(answers.length - 20);
    // The right password from a fresh address is refused without a check as well.
    expect(await pop3Logins(port, source(60), pat, [PASSWORD])).toEqual([expect.stringMatching(/^-ERR \[AUTH\] too many failed logins/)]);
    expect(sys.checks.slice(before).filter((a) => a === pat)).toHaveLength(20);
  }, 180_000);
});

describe('one throttle for IMAP, POP3 and submission (4 per account, 3 per client)', () => {
  let sys: Counted;
  const bob = 'bob@example.test';
  const carol = 'carol@example.test';
  const jorg = 'j\u00f6rg@example.test'; // NFC

  beforeAll(async () => {
    sys = await countedSystem({ AUTH_MAX_FAILURES_PER_ACCOUNT: '4', AUTH_MAX_FAILURES_PER_CLIENT: '3' });
    await sys.ts.addUser(bob, PASSWORD);
    await sys.ts.addUser(carol, PASSWORD);
    await sys.ts.addUser(jorg, PASSWORD);
  }, 60_000);

  it('Unicode spellings are the account authentication resolves: NFD logs in, and NFD/upper-case failures from 4 addresses at once use up the NFC account', async () => {
    const nfd = 'jo\u0308rg@example.test';
    // The decomposed spelling is the same user (names are NFC-normalised, RFC 6532 §3.1).
    expect(await imapPlain(sys.ts.port('imap'), source(130), nfd, PASSWORD)).toMatch(/ OK /);
    const spellings = [nfd, 'J\u00d6RG@EXAMPLE.TEST', ` JO\u0308RG@example.test `, `${jorg}  `];
    const answers = await Promise.all(
      spellings.map((name, i) => (i % 2 ? pop3Plain : imapPlain)(sys.ts.port(i % 2 ? 'pop3' : 'imap'), source(131 + i), name, 'wrong')),
    );
    expect(answers.every((a) => /AUTHENTICATIONFAILED|-ERR \[AUTH\] authentication failed/.test(a))).toBe(true);
    expect(await imapPlain(sys.ts.port('imap'), source(140), jorg, PASSWORD)).toMatch(/ NO \[UNAVAILABLE\]/);
    expect(await submissionAuth(sys.ts.port('submission'), source(141), nfd, PASSWORD)).toMatch(/^454 4\.7\.0/);
    // A compatibility spelling (full-width j, which NFKC would fold) is another name, for
    // authentication as for the throttle: not this account, so no way around its limit.
    expect(await imapPlain(sys.ts.port('imap'), source(142), '\uff4a\u00f6rg@example.test', PASSWORD)).toMatch(/ NO \[AUTHENTICATIONFAILED\]/);
  }, 60_000);
  afterAll(() => sys?.ts.stop());

  it('failures spent on IMAP for an account count against POP3 and submission for it', async () => {
    for (let i = 0; i < 4; i++) expect(await imapLogin(sys.ts.port('imap'), source(100 + i), bob, 'wrong')).toMatch(/ NO \[AUTHENTICATIONFAILED\]/);
    expect(await pop3Logins(sys.ts.port('pop3'), source(110), bob, [PASSWORD])).toEqual([expect.stringMatching(/^-ERR \[AUTH\] too many failed logins/)]);
    expect(await submissionAuth(sys.ts.port('submission'), source(111), ` ${bob.toUpperCase()}`, PASSWORD)).toMatch(/^454 4\.7\.0/);
    expect(await imapLogin(sys.ts.port('imap'), source(112), bob, PASSWORD)).toMatch(/ NO \[UNAVAILABLE\]/);
  }, 60_000);

  it('failures spent on IMAP from a client count against POP3 and submission from it', async () => {
    const from = source(120);
    for (const u of ['x1@example.test', 'x2@example.test', 'x3@example.test'])
      expect(await imapLogin(sys.ts.port('imap'), from, u, 'wrong')).toMatch(/ NO \[AUTHENTICATIONFAILED\]/);
    expect(await pop3Logins(sys.ts.port('pop3'), from, carol, [PASSWORD])).toEqual([expect.stringMatching(/^-ERR \[AUTH\] too many failed logins/)]);
    expect(await submissionAuth(sys.ts.port('submission'), from, carol, PASSWORD)).toMatch(/^454 4\.7\.0/);
    // Carol herself is not blocked: another client logs in.
    expect(await pop3Logins(sys.ts.port('pop3'), source(121), carol, [PASSWORD])).toEqual([expect.stringMatching(/^\+OK/)]);
  }, 60_000);
});
