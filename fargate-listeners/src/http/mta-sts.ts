/**
 * The MTA-STS policy (RFC 8461 §3.3): `GET /.well-known/mta-sts.txt` at `mta-sts.<domain>` for
 * each domain we serve, as text/plain; any other Host gets 404. The text and its id come from
 * core/mta-sts/policy.ts (MTA_STS_MODE, MTA_STS_MAX_AGE, MTA_STS_MX), so `mailctl domain show`
 * prints the TXT record that matches what is served here.
 */
import type { HttpRoute } from './routes.ts';

export interface MtaStsDeps {
  servesDomain(domain: string): Promise<boolean>;
  /** The policy text. */
  policy: string;
}

export function mtaStsRoutes(deps: MtaStsDeps): HttpRoute[] {
  return [
    {
      path: '/.well-known/mta-sts.txt',
      methods: ['GET'],
      async handle(_req, res, ctx) {
        const host = ctx.url.hostname.toLowerCase();
        const domain = host.startsWith('mta-sts.') ? host.slice('mta-sts.'.length) : '';
        if (!domain || !(await deps.servesDomain(domain))) {
          res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('no MTA-STS policy for this host\n');
          return;
        }
        // §3.3: senders cache by max_age and the TXT id; a short HTTP cache is enough.
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'max-age=300', 'content-length': Buffer.byteLength(deps.policy) });
        res.end(deps.policy);
      },
    },
  ];
}
