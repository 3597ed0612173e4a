/**
 * Inbound verification of one message at the end of DATA, before the MX answers (so a
 * refusal is an SMTP reply, never a bounce of ours — no backscatter). With mailauth:
 *  - SPF (RFC 7208) of the MAIL FROM identity, and of the HELO identity (§2.3) when the HELO
 *    is a domain name (for the null reverse-path the HELO identity is the one mailauth checks);
 *  - DKIM (RFC 6376; rsa-sha256, ed25519-sha256 per RFC 8463; keys under 1024 bits fail);
 *  - ARC (RFC 8617) chain validation;
 *  - DMARC (RFC 7489) alignment and policy, the organisational domain found by mailauth
 *    (Public Suffix List for relaxed alignment, the DMARCbis DNS tree walk for the policy).
 * DNS goes through the caching resolver of core/dns/auth-resolver.ts.
 *
 * What the verdicts mean for the message (`decide`):
 *  - a temporary DNS failure that could change the outcome → 451 4.7.0: the sender retries,
 *    nothing is accepted. That is a DMARC temperror; an SPF or DKIM temperror while DMARC does
 *    not pass (an aligned pass of the other is enough, RFC 7489 §6.6.2: the temperror is only
 *    recorded); an ARC key lookup failing temporarily (arc=temperror) while DMARC fails and the
 *    newest seal is from a trusted sealer (its verdict could override the failure);
 *  - From: one of our own domains without an aligned SPF or DKIM pass → 550 5.7.1 when our
 *    domain publishes p=reject or no DMARC record at all (a forged "ceo@ourdomain" never
 *    reaches a user), unless a trusted ARC sealer vouches for it (below). With p=quarantine or
 *    p=none published the owner says such failures happen (a user's post coming back from a
 *    mailing list that broke the DKIM signature): Junk, never INBOX, never refused;
 *  - DMARC fail with p=reject → 550 5.7.1, or Junk with DMARC_REJECT_ACTION=junk;
 *    p=quarantine → Junk; p=none → INBOX;
 *  - a DMARC failure is overridden (RFC 7489 §6.7 local policy, RFC 8617 §7.2.1) when the ARC
 *    chain passes, its newest ARC-Seal (the highest i=) is signed by a domain (d=) in
 *    ARC_TRUSTED_SEALERS (or a subdomain) — the seal's d=, the domain that vouches for the
 *    chain (RFC 8617 §4.1.3), not the ARC-Message-Signature's, which anyone may choose —
 *    and that sealer recorded dmarc=pass in its ARC-Authentication-Results: mail forwarded by
 *    a list or forwarder that broke DKIM is judged by the sealer's verdict. The override is
 *    written into our Authentication-Results.
 */
import { createRequire } from 'node:module';
import { authenticate, spf, type AuthenticateResult, type SPFResult } from 'mailauth';
import type { AuthDnsResolver } from '#core/dns/auth-resolver.ts';
import type { InboundVerdict } from '#core/ingest/ingest-job.ts';
import { headerAddresses } from '#core/mime/header-addresses.ts';
import { parseHeaderFields } from '#core/mime/header.ts';
import { smtpError } from '../enhanced-codes.ts';

const require = createRequire(import.meta.url);
// mailauth's own formatting and alignment helpers (the Public Suffix List through tldts).
const tools = require('mailauth/lib/tools.js') as {
  formatAuthHeaderRow(method: string, status: object, options?: { strict?: boolean }): string;
  getAlignment(fromDomain: string, domains: string[], strict?: boolean): { domain: string } | false;
};

export interface MessageFacts {
  clientAddress: string;
  /** The EHLO/HELO name as given. */
  helo: string | undefined;
  /** Envelope sender; '' for the null reverse-path. */
  mailFrom: string;
}

export interface VerifyContext {
  resolver: AuthDnsResolver;
  authservId: string;
  arcTrustedSealers: string[];
  dmarcRejectAction: 'reject' | 'junk';
  /** Whether a domain is one of ours (From: of our own domains is never taken unauthenticated). */
  isLocalDomain(domain: string): Promise<boolean>;
}

export interface Verification {
  /** The resinfo entries of our Authentication-Results field. */
  resinfos: string[];
  verdict: InboundVerdict;
  /** One line for the log. */
  summary: Record<string, string>;
}

/** Longest a verification may take; beyond it the message is deferred (451). */
export const VERIFY_TIMEOUT_MS = 60_000;

const IP_LITERAL = /^\[(?:ipv6:)?([0-9a-f:.]+)\]$/i;

function isDomainName(helo: string | undefined): helo is string {
  return !!helo && !IP_LITERAL.test(helo) && /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+\.?$/i.test(helo);
}

/** One ARC header field's tags (RFC 6376 §3.2 tag-list; values without whitespace). */
function arcTags(value: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    if (name && !(name in tags)) tags[name] = part.slice(eq + 1).replace(/\s+/g, '');
  }
  return tags;
}

export interface ArcSets {
  /** d= of the ARC-Seal of the highest instance, lower-cased; '' when there is none. */
  newestSealer: string;
  /** The key records the chain's validation asks for: every ARC-Seal's, the newest ARC-Message-Signature's. */
  keyNames: string[];
}

/** The ARC header fields of the top-level header section (RFC 8617 §4.1). */
export function arcSets(message: Buffer): ArcSets {
  const seals: Array<Record<string, string>> = [];
  const signatures: Array<Record<string, string>> = [];
  for (const f of parseHeaderFields(message)) {
    if (f.key !== 'arc-seal' && f.key !== 'arc-message-signature') continue;
    const tags = arcTags(message.toString('latin1', f.valueStart, f.end));
    (f.key === 'arc-seal' ? seals : signatures).push(tags);
  }
  const instance = (t: Record<string, string>) => (/^\d+$/.test(t.i ?? '') ? Number(t.i) : 0);
  const newest = (list: Array<Record<string, string>>) => list.reduce<Record<string, string> | null>((a, t) => (!a || instance(t) > instance(a) ? t : a), null);
  const keyName = (t: Record<string, string> | null) => (t?.s && t.d ? `${t.s}._domainkey.${t.d}`.toLowerCase().replace(/\.$/, '') : null);
  const seal = newest(seals);
  const keyNames = [...seals.map(keyName), keyName(newest(signatures))].filter((n): n is string => n !== null);
  return { newestSealer: (seal?.d ?? '').toLowerCase().replace(/\.$/, ''), keyNames };
}

const isTemporary = (err: unknown) => {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code !== 'ENOTFOUND' && code !== 'ENODATA';
};

/** Runs every check; throws the SMTP reply (smtpError) for a temporary failure or a refusal. */
export async function verifyMessage(message: Buffer, facts: MessageFacts, ctx: VerifyContext): Promise<Verification> {
  const ip = facts.clientAddress.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  const mta = ctx.authservId;
  // Names whose lookup failed temporarily in this verification: mailauth reports every ARC
  // failure as permanent (arc=fail), a key lookup timeout included.
  const tempFailed = new Set<string>();
  const resolver: AuthDnsResolver = async (name, rrtype) => {
    try {
      return await ctx.resolver(name, rrtype);
    } catch (err) {
      if (isTemporary(err)) tempFailed.add(name.toLowerCase().replace(/\.$/, ''));
      throw err;
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(smtpError(451, '4.7.0', 'Sender verification timed out (DNS); try again later')), VERIFY_TIMEOUT_MS);
  });
  try {
    const work = Promise.all([
      authenticate(message, { ip, helo: facts.helo, sender: facts.mailFrom, mta, resolver, disableBimi: true, minBitLength: 1024 }),
      // RFC 7208 §2.3: the HELO identity, checked on its own when there is a MAIL FROM
      // identity as well (the null reverse-path's check is the HELO one already).
      facts.mailFrom && isDomainName(facts.helo) ? spf({ sender: '', ip, helo: facts.helo, mta, resolver, maxElapsedTime: 20_000 }) : null,
    ]);
    const [auth, heloSpf] = await Promise.race([work, deadline]);
    return await decide(auth, heloSpf, facts, ctx, message, tempFailed);
  } finally {
    clearTimeout(timer);
  }
}

function spfRow(result: SPFResult, identity: 'mailfrom' | 'helo', value: string): string {
  return tools.formatAuthHeaderRow('spf', { ...result.status, smtp: { [identity]: value } });
}

async function decide(
  auth: AuthenticateResult,
  heloSpf: SPFResult | null,
  facts: MessageFacts,
  ctx: VerifyContext,
  message: Buffer,
  tempFailed: Set<string>,
): Promise<Verification> {
  const resinfos: string[] = [];
  const dkimResults = auth.dkim.results ?? [];
  for (const r of dkimResults) {
    // mailauth's lenient mode reports a body hash mismatch as "neutral"; the signature did not
    // verify (RFC 6376 §6.1.3: PERMFAIL), which RFC 8601 §2.7.1 calls "fail".
    if (r.status.result === 'neutral' && r.bodyHash && r.bodyHashExpecting && r.bodyHash !== r.bodyHashExpecting) {
      r.status.result = 'fail';
      r.info = r.info.replace(/^dkim=neutral\b/, 'dkim=fail');
    }
    resinfos.push(r.info);
  }
  const spfResult = auth.spf || null;
  if (spfResult) {
    const identity = facts.mailFrom ? ('mailfrom' as const) : ('helo' as const);
    resinfos.push(spfRow(spfResult, identity, facts.mailFrom || facts.helo || ''));
  }
  if (heloSpf && facts.helo) resinfos.push(spfRow(heloSpf, 'helo', facts.helo));
  const arc = auth.arc || null;
  const sets = arcSets(message);
  // A key that does not answer is a temporary failure (RFC 6376 §6.1.2, the key retrieval ARC
  // uses: TEMPFAIL), not the permanent fail mailauth reports.
  const arcTemp = arc?.status.result === 'fail' && sets.keyNames.some((n) => tempFailed.has(n));
  if (arc?.info) resinfos.push(arcTemp ? arc.info.replace(/^arc=fail\b/, 'arc=temperror') + ' (key lookup failed temporarily)' : arc.info);
  const dmarc = auth.dmarc || null;

  const spfState = spfResult?.status.result ?? 'none';
  const dmarcState = dmarc ? dmarc.status.result : 'none';
  const dkimTemp = dkimResults.some((r) => r.status.result === 'temperror' || r.status.result === 'temperr');
  const summary: Record<string, string> = {
    spf: spfState,
    dkim: dkimResults.map((r) => `${r.status.result}${r.signingDomain ? `:${r.signingDomain}` : ''}`).join(',') || 'none',
    dmarc: dmarcState,
    arc: arcTemp ? 'temperror' : (arc?.status.result ?? 'none'),
  };
  if (heloSpf) summary.heloSpf = heloSpf.status.result;

  // RFC 7489 §6.6.2: DMARC passes on an aligned pass of either SPF or DKIM, so a temporary
  // error of the other cannot change the outcome and is only recorded.
  const dmarcPass = dmarcState === 'pass';
  if ((spfState === 'temperror' && !dmarcPass) || dmarcState === 'temperror' || (dkimTemp && !dmarcPass)) {
    throw smtpError(451, '4.7.0', 'Temporary DNS failure during sender verification; try again later');
  }
  // The newest seal's signer is trusted: its verdict could override a DMARC failure once its key answers.
  const sealer = sets.newestSealer;
  const sealerTrusted = sealer !== '' && ctx.arcTrustedSealers.some((d) => sealer === d || sealer.endsWith(`.${d}`));
  if (arcTemp && sealerTrusted && !dmarcPass) {
    throw smtpError(451, '4.7.0', `Temporary DNS failure looking up the ARC key of ${sealer}; try again later`);
  }

  // The From: domain. DMARC judges exactly one author domain; a message with no From:, several
  // From: fields or several author domains is not evaluated by it at all, so a stranger could
  // put `service@bank.example` beside an address of their own and pass. RFC 7489 §6.6.1: such
  // messages are refused. The domains are read with our own parser (the one IMAP and JMAP show
  // the sender with) and must be the ones mailauth judged, so no obsolete syntax (`ceo @ ours`,
  // `ceo@ours .com`, a trailing dot) names one domain to the reader and another to the check.
  const authorDomain = (a: string) =>
    a
      .slice(a.lastIndexOf('@') + 1)
      .trim()
      .toLowerCase()
      .replace(/\.$/, '');
  const from = headerAddresses(message, 'from');
  const fromDomains = [...new Set(from.addresses.map(authorDomain))];
  const judged = [...new Set((auth.dkim.headerFrom ?? []).map((a) => a.slice(a.lastIndexOf('@') + 1).toLowerCase()))];
  if (from.fields !== 1 || from.irregular || fromDomains.length !== 1 || judged.length !== 1 || judged[0] !== fromDomains[0]) {
    throw smtpError(550, '5.7.1', 'Message refused: the From: header must name exactly one author domain (RFC 5322 §3.6.2, RFC 7489 §6.6.1)');
  }
  const fromDomain = fromDomains[0];

  // A DMARC failure a trusted ARC sealer vouches for (RFC 8617 §7.2.1): the chain passes (every
  // seal verified), and the newest ARC-Seal's d= is trusted.
  const sealerSaysPass = (arc?.authenticationResults as { dmarc?: { result?: string } } | undefined)?.dmarc?.result === 'pass';
  const arcOverride = arc?.status.result === 'pass' && sealerTrusted && sealerSaysPass;

  let dmarcRow = dmarc?.info ?? null;
  const reasons: string[] = [];
  let mailbox: InboundVerdict['mailbox'] = 'INBOX';

  // Our own domains: an aligned pass is required whatever (or whether) DMARC is published —
  // for every domain in From: (a second author, or a second From: field, must not smuggle in
  // an unauthenticated "ceo@ourdomain", which DMARC itself would not evaluate).
  const passing = [
    ...(spfState === 'pass' && spfResult ? [spfResult.domain] : []),
    ...dkimResults.filter((r) => r.status.result === 'pass' && r.signingDomain).map((r) => r.signingDomain!),
  ];
  let ownDomainJunk = false;
  for (const domain of fromDomains) {
    if (!(await ctx.isLocalDomain(domain))) continue;
    if (tools.getAlignment(domain, passing, false) || (arcOverride && domain === fromDomain)) continue;
    // Our domain publishes p=quarantine or p=none: DMARC's own word for "failures happen" (a
    // user's list post whose signature the list broke). Junk, as p=quarantine asks (RFC 7489
    // §6.3); p=none is stricter here than elsewhere, as the message claims our own domain.
    const policy = dmarc && dmarcState === 'fail' && domain === fromDomain ? dmarc.policy : null;
    if (policy === 'quarantine' || policy === 'none') {
      ownDomainJunk = true;
      continue;
    }
    throw smtpError(550, '5.7.1', `Message refused: From: ${domain} is a domain of this server and the message is not authenticated by it (DMARC)`);
  }
  if (ownDomainJunk) {
    mailbox = 'Junk';
    reasons.push(`dmarc=fail From: ${fromDomain} is a domain of this server (policy=${dmarc?.policy})`);
  }

  if (dmarc && dmarcState === 'fail' && !ownDomainJunk) {
    const policy = dmarc.policy;
    if (arcOverride) {
      dmarcRow = `${dmarcRow} (local policy override: ARC chain sealed by trusted ${sealer} with dmarc=pass)`;
      reasons.push(`dmarc=fail overridden by trusted ARC sealer ${sealer}`);
    } else if (policy === 'reject') {
      if (ctx.dmarcRejectAction === 'reject') {
        throw smtpError(550, '5.7.1', `Message refused: ${fromDomain ?? dmarc.domain} publishes DMARC p=reject and the message fails DMARC`);
      }
      mailbox = 'Junk';
      reasons.push('dmarc=fail policy=reject (DMARC_REJECT_ACTION=junk)');
    } else if (policy === 'quarantine') {
      mailbox = 'Junk';
      reasons.push('dmarc=fail policy=quarantine');
    }
  }
  if (dmarcRow) resinfos.push(dmarcRow);
  return { resinfos, verdict: { mailbox, ...(reasons.length ? { reasons } : {}) }, summary };
}
