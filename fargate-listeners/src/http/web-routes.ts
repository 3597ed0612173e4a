/**
 * The routes of the web face besides JMAP: autoconfiguration (Thunderbird, Autodiscover, the
 * Apple profile) and the MTA-STS policy, for the domains in the directory.
 */
import { directoryFor } from '#core/accounts/directory-cache.ts';
import type { MailEndpoints } from '#core/mail-endpoints.ts';
import { mtaStsPolicy } from '#core/mta-sts/policy.ts';
import type { ListenerDeps } from '../listener.ts';
import { appleProfileRoutes } from './apple-profile.ts';
import { autoconfigRoutes } from './autoconfig.ts';
import { mtaStsRoutes } from './mta-sts.ts';
import type { HttpRoute } from './routes.ts';

export function mailWebRoutes(deps: ListenerDeps, endpoints: () => MailEndpoints): HttpRoute[] {
  const directory = directoryFor(deps.adapters.index, deps.config.directoryCacheSeconds);
  const servesDomain = async (domain: string) => /^[a-z0-9.-]{1,253}$/.test(domain) && (await directory.domain(domain)) !== null;
  return [
    ...autoconfigRoutes({ servesDomain, endpoints }),
    ...appleProfileRoutes({
      index: deps.adapters.index,
      throttle: deps.authThrottle,
      endpoints,
      allowPlaintextAuthOnLoopback: deps.config.allowPlaintextAuthOnLoopback,
    }),
    ...mtaStsRoutes({ servesDomain, policy: mtaStsPolicy(deps.config.http, deps.config.hostname) }),
  ];
}
