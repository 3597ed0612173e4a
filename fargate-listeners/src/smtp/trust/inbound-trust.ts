/**
 * Inbound trust at the MX listener, one per listener: the hooks mx-listener.ts calls at
 * connect, at MAIL and at the end of DATA, with the state they share (the caching DNS
 * resolver, the rate counters, what was learnt about each session's client).
 *
 *  connect: rate limit (421 4.7.0), DNS blocklists (554 5.7.1), reverse DNS (iprev; 550/451
 *           5.7.25 with SMTP_REQUIRE_FCRDNS);
 *  MAIL:    HELO checks (550 5.7.1), message rate limit (421 4.7.0);
 *  DATA:    SPF, DKIM, ARC, DMARC and their policy (verify-message.ts), Authentication-Results
 *           (authentication-results.ts), the verdict (INBOX / Junk) for the ingest job.
 * Clients in SMTP_TRUSTED_NETWORKS skip all of it; forged Authentication-Results carrying our
 * authserv-id are removed from every message, and GTUBE (the standard anti-spam test string,
 * gtube.ts) is spam from anyone: Junk, or 550 5.7.1 with SPAM_ACTION=reject.
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
import { trustedNetworks } from './trusted-networks.ts';
import { verifyMessage } from './verify-message.ts';
import { normalizeAddress } from '#core/accounts/addresses.ts';
import { scoreForRecipient, withoutSpamFields } from '#core/junk/spam-fields.ts';

export interface InboundTrust {
  onConnect(session: SMTPServerSession): Promise<void>;
  onMailFrom(session: SMTPServerSession): Promise<void>;
  inspect(session: SMTPServerSession, message: Buffer): Promise<Inspection>;
}

export interface InboundTrustOptions {
  /** The verification resolver (tests); default: DNS_SERVERS with the TTL cache. */
  resolver?: AuthDnsResolver;
}

export function createInboundTrust(deps: ListenerDeps, options: InboundTrustOptions = {}): InboundTrust {
  const { config, logger } = deps;
  const trust = config.inbound;
  const resolver = options.resolver ?? createAuthResolver(config.dns, { cacheSeconds: trust.dnsCacheSeconds }).resolve;
  const trusted = trustedNetworks(trust.trustedNetworks);
  const connections = createRateLimiter(trust.connectionsPerMinute);
  const messages = createRateLimiter(trust.messagesPerMinute);
  const iprevs = new WeakMap<SMTPServerSession, IprevResult>();
  const directory = () => directoryFor(deps.adapters.index, config.directoryCacheSeconds);
  const isLocalDomain = async (domain: string) => (await directory().domain(domain)) !== null;
  const log = logger.child({ listener: 'smtp-mx' });

  return {
    async onConnect(session) {
      const client = session.remoteAddress;
      if (trusted.contains(client)) return;
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
      if (trusted.contains(client)) return;
      const helo = session.hostNameAppearsAs || undefined;
      if (trust.heloChecks && helo) {
        const name = helo.toLowerCase().replace(/\.$/, '');
        const why = badHelo(helo, client, config.hostname, !name.startsWith('[') && (await isLocalDomain(name)));
        if (why) {
          log.warn('HELO refused', { client, helo, why });
          throw smtpError(550, '5.7.1', `${why}`);
        }
      }
      if (!messages.take(client)) {
        log.warn('message rate limit: refused', { client, perMinute: trust.messagesPerMinute });
        throw smtpError(421, '4.7.0', 'Too many messages from your address; try again later');
      }
    },

    async inspect(session, raw) {
      const { message, removed } = withoutOurAuthResults(raw, trust.authservId);
      if (removed > 0) log.info('forged Authentication-Results removed', { client: session.remoteAddress, count: removed });
      const gtube = containsGtube(raw);
      if (gtube && trust.spamAction === 'reject') throw smtpError(550, '5.7.1', 'Message refused as spam (GTUBE test string)');
      const spam = (verdict: InboundVerdict): InboundVerdict => (gtube ? { mailbox: 'Junk', reasons: [...(verdict.reasons ?? []), 'GTUBE'] } : verdict);
      if (trusted.contains(session.remoteAddress)) return gtube ? { prepend: '', message, verdict: spam({ mailbox: 'INBOX' }) } : { prepend: '', message };
      const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      const result = await verifyMessage(
        raw,
        { clientAddress: session.remoteAddress, helo: session.hostNameAppearsAs || undefined, mailFrom },
        { resolver, authservId: trust.authservId, arcTrustedSealers: trust.arcTrustedSealers, dmarcRejectAction: trust.dmarcRejectAction, isLocalDomain },
      );
      const rdns = iprevs.get(session);
      const resinfos = rdns ? [iprevResinfo(rdns, session.remoteAddress), ...result.resinfos] : result.resinfos;
      // The junk filter (core/junk/spam-fields.ts): senders' X-Spam fields go; mail for one recipient gets that user's score.
      const unforged = withoutSpamFields(message);
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
      return { prepend: authenticationResultsField(trust.authservId, resinfos) + (junk?.fields ?? ''), message: unforged.message, verdict };
    },
  };
}
