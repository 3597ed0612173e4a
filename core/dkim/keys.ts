/**
 * DKIM keys per domain (RFC 6376 §3.6; ed25519 per RFC 8463). `mailctl domain dkim <domain>`
 * makes a key, stores it, and prints the TXT record to publish at
 * `<selector>._domainkey.<domain>`.
 *
 * Where the private keys live: the MailIndex port has no place for secrets, so a key is a
 * small JSON document in the blob store under `keys/dkim/<domain>` (files under the data
 * directory locally; the S3 bucket on AWS — private, encrypted at rest). On AWS the stricter
 * home is Secrets Manager: when DKIM_KEYS_SECRET_ARN is set, that secret (read through the
 * SecretStore port: Secrets Manager on AWS, a file or variable locally) holds JSON — an array
 * of DkimKey objects, or an object of them keyed by domain — read on first use; it wins over
 * the blob store. (`mailctl domain dkim` prints the JSON to put there with --json.)
 */
import { generateKeyPairSync } from 'node:crypto';
import type { BlobStore } from '../ports/blob-store.ts';
import { BlobNotFoundError } from '../ports/blob-store.ts';
import { readJsonSecret, type SecretStore } from '../ports/secrets.ts';

export type DkimKeyAlgorithm = 'rsa' | 'ed25519';

export interface DkimKey {
  domain: string;
  selector: string;
  algorithm: DkimKeyAlgorithm;
  /** PKCS#8 PEM. */
  privateKey: string;
  /** The `p=` value: base64 SubjectPublicKeyInfo (rsa) or the raw 32-byte key (ed25519, RFC 8463 §4). */
  publicKey: string;
  createdAt: number;
}

export const DKIM_KEY_PREFIX = 'keys/dkim/';

export function dkimKeyBlobKey(domain: string): string {
  return DKIM_KEY_PREFIX + encodeURIComponent(domain.toLowerCase());
}

/** A selector naming the algorithm and the month, e.g. `rsa202611`: rotation picks a new name. */
export function defaultSelector(algorithm: DkimKeyAlgorithm, now = new Date()): string {
  const ym = `${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
  return `${algorithm === 'ed25519' ? 'ed' : 'rsa'}${ym}`;
}

export function generateDkimKey(domain: string, algorithm: DkimKeyAlgorithm = 'rsa', selector = defaultSelector(algorithm)): DkimKey {
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(selector)) throw new Error(`invalid selector ${JSON.stringify(selector)}`);
  let privateKey: string;
  let publicKey: string;
  if (algorithm === 'rsa') {
    // RFC 8301 §3.2: at least 1024 bits, 2048 recommended.
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    publicKey = pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  } else {
    const pair = generateKeyPairSync('ed25519');
    privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    // The SPKI DER of an ed25519 key is a fixed 12-byte prefix and the 32-byte key.
    publicKey = pair.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
  }
  return { domain: domain.toLowerCase(), selector, algorithm, privateKey, publicKey, createdAt: Date.now() };
}

/** The DNS name and TXT value to publish for `key`. */
export function dkimTxtRecord(key: Pick<DkimKey, 'domain' | 'selector' | 'algorithm' | 'publicKey'>): { name: string; value: string } {
  return { name: `${key.selector}._domainkey.${key.domain}`, value: `v=DKIM1; k=${key.algorithm}; p=${key.publicKey}` };
}

/** The record in zone-file syntax; TXT strings are at most 255 octets each (RFC 1035 §3.3.14). */
export function dkimZoneLine(key: Pick<DkimKey, 'domain' | 'selector' | 'algorithm' | 'publicKey'>): string {
  const { name, value } = dkimTxtRecord(key);
  const chunks = value.match(/.{1,255}/g) ?? [];
  return `${name}. IN TXT ( ${chunks.map((c) => `"${c}"`).join(' ')} )`;
}

export async function saveDkimKey(blobs: BlobStore, key: DkimKey): Promise<void> {
  await blobs.put(dkimKeyBlobKey(key.domain), Buffer.from(JSON.stringify(key)));
}

export async function loadDkimKey(blobs: BlobStore, domain: string): Promise<DkimKey | null> {
  try {
    const key = JSON.parse((await blobs.get(dkimKeyBlobKey(domain))).toString('utf8')) as DkimKey;
    return key && typeof key.privateKey === 'string' && typeof key.selector === 'string' ? key : null;
  } catch (err) {
    if (err instanceof BlobNotFoundError) return null;
    throw err;
  }
}

/** Parses a secret's JSON: `[DkimKey, ...]` or `{ "<domain>": DkimKey, ... }`. */
export function parseDkimKeySecret(json: string): Map<string, DkimKey> {
  const value = JSON.parse(json) as unknown;
  const isObject = (v: unknown): v is DkimKey => typeof v === 'object' && v !== null;
  const list = Array.isArray(value)
    ? value
    : Object.entries((isObject(value) ? value : {}) as Record<string, unknown>)
        .filter((e): e is [string, DkimKey] => isObject(e[1]))
        .map(([domain, k]) => ({ ...k, domain: typeof k.domain === 'string' ? k.domain : domain }));
  const out = new Map<string, DkimKey>();
  for (const k of list as DkimKey[]) {
    if (!k || typeof k.domain !== 'string' || typeof k.privateKey !== 'string' || typeof k.selector !== 'string') continue;
    out.set(k.domain.toLowerCase(), { ...k, algorithm: k.algorithm === 'ed25519' ? 'ed25519' : 'rsa' });
  }
  return out;
}

/** Reads the DKIM keys secret, e.g. on a Lambda cold start. */
export async function loadDkimKeysFromSecret(secrets: SecretStore, secretName: string): Promise<Map<string, DkimKey>> {
  return parseDkimKeySecret(JSON.stringify(await readJsonSecret<unknown>(secrets, secretName)));
}

/**
 * Keys by domain with a short cache (a new key is used within `ttlMs` on every worker).
 * With `secret` (the store and the secret's name), the secret's keys come first (read once),
 * then the blob store.
 */
export function createDkimKeyCache(
  blobs: BlobStore,
  ttlMs = 60_000,
  secret: { store: SecretStore; name: string } | null = null,
): (domain: string) => Promise<DkimKey | null> {
  const cache = new Map<string, { key: DkimKey | null; until: number }>();
  let fromSecretKeys: Promise<Map<string, DkimKey>> | null = null;
  return async (domain) => {
    const d = domain.toLowerCase();
    if (secret) {
      fromSecretKeys ??= loadDkimKeysFromSecret(secret.store, secret.name);
      try {
        const fromSecret = (await fromSecretKeys).get(d);
        if (fromSecret) return fromSecret;
      } catch (err) {
        fromSecretKeys = null; // read again on the next call; the caller's job is retried meanwhile
        throw err;
      }
    }
    const hit = cache.get(d);
    if (hit && hit.until > Date.now()) return hit.key;
    const key = await loadDkimKey(blobs, d);
    cache.set(d, { key, until: Date.now() + ttlMs });
    return key;
  };
}
