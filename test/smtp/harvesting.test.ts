/**
 * Directory harvesting on the MX listener (bad-recipients.ts): refused recipients are counted
 * per session and per client address; from half of SMTP_MAX_BAD_RCPT on each refusal is
 * delayed, past it the client gets `421 4.7.0` and is disconnected, and reconnecting does not
 * reset the count. Several clients at once, each from its own loopback source address.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineClient } from '../support/line-client.ts';
import { startTestSystem, type TestSystem } from '../support/mail-system.ts';

const DELAY_MS = 150;

async function session(port: number, from: string): Promise<LineClient> {
  const c = await LineClient.connect(port, '127.0.0.1', from);
  expect(await c.smtpReply()).toMatch(/^220 /);
  expect(await c.send('EHLO harvester.test')).toMatch(/^250/);
  expect(await c.send('MAIL FROM:<probe@remote.test>')).toMatch(/^250/);
  return c;
}

describe('directory harvesting (SMTP_MAX_BAD_RCPT=20)', () => {
  let ts: TestSystem;
  beforeAll(async () => {
    ts = await startTestSystem({ workers: false, env: { SMTP_BAD_RCPT_DELAY_MS: String(DELAY_MS) } });
    await ts.addUser('alice@example.test', 'pw');
  });
  afterAll(() => ts?.stop());

  it('five harvesters at once: 20 refusals each (the last 10 slowed down), then 421 4.7.0 and disconnect; RSET does not reset the count', async () => {
    const port = ts.port('smtp-mx');
    const results = await Promise.all(
      [2, 3, 4, 5, 6].map(async (n) => {
        const c = await session(port, `127.0.0.${n}`);
        const replies: string[] = [];
        const times: number[] = [];
        for (let i = 1; i <= 30 && !c.isClosed; i++) {
          if (i === 5) expect(await c.send('RSET')).toMatch(/^250/);
          if (i === 5) expect(await c.send('MAIL FROM:<probe@remote.test>')).toMatch(/^250/);
          const t0 = Date.now();
          try {
            replies.push(await c.send(`RCPT TO:<guess${i}@example.test>`));
          } catch {
            break; // closed by the server
          }
          times.push(Date.now() - t0);
        }
        const closed = await c.closedByServer();
        return { replies, times, closed };
      }),
    );
    for (const { replies, times, closed } of results) {
      expect(replies.slice(0, 20).every((r) => r.startsWith('550 5.1.1'))).toBe(true);
      expect(replies[20]).toMatch(/^421 4\.7\.0 /);
      expect(replies).toHaveLength(21);
      expect(closed).toBe(true);
      // Refusals 11 to 21 each waited the tarpit delay.
      for (const t of times.slice(10)) expect(t).toBeGreaterThanOrEqual(DELAY_MS - 5);
    }
  }, 60_000);

  it('reconnecting from the same address does not reset the count: the next refusal is 421; a valid recipient is still accepted', async () => {
    const c = await session(ts.port('smtp-mx'), '127.0.0.2');
    expect(await c.send('RCPT TO:<guess98@example.test>')).toMatch(/^421 4\.7\.0 /);
    expect(await c.closedByServer()).toBe(true);
    const d = await session(ts.port('smtp-mx'), '127.0.0.2');
    expect(await d.send('RCPT TO:<alice@example.test>')).toMatch(/^250/);
    d.close();
  });

  it('a transaction holding a valid recipient is not dropped for the address count alone: the bad one gets 550 (slowed), the mail is accepted', async () => {
    const c = await session(ts.port('smtp-mx'), '127.0.0.3');
    expect(await c.send('RCPT TO:<alice@example.test>')).toMatch(/^250/);
    const t0 = Date.now();
    expect(await c.send('RCPT TO:<guess99@example.test>')).toMatch(/^550 5\.1\.1 /);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(DELAY_MS - 5);
    expect(await c.send('DATA')).toMatch(/^354/);
    expect(await c.send('Subject: from a busy address\r\n\r\nhello\r\n.')).toMatch(/^250/);
    c.close();
  });

  it('a fresh client address is not affected: a valid RCPT is accepted, an unknown one gets a plain 550 at once', async () => {
    const c = await session(ts.port('smtp-mx'), '127.0.0.9');
    expect(await c.send('RCPT TO:<alice@example.test>')).toMatch(/^250/);
    const t0 = Date.now();
    expect(await c.send('RCPT TO:<nobody@example.test>')).toMatch(/^550 5\.1\.1 /);
    expect(Date.now() - t0).toBeLessThan(DELAY_MS * 10); // not tarpitted (a generous bound for a loaded machine)
    expect(await c.send('DATA')).toMatch(/^354/);
    expect(await c.send('Subject: still works\r\n\r\nhello\r\n.')).toMatch(/^250/);
    c.close();
  });

  it('counts per client address across sessions: many short sessions of a few refusals each end in 421 too', async () => {
    const port = ts.port('smtp-mx');
    const replies: string[] = [];
    for (let s = 0; s < 8 && !replies.some((r) => r.startsWith('421')); s++) {
      const c = await session(port, '127.0.0.12');
      for (let i = 0; i < 3 && !c.isClosed; i++) replies.push(await c.send(`RCPT TO:<s${s}x${i}@example.test>`).catch(() => 'closed'));
      c.close();
    }
    expect(replies.filter((r) => r.startsWith('550'))).toHaveLength(20);
    expect(replies[20]).toMatch(/^421 4\.7\.0 /);
  }, 60_000);
});
