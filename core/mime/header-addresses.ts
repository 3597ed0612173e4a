/**
 * The mailbox addresses of an address header (From:, Sender:, ...) as `local@domain` strings,
 * for policy checks (submission's "send only as yourself", DKIM's signing domain).
 */
import { parseAddressList } from './envelope.ts';
import { fieldValue, parseHeaderFields } from './header.ts';

export interface HeaderAddresses {
  /** How many fields of that name the header has (RFC 5322 §3.6: From at most once). */
  fields: number;
  /** Every mailbox address in them, lower-cased, in order. */
  addresses: string[];
  /** A mailbox without a domain, or a group, was seen. */
  irregular: boolean;
}

export function headerAddresses(header: Buffer, name: string): HeaderAddresses {
  const key = name.toLowerCase();
  const out: HeaderAddresses = { fields: 0, addresses: [], irregular: false };
  for (const f of parseHeaderFields(header)) {
    if (f.key !== key) continue;
    out.fields++;
    for (const a of parseAddressList(fieldValue(header, f))) {
      if (a.mailbox && a.host) out.addresses.push(`${a.mailbox}@${a.host}`.toLowerCase());
      else out.irregular = true;
    }
  }
  return out;
}
