/**
 * TLS material for every listener: the configured certificate and key (PEM files; on AWS the
 * container entry point writes them from Secrets Manager), or on the local runtime a
 * self-signed pair generated on first start under <dataDir>/tls and reused afterwards.
 *
 * The self-signed certificate names every way a local client may reach the server — the
 * MAIL_HOSTNAME, localhost, 127.0.0.1, ::1 and each MAIL_BIND address — so a client that
 * trusts the file (fetchmail --sslcertfile, offlineimap's sslcacertfile) verifies it when it
 * connects by IP too (RFC 6125 §6.2.1; IP addresses are only matched against iPAddress
 * entries). A pair made earlier without one of these names is made again.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import type { MailConfig } from '#core/config.ts';

export interface TlsMaterial {
  key: string;
  cert: string;
  context: tls.SecureContext;
}

/** What the self-signed certificate must cover: DNS names and IP addresses. */
export function selfSignedNames(config: Pick<MailConfig, 'hostname'> & { bind?: string }): { dns: string[]; ips: string[] } {
  const dns = new Set([config.hostname.toLowerCase(), 'localhost']);
  const ips = new Set(['127.0.0.1', '::1']);
  for (const a of (config.bind ?? '').split(',').map((x) => x.trim())) {
    if (!a || a === '0.0.0.0' || a === '::') continue; // wildcard: the names above are what clients use
    if (net.isIP(a)) ips.add(a);
    else dns.add(a.toLowerCase());
  }
  return { dns: [...dns], ips: [...ips] };
}

/** True when the certificate names every host and address in `names`. */
function coversAll(certPem: string, names: { dns: string[]; ips: string[] }): boolean {
  try {
    const x509 = new X509Certificate(certPem);
    return names.dns.every((n) => x509.checkHost(n, { wildcards: false }) !== undefined) && names.ips.every((ip) => x509.checkIP(ip) !== undefined);
  } catch {
    return false; // unreadable: make a new one
  }
}

export async function loadTls(config: Pick<MailConfig, 'tlsCertFile' | 'tlsKeyFile' | 'dataDir' | 'hostname'> & { bind?: string }): Promise<TlsMaterial> {
  let key: string;
  let cert: string;
  if (config.tlsCertFile && config.tlsKeyFile) {
    cert = readFileSync(config.tlsCertFile, 'utf8');
    key = readFileSync(config.tlsKeyFile, 'utf8');
  } else {
    const dir = path.join(config.dataDir, 'tls');
    const certFile = path.join(dir, 'cert.pem');
    const keyFile = path.join(dir, 'key.pem');
    const names = selfSignedNames(config);
    if (!existsSync(certFile) || !existsSync(keyFile) || !coversAll(readFileSync(certFile, 'utf8'), names)) {
      mkdirSync(dir, { recursive: true });
      const altNames = [...names.dns.map((value) => ({ type: 2 as const, value })), ...names.ips.map((ip) => ({ type: 7 as const, ip }))];
      // selfsigned reads `algorithm` (the signature hash, SHA-1 without it) but its types omit
      // it, hence an options object, not a literal. Validity is selfsigned's default, 365 days.
      const options = { keySize: 2048, algorithm: 'sha256', extensions: [{ name: 'subjectAltName' as const, altNames }] };
      const pems = await generate([{ name: 'commonName', value: config.hostname }], options);
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
