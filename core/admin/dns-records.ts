/**
 * `mailctl domain show <domain>`: every DNS record a person must publish for a domain we
 * serve, for this deployment's endpoints (core/mail-endpoints.ts), in zone-file syntax with a
 * comment saying what each is for.
 */
import type { MailConfig } from '../config.ts';
import { dkimZoneLine, type DkimKey } from '../dkim/keys.ts';
import type { MailEndpoints } from '../mail-endpoints.ts';
import { mtaStsPolicy, mtaStsTxt } from '../mta-sts/policy.ts';

export interface DnsRecordInput {
  domain: string;
  endpoints: MailEndpoints;
  config: Pick<MailConfig, 'hostname' | 'http' | 'smartHost' | 'outbound' | 'runtime'>;
  /** The domain's DKIM key, when it has one (core/dkim/keys.ts). */
  dkim: Pick<DkimKey, 'domain' | 'selector' | 'algorithm' | 'publicKey'> | null;
}

/** One group of lines: a comment (what and why), then the records. */
export interface DnsRecordGroup {
  what: string;
  lines: string[];
}

function txt(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

function spf(input: DnsRecordInput): string {
  const { smartHost, outbound } = input.config;
  if (smartHost && /\.amazonaws\.com$/i.test(smartHost.host)) return 'v=spf1 include:amazonses.com -all';
  if (!smartHost && outbound.bindAddress) return `v=spf1 ${outbound.bindAddress.includes(':') ? 'ip6' : 'ip4'}:${outbound.bindAddress} -all`;
  return 'v=spf1 mx -all';
}

export function domainDnsRecords(input: DnsRecordInput): DnsRecordGroup[] {
  const d = input.domain.toLowerCase().replace(/\.$/, '');
  const { host } = input.endpoints;
  const e = input.endpoints;
  const policy = mtaStsPolicy(input.config.http, input.config.hostname);
  const groups: DnsRecordGroup[] = [
    {
      what: `the server: ${host} needs A records (on AWS the MailAddresses output: both load balancer addresses), never a CNAME`,
      lines: [`${host}. A <address>`],
    },
    { what: 'where mail for the domain goes (RFC 5321 §5.1)', lines: [`${d}. MX 10 ${host}.`] },
    {
      what:
        input.config.smartHost && !/\.amazonaws\.com$/i.test(input.config.smartHost.host)
          ? `who may send for the domain (RFC 7208): mail leaves through ${input.config.smartHost.host}; add what its operator says to include`
          : input.config.runtime === 'aws' && !input.config.smartHost
            ? 'who may send for the domain (RFC 7208): with direct delivery from AWS, replace mx with ip4:<NAT gateway address>'
            : 'who may send for the domain (RFC 7208)',
      lines: [`${d}. TXT ${txt(spf(input))}`, `${host}. TXT ${txt(spf(input))}`],
    },
    input.dkim
      ? { what: `the public key of our DKIM signatures (RFC 6376), selector ${input.dkim.selector}`, lines: [dkimZoneLine(input.dkim)] }
      : { what: `DKIM (RFC 6376): the domain has no key yet; \`mailctl domain dkim ${d}\` makes one and prints its record`, lines: [] },
    {
      what: 'policy for mail that fails SPF and DKIM (RFC 7489); start with p=none and read the reports',
      lines: [`_dmarc.${d}. TXT ${txt(`v=DMARC1; p=quarantine; rua=mailto:postmaster@${d}`)}`],
    },
    {
      what: `MTA-STS (RFC 8461): senders insist on TLS to ${host}; the policy is served at https://mta-sts.${d}/.well-known/mta-sts.txt (the certificate must name mta-sts.${d}); the id follows the policy`,
      lines: [`_mta-sts.${d}. TXT ${txt(mtaStsTxt(policy))}`, `mta-sts.${d}. CNAME ${host}.`],
    },
    { what: 'TLS reporting (RFC 8460): where senders report TLS failures', lines: [`_smtp._tls.${d}. TXT ${txt(`v=TLSRPTv1; rua=mailto:postmaster@${d}`)}`] },
    {
      what: 'mail client discovery (RFC 6186, implicit TLS first as RFC 8314 §5.1 asks)',
      lines: [
        `_submissions._tcp.${d}. SRV 0 1 ${e.submissions} ${host}.`,
        `_submission._tcp.${d}. SRV 10 1 ${e.submission} ${host}.`,
        `_imaps._tcp.${d}. SRV 0 1 ${e.imaps} ${host}.`,
        `_imap._tcp.${d}. SRV 10 1 ${e.imap} ${host}.`,
        `_pop3s._tcp.${d}. SRV 20 1 ${e.pop3s} ${host}.`,
        `_pop3._tcp.${d}. SRV 30 1 ${e.pop3} ${host}.`,
      ],
    },
    {
      what: 'address book discovery (RFC 6764 §3, §4): CardDAV over TLS on the HTTPS port at /dav/; the empty SRV says there is no CardDAV without TLS',
      lines: [`_carddavs._tcp.${d}. SRV 0 1 ${e.https} ${host}.`, `_carddavs._tcp.${d}. TXT ${txt('path=/dav/')}`, `_carddav._tcp.${d}. SRV 0 0 0 .`],
    },
    {
      what: `client autoconfiguration: Thunderbird (https://autoconfig.${d}/mail/config-v1.1.xml), Outlook Autodiscover (https://autodiscover.${d}/autodiscover/autodiscover.xml); the certificate must name both`,
      lines: [`autoconfig.${d}. CNAME ${host}.`, `autodiscover.${d}. CNAME ${host}.`, `_autodiscover._tcp.${d}. SRV 0 1 ${e.https} ${host}.`],
    },
  ];
  return groups;
}

/** The groups as zone-file text: `; comment` then the records. */
export function formatDnsRecords(groups: DnsRecordGroup[]): string[] {
  const out: string[] = [];
  for (const g of groups) {
    out.push(`; ${g.what}`);
    out.push(...g.lines);
  }
  return out;
}
