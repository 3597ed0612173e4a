/**
 * DKIM signing of outbound mail (RFC 6376), relaxed/relaxed canonicalization (§3.4.2, §3.4.4),
 * rsa-sha256 or ed25519-sha256 (RFC 8463) by the key's type. The signature is computed once,
 * when the outbound copy is made, so every retry sends the same signed bytes.
 */
import { dkimSign } from 'mailauth';
import type { DkimKey } from './keys.ts';

/** Header fields we sign (RFC 6376 §5.4.1 recommendations); From is mandatory. */
export const SIGNED_HEADERS = [
  'From',
  'Sender',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'To',
  'Cc',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'In-Reply-To',
  'References',
  'List-Id',
  'List-Unsubscribe',
];

/** The DKIM-Signature header field (CRLF-terminated) for `raw`, or '' when signing failed. */
export async function dkimSignature(raw: Buffer, key: DkimKey, signTime = new Date()): Promise<string> {
  const signature = {
    signingDomain: key.domain,
    selector: key.selector,
    privateKey: key.privateKey,
    algorithm: key.algorithm === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256',
    canonicalization: 'relaxed/relaxed',
  };
  // mailauth signs what `signatureData` lists; the top-level fields are defaults for it.
  const result = await dkimSign(raw, { ...signature, headerList: SIGNED_HEADERS, signTime, signatureData: [signature] });
  if (result.errors && result.errors.length > 0) throw new Error(`DKIM signing failed for ${key.domain}: ${JSON.stringify(result.errors)}`);
  return result.signatures;
}
