/**
 * TLS material for every listener: the configured certificate and key (PEM files; on AWS the
 * container entry point writes them from Secrets Manager), or on the local runtime a
 * self-signed pair generated on first start under <dataDir>/tls and reused afterwards.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import type { MailConfig } from '../../core/config.ts';

export interface TlsMaterial {
  key: string;
  cert: string;
  context: tls.SecureContext;
}

export async function loadTls(config: Pick<MailConfig, 'tlsCertFile' | 'tlsKeyFile' | 'dataDir' | 'hostname'>): Promise<TlsMaterial> {
  let key: string;
  let cert: string;
  if (config.tlsCertFile && config.tlsKeyFile) {
    cert = readFileSync(config.tlsCertFile, 'utf8');
    key = readFileSync(config.tlsKeyFile, 'utf8');
  } else {
    const dir = path.join(config.dataDir, 'tls');
    const certFile = path.join(dir, 'cert.pem');
    const keyFile = path.join(dir, 'key.pem');
    if (!existsSync(certFile) || !existsSync(keyFile)) {
      mkdirSync(dir, { recursive: true });
      const pems = await generate([{ name: 'commonName', value: config.hostname }], {
        keySize: 2048,
        days: 825,
        algorithm: 'sha256',
        extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: config.hostname }, { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
      } as any);
      writeFileSync(keyFile, pems.private, { mode: 0o600 });
      writeFileSync(certFile, pems.cert);
    }
    cert = readFileSync(certFile, 'utf8');
    key = readFileSync(keyFile, 'utf8');
  }
  return { key, cert, context: tls.createSecureContext({ key, cert, minVersion: 'TLSv1.2' }) };
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.replace(/^::ffff:/, '');
  return a === '::1' || /^127\./.test(a);
}
