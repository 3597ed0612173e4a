/**
 * Client misbehaviour is logged as what it is — info/warn with the client's address — and not
 * as a server error (issue 18 item 8): a client that disconnects mid-DATA, garbage where the
 * TLS handshake should be after STARTTLS (RFC 3207).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '#core/log.ts';
import { eventually, startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { LineClient } from '../support/line-client.ts';

describe('quiet logs for client misbehaviour', () => {
  let sys: TestSystem | undefined;
  let lines: Array<Record<string, any>> = [];
  afterEach(async () => {
    await sys?.stop();
    sys = undefined;
    lines = [];
  });
  const start = async () => {
    sys = await startTestSystem({ logger: createLogger({}, 'debug', (l) => lines.push(JSON.parse(l))) });
    await sys.addUser('alice@example.test', 'pw');
    return sys;
  };
  const errors = () => lines.filter((l) => l.level === 'error');

  it('a client gone mid-DATA is an info line with its address, not "blob store put failed"', async () => {
    const s = await start();
    for (let i = 0; i < 5; i++) {
      const c = await LineClient.connect(s.port('smtp-mx'));
      await c.smtpReply();
      for (const cmd of ['EHLO t', 'MAIL FROM:<x@remote.test>', 'RCPT TO:<alice@example.test>', 'DATA']) await c.send(cmd);
      c.write('Subject: cut\r\n\r\n' + ('z'.repeat(998) + '\r\n').repeat(300 * (i + 1)));
      await new Promise((r) => setTimeout(r, 20 * i));
      c.close();
    }
    await eventually(async () => lines.filter((l) => l.msg === 'client disconnected during DATA').length === 5);
    expect(lines.filter((l) => l.msg === 'client disconnected during DATA').every((l) => l.level === 'info' && l.client === '127.0.0.1')).toBe(true);
    expect(errors()).toEqual([]);
  });

  it('garbage after STARTTLS is a warning naming the client, not "smtp server error"', async () => {
    const s = await start();
    const c = await LineClient.connect(s.port('submission'));
    await c.smtpReply();
    await c.send('EHLO t');
    expect(await c.send('STARTTLS')).toMatch(/^220 /);
    c.write('this is not a TLS ClientHello\r\n\x16\x03\x01\x00\x05garbage');
    await eventually(async () => lines.some((l) => l.msg === 'smtp client connection failed'));
    const warned = lines.find((l) => l.msg === 'smtp client connection failed')!;
    expect(warned).toMatchObject({ level: 'warn', client: '127.0.0.1', listener: 'submission' });
    expect(errors()).toEqual([]);
    c.close();
  });
});
