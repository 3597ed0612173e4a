/**
 * SMTP smuggling (CVE-2023-51764, CVE-2023-51765, CVE-2023-51766): a sender hides an "end of
 * data" that some receiver honours — `\n.\n`, `\r\n.\n`, `\n.\r\n`, `\r.\r` — and behind it a
 * second SMTP transaction. We store what we receive with CRLF line endings only, and the
 * outbound client dot-stuffs every line that starts with '.', so what we relay has no line, by
 * any reading of CR, LF or CRLF as a line end, that is a lone '.' before the real end of data
 * (RFC 5321 §4.5.2), and no bare CR or LF at all (§2.3.8).
 *
 * A user of mail server A submits messages carrying those sequences (smtplib sends bytes as
 * they are); A finds the remote domain's MX in the test's DNS server and hands the messages to
 * a remote MX of the test's own that records the raw bytes of every session.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { smtplibSend } from '../support/smtplib.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { freePort } from '../support/emulator.ts';
import { eventually, startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { hasBareNewline, toCrlf } from '../support/message-bytes.ts';

interface Transaction {
  commands: string[];
  /** The DATA bytes as received, up to and including the CRLF . CRLF that ended them. */
  data: Buffer;
}

interface RecordingMx {
  port: number;
  transactions: Transaction[];
  /** Every command line received on every connection. */
  commands: string[];
  close(): Promise<void>;
}

/**
 * A remote MX that understands just enough SMTP (RFC 5321, strict CRLF framing, no extensions
 * but 8BITMIME) and records everything. Data ends only at CRLF . CRLF, as the RFC says.
 */
async function startRecordingMx(port: number): Promise<RecordingMx> {
  const rec: RecordingMx = { port, transactions: [], commands: [], close: async () => {} };
  const server = net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    let inData = false;
    let current: string[] = [];
    socket.write('220 mx.sink.test ESMTP recorder\r\n');
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (inData) {
          // The CRLF before the dot ends the last data line; data may also be empty.
          const end = buf.subarray(0, 3).equals(Buffer.from('.\r\n')) ? 0 : buf.indexOf('\r\n.\r\n');
          if (end === -1) return;
          const stop = end === 0 ? 3 : end + 5;
          rec.transactions.push({ commands: current, data: buf.subarray(0, stop) });
          buf = buf.subarray(stop);
          inData = false;
          current = [];
          socket.write('250 2.0.0 recorded\r\n');
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl === -1) return;
        const line = buf.subarray(0, nl).toString('latin1');
        buf = buf.subarray(nl + 2);
        rec.commands.push(line);
        current.push(line);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') socket.write('250-mx.sink.test\r\n250 8BITMIME\r\n');
        else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') {
          socket.end('221 2.0.0 bye\r\n');
          return;
        } else socket.write('250 2.0.0 ok\r\n');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  rec.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return rec;
}

/** Lines by every reading a receiver might use: CRLF, a lone CR and a lone LF each end one. */
function linesByAnyReading(data: Buffer): string[] {
  return data.toString('latin1').split(/\r\n|\r|\n/);
}

/** The data with the dot-stuffing removed and the terminator cut off (RFC 5321 §4.5.2). */
function unstuffed(data: Buffer): string {
  const text = data.toString('latin1');
  const body = text === '.\r\n' ? '' : text.slice(0, -3);
  return body.replace(/^\./gm, '');
}

const SEQUENCES: Array<[string, string]> = [
  ['LF . LF', '\n.\n'],
  ['CRLF . LF', '\r\n.\n'],
  ['LF . CRLF', '\n.\r\n'],
  ['CR . CR', '\r.\r'],
];

/** What a smuggler puts behind the fake end of data: a second transaction of its own. */
const SMUGGLED = 'MAIL FROM:<spoof@sink.test>\r\nRCPT TO:<victim@sink.test>\r\nDATA\r\nFrom: ceo@sink.test\r\n\r\nsmuggled\r\n.\r\n';

describe('no SMTP smuggling through our outbound delivery (CVE-2023-51764/51765/51766)', () => {
  let dns: TestDnsServer;
  let A: TestSystem;
  let mx: RecordingMx;

  beforeAll(async () => {
    dns = await startDnsServer({
      'sink.test': [{ type: 'MX', preference: 10, exchange: 'mx.sink.test' }],
      'mx.sink.test': [{ type: 'A', address: '127.0.0.1' }],
    });
    mx = await startRecordingMx(await freePort());
    A = await startTestSystem({
      env: {
        MAIL_HOSTNAME: 'mx.a.test',
        DNS_SERVERS: dns.server,
        DNS_TIMEOUT_MS: '1000',
        OUTBOUND_SMTP_PORT: String(mx.port),
        OUTBOUND_RETRY_BASE: '1',
        OUTBOUND_CONNECT_TIMEOUT: '5',
      },
    });
    await A.addUser('alice@a.test', 'alice-pw');
  });
  afterAll(async () => {
    await A?.stop();
    await mx?.close();
    await dns?.close();
  });

  it('relays messages with \\n.\\n, \\r\\n.\\n, \\n.\\r\\n and \\r.\\r in the body with no line the remote MX could read as the end of data', async () => {
    const bodies = SEQUENCES.map(
      ([name, seq], i) =>
        `From: alice@a.test\r\nTo: x@sink.test\r\nSubject: smuggle ${i} (${name})\r\nMessage-ID: <smuggle-${i}@a.test>\r\n\r\nbefore${seq}${SMUGGLED}after\r\n`,
    );
    for (const body of bodies) {
      // Over plaintext loopback (MAIL_ALLOW_PLAINTEXT_LOOPBACK), bytes as given.
      const data = Buffer.from(body, 'latin1');
      const r = await smtplibSend({
        port: A.port('submission'),
        auth: { user: 'alice@a.test', password: 'alice-pw' },
        from: 'alice@a.test',
        to: ['x@sink.test'],
        data,
      });
      expect(r.outcome, r.stderr).toEqual({ refused: {} });
    }
    await eventually(async () => mx.transactions.length >= bodies.length, 25_000);
    expect(mx.transactions).toHaveLength(bodies.length);

    // One transaction per message, all from alice: nothing smuggled became a command.
    expect(mx.commands.filter((c) => /^MAIL FROM:/i.test(c))).toEqual(bodies.map(() => expect.stringMatching(/^MAIL FROM:<alice@a\.test>/)));
    expect(mx.commands.some((c) => c.includes('spoof@sink.test') || c.includes('victim@sink.test'))).toBe(false);

    for (const t of mx.transactions) {
      const i = Number(/Subject: smuggle (\d)/.exec(t.data.toString('latin1'))![1]);
      // RFC 5321 §2.3.8: no bare CR or LF anywhere in what we sent.
      expect(hasBareNewline(t.data), SEQUENCES[i][0]).toBe(false);
      // Read with CR, LF or CRLF as line ends, the only lone '.' is the real terminator.
      const lines = linesByAnyReading(t.data);
      expect(lines.slice(-2), SEQUENCES[i][0]).toEqual(['.', '']);
      expect(
        lines.slice(0, -2).filter((l) => l === '.'),
        SEQUENCES[i][0],
      ).toEqual([]);
      // What the remote reads is the CRLF form of what the user sent, after A's trace fields,
      // and no Return-Path of ours (relaying is not final delivery, RFC 5321 §4.4).
      const text = unstuffed(t.data);
      expect(text.endsWith(toCrlf(bodies[i].slice(bodies[i].indexOf('\r\n\r\n'))).toString('latin1')), SEQUENCES[i][0]).toBe(true);
      expect(text).not.toMatch(/^Return-Path:/im);
      expect(text).toMatch(/^Received: from client\.test /);
    }
  });
});
