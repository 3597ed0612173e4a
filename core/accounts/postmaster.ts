/**
 * Postmaster (RFC 5321 §4.5.1): every SMTP server must accept mail to `postmaster` — bare,
 * and at each of its domains — and deliver it to someone who administers the system. Where it
 * goes for a domain, first that applies:
 *  1. a user named `postmaster@<domain>` (an ordinary mailbox, made with `mailctl user add`);
 *  2. the domain's own postmaster address (`mailctl domain add <domain> --postmaster <address>`,
 *     `mailctl domain postmaster <domain> <address>`);
 *  3. POSTMASTER_ADDRESS (config.postmasterAddress), one address for every domain;
 *  4. the domain's first user (the one created earliest).
 * Addresses of 2 and 3 are used when they can be delivered: a user that exists, or an address
 * of a domain that is not ours (the mail is then forwarded there). Bare `postmaster` is the
 * postmaster of the domain MAIL_HOSTNAME belongs to (the longest local domain it equals or ends
 * with), else of the first local domain by name.
 */
import type { MailIndex } from '../ports/mail-index.ts';
import { domainOf, normalizeAddress } from './addresses.ts';

/** `postmaster` (any case; RFC 5321 §4.5.1: "the local-part … case-insensitive"), with or without a domain. */
export function isPostmaster(address: string): { domain: string | null } | null {
  const a = normalizeAddress(address);
  if (a === 'postmaster') return { domain: null };
  return a.startsWith('postmaster@') && a.indexOf('@') === a.lastIndexOf('@') ? { domain: domainOf(a) } : null;
}

async function deliverable(index: MailIndex, address: string | null): Promise<string | null> {
  if (!address) return null;
  const a = normalizeAddress(address);
  if ((await index.getDomain(domainOf(a))) === null) return a; // another site's address: forwarded
  return (await index.getUser(a)) ? a : null;
}

/** The local domain bare `postmaster` belongs to; null when there is no local domain. */
export async function hostDomain(index: MailIndex, hostname: string): Promise<string | null> {
  const host = hostname.toLowerCase();
  const domains = (await index.listDomains()).map((d) => d.name);
  const matching = domains.filter((d) => host === d || host.endsWith(`.${d}`)).sort((a, b) => b.length - a.length);
  return matching[0] ?? domains[0] ?? null;
}

/**
 * Where mail to the postmaster of local domain `domain` goes (see the top of this file);
 * null when the domain is not local or nothing there can take it.
 */
export async function resolvePostmaster(index: MailIndex, domain: string, defaultAddress: string | null): Promise<string | null> {
  const d = await index.getDomain(domain);
  if (!d) return null;
  const own = `postmaster@${d.name}`;
  if (await index.getUser(own)) return own;
  for (const candidate of [d.postmaster, defaultAddress]) {
    const a = await deliverable(index, candidate);
    if (a) return a;
  }
  const users = await index.listUsers(d.name);
  if (users.length === 0) return null;
  return users.reduce((first, u) => (u.createdAt < first.createdAt || (u.createdAt === first.createdAt && u.address < first.address) ? u : first)).address;
}
