/**
 * Modified UTF-7 for mailbox names (RFC 3501 §5.1.3): printable US-ASCII stands for itself
 * except '&', written "&-"; any other run of characters is '&' + modified BASE64 (',' for '/',
 * no padding) of its UTF-16BE form + '-'. IMAP4rev2 and UTF8=ACCEPT sessions use UTF-8
 * instead (RFC 9051 §5.1, RFC 6855 §3).
 */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';

export function encodeMutf7(name: string): string {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const c = name.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e) {
      out += c === 0x26 ? '&-' : name[i];
      i++;
      continue;
    }
    let j = i;
    while (j < name.length) {
      const d = name.charCodeAt(j);
      if (d >= 0x20 && d <= 0x7e) break;
      j++;
    }
    const units = name.slice(i, j);
    const bytes = Buffer.alloc(units.length * 2);
    for (let k = 0; k < units.length; k++) bytes.writeUInt16BE(units.charCodeAt(k), k * 2);
    out += '&' + bytes.toString('base64').replace(/=+$/, '').replace(/\//g, ',') + '-';
    i = j;
  }
  return out;
}

export class Mutf7Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Mutf7Error';
  }
}

/**
 * Decodes modified UTF-7. Strict: 8-bit bytes, unterminated or non-canonical shifts (encoding
 * printable ASCII, empty "&…-" other than "&-", bad padding bits) and unpaired surrogates are
 * errors, so that each name has exactly one spelling.
 */
export function decodeMutf7(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c > 0x7e || c < 0x20) throw new Mutf7Error('Invalid character in mailbox name');
    if (c !== 0x26) {
      out += text[i];
      i++;
      continue;
    }
    const end = text.indexOf('-', i + 1);
    if (end < 0) throw new Mutf7Error('Unterminated modified UTF-7 sequence');
    const b64 = text.slice(i + 1, end);
    i = end + 1;
    if (b64.length === 0) {
      out += '&';
      continue;
    }
    let bits = 0;
    let acc = 0;
    const bytes: number[] = [];
    for (const ch of b64) {
      const v = B64.indexOf(ch);
      if (v < 0) throw new Mutf7Error('Invalid modified BASE64');
      acc = (acc << 6) | v;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        bytes.push((acc >> bits) & 0xff);
        acc &= (1 << bits) - 1;
      }
    }
    if (bits >= 6 || acc !== 0 || bytes.length % 2 !== 0) throw new Mutf7Error('Invalid modified BASE64 padding');
    let run = '';
    for (let k = 0; k < bytes.length; k += 2) run += String.fromCharCode((bytes[k] << 8) | bytes[k + 1]);
    for (let k = 0; k < run.length; k++) {
      const u = run.charCodeAt(k);
      if (u >= 0x20 && u <= 0x7e) throw new Mutf7Error('Printable ASCII must not be encoded');
      if (u >= 0xd800 && u <= 0xdbff) {
        const v = run.charCodeAt(k + 1);
        if (!(v >= 0xdc00 && v <= 0xdfff)) throw new Mutf7Error('Unpaired surrogate');
        k++;
      } else if (u >= 0xdc00 && u <= 0xdfff) throw new Mutf7Error('Unpaired surrogate');
    }
    out += run;
    // Two adjacent shifted runs are not canonical ("&AOQ-&AOQ-" is "&AOQA5A-").
    if (text.charCodeAt(i) === 0x26 && text.charCodeAt(i + 1) !== 0x2d) throw new Mutf7Error('Non-canonical modified UTF-7');
  }
  return out;
}
