/**
 * The self-signed certificate of the local runtime (fargate-listeners/src/tls.ts) names every
 * way a client reaches the server, so clients that trust the file verify it when they connect
 * by IP (RFC 6125 §6.2.1: an IP reference identity is matched against iPAddress entries only).
 */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';
import { afterEach, describe, expect, it } from 'vitest';
import { python } from '../support/clients.ts';
import { startTestSystem, type TestSystem } from '../support/mail-system.ts';

// Logs in over IMAPS with certificate and host name verification against the cert file.
const IMAPS_VERIFIED = `
import imaplib, ssl, sys
host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
try:
    with imaplib.IMAP4_SSL(host, port, ssl_context=ctx) as m:
        m.login('alice@example.test', 'pw')
        print('verified', m.select('INBOX')[0])
except ssl.SSLCertVerificationError as e:
    print('unverified', e.verify_message)
`;

describe('self-signed certificate', () => {
  let sys: TestSystem | undefined;
  afterEach(async () => {
    await sys?.stop();
    sys = undefined;
  });

  it('names MAIL_HOSTNAME, localhost, 127.0.0.1, ::1 and the MAIL_BIND address; Python verifies it by IP', async () => {
    sys = await startTestSystem({ env: { MAIL_BIND: '127.0.0.3' } });
    await sys.addUser('alice@example.test', 'pw');
    const certFile = path.join(sys.dataDir, 'tls', 'cert.pem');
    const x509 = new X509Certificate(readFileSync(certFile));
    for (const host of ['mx.test', 'localhost']) expect(x509.checkHost(host, { wildcards: false })).toBe(host);
    for (const ip of ['127.0.0.1', '::1', '127.0.0.3']) expect(x509.checkIP(ip)).toBe(ip);
    const r = await python(IMAPS_VERIFIED, ['127.0.0.3', String(sys.port('imaps')), certFile]);
    expect(r.stdout.trim(), r.stderr).toBe('verified OK');
  });

  it('makes the pair again when the one on disk lacks one of those names', async () => {
    // A certificate as earlier versions made it: no ::1, no MAIL_BIND address.
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tls-old-'));
    try {
      const old = await generate([{ name: 'commonName', value: 'mx.test' }], {
        keySize: 2048,
        algorithm: 'sha256',
        extensions: [
          {
            name: 'subjectAltName',
            altNames: [
              { type: 2, value: 'mx.test' },
              { type: 2, value: 'localhost' },
              { type: 7, ip: '127.0.0.1' },
            ],
          },
        ],
      } as any);
      mkdirSync(path.join(dataDir, 'tls'), { recursive: true });
      writeFileSync(path.join(dataDir, 'tls', 'cert.pem'), old.cert);
      writeFileSync(path.join(dataDir, 'tls', 'key.pem'), old.private);
      expect(new X509Certificate(old.cert).checkIP('127.0.0.3')).toBeUndefined();
      sys = await startTestSystem({ env: { MAIL_BIND: '127.0.0.3', MAIL_DATA_DIR: dataDir } });
      await sys.addUser('alice@example.test', 'pw');
      const certFile = path.join(dataDir, 'tls', 'cert.pem');
      const cert = readFileSync(certFile, 'utf8');
      expect(cert).not.toBe(old.cert);
      expect(new X509Certificate(cert).checkIP('127.0.0.3')).toBe('127.0.0.3');
      const r = await python(IMAPS_VERIFIED, ['127.0.0.3', String(sys.port('imaps')), certFile]);
      expect(r.stdout.trim(), r.stderr).toBe('verified OK');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
