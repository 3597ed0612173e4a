/**
 * Inbound trust at the MX listener, one per listener: the hooks mx-listener.ts calls at
 * connect, at MAIL and at the end of DATA, with the state they share (the caching DNS
 * resolver, the rate counters, what was learnt about each session's client).
 *
 *  connect: rate limit (421 4.7.0), DNS blocklists (554 5.7.1), reverse DNS (iprev; 550/451
 *           5.7.25 with SMTP_REQUIRE_FCRDNS);
 *  MAIL:    HELO checks (550 5.7.1 for our own name or domain; an address literal that is not
 *           the client's is recorded in our Authentication-Results, RFC 5321 §4.1.4), message
 *           rate limit (421 4.7.0);
 *  DATA:    SPF, DKIM, ARC, DMARC and their policy (verify-message.ts), Authentication-Results
 *           (authentication-results.ts), the verdict (INBOX / Junk) for the ingest job.
 * Clients in SMTP_TRUSTED_NETWORKS skip all of it (loopback only as the TCP peer itself, never
 * as an address a PROXY header names: trusted-networks.ts); forged Authentication-Results carrying our
 * authserv-id are removed from every message, and GTUBE (the standard anti-spam test string,
 * gtube.ts) is spam from anyone: Junk, or 550 5.7.1 with SPAM_ACTION=reject. With RSPAMD_URL every
 * message, from trusted clients too, is also put to rspamd and its action applied (rspamd.ts).
 */
import type { SMTPServerSession } from 'smtp-server';
import { directoryFor } from '#core/accounts/directory-cache.ts';
import type { InboundVerdict } from '#core/ingest/ingest-job.ts';
import { createAuthResolver, type AuthDnsResolver } from '#core/dns/auth-resolver.ts';
import type { ListenerDeps } from '../../listener.ts';
import type { Inspection } from '../accept-message.ts';
import { smtpError } from '../enhanced-codes.ts';
import { authenticationResultsField, withoutOurAuthResults } from './authentication-results.ts';
import { badHelo, dnsblLookup, iprev, iprevResinfo, type IprevResult } from './connect-checks.ts';
import { containsGtube } from './gtube.ts';
import { createRateLimiter } from './rate-limits.ts';
import { createRspamdClient, withoutSpamFields } from './rspamd.ts';
import { trustedNetworks } from './trusted-networks.ts';
import { verifyMessage } from './verify-message.ts';
import { normalizeAddress } from '#core/accounts/addresses.ts';
import { scoreForRecipient, withoutJunkFields } from '#core/junk/spam-fields.ts';

export interface InboundTrust {
  /** `fromProxyHeader`: the session's address was named by a PROXY header (smtp-server-runner.ts). */
  onConnect(session: SMTPServerSession, fromProxyHeader?: boolean): Promise<void>;
  onMailFrom(session: SMTPServerSession): Promise<void>;
  /** `queueId`: the id the reply will name, for rspamd's Queue-Id and the log. */
  inspect(session: SMTPServerSession, message: Buffer, queueId?: string): Promise<Inspection>;
  /** Stops the periodic clean-ups (rate counters, DNS cache) when the listener closes. */
  close(): void;
}

export interface InboundTrustOptions {
  /** The verification resolver (tests); default: DNS_SERVERS with the TTL cache. */
  resolver?: AuthDnsResolver;
}

export function createInboundTrust(deps: ListenerDeps, options: InboundTrustOptions = {}): InboundTrust {
  const { config, logger } = deps;
  const trust = config.inbound;
  const caching = options.resolver ? null : createAuthResolver(config.dns, { cacheSeconds: trust.dnsCacheSeconds });
  const resolver = options.resolver ?? caching!.resolve;
  const trusted = trustedNetworks(trust.trustedNetworks);
  const connections = createRateLimiter(trust.connectionsPerMinute);
  const messages = createRateLimiter(trust.messagesPerMinute);
  const iprevs = new WeakMap<SMTPServerSession, IprevResult>();
  /** A HELO that is wrong but not refused (RFC 5321 §4.1.4), for our Authentication-Results. */
  const heloNotes = new WeakMap<SMTPServerSession, string>();
  /** Whether each session's client is trusted, decided at connect (where the socket is known). */
  const trustedSessions = new WeakMap<SMTPServerSession, boolean>();
  // A session that did not pass through onConnect is judged as if its address came from a
  // PROXY header: no loopback trust without proof that loopback is the peer.
  const isTrusted = (session: SMTPServerSession) => trustedSessions.get(session) ?? trusted.contains(session.remoteAddress, true);
  const directory = () => directoryFor(deps.adapters.index, config.directoryCacheSeconds);
  const isLocalDomain = async (domain: string) => (await directory().domain(domain)) !== null;
  const log = logger.child({ listener: 'smtp-mx' });
  const rspamd = trust.rspamd ? createRspamdClient(trust.rspamd, log) : null;

  return {
    close() {
      connections.close();
      messages.close();
      caching?.close();
    },

    async onConnect(session, fromProxyHeader = false) {
      const client = session.remoteAddress;
      const trustedClient = trusted.contains(client, fromProxyHeader);
      trustedSessions.set(session, trustedClient);
      if (trustedClient) return;
      if (!connections.take(client)) {
        log.warn('connection rate limit: refused', { client, perMinute: trust.connectionsPerMinute });
        throw smtpError(421, '4.7.0', 'Too many connections from your address; try again later');
      }
      const [listing, rdns] = await Promise.all([dnsblLookup(resolver, trust.dnsblZones, client), iprev(resolver, client)]);
      if (listing.errors.length > 0) log.warn('DNS blocklist lookup failed', { client, errors: listing.errors });
      if (listing.listed) {
        log.warn('client refused: DNS blocklist', { client, zone: listing.zone, answer: listing.answer });
        throw smtpError(554, '5.7.1', `Service unavailable; client [${client}] is listed in ${listing.zone}`);
      }
      iprevs.set(session, rdns);
      if (rdns.result !== 'pass') log.info('client without forward-confirmed reverse DNS', { client, iprev: rdns.result, names: rdns.names });
      if (trust.requireFcrdns && rdns.result === 'temperror') {
        throw smtpError(451, '4.7.25', 'Reverse DNS lookup of your address failed temporarily; try again later');
      }
      if (trust.requireFcrdns && rdns.result !== 'pass') {
        log.warn('client refused: no forward-confirmed reverse DNS', { client });
        throw smtpError(550, '5.7.25', `Client [${client}] has no forward-confirmed reverse DNS`);
      }
    },

    async onMailFrom(session) {
      const client = session.remoteAddress;
      if (isTrusted(session)) return;
      const helo = session.hostNameAppearsAs || undefined;
      if (trust.heloChecks && helo) {
        const name = helo.toLowerCase().replace(/\.$/, '');
        const bad = badHelo(helo, client, config.hostname, !name.startsWith('[') && (await isLocalDomain(name)));
        if (bad?.refuse) {
          log.warn('HELO refused', { client, helo, why: bad.why });
          throw smtpError(550, '5.7.1', bad.why);
        }
        if (bad) {
          log.info('HELO does not match the client', { client, helo, why: bad.why });
          heloNotes.set(session, bad.why);
        } else heloNotes.delete(session);
      }
      if (!messages.take(client)) {
        log.warn('message rate limit: refused', { client, perMinute: trust.messagesPerMinute });
        throw smtpError(421, '4.7.0', 'Too many messages from your address; try again later');
      }
    },

    async inspect(session, raw, queueId) {
      const withoutForged = withoutOurAuthResults(raw, trust.authservId);
      if (withoutForged.removed > 0) log.info('forged Authentication-Results removed', { client: session.remoteAddress, count: withoutForged.removed });
      const gtube = containsGtube(raw);
      if (gtube && trust.spamAction === 'reject') throw smtpError(550, '5.7.1', 'Message refused as spam (GTUBE test string)');
      const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      const rdnsName = iprevs.get(session)?.result === 'pass' ? iprevs.get(session)!.names[0] : undefined;
      const scanned = rspamd
        ? await rspamd.judge(raw, {
            clientAddress: session.remoteAddress,
            helo: session.hostNameAppearsAs || undefined,
            hostname: rdnsName,
            mailFrom,
            rcptTo: session.envelope.rcptTo.map((r) => r.address),
            queueId,
          })
        : null;
      // With rspamd, its verdict fields are ours alone: the sender's are removed.
      const message = scanned ? withoutSpamFields(withoutForged.message).message : withoutForged.message;
      const spam = (verdict: InboundVerdict): InboundVerdict => {
        const reasons = [...(gtube ? ['GTUBE'] : []), ...(scanned?.junk ? [scanned.junk] : [])];
        return reasons.length > 0 ? { mailbox: 'Junk', reasons: [...(verdict.reasons ?? []), ...reasons] } : verdict;
      };
      const rspamdFields = scanned?.fields ?? '';
      if (isTrusted(session))
        return gtube || scanned?.junk ? { prepend: rspamdFields, message, verdict: spam({ mailbox: 'INBOX' }) } : { prepend: rspamdFields, message };
      const result = await verifyMessage(
        raw,
        { clientAddress: session.remoteAddress, helo: session.hostNameAppearsAs || undefined, mailFrom },
        { resolver, authservId: trust.authservId, arcTrustedSealers: trust.arcTrustedSealers, dmarcRejectAction: trust.dmarcRejectAction, isLocalDomain },
      );
      const rdns = iprevs.get(session);
      const note = heloNotes.get(session);
      const iprevRow = rdns ? iprevResinfo(rdns, session.remoteAddress) + (note ? ` (${note.replace(/[^\x20-\x7e]|[()\\]/g, '')})` : '') : null;
      const resinfos = iprevRow ? [iprevRow, ...result.resinfos] : result.resinfos;
      // The junk filter (core/junk/spam-fields.ts): senders' X-Spam fields go; mail for one recipient gets that user's score.
      const unforged = withoutJunkFields(message);
      const rcpts = session.envelope.rcptTo;
      let verdict = spam(result.verdict);
      const junkVerdict = verdict.mailbox === 'Junk' ? (verdict.reasons ?? []) : null;
      const junk =
        rcpts.length === 1
          ? await scoreForRecipient(deps.adapters.blobs, normalizeAddress(rcpts[0].address), unforged.message, config.inbound.junkThreshold, junkVerdict)
          : null;
      if (junk)
        verdict = {
          ...verdict,
          ...(junk.junk ? { mailbox: 'Junk', reasons: [...(verdict.reasons ?? []), `junk score ${junk.score}`] } : {}),
          junkScore: { recipient: rcpts[0].address, score: junk.score },
        };
      log.info('inbound verification', {
        client: session.remoteAddress,
        from: mailFrom,
        ...result.summary,
        mailbox: verdict.mailbox,
        gtube,
        junkScore: junk?.score,
        forgedSpamFields: unforged.removed || undefined,
      });
      return { prepend: authenticationResultsField(trust.authservId, resinfos) + rspamdFields + (junk?.fields ?? ''), message: unforged.message, verdict };
    },
  };
}
